"""CSV and JSONL probe files: `text` and an optional `label` per entry.

Two kinds of problem, kept apart on purpose:
- the file's structure is broken (a row that does not parse, an unterminated quote, more
  fields than the header, bytes in another encoding): BadInput naming the file and line,
  always, because every row after it may be misread; --skip-bad-probes never hides it.
- an entry parses but cannot be used (empty text, no `text` field, a missing label): listed
  with its line, and skipped and recorded with --skip-bad-probes.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from auditor.errors import BadInput
from auditor.probes.common import index_labels, one_label_note, settle_bad_entries, skipped_note
from auditor.probes.encoding import UNDECODABLE, decode, split_lines
from auditor.probes.types import ProbeSet

_QUOTE_FIX = 'put a text that holds commas, quotes or line breaks in double quotes, and double each quote inside it ("")'
_JSONL_FIX = 'each line must be one JSON object, e.g. {"text": "...", "label": "..."}'

# (line number, text, label or None) for usable candidates; (line number, reason) for bad ones
Candidate = tuple[int, str, "str | None"]
Bad = tuple[int, str]


def read_text_file(path: Path, name: str, skip_bad: bool) -> ProbeSet:
    """Read a .csv or .jsonl probe file (UTF-8, or UTF-8/UTF-16 with a BOM)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{name} cannot be read ({exc.strerror or exc}); check that it exists and its permissions.") from exc
    text, _, notes = decode(data, name)
    if path.suffix.lower() == ".csv":
        candidates, bad = _parse_csv(text, name)
    else:
        candidates, bad = _parse_jsonl(text, name)
    if any(label is not None for _, _, label in candidates):
        bad += [(line, "no label (other rows have one)") for line, _, label in candidates if label is None]
        candidates = [c for c in candidates if c[2] is not None]
    bad.sort()
    skipped = settle_bad_entries(name, [f"line {line}: {why}" for line, why in bad], len(candidates), skip_bad)
    texts = [t for _, t, _ in candidates]
    labels: list[int] | None = None
    label_names: list[str] = []
    raw_labels = [label for _, _, label in candidates if label is not None]
    if raw_labels and len(set(raw_labels)) == 1:
        notes.append(one_label_note(raw_labels[0], "label"))  # one class is no labels: say so
    elif raw_labels:
        labels, label_names = index_labels(raw_labels)
    return ProbeSet(
        spec=name, kind="text", sha256=hashlib.sha256(data).hexdigest(), texts=texts, labels=labels,
        label_names=label_names, skipped=skipped, notes=notes + skipped_note(skipped),
    )


def _text_problem(text: object) -> str | None:
    if not isinstance(text, str):
        return f"text is not a string (it is {type(text).__name__})"
    if not text.strip():
        return "empty text"
    if UNDECODABLE.search(text):
        return "text contains unpaired surrogate characters"
    if "\x00" in text:
        return "contains NUL bytes"
    return None


# --- JSONL -------------------------------------------------------------------------------------

def jsonl_objects(text: str, name: str, fix: str) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, parsed object, None) per non-blank line, or (line number, None, problem) for a line that
    cannot be an entry (NUL bytes); a line that is not JSON breaks the file's structure: BadInput naming the
    file and line, ending with `fix` (how a line should look)."""
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        if "\x00" in line:
            yield number, None, "contains NUL bytes"
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{name} line {number}: not valid JSON ({exc.msg}, column {exc.colno}){_array_hint(line)}; {fix}.") from None
        except (ValueError, RecursionError):
            raise BadInput(f"{name} line {number}: not valid JSON (nested too deeply); {fix}.") from None
        yield number, obj, None


def _parse_jsonl(text: str, name: str) -> tuple[list[Candidate], list[Bad]]:
    candidates: list[Candidate] = []
    bad: list[Bad] = []
    for number, obj, unreadable in jsonl_objects(text, name, _JSONL_FIX):
        if unreadable is not None:
            bad.append((number, unreadable))
            continue
        problem, label = _jsonl_fields(obj)
        if problem is None:
            candidates.append((number, obj["text"], label))
        else:
            bad.append((number, problem))
    return candidates, bad


def _array_hint(line: str) -> str:
    """Why a whole-file JSON array or pretty-printed JSON fails on its first line."""
    if line.strip() in ("[", "{", "[{"):
        return "; the file looks like one JSON document spread over several lines, not JSON Lines"
    return ""


def _jsonl_fields(obj: object) -> tuple[str | None, str | None]:
    """(problem, label) for one parsed JSONL value."""
    if not isinstance(obj, dict):
        return "not a JSON object", None
    if "text" not in obj:
        return 'no "text" field', None
    problem = _text_problem(obj["text"])
    if problem:
        return problem, None
    raw = obj.get("label")
    if raw is None:
        return None, None
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return f"label must be a string or an integer (it is {type(raw).__name__})", None
    label = str(raw).strip()
    if UNDECODABLE.search(label):
        return "label contains unpaired surrogate characters", None
    return None, (label or None)


# --- CSV ---------------------------------------------------------------------------------------

def csv_rows(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """(the line a row starts on, its cells) for every row with a non-blank cell; a row that does not parse
    breaks the file's structure: BadInput naming the file and line."""
    # strict: a quote that never closes, or text after a closing quote, is an error, not a
    # field that silently swallows the rest of the file
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BadInput(_csv_error(name, start, reader.line_num, str(exc))) from None
        if any(cell.strip() for cell in row):     # blank lines and rows of empty cells are not entries
            yield start, row


def _parse_csv(text: str, name: str) -> tuple[list[Candidate], list[Bad]]:
    candidates: list[Candidate] = []
    bad: list[Bad] = []
    header: list[str] | None = None
    text_col, label_col = 0, None
    for start, row in csv_rows(text, name):
        if header is None:
            header = row
            text_col, label_col = _header(row, name, start)
            continue
        extra = [cell for cell in row[len(header):] if cell.strip()]
        if extra:  # empty trailing cells are spreadsheet padding; text there is a misread row
            raise BadInput(
                f"{name} line {start}: {len(row)} fields, but the header has {len(header)} "
                f"(a comma inside a text that is not in double quotes, perhaps); {_QUOTE_FIX}."
            )
        problem = "contains NUL bytes" if any("\x00" in cell for cell in row) else None
        if problem is None and len(row) <= text_col:
            problem = f"no text (the row has only {len(row)} field{'s' if len(row) != 1 else ''})"
        problem = problem or _text_problem(row[text_col])
        if problem:
            bad.append((start, problem))
            continue
        label = row[label_col].strip() if label_col is not None and len(row) > label_col else ""
        candidates.append((start, row[text_col], label or None))
    return candidates, bad


def _csv_error(name: str, start: int, end: int, error: str) -> str:
    """One line for a row the csv module cannot parse; `start` is the row's first line."""
    if "unexpected end of data" in error:
        return (f"{name} line {start}: unterminated quote (the quoted field that opens on this line never "
                f"closes, so the rest of the file would be read as one probe); {_QUOTE_FIX}.")
    if "field larger than field limit" in error:
        return (f"{name} line {start}: a field longer than {csv.field_size_limit()} characters starts on this "
                f"line (an unterminated quote, perhaps); {_QUOTE_FIX}.")
    if "expected after" in error and end > start:
        return (f"{name} line {start}: a quote that opens on this line closes on line {end} and text follows "
                f"it (an unterminated quote, perhaps); {_QUOTE_FIX}.")
    if "expected after" in error:
        return f"{name} line {start}: text after a closing quote; {_QUOTE_FIX}."
    return f"{name} line {start}: not valid CSV ({error}); {_QUOTE_FIX}."


def _header(row: list[str], name: str, line: int) -> tuple[int, int | None]:
    """Column indices of `text` and `label` in the header row; BadInput when there is no `text`."""
    columns = [cell.strip().lower() for cell in row]
    if "text" not in columns:
        found = ", ".join(repr(c) for c in row[:8])
        hint = ""
        if len(row) == 1 and (";" in row[0] or "\t" in row[0]):
            hint = " (it seems to use ';' or tabs between columns; use commas)"
        raise BadInput(
            f"{name} line {line}: no `text` column in the header{hint} (found {found}); the first row must "
            "name the columns, e.g. text,label."
        )
    for column in ("text", "label"):
        if columns.count(column) > 1:
            raise BadInput(f"{name} line {line}: the header names the `{column}` column {columns.count(column)} times; "
                           "name each column once, e.g. text,label.")
    return columns.index("text"), (columns.index("label") if "label" in columns else None)
