"""The inventory file of `auditor batch`: which models to audit, and how.

    defaults:            # optional: applies to every model that does not say otherwise
      template: standard
      probes: builtin:text
      limit: 200
      seed: 0
      meta: {purpose: Quarterly re-audit, preparer: Model risk}
    models:
      - path: models/credit-bert      # relative paths are relative to the inventory file
        name: credit-bert
        version: "2.1"
        seed: 1
        meta: {users: Credit officers}  # merged over the defaults' meta

Read strictly: an unknown key, a wrong type or a missing path is one line (exit 2) and nothing runs.
Each entry becomes the request the service's queue takes (auditor.service.queue.REQUEST_FIELDS).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import BadInput

MODEL_KEYS = ("path", "name", "version", "template", "probes", "limit", "seed", "meta")
DEFAULT_KEYS = ("template", "probes", "limit", "seed", "meta")
TOP_KEYS = ("models", "defaults")
_STRINGS = ("path", "name", "version", "template", "probes")
_INTEGERS = ("limit", "seed")


@dataclass(frozen=True)
class Entry:
    """One model of the inventory, as a queue request."""

    index: int
    request: dict[str, Any]

    @property
    def label(self) -> str:
        version = self.request.get("model_version")
        return f"{self.request['name']}" + (f" {version}" if version else "")


def load_inventory(path: str | Path) -> list[Entry]:
    """The inventory's models as queue requests, or BadInput (one line) for anything wrong in the file."""
    from auditor.safe_yaml import load_yaml

    file = Path(path)
    if not file.is_file():
        raise BadInput(f"inventory {path}: no such file")
    try:
        data = load_yaml(file.read_text(encoding="utf-8-sig"))
    except Exception as exc:  # YAML errors, encoding errors, size
        raise BadInput(f"inventory {file.name} is not valid YAML: {' '.join(str(exc).split())}") from None
    where = f"inventory {file.name}"
    if not isinstance(data, dict):
        raise BadInput(f"{where}: give a mapping with `models:` (a list of models) and optional `defaults:`")
    _known(data, TOP_KEYS, where)
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise BadInput(f"{where}: defaults must be a mapping of {', '.join(DEFAULT_KEYS)}")
    _known(defaults, DEFAULT_KEYS, f"{where}: defaults")
    models = data.get("models")
    if not isinstance(models, list) or not models:
        raise BadInput(f"{where}: `models:` must be a non-empty list of models ({', '.join(MODEL_KEYS)})")
    entries = [_entry(i, item, defaults, file.parent, f"{where}: model {i + 1}") for i, item in enumerate(models)]
    seen: dict[tuple[str, Any], int] = {}
    for e in entries:
        key = (e.request["name"], e.request.get("model_version"))
        if key in seen:
            raise BadInput(f"{where}: models {seen[key] + 1} and {e.index + 1} are both {e.label}; give each a "
                           "distinct name or version")
        seen[key] = e.index
    return entries


def _known(mapping: dict[Any, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in mapping if k not in allowed)
    if unknown:
        raise BadInput(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(allowed)})")


def _entry(index: int, item: Any, defaults: dict[str, Any], base: Path, where: str) -> Entry:
    if not isinstance(item, dict):
        raise BadInput(f"{where}: give a mapping of {', '.join(MODEL_KEYS)}")
    _known(item, MODEL_KEYS, where)
    merged = {**defaults, **item, "meta": {**_meta(defaults.get("meta"), where), **_meta(item.get("meta"), where)}}
    for key in _STRINGS:
        value = merged.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key in ("version", "name"):
            merged[key] = value = str(value)     # `version: 2.1` in YAML is a number
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise BadInput(f"{where}: {key} must be a non-empty string")
    for key in _INTEGERS:
        value = merged.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise BadInput(f"{where}: {key} must be a whole number, 0 or more")
    if not merged.get("path"):
        raise BadInput(f"{where}: path is missing (the model's folder or file)")
    model = _resolved(merged["path"], base)
    request = {"model": model, "name": merged.get("name") or Path(model).name,
               "model_version": merged.get("version"), "template": _maybe_file(merged.get("template"), base),
               "probes": _maybe_file(merged.get("probes") or "builtin:text", base), "limit": merged.get("limit"),
               "seed": merged.get("seed") or 0, "meta": merged["meta"]}
    return Entry(index, request)


def _meta(value: Any, where: str) -> dict[str, Any]:
    from auditor.audit_run import META_FIELDS

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(f"{where}: meta must be a mapping of {', '.join(META_FIELDS)}")
    _known(value, META_FIELDS, f"{where}: meta")
    return {str(k): (None if v is None else str(v)) for k, v in value.items()}


def _resolved(path: str, base: Path) -> str:
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _maybe_file(value: str | None, base: Path) -> str | None:
    """A template or probe file named relative to the inventory; a built-in name is kept as it is."""
    if value is None or value.startswith("builtin:"):
        return value
    candidate = Path(value).expanduser()
    if not candidate.is_absolute() and (base / candidate).exists():
        return str((base / candidate).resolve())
    return value
