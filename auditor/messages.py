"""Sentences as facts: a catalogue key and language-neutral parameters, rendered in English or Japanese.

Checks, findings, skip reasons and progress events state *what* they found as a `Message` (a key
and parameters: numbers, layer indices, names, codes). One catalogue, the YAML files under
`templates/sentences/`, holds the English and Japanese wording of every key; `render` turns a
message into a sentence in the reader's language. Nothing parses an English sentence to get back
to the facts, and a key without both languages fails `validate()` (run by the unit tests).

Catalogue entries are `key: {en: "...", ja: "..."}` with `str.format` fields that name parameters
only (no attribute or index access). A field may carry a format spec for numbers (`{ratio:.3f}`);
a list parameter is joined with the language's list separator (`join.list`), or with the clause
separator when its spec is `clauses` (`{reasons:clauses}`); a nested `Message` is rendered in the
same language; `None` prints as `value.unknown`.
"""
from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

LANGS = ("en", "ja")
SENTENCES_DIR = "sentences"
# the one key whose text is not ours: an exception's own words or a file name shown as it is
VERBATIM = "text.verbatim"


class CatalogueError(KeyError):
    """A key the catalogue does not hold, or an entry without the language asked for."""


@dataclass(frozen=True)
class Message:
    """One sentence (or clause) as facts: the catalogue key and its parameters."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "params": {str(k): _plain(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: Any) -> Message:
        """A message read back from the store; ValueError when the data is not one."""
        if not isinstance(data, Mapping) or not isinstance(data.get("key"), str):
            raise ValueError(f"not a stored message: {data!r:.80}")
        params = data.get("params") or {}
        if not isinstance(params, Mapping):
            raise ValueError(f"message {data['key']}: params must be a mapping")
        return cls(data["key"], {str(k): _revive(v) for k, v in params.items()})


def verbatim(text: str) -> Message:
    """Text that is not ours to translate (an exception message, a path)."""
    return Message(VERBATIM, {"text": str(text)})


def to_json(messages: Iterable[Message]) -> list[dict[str, Any]]:
    return [m.to_json() for m in messages]


def from_json(data: Any) -> tuple[Message, ...]:
    if not isinstance(data, list):
        raise ValueError("stored sentences must be a list")
    return tuple(Message.from_json(item) for item in data)


def _plain(value: Any) -> Any:
    """A parameter as JSON data; nested messages keep their key so they render in any language."""
    if isinstance(value, Message):
        return {"$message": value.to_json()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):   # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _revive(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"$message"}:
            return Message.from_json(value["$message"])
        return {str(k): _revive(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revive(v) for v in value]
    return value


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """Every sentence, from all YAML files under templates/sentences/ (a key defined twice is refused)."""
    from auditor.safe_yaml import load_yaml

    folder = Path(str(resources.files("auditor_templates"))) / SENTENCES_DIR
    entries: dict[str, dict[str, str]] = {}
    where: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path.name}: the catalogue must be a mapping of keys")
        for key, entry in data.items():
            if key in entries:
                raise ValueError(f"{path.name}: key {key} is already defined in {where[key]}")
            if not isinstance(entry, dict):
                raise ValueError(f"{path.name}: {key} must map languages to sentences")
            entries[str(key)] = {str(lang): str(text) for lang, text in entry.items()}
            where[str(key)] = path.name
    return entries


def has(key: str) -> bool:
    return key in catalogue()


def text(key: str, lang: str = "en", **params: Any) -> str:
    """The catalogue sentence `key` in `lang` with `params` filled in."""
    return render(Message(key, params), lang)


def render(message: Message | Iterable[Message], lang: str = "en", *, default: str | None = None) -> str:
    """A message, or clauses joined by the language's clause separator, as text in `lang`.

    Raises CatalogueError for a key the catalogue lacks, unless `default` is given (for stored
    audits whose keys a later version renamed: the caller passes the stored English sentence).
    """
    try:
        if isinstance(message, Message):
            return _render_one(message, lang)
        return _joined([_render_one(m, lang) for m in message], "clauses", lang)
    except CatalogueError:
        if default is not None:
            return default
        raise


def _render_one(message: Message, lang: str) -> str:
    entry = catalogue().get(message.key)
    if entry is None:
        raise CatalogueError(f"no sentence {message.key!r} in the catalogue")
    template = entry.get(lang) or entry.get("en")
    if template is None:
        raise CatalogueError(f"sentence {message.key!r} has no {lang} text")
    return _Formatter(lang).vformat(template, (), dict(message.params))


def _joined(parts: list[str], how: str, lang: str) -> str:
    separator = catalogue().get(f"join.{how}", {}).get(lang)
    if separator is None:
        separator = "; " if how == "clauses" else ", "
    return separator.join(p for p in parts if p)


class _Formatter(string.Formatter):
    """str.format restricted to named parameters, with messages, lists and None rendered per language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if not field_name.isidentifier():
            raise CatalogueError(f"field {{{field_name}}}: only plain parameter names are allowed")
        return self.get_value(field_name, args, kwargs), field_name

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        if key not in kwargs:
            raise CatalogueError(f"parameter {key!r} missing")
        return kwargs[key]

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Message):
            return _render_one(value, self.lang)
        if isinstance(value, (list, tuple)):
            how = format_spec if format_spec in ("clauses", "list") else "list"
            spec = "" if format_spec in ("clauses", "list") else format_spec
            return _joined([self.format_field(v, spec) for v in value], how, self.lang)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return _render_one(Message("value.unknown"), self.lang)
        return super().format_field(value, format_spec)


def fields_of(template: str) -> set[str]:
    """The parameter names a catalogue sentence uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def validate() -> list[str]:
    """Problems in the catalogue: a missing language, an empty sentence, or languages that disagree on
    the parameters they use. An empty list means every key renders in both languages."""
    problems = []
    for key, entry in sorted(catalogue().items()):
        missing = [lang for lang in LANGS if not entry.get(lang) and not key.startswith("join.")]
        if missing:
            problems.append(f"{key}: no {', '.join(missing)} text")
            continue
        try:
            used = {lang: fields_of(entry[lang]) for lang in LANGS if lang in entry}
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
            continue
        if len({frozenset(v) for v in used.values()}) > 1:
            problems.append(f"{key}: parameters differ between languages: {used}")
        bad = [name for names in used.values() for name in names if not name.isidentifier()]
        if bad:
            problems.append(f"{key}: fields must be plain parameter names, not {bad}")
    return problems
