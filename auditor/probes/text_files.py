"""CSV and JSONL probe files: `text` and an optional `label` per entry."""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from pathlib import Path

from auditor.errors import BadInput
from auditor.probes.common import index_labels, settle_bad_entries, skipped_note
from auditor.probes.types import ProbeSet

_MARK = "auditor.probes.mark-undecodable"
_UNDECODABLE = re.compile("[\ud800-\udfff]")  # marker for bad bytes, or an unpaired surrogate
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\ud800-\udfff]")
_SNIFF = 1024
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx or .npz file, perhaps)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x93NUMPY", "a NumPy array file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.xls or .doc)"),
)
_BOMS = (
    (codecs.BOM_UTF32_LE, None),  # checked before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, None),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE"}


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: one lone-surrogate marker per undecodable run of bytes."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\udcff", exc.end


codecs.register_error(_MARK, _mark_undecodable)

# (line number, text, label or None) for usable candidates; (line number, reason) for bad ones
Candidate = tuple[int, str, "str | None"]
Bad = tuple[int, str]


def read_text_file(path: Path, name: str, skip_bad: bool) -> ProbeSet:
    """Read a .csv or .jsonl probe file (UTF-8, or UTF-8/UTF-16 with a BOM)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{name} cannot be read ({exc.strerror or exc}); check that it exists and its permissions.") from exc
    text, encoding, notes = decode(data, name)
    enc_name = _ENCODING_NAMES[encoding]
    if path.suffix.lower() == ".csv":
        candidates, bad = _parse_csv(text, name, enc_name)
    else:
        candidates, bad = _parse_jsonl(text, enc_name)
    if any(label is not None for _, _, label in candidates):
        bad += [(line, "no label (other rows have one)") for line, _, label in candidates if label is None]
        candidates = [c for c in candidates if c[2] is not None]
    bad.sort()
    skipped = settle_bad_entries(name, [f"line {line}: {why}" for line, why in bad], len(candidates), skip_bad)
    texts = [t for _, t, _ in candidates]
    labels: list[int] | None = None
    label_names: list[str] = []
    if candidates and candidates[0][2] is not None:
        labels, label_names = index_labels([label for _, _, label in candidates])  # type: ignore[misc]
    return ProbeSet(
        spec=name, kind="text", sha256=hashlib.sha256(data).hexdigest(), texts=texts, labels=labels,
        label_names=label_names, skipped=skipped, notes=notes + skipped_note(skipped),
    )


def decode(data: bytes, name: str) -> tuple[str, str, list[str]]:
    """Bytes -> (text, codec, notes); BadInput for binary or empty files.

    Undecodable bytes become a lone-surrogate marker, so each entry can be judged on its own.
    """
    encoding, body, notes = "utf-8", data, []
    for bom, codec in _BOMS:
        if data.startswith(bom):
            if codec is None:
                raise BadInput(f"{name} is encoded as UTF-32; save it as UTF-8 (or UTF-16) and try again.")
            encoding, body = codec, data[len(bom):]
            if codec != "utf-8":
                notes.append(f"decoded as {_ENCODING_NAMES[codec]} (byte-order mark)")
            break
    else:
        _refuse_binary(data, name)
    text = body.decode(encoding, errors=_MARK)
    sample = text[:_SNIFF]
    if encoding != "utf-8" and "\x00" in sample:
        raise BadInput(f"{name} is not a text file (it contains NUL characters near the start); give a UTF-8 CSV or JSONL file.")
    if len(sample) >= 16 and len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        raise BadInput(f"{name} is not a text file (its start is mostly undecodable or control bytes); give a UTF-8 CSV or JSONL file.")
    if not text.strip():
        raise BadInput(f"{name} is empty; give at least one probe (CSV: a header naming a `text` column and rows; JSONL: one object per line).")
    return text, encoding, notes


def _refuse_binary(data: bytes, name: str) -> None:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise BadInput(f"{name} is not a text file (it looks like {what}); give a UTF-8 CSV or JSONL file.")
    head = data[:_SNIFF]
    nuls = head.count(0)
    # many NULs near the start: binary; a stray one is judged as a bad entry on its own line
    if nuls >= 4 or nuls * 100 > len(head):
        hint = ""
        if head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4:
            hint = " (if it is UTF-16, save it with a byte-order mark)"
        raise BadInput(f"{name} is not a text file: it contains NUL bytes near the start{hint}; give a UTF-8 CSV or JSONL file.")


def _entry_problem(fields: list[str], enc_name: str) -> str | None:
    """Why a raw entry is unreadable before parsing, or None."""
    if any(_UNDECODABLE.search(f) for f in fields):
        return f"undecodable bytes (not valid {enc_name})"
    if any("\x00" in f for f in fields):
        return "contains NUL bytes"
    return None


def _text_problem(text: object) -> str | None:
    if not isinstance(text, str):
        return f"text is not a string (it is {type(text).__name__})"
    if not text.strip():
        return "empty text"
    if _UNDECODABLE.search(text):
        return "text contains unpaired surrogate characters"
    return None


def _parse_jsonl(text: str, enc_name: str) -> tuple[list[Candidate], list[Bad]]:
    candidates: list[Candidate] = []
    bad: list[Bad] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        problem = _entry_problem([line], enc_name)
        if problem is None:
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                obj, problem = None, "not JSON"
        if problem is None:
            problem, label = _jsonl_fields(obj)
        if problem is None:
            candidates.append((number, obj["text"], label))
        else:
            bad.append((number, problem))
    return candidates, bad


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
    if _UNDECODABLE.search(label):
        return "label contains unpaired surrogate characters", None
    return None, (label or None)


def _parse_csv(text: str, name: str, enc_name: str) -> tuple[list[Candidate], list[Bad]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    candidates: list[Candidate] = []
    bad: list[Bad] = []
    text_col: int | None = None
    label_col: int | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if text_col is None:
                raise BadInput(f"{name} has an unreadable header row ({exc}); the first row must name the columns, e.g. text,label.") from exc
            bad.append((start, f"not valid CSV ({exc})"))
            continue
        if not any(cell.strip() for cell in row):
            continue  # blank lines and spreadsheet rows of empty cells are not entries
        if text_col is None:
            text_col, label_col = _header(row, name)
            continue
        problem = _entry_problem(row, enc_name)
        if problem is None and len(row) <= text_col:
            problem = f"no text (the row has only {len(row)} field{'s' if len(row) != 1 else ''})"
        if problem is None:
            problem = _text_problem(row[text_col])
        if problem:
            bad.append((start, problem))
            continue
        label = row[label_col].strip() if label_col is not None and len(row) > label_col else ""
        candidates.append((start, row[text_col], label or None))
    return candidates, bad


def _header(row: list[str], name: str) -> tuple[int, int | None]:
    """Column indices of `text` and `label` in the header row; BadInput when there is no `text`."""
    columns = [cell.strip().lower() for cell in row]
    if "text" not in columns:
        found = ", ".join(repr(c) for c in row[:8])
        hint = ""
        if len(row) == 1 and (";" in row[0] or "\t" in row[0]):
            hint = " (it seems to use ';' or tabs between columns; use commas)"
        raise BadInput(
            f"{name} has no `text` column in its header{hint} (found {found}); the first row must "
            "name the columns, e.g. text,label."
        )
    text_col = columns.index("text")
    return text_col, (columns.index("label") if "label" in columns else None)
