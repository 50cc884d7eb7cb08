"""auditor.probes: built-in sets, file readers, bad entries and --limit sampling."""
from __future__ import annotations

import codecs
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from auditor.errors import BadInput
from auditor.probes import ProbeSet, load_probes
from auditor.probes.builtin import TEXT_LABELS
from auditor.probes.sampling import allocate

DATA_FILE = Path(__file__).resolve().parents[2] / "auditor" / "probes" / "data" / "builtin_text.jsonl"
UNPICKLED: list[str] = []


class _Tripwire:
    """Records it if anything ever unpickles it."""

    def __reduce__(self):
        return (UNPICKLED.append, ("unpickled",))


def refused(spec: str, **kwargs) -> str:
    """The one-line BadInput message load_probes raises for spec."""
    with pytest.raises(BadInput) as info:
        load_probes(spec, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def write(path: Path, content: str | bytes) -> str:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def save_png(path: Path, size: tuple[int, int] = (8, 6), colour=(255, 0, 0)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


# --- built-in sets -----------------------------------------------------------------------------

def test_builtin_text_has_300_unique_sentences_in_six_domains():
    probes = load_probes("builtin:text")
    assert isinstance(probes, ProbeSet) and probes.kind == "text"
    assert probes.count >= 300 and len(set(probes.texts)) == probes.count
    assert probes.label_names == list(TEXT_LABELS) == [
        "credit", "insurance", "hiring", "healthcare_triage", "fraud", "neutral"]
    assert all(probes.labels.count(i) >= 45 for i in range(6))
    assert all(5 <= len(t.split()) <= 45 for t in probes.texts)
    assert probes.sha256 == hashlib.sha256(DATA_FILE.read_bytes()).hexdigest()
    assert probes.selection == {} and probes.skipped == []


def test_builtin_images_are_deterministic_and_well_formed():
    first, second = load_probes("builtin:images"), load_probes("builtin:images")
    assert first.sha256 == second.sha256 and len(first.sha256) == 64
    assert first.kind == "image" and first.count == 240 and len(first.label_names) == 6
    assert all(first.labels.count(i) == 40 for i in range(6))
    for image in first.images:
        assert image.shape == (32, 32, 3) and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0
    assert all(np.array_equal(a, b) for a, b in zip(first.images, second.images, strict=True))
    first.images[0][:] = 0.5  # callers get copies, not the cached arrays
    assert not np.array_equal(load_probes("builtin:images").images[0], first.images[0])
    # different classes really differ
    assert not np.allclose(first.images[0], first.images[1])


def test_unknown_builtin_lists_the_builtins():
    message = refused("builtin:audio")
    assert "builtin:audio" in message and "builtin:text" in message and "builtin:images" in message


# --- CSV / JSONL -------------------------------------------------------------------------------

def test_csv_happy_path(tmp_path):
    content = 'id,text,label\n1,"Hello, world",b\n2,"two\nlines",a\n\n3,third one,b\n'
    spec = write(tmp_path / "p.csv", content)
    probes = load_probes(spec)
    assert probes.texts == ["Hello, world", "two\nlines", "third one"]
    assert probes.label_names == ["a", "b"] and probes.labels == [1, 0, 1]
    assert probes.sha256 == hashlib.sha256(content.encode()).hexdigest()
    assert probes.describe()["count"] == 3


def test_csv_without_label_column_is_unlabelled(tmp_path):
    probes = load_probes(write(tmp_path / "p.csv", "Text\nfirst sentence\nsecond sentence\n"))
    assert probes.texts == ["first sentence", "second sentence"] and probes.labels is None


def test_csv_without_text_column_is_refused(tmp_path):
    message = refused(write(tmp_path / "p.csv", "sentence;label\nhello;a\n"))
    assert "p.csv" in message and "`text` column" in message and "commas" in message


def test_jsonl_happy_path_with_integer_labels(tmp_path):
    rows = [{"text": "ten", "label": 10}, {"text": "two", "label": 2}, {"text": "also two", "label": "2"}]
    spec = write(tmp_path / "p.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    probes = load_probes(spec)
    assert probes.texts == ["ten", "two", "also two"]
    assert probes.label_names == ["2", "10"] and probes.labels == [1, 0, 0]


def test_jsonl_unlabelled(tmp_path):
    probes = load_probes(write(tmp_path / "p.jsonl", '{"text": "a b c"}\r\n{"text": "d e f", "label": null}\r\n'))
    assert probes.texts == ["a b c", "d e f"] and probes.labels is None and probes.label_names == []


@pytest.mark.parametrize("bom,codec", [
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_byte_order_marks_are_honoured(tmp_path, bom, codec, suffix):
    if suffix == ".csv":
        body = "text,label\nCafé crème,x\n日本語の文,y\n"
    else:
        body = '{"text": "Café crème", "label": "x"}\n{"text": "日本語の文", "label": "y"}\n'
    probes = load_probes(write(tmp_path / f"p{suffix}", bom + body.encode(codec)))
    assert probes.texts == ["Café crème", "日本語の文"] and probes.label_names == ["x", "y"]


def test_bad_entries_are_listed_then_skipped_on_request(tmp_path):
    # entries that parse but cannot be used; lines that do not parse, or bytes in another
    # encoding, are refused outright (test_probe_files_strict.py)
    lines = [
        b'{"text": "good one", "label": "a"}',
        b'{"text": "\\ud800 lone surrogate", "label": "a"}',
        b'{"text": "   ", "label": "a"}',
        b'{"label": "a"}',
        b'{"text": 5, "label": "a"}',
        b'{"text": "x", "label": 1.5}',
        b'{"text": "nul \x00 inside", "label": "a"}',
        b'{"text": "no label here"}',
        b'["a list"]',
        b'{"text": "good two", "label": "b"}',
    ]
    spec = write(tmp_path / "probes.jsonl", b"\n".join(lines) + b"\n")
    message = refused(spec)
    assert message.startswith(f"{spec} has 8 unreadable entries (")
    assert "line 2: text contains unpaired surrogate characters; line 3: empty text; line 4: " in message
    assert "and 3 more" in message and message.endswith("fix them or pass --skip-bad-probes.")
    probes = load_probes(spec, skip_bad=True)
    assert probes.texts == ["good one", "good two"] and probes.label_names == ["a", "b"]
    assert len(probes.skipped) == 8
    assert probes.skipped[0] == "line 2: text contains unpaired surrogate characters"
    assert "line 6: label must be a string or an integer (it is float)" in probes.skipped
    assert "line 7: contains NUL bytes" in probes.skipped
    assert "line 8: no label (other rows have one)" in probes.skipped
    assert "line 9: not a JSON object" in probes.skipped
    assert any("skipped 8 unreadable entries" in n for n in probes.notes)


def test_csv_bad_rows_use_the_first_physical_line_of_each_row(tmp_path):
    spec = write(tmp_path / "p.csv", 'text,label\n"multi\nline",a\n,a\nok,b\n')
    message = refused(spec)
    assert "1 unreadable entry (line 4: empty text)" in message
    assert load_probes(spec, skip_bad=True).texts == ["multi\nline", "ok"]


@pytest.mark.parametrize("content", [
    b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    b"text\nabc\x00\x01\x02" + bytes(200),
    bytes(range(128, 256)) * 8,
])
def test_binary_files_are_refused(tmp_path, content):
    message = refused(write(tmp_path / "p.csv", content), skip_bad=True)
    assert "is not a text file" in message


@pytest.mark.parametrize("content", [b"", b"  \n\n", codecs.BOM_UTF8])
def test_empty_files_are_refused(tmp_path, content):
    assert "is empty" in refused(write(tmp_path / "p.jsonl", content), skip_bad=True)


def test_files_without_usable_entries_are_refused_even_when_skipping(tmp_path):
    assert "has no entries" in refused(write(tmp_path / "h.csv", "text,label\n"), skip_bad=True)
    message = refused(write(tmp_path / "b.jsonl", "[1]\n{}\n"), skip_bad=True)
    assert "no usable entries" in message and "line 1: not a JSON object" in message


# --- .npz --------------------------------------------------------------------------------------

def test_npz_object_arrays_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, images=np.array([_Tripwire(), _Tripwire()], dtype=object))
    message = refused(str(path))
    assert "pickled" in message and "refused" in message and "'images'" in message
    np.savez(path, images=np.zeros((2, 4, 4), np.uint8), labels=np.array([_Tripwire(), 1], dtype=object))
    assert "'labels'" in refused(str(path))
    assert UNPICKLED == []


def test_npy_pickle_renamed_npz_is_refused(tmp_path):
    path = tmp_path / "p.npz"
    np.save(tmp_path / "x.npy", np.array([_Tripwire()], dtype=object))
    path.write_bytes((tmp_path / "x.npy").read_bytes())
    assert "single .npy array" in refused(str(path)) and UNPICKLED == []
    path.write_bytes(b"\x80\x04\x95 not a zip")
    assert "not an .npz archive" in refused(str(path)) and UNPICKLED == []


@pytest.mark.parametrize("shape,expected", [
    ((3, 5, 6), (5, 6, 1)),
    ((3, 5, 6, 1), (5, 6, 1)),
    ((3, 5, 6, 3), (5, 6, 3)),
    ((3, 5, 6, 4), (5, 6, 3)),
    ((3, 3, 5, 6), (5, 6, 3)),
    ((3, 1, 5, 6), (5, 6, 1)),
])
def test_npz_channel_layouts(tmp_path, shape, expected):
    images = np.arange(np.prod(shape), dtype=np.int64).reshape(shape) % 256
    path = tmp_path / "p.npz"
    np.savez(path, images=images.astype(np.uint8), labels=np.array(["b", "a", "b"]))
    probes = load_probes(str(path))
    assert probes.kind == "image" and probes.count == 3
    assert all(img.shape == expected and img.dtype == np.float32 for img in probes.images)
    assert probes.label_names == ["a", "b"] and probes.labels == [1, 0, 1]
    assert probes.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    if shape == (3, 3, 5, 6):  # [N, C, H, W] is transposed, not reshaped
        np.testing.assert_allclose(probes.images[1][:, :, 2], images[1, 2] / 255.0, rtol=1e-6)


def test_npz_scaling_and_non_finite_images(tmp_path):
    path = tmp_path / "p.npz"
    images = np.stack([np.full((4, 4), v, np.float64) for v in (-2.0, 0.0, 6.0)])
    images[1, 0, 0] = np.nan
    np.savez(path, images=images, labels=np.array([0, 1, 1]))
    assert "images[1]: contains NaN or Inf" in refused(str(path))
    probes = load_probes(str(path), skip_bad=True)
    assert probes.skipped == ["images[1]: contains NaN or Inf"] and probes.labels == [0, 1]
    assert probes.images[0].max() == 0.0 and probes.images[1].min() == 1.0
    assert any("min-max scaled" in n for n in probes.notes)
    np.savez(path, images=np.full((2, 5, 5), 0.25))
    probes = load_probes(str(path))
    assert probes.labels is None and float(probes.images[0][0, 0, 0]) == 0.25


def test_npz_without_images_is_refused(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, pixels=np.zeros((2, 4, 4)))
    assert "no 'images' array" in refused(str(path))


# --- image folders -----------------------------------------------------------------------------

def test_image_folder_with_a_corrupt_image(tmp_path):
    root = tmp_path / "imgs"
    save_png(root / "dog" / "1.png")
    save_png(root / "cat" / "1.png", colour=(0, 255, 0))
    save_png(root / "cat" / "2.jpg", size=(5, 5))
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "dog" / "notes.txt").write_text("not an image")
    message = refused(str(root))
    assert "1 unreadable entry (dog/broken.png: " in message and "--skip-bad-probes" in message
    probes = load_probes(str(root), skip_bad=True)
    assert probes.label_names == ["cat", "dog"] and probes.labels == [0, 0, 1]
    assert probes.images[0].shape == (6, 8, 3) and probes.images[0].dtype == np.float32
    assert float(probes.images[0][0, 0, 1]) == 1.0 and float(probes.images[0][0, 0, 0]) == 0.0
    assert len(probes.skipped) == 1 and probes.skipped[0].startswith("dog/broken.png: ")
    assert "pixels scaled to [0, 1]" in probes.notes
    lines = sorted(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}\n"
        for p in root.rglob("*") if p.is_file())
    assert probes.sha256 == hashlib.sha256("".join(lines).encode()).hexdigest()


def test_decompression_bomb_is_a_bad_entry(tmp_path, monkeypatch):
    root = tmp_path / "imgs"
    save_png(root / "a" / "small.png", size=(4, 4))
    save_png(root / "a" / "big.png", size=(64, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    probes = load_probes(str(root), skip_bad=True)
    assert probes.count == 1 and "decompression-bomb" in probes.skipped[0]


def test_folder_without_class_subfolders_is_refused(tmp_path):
    save_png(tmp_path / "flat" / "1.png")
    assert "no class subfolders" in refused(str(tmp_path / "flat"))
    (tmp_path / "empty").mkdir()
    message = refused(str(tmp_path / "empty"))
    assert "without class subfolders of images" in message and ".npz" in message


# --- paths and --limit -------------------------------------------------------------------------

def test_missing_path_and_unknown_extension(tmp_path):
    message = refused(str(tmp_path / "nope.csv"))
    assert "nope.csv does not exist" in message and "builtin:text" in message and "class subfolders" in message
    message = refused(write(tmp_path / "p.xlsx", "x"))
    assert "'.xlsx'" in message and ".csv/.jsonl" in message


def test_stratified_limit_keeps_proportions_and_order():
    full = load_probes("builtin:text")
    sample = load_probes("builtin:text", limit=60, seed=3)
    assert sample.count == 60 and sample.selection == {"limit": 60, "seed": 3, "source_count": full.count}
    assert [sample.labels.count(i) for i in range(6)] == [10] * 6
    positions = [full.texts.index(t) for t in sample.texts]
    assert positions == sorted(positions)
    assert [full.labels[p] for p in positions] == sample.labels
    again = load_probes("builtin:text", limit=60, seed=3)
    assert again.texts == sample.texts
    assert load_probes("builtin:text", limit=60, seed=4).texts != sample.texts
    small = load_probes("builtin:text", limit=6, seed=0)
    assert sorted(small.labels) == list(range(6))
    assert small.label_names == full.label_names


def test_allocation_is_proportional_with_at_least_one_per_label():
    assert allocate({0: 70, 1: 20, 2: 10}, 10) == {0: 7, 1: 2, 2: 1}
    assert allocate({0: 97, 1: 2, 2: 1}, 3) == {0: 1, 1: 1, 2: 1}
    assert sum(allocate({0: 5, 1: 5, 2: 5}, 7).values()) == 7


def test_limit_on_unlabelled_sets_and_edge_values(tmp_path):
    spec = write(tmp_path / "p.jsonl", "".join(json.dumps({"text": f"sentence {i}"}) + "\n" for i in range(50)))
    sample = load_probes(spec, limit=10, seed=1)
    assert sample.count == 10 and sample.labels is None
    assert sample.texts == sorted(sample.texts, key=lambda t: int(t.split()[1]))
    assert load_probes(spec, limit=10, seed=1).texts == sample.texts
    everything = load_probes(spec, limit=500)
    assert everything.count == 50 and everything.selection["source_count"] == 50
    assert load_probes(spec).selection == {}
    assert "--limit" in refused(spec, limit=0)
    assert "--limit" in refused(spec, limit=-3)
