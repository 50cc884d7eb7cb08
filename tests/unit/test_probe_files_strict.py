"""Probe files are read strictly (issue 13, case 3): a broken file is refused with its line, never misread.

A structural problem (a row that does not parse, an unterminated quote, extra fields, bytes in
another encoding) is refused even with --skip-bad-probes; an entry that parses but is unusable
is listed with its line and may be skipped.
"""
from __future__ import annotations

import codecs
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from auditor.errors import BadInput
from auditor.probes import load_probes
from tests.conftest import run_cli

ROWS = "text,label\n" + "".join(f"loan claim number {i},{'ab'[i % 2]}\n" for i in range(1, 41))
JSONL = [json.dumps({"text": f"loan claim {i}", "label": "ab"[i % 2]}) for i in range(40)]


def refused(spec: str, **kwargs) -> str:
    """The one-line BadInput message, the same with and without skip_bad."""
    messages = []
    for skip in (False, True):
        with pytest.raises(BadInput) as info:
            load_probes(spec, skip_bad=skip, **kwargs)
        messages.append(str(info.value))
    assert messages[0] == messages[1], "a structural problem must not depend on --skip-bad-probes"
    assert "\n" not in messages[0]
    return messages[0]


def csv_with(tmp_path: Path, line: int, replacement: str) -> str:
    """ROWS with physical line `line` (1-based) replaced."""
    lines = ROWS.splitlines(keepends=True)
    lines[line - 1] = replacement
    path = tmp_path / "probes.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def jsonl_with(tmp_path: Path, line: int, replacement: str) -> str:
    lines = list(JSONL)
    lines[line - 1] = replacement
    path = tmp_path / "probes.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


# --- CSV structure -----------------------------------------------------------------------------

@pytest.mark.parametrize("labelled", [True, False])
def test_unterminated_quote_is_refused_with_its_line(tmp_path, labelled):
    # before: the rest of the file became one probe (or, with a label column, a "no label"
    # entry that --skip-bad-probes dropped together with every row after it)
    spec = csv_with(tmp_path, 7, '"loan claim that never closes,a\n')
    if not labelled:
        Path(spec).write_text("".join(line.split(",")[0] + "\n" for line in Path(spec).read_text().splitlines()))
    message = refused(spec)
    assert message.startswith(f"{spec} line 7: unterminated quote ")
    assert "rest of the file" in message and '("")' in message


def test_quote_closing_on_a_later_line_names_both_lines(tmp_path):
    spec = csv_with(tmp_path, 7, '"loan claim opens here,a\n')
    lines = Path(spec).read_text().splitlines(keepends=True)
    lines[11] = 'it closes" here,b\n'
    Path(spec).write_text("".join(lines))
    assert refused(spec).startswith(f"{spec} line 7: a quote that opens on this line closes on line 12")


def test_text_after_a_closing_quote_is_refused(tmp_path):
    spec = csv_with(tmp_path, 9, '"quoted" and then more,a\n')
    assert refused(spec).startswith(f"{spec} line 9: text after a closing quote;")


def test_extra_fields_are_refused_but_empty_padding_is_not(tmp_path):
    # an unquoted comma used to cut the text and turn its tail into a new label
    spec = csv_with(tmp_path, 5, "loan, claim with an unquoted comma,a\n")
    message = refused(spec)
    assert message.startswith(f"{spec} line 5: 3 fields, but the header has 2 (a comma inside a text")
    spec = csv_with(tmp_path, 5, "loan claim padded,a,,\n")
    assert load_probes(spec).count == 40


def test_quotes_used_correctly_are_read(tmp_path):
    spec = csv_with(tmp_path, 9, '"a ""quoted"" claim, with a comma\nand a line break",a\n')
    probes = load_probes(spec)
    assert 'a "quoted" claim, with a comma\nand a line break' in probes.texts and probes.count == 40
    spec = csv_with(tmp_path, 9, 'a "quote" inside an unquoted text,a\n')
    assert 'a "quote" inside an unquoted text' in load_probes(spec).texts


def test_header_problems_name_the_header_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("\n\nsentence,label\nhello,a\n")
    assert refused(str(path)).startswith(f"{path} line 3: no `text` column in the header (found 'sentence', 'label')")
    path.write_text("text,label,text\nhello,a,b\n")
    assert "names the `text` column 2 times" in refused(str(path))


def test_unusable_rows_that_parse_are_still_skippable(tmp_path):
    spec = csv_with(tmp_path, 4, ",a\n")
    with pytest.raises(BadInput, match=r"probes\.csv has 1 unreadable entry \(line 4: empty text\)"):
        load_probes(spec)
    probes = load_probes(spec, skip_bad=True)
    assert probes.count == 39 and probes.skipped == ["line 4: empty text"]


# --- encodings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bom,codec,note", [
    (codecs.BOM_UTF16_LE, "utf-16-le", "decoded as UTF-16 LE (byte-order mark)"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "decoded as UTF-16 BE (byte-order mark)"),
    (codecs.BOM_UTF8, "utf-8", None),
])
def test_byte_order_marks_give_every_row(tmp_path, bom, codec, note):
    path = tmp_path / "p.csv"
    path.write_bytes(bom + ROWS.replace("number 3,", "日本語 3,").encode(codec))
    probes = load_probes(str(path))
    assert probes.count == 40 and probes.label_names == ["a", "b"] and "loan claim 日本語 3" in probes.texts
    assert probes.notes == ([note] if note else [])


@pytest.mark.parametrize("codec,order", [("utf-16-le", "LE"), ("utf-16-be", "BE")])
def test_utf16_without_a_byte_order_mark_is_named(tmp_path, codec, order):
    path = tmp_path / "p.csv"
    path.write_bytes(ROWS.encode(codec))
    assert refused(str(path)) == (f"{path} looks like UTF-16 {order} without a byte-order mark (every second byte "
                                  "is zero); save it as UTF-8 (or UTF-16 with a byte-order mark) and try again.")


def test_bytes_in_another_encoding_are_refused_with_their_line(tmp_path):
    # before: the row was an "unreadable entry" that --skip-bad-probes dropped, so a Latin-1
    # file lost exactly its rows with accents
    path = tmp_path / "p.csv"
    lines = ROWS.splitlines(keepends=True)
    lines[8] = "loan claim caf\u00e9 latin1,a\n"
    path.write_bytes("".join(lines).encode("latin-1"))
    message = refused(str(path))
    assert message.startswith(f"{path} line 9: bytes that are not valid UTF-8 (0xE9); ")
    assert "Windows-1252" in message and message.endswith("save it as UTF-8 (or UTF-16 with a byte-order mark) and try again.")
    path.write_bytes(("text,label\nhello,a\n" + "ローン審査の申請,b\n").encode("cp932"))
    assert refused(str(path)).startswith(f"{path} line 3: bytes that are not valid UTF-8")
    assert "Shift_JIS" in refused(str(path))
    path.write_bytes(codecs.BOM_UTF16_LE + "text\nok\n".encode("utf-16-le") + b"\x00\xd8" + "x\n".encode("utf-16-le"))
    assert refused(str(path)).startswith(f"{path} line 3: bytes that are not valid UTF-16 LE")


# --- JSONL -------------------------------------------------------------------------------------

def test_a_jsonl_line_that_does_not_parse_is_refused(tmp_path):
    spec = jsonl_with(tmp_path, 4, '{"text": "broken')
    assert refused(spec) == (f'{spec} line 4: not valid JSON (Unterminated string starting at, column 10); '
                             'each line must be one JSON object, e.g. {"text": "...", "label": "..."}.')
    path = tmp_path / "pretty.jsonl"
    path.write_text(json.dumps([{"text": "a"}, {"text": "b"}], indent=2))
    assert "one JSON document spread over several lines" in refused(str(path))


def test_jsonl_entries_that_parse_but_are_unusable_are_skippable(tmp_path):
    lines = list(JSONL)
    lines[2], lines[5], lines[7] = '{"text": "", "label": "a"}', '["loan"]', '{"txt": "loan", "label": "a"}'
    spec = str(tmp_path / "p.jsonl")
    Path(spec).write_text("\n".join(lines) + "\n")
    with pytest.raises(BadInput) as info:
        load_probes(spec)
    assert str(info.value) == (f'{spec} has 3 unreadable entries (line 3: empty text; line 6: not a JSON object; '
                               'line 8: no "text" field); fix them or pass --skip-bad-probes.')
    assert load_probes(spec, skip_bad=True).count == 37


def test_jsonl_with_carriage_return_line_ends(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes("\r".join(JSONL).encode())
    assert load_probes(str(path)).count == 40


# --- one class only ----------------------------------------------------------------------------

def test_one_label_only_is_read_as_unlabelled(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("text,label\nfirst,x\nsecond,x\n")
    probes = load_probes(str(path))
    assert probes.labels is None and probes.label_names == [] and not probes.describe()["labelled"]
    assert probes.notes == ["all probes have the label 'x': one class only, so the set is read as unlabelled"]


def test_image_folder_with_one_class_is_unlabelled(tmp_path):
    for i in range(3):
        (tmp_path / "imgs" / "cats").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4), (i, 0, 0)).save(tmp_path / "imgs" / "cats" / f"{i}.png")
    probes = load_probes(str(tmp_path / "imgs"))
    assert probes.count == 3 and probes.labels is None
    assert "all probes have the class 'cats': one class only, so the set is read as unlabelled" in probes.notes


def test_npz_with_one_label_is_unlabelled(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, images=np.zeros((3, 4, 4, 3), np.uint8), labels=np.array([7, 7, 7]))
    probes = load_probes(str(path))
    assert probes.labels is None and any("one class only" in n for n in probes.notes)


# --- as a user runs it -------------------------------------------------------------------------

def test_cli_refuses_before_the_model_loads_and_before_any_audit_row(tmp_path):
    spec = csv_with(tmp_path, 7, '"loan claim that never closes,a\n')
    db = tmp_path / "audits.db"
    (tmp_path / "not-a-model").mkdir()  # loading it would fail: the probe error must come first
    result = run_cli("audit", str(tmp_path / "not-a-model"), "--probes", spec, "--skip-bad-probes", "--db", str(db))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"auditor: {spec} line 7: unterminated quote (the quoted field that opens on this line never closes, so the "
        'rest of the file would be read as one probe); put a text that holds commas, quotes or line breaks in '
        'double quotes, and double each quote inside it ("").']
    assert not db.exists()  # no database, so no audit row


# --- .npz and image folders: what used to be misread silently ----------------------------------

def test_npz_single_colour_image_without_a_batch_axis_is_refused(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, images=np.zeros((32, 24, 3), np.uint8))  # before: 32 greyscale images 3 pixels wide
    assert "reads as 32 greyscale images 3 pixels wide" in refused(str(path))


def test_npz_labels_under_another_name_are_not_lost(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, images=np.zeros((4, 5, 5), np.uint8), y=np.array([0, 1, 0, 1]))
    assert refused(str(path)) == f"{path} has no 'labels' array but has 'y'; name the label array 'labels' (or remove it for an unlabelled set)."
    np.savez(path, images=np.zeros((4, 5, 5), np.uint8), labels=np.array([0, 1, 0, 1]), ids=np.arange(4))
    assert "ignored array 'ids' (only 'images' and 'labels' are read)" in load_probes(str(path)).notes


def test_npz_pixel_ranges_keep_their_meaning(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, images=np.stack([np.eye(5, dtype=np.uint8), np.ones((5, 5), np.uint8)]))
    probes = load_probes(str(path))  # a 0/1 mask divided by 255 would be black
    assert float(probes.images[1].max()) == 1.0 and "integer pixels of only 0 and 1" in probes.notes[-1]
    np.savez(path, images=np.stack([np.full((5, 5), 51.0), np.full((5, 5), 102.0)]))
    probes = load_probes(str(path))  # float copies of 8-bit pixels: / 255, not stretched
    assert float(probes.images[0].max()) == pytest.approx(0.2) and "(/ 255)" in probes.notes[-1]


def test_images_in_formats_we_do_not_read_are_entries_not_silently_dropped(tmp_path):
    root = tmp_path / "imgs"
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        Image.new("RGB", (4, 4)).save(root / cls / "1.png")
    Image.new("RGB", (4, 4)).save(root / "dogs" / "2.tiff")
    (root / "dogs" / "notes.txt").write_text("not an image")
    with pytest.raises(BadInput, match=r"1 unreadable entry \(dogs/2\.tiff: a \.tiff image; only PNG"):
        load_probes(str(root))
    probes = load_probes(str(root), skip_bad=True)
    assert probes.count == 2 and probes.label_names == ["cats", "dogs"] and probes.skipped[0].startswith("dogs/2.tiff")
