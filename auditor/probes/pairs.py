"""Counterfactual probe pairs: two texts that differ only in a protected attribute.

`builtin_pairs()` reads the pairs written for this project (data/builtin_pairs.jsonl);
`load_pairs(path)` reads a user's CSV/JSONL with `text_a, text_b, attribute` (optional `domain`
and `lang`) under the same strict rules as probe files (auditor/probes/text_files.py): a broken
structure is refused with file and line whatever `skip_bad` says; an entry that parses but cannot
be used (an empty member, identical members, no attribute) is listed with its line, and skipped
and recorded only with `skip_bad`.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from auditor.errors import BadInput
from auditor.probes.common import settle_bad_entries, skipped_note
from auditor.probes.encoding import UNDECODABLE, decode

# the probe-file reader's wording for the same structural faults: one voice for both file kinds
from auditor.probes.text_files import _text_problem, csv_rows, jsonl_objects

BUILTIN_SPEC = "builtin:pairs"
ATTRIBUTES = ("gender", "age", "nationality_or_ethnicity", "disability", "religion", "marital_status")
REQUIRED = ("text_a", "text_b", "attribute")
OPTIONAL = ("domain", "lang")
_QUOTE_FIX = 'put a text that holds commas, quotes or line breaks in double quotes, and double each quote inside it ("")'
_JSONL_FIX = 'each line must be one JSON object, e.g. {"text_a": "...", "text_b": "...", "attribute": "gender"}'

# (line, text_a, text_b, attribute, domain, lang) for usable entries; (line, reason) for bad ones
_Row = tuple[int, str, str, str, "str | None", "str | None"]
_Bad = tuple[int, str]


@dataclass(frozen=True)
class PairSet:
    """Counterfactual pairs, index-aligned: pair i is (texts_a[i], texts_b[i])."""

    texts_a: tuple[str, ...]
    texts_b: tuple[str, ...]
    attributes: tuple[str, ...]
    domains: tuple[str | None, ...]     # None where the file gives no domain
    langs: tuple[str | None, ...]       # None where the file gives no language
    sha256: str                         # of the source file's bytes
    spec: str                           # builtin:pairs, or the path the user gave
    skipped: tuple[str, ...] = ()       # "line 4: identical members" (skip_bad only)
    notes: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.texts_a)

    def describe(self) -> dict[str, object]:
        """The plain-data record of the set (for the evidence)."""
        return {"spec": self.spec, "sha256": self.sha256, "count": self.count,
                "attributes": sorted(set(self.attributes)),
                "domains": sorted({d for d in self.domains if d is not None}),
                "langs": sorted({g for g in self.langs if g is not None}),
                "skipped": list(self.skipped), "notes": list(self.notes)}


def builtin_pairs() -> PairSet:
    """The built-in pairs (English and Japanese, the built-in domains); sha256 of the file's bytes."""
    data = _builtin_bytes()
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    return PairSet(
        texts_a=tuple(r["text_a"] for r in rows), texts_b=tuple(r["text_b"] for r in rows),
        attributes=tuple(r["attribute"] for r in rows), domains=tuple(r["domain"] for r in rows),
        langs=tuple(r["lang"] for r in rows), sha256=hashlib.sha256(data).hexdigest(), spec=BUILTIN_SPEC)


@lru_cache(maxsize=1)
def _builtin_bytes() -> bytes:
    return resources.files("auditor.probes").joinpath("data", "builtin_pairs.jsonl").read_bytes()


def load_pairs(path: str | Path, *, skip_bad: bool = False, name: str | None = None) -> PairSet:
    """Read a .csv or .jsonl pairs file (UTF-8, or UTF-8/UTF-16 with a byte-order mark)."""
    path = Path(path)
    name = name or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{name} cannot be read ({exc.strerror or exc}); check that it exists and its permissions.") from exc
    text, _, notes = decode(data, name)
    rows, bad = _parse_csv(text, name) if path.suffix.lower() == ".csv" else _parse_jsonl(text, name)
    bad.sort()
    skipped = settle_bad_entries(name, [f"line {line}: {why}" for line, why in bad], len(rows), skip_bad)
    return PairSet(
        texts_a=tuple(r[1] for r in rows), texts_b=tuple(r[2] for r in rows),
        attributes=tuple(r[3] for r in rows), domains=tuple(r[4] for r in rows),
        langs=tuple(r[5] for r in rows), sha256=hashlib.sha256(data).hexdigest(), spec=name,
        skipped=tuple(skipped), notes=tuple(notes + skipped_note(skipped)))


def token_count_mismatches(pairs: PairSet, tokenize: Callable[[str], Sequence[object]]) -> list[int]:
    """Indices of the pairs whose two members tokenise to different lengths.

    A name the tokenizer splits into more pieces moves the representation for a reason that is
    not the attribute; the evidence lists these pairs rather than hiding them.
    """
    return [i for i, (a, b) in enumerate(zip(pairs.texts_a, pairs.texts_b, strict=True))
            if len(tokenize(a)) != len(tokenize(b))]


def token_identical_pairs(pairs: PairSet, tokenize: Callable[[str], Sequence[object]]) -> list[int]:
    """Indices of the pairs whose members tokenise to the same sequence (e.g. both words [UNK]).

    The model receives the same input twice, so such a pair measures nothing for it; its zero
    shift must not be read as insensitivity.
    """
    return [i for i, (a, b) in enumerate(zip(pairs.texts_a, pairs.texts_b, strict=True))
            if list(tokenize(a)) == list(tokenize(b))]


def _entry(line: int, fields: dict[str, object]) -> _Row | _Bad:
    """One parsed entry -> a usable row, or (line, reason)."""
    for key in ("text_a", "text_b"):
        if key not in fields or fields[key] is None:
            return line, f"no {key}"
        problem = _text_problem(fields[key])
        if problem:
            return line, f"{key}: {problem}"
    a, b = str(fields["text_a"]), str(fields["text_b"])
    if a == b:
        return line, "text_a and text_b are identical (a pair must differ in the attribute)"
    extra: list[str | None] = []
    for key in ("attribute",) + OPTIONAL:
        raw = fields.get(key)
        if raw is not None and not isinstance(raw, str):
            return line, f"{key} must be a string (it is {type(raw).__name__})"
        value = (raw or "").strip()
        if UNDECODABLE.search(value):
            return line, f"{key} contains unpaired surrogate characters"
        extra.append(value or None)
    if extra[0] is None:
        return line, "no attribute"
    return line, a, b, str(extra[0]), extra[1], extra[2]


def _parse_jsonl(text: str, name: str) -> tuple[list[_Row], list[_Bad]]:
    rows: list[_Row] = []
    bad: list[_Bad] = []
    for number, obj, unreadable in jsonl_objects(text, name, _JSONL_FIX):
        if unreadable is not None:
            bad.append((number, unreadable))
            continue
        result = _entry(number, obj) if isinstance(obj, dict) else (number, "not a JSON object")
        (rows if len(result) == 6 else bad).append(result)  # type: ignore[arg-type]
    return rows, bad


def _parse_csv(text: str, name: str) -> tuple[list[_Row], list[_Bad]]:
    rows: list[_Row] = []
    bad: list[_Bad] = []
    header: list[str] | None = None
    columns: dict[str, int] = {}
    for start, row in csv_rows(text, name):
        if header is None:
            header, columns = row, _header(row, name, start)
            continue
        if any(cell.strip() for cell in row[len(header):]):
            raise BadInput(
                f"{name} line {start}: {len(row)} fields, but the header has {len(header)} "
                f"(a comma inside a text that is not in double quotes, perhaps); {_QUOTE_FIX}.")
        if any("\x00" in cell for cell in row):
            bad.append((start, "contains NUL bytes"))
            continue
        fields = {key: row[i] for key, i in columns.items() if i < len(row)}
        result = _entry(start, fields)
        (rows if len(result) == 6 else bad).append(result)  # type: ignore[arg-type]
    return rows, bad


def _header(row: list[str], name: str, line: int) -> dict[str, int]:
    """Column index of each known column; BadInput when a required one is missing or doubled."""
    cells = [cell.strip().lower() for cell in row]
    missing = [c for c in REQUIRED if c not in cells]
    if missing:
        found = ", ".join(repr(c) for c in row[:8])
        hint = " (it seems to use ';' or tabs between columns; use commas)" if len(row) == 1 and (
            ";" in row[0] or "\t" in row[0]) else ""
        raise BadInput(
            f"{name} line {line}: no {', '.join(f'`{c}`' for c in missing)} column in the header{hint} "
            f"(found {found}); the first row must name the columns, e.g. text_a,text_b,attribute,domain.")
    for column in REQUIRED + OPTIONAL:
        if cells.count(column) > 1:
            raise BadInput(f"{name} line {line}: the header names the `{column}` column {cells.count(column)} times; "
                           "name each column once, e.g. text_a,text_b,attribute,domain.")
    return {c: cells.index(c) for c in REQUIRED + OPTIONAL if c in cells}
