"""YAML for user-editable files: safe types only, no anchors or aliases, bounded size."""
from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1_000_000
# libyaml parses about ten times faster than pure Python: the sentence catalogue and the templates load at
# every start of the CLI and the window (issue 17 item 10); pure Python where PyYAML was built without it
_C = bool(getattr(yaml, "__with_libyaml__", False))


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases: they are how "billion laughs" bombs grow."""

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D401 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"aliases (*{event.anchor}) are not allowed, line {event.start_mark.line + 1}")
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise yaml.YAMLError(f"anchors (&{anchor}) are not allowed, line {event.start_mark.line + 1}")
        return super().compose_node(parent, index)


def _refuse_anchors(text: str) -> None:
    """The same refusal as _NoAliasLoader, from libyaml's event stream, before anything is composed."""
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        anchor = getattr(event, "anchor", None)
        if anchor is None:
            continue
        if isinstance(event, yaml.AliasEvent):
            raise yaml.YAMLError(f"aliases (*{anchor}) are not allowed, line {event.start_mark.line + 1}")
        raise yaml.YAMLError(f"anchors (&{anchor}) are not allowed, line {event.start_mark.line + 1}")


def load_yaml(text: str) -> Any:
    """Parse YAML text; yaml.YAMLError or ValueError on anything unsafe or too large."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"the file is larger than {MAX_BYTES // 1000} kB")
    if _C:
        _refuse_anchors(text)
        return yaml.load(text, Loader=yaml.CSafeLoader)  # noqa: S506 - the C SafeLoader
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
