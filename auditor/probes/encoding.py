"""Bytes of a probe text file -> text: UTF-8, or UTF-8/UTF-16 with a byte-order mark, else refused.

Every refusal names the problem and, for bytes that do not decode, the line they are on: a
file in another encoding is refused as a whole, never read with some rows skipped, because
skipping would drop exactly the rows with accented or Japanese characters.
"""
from __future__ import annotations

import codecs
import re

from auditor.errors import BadInput

_MARK = "auditor.probes.mark-undecodable"
UNDECODABLE = re.compile("[\ud800-\udfff]")  # marker for bad bytes, or an unpaired surrogate
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\ud800-\udfff]")
_LINE_END = re.compile(r"\r\n|\r|\n")
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
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-16-le": "UTF-16 LE", "utf-16-be": "UTF-16 BE"}
_SAVE_AS = "save it as UTF-8 (or UTF-16 with a byte-order mark) and try again"


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: one lone-surrogate marker per undecodable run of bytes."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\udcff", exc.end


codecs.register_error(_MARK, _mark_undecodable)


def line_of(text: str, position: int) -> int:
    """1-based line number of `position` in `text` (\\n, \\r\\n and \\r end a line, as for csv)."""
    return len(_LINE_END.findall(text, 0, position)) + 1


def split_lines(text: str) -> list[str]:
    """Lines as line_of counts them (JSON never holds a raw CR or LF inside a value)."""
    return _LINE_END.split(text)


def decode(data: bytes, name: str) -> tuple[str, str, list[str]]:
    """Bytes -> (text, codec, notes); BadInput for binary, empty or undecodable files."""
    encoding, body, notes = "utf-8", data, []
    for bom, codec in _BOMS:
        if data.startswith(bom):
            if codec is None:
                raise BadInput(f"{name} is encoded as UTF-32; save it as UTF-8 (or UTF-16) and try again.")
            encoding, body = codec, data[len(bom):]
            if codec != "utf-8":
                notes.append(f"decoded as {ENCODING_NAMES[codec]} (byte-order mark)")
            break
    else:
        _refuse_binary(data, name)
    text = body.decode(encoding, errors=_MARK)
    sample = text[:_SNIFF]
    if encoding != "utf-8" and "\x00" in sample:
        raise BadInput(f"{name} is not a text file (it contains NUL characters near the start); give a UTF-8 CSV or JSONL file.")
    if len(sample) >= 16 and len(_CONTROL.findall(sample)) > 0.1 * len(sample):
        if encoding == "utf-8" and _looks_shift_jis(body):
            _refuse_undecodable(body, encoding, name)  # Japanese text is mostly non-UTF-8 bytes
        raise BadInput(f"{name} is not a text file (its start is mostly undecodable or control bytes); give a UTF-8 CSV or JSONL file.")
    if UNDECODABLE.search(text):
        _refuse_undecodable(body, encoding, name)
    if not text.strip():
        raise BadInput(f"{name} is empty; give at least one probe (CSV: a header naming a `text` column and rows; JSONL: one object per line).")
    return text, encoding, notes


def _refuse_undecodable(body: bytes, encoding: str, name: str) -> None:
    """BadInput naming the line of the first bytes that are not valid `encoding`."""
    try:
        body.decode(encoding)
    except UnicodeDecodeError as exc:
        before = body[:exc.start].decode(encoding)
        line = line_of(before, len(before))
        shown = " ".join(f"0x{b:02X}" for b in exc.object[exc.start:min(exc.end, exc.start + 4)])
        hint = _guess(body) if encoding == "utf-8" else ""
        raise BadInput(
            f"{name} line {line}: bytes that are not valid {ENCODING_NAMES[encoding]} ({shown}){hint}; {_SAVE_AS}."
        ) from None


def _guess(body: bytes) -> str:
    """A hint at the encoding a non-UTF-8 file is in, from the two a user most likely has."""
    if _looks_shift_jis(body):
        return "; the file looks like Shift_JIS (cp932)"
    return "; the file may be in another encoding, such as Windows-1252 (Latin-1)"


def _looks_shift_jis(body: bytes) -> bool:
    try:
        text = body.decode("cp932")
    except UnicodeDecodeError:
        return False
    return re.search("[\u3040-\u30ff]", text) is not None  # kana: kanji alone also come out of misread Latin-1


def _refuse_binary(data: bytes, name: str) -> None:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise BadInput(f"{name} is not a text file (it looks like {what}); give a UTF-8 CSV or JSONL file.")
    head = data[:_SNIFF]
    nuls = head.count(0)
    # many NULs near the start: binary; a stray one is judged as a bad entry on its own line
    if nuls >= 4 or nuls * 100 > len(head):
        order = _bomless_utf16(head)
        if order:
            raise BadInput(
                f"{name} looks like UTF-16 {order} without a byte-order mark (every second byte is zero); "
                f"{_SAVE_AS}."
            )
        raise BadInput(f"{name} is not a text file: it contains NUL bytes near the start; give a UTF-8 CSV or JSONL file.")


def _bomless_utf16(head: bytes) -> str:
    """'LE' or 'BE' when `head` reads as mostly-ASCII UTF-16 without a BOM, else ''."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 8:
        return ""
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) <= 0.1 * len(even):
        return "LE"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) <= 0.1 * len(odd):
        return "BE"
    return ""
