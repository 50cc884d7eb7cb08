"""Counterfactual pairs (issue 19): the built-in file's shape, its reader, and user files read strictly."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from auditor.errors import BadInput
from auditor.probes.builtin import TEXT_LABELS
from auditor.probes.pairs import (
    ATTRIBUTES,
    builtin_pairs,
    load_pairs,
    token_count_mismatches,
    token_identical_pairs,
)

DATA = Path(__file__).resolve().parents[2] / "auditor" / "probes" / "data" / "builtin_pairs.jsonl"
DOMAINS = tuple(label for label in TEXT_LABELS if label != "neutral")
GOOD = {"text_a": "Applicant Emily Walsh asks for a loan.", "text_b": "Applicant James Walsh asks for a loan.",
        "attribute": "gender"}


def differing_span(a: str, b: str) -> tuple[str, str]:
    """What is left of a and b once their common prefix and (non-overlapping) common suffix are cut."""
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(a), len(b)) - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    return a[prefix:len(a) - suffix], b[prefix:len(b) - suffix]


# --- the built-in file -------------------------------------------------------------------------

def test_builtin_pairs_cover_languages_domains_and_attributes():
    pairs = builtin_pairs()
    assert pairs.count >= 300
    assert pairs.spec == "builtin:pairs"
    assert pairs.sha256 == hashlib.sha256(DATA.read_bytes()).hexdigest()
    langs = Counter(pairs.langs)
    assert set(langs) == {"en", "ja"} and min(langs.values()) >= 0.45 * pairs.count
    assert set(pairs.attributes) == set(ATTRIBUTES)
    assert set(pairs.domains) == set(DOMAINS)
    cells = Counter(zip(pairs.domains, pairs.langs, pairs.attributes, strict=True))
    assert len(cells) == len(DOMAINS) * 2 * len(ATTRIBUTES) and min(cells.values()) >= 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        pairs.spec = "x"  # type: ignore[misc]


def test_every_builtin_pair_differs_only_in_one_short_attribute_span():
    pairs = builtin_pairs()
    for a, b, attribute in zip(pairs.texts_a, pairs.texts_b, pairs.attributes, strict=True):
        left, right = differing_span(a, b)
        assert left or right, f"identical members: {a!r}"
        # the longest swapped value is a two-word name; a second changed place would make the span long
        assert len(left) <= 16 and len(right) <= 16, (attribute, left, right)
        assert len(left.split()) <= 2 and len(right.split()) <= 2, (attribute, left, right)
        assert not any(mark in left + right for mark in ".;:。、；："), (attribute, left, right)


def test_the_span_check_catches_a_second_difference():
    # the check above must fail on a pair that changes a pronoun as well as the name
    left, right = differing_span("Emily Walsh said she would pay on Friday.", "James Walsh said he would pay on Friday.")
    assert len(left) > 16 and len(right) > 16


def test_builtin_lines_hold_exactly_the_five_fields():
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert list(row) == ["text_a", "text_b", "attribute", "domain", "lang"]


def test_committed_file_is_what_the_frames_script_writes():
    from bench.make_builtin_pairs import render

    assert render() == DATA.read_bytes(), "run `.venv/bin/python -m bench.make_builtin_pairs` after editing the frames"


# --- token counts ------------------------------------------------------------------------------

def test_token_count_mismatches_known_answer(tmp_path):
    pairs = load_pairs_from_rows([
        GOOD,
        {"text_a": "Applicant Greg Walsh asks.", "text_b": "Applicant Lakisha Jean Walsh asks.", "attribute": "gender"},
        {"text_a": "aged 30", "text_b": "aged 70", "attribute": "age"},
    ], tmp_path)
    assert token_count_mismatches(pairs, str.split) == [1]
    assert token_identical_pairs(pairs, lambda t: ["[UNK]" if w[0].isupper() else w for w in t.split()]) == [0]


def test_builtin_token_count_mismatches_with_minilm(minilm_path):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_path / "tokenizer.json"))
    tokenizer.no_padding()      # the file pads every text to 128 tokens: every count would match
    tokenizer.no_truncation()
    pairs = builtin_pairs()
    mismatched = token_count_mismatches(pairs, lambda t: tokenizer.encode(t, add_special_tokens=False).tokens)
    print(f"MiniLM token-count mismatches: {len(mismatched)} of {pairs.count}")
    # measured 4 of 303 (ベトナム vs 日本 twice, Ramadan twice); names were chosen to keep it low
    assert 1 <= len(mismatched) <= 6
    ramadan = [i for i in mismatched if "Ramadan" in pairs.texts_b[i]]
    assert ramadan and all(pairs.attributes[i] == "religion" for i in ramadan)
    # kanji outside MiniLM's English vocabulary become [UNK]: measured 14, all Japanese
    unseen = token_identical_pairs(pairs, lambda t: tokenizer.encode(t, add_special_tokens=False).tokens)
    print(f"MiniLM token-identical pairs: {len(unseen)}")
    assert 1 <= len(unseen) <= 20 and {pairs.langs[i] for i in unseen} == {"ja"}


# --- user files --------------------------------------------------------------------------------

def load_pairs_from_rows(rows: list[dict], folder: Path):
    path = folder / "rows.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return load_pairs(path)


def refused(path: Path) -> str:
    with pytest.raises(BadInput) as info:
        load_pairs(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_reads_csv_and_jsonl_with_optional_domain(tmp_path):
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text('text_a,text_b,attribute,domain\n"Emily, 34, asks.","James, 34, asks.",gender,credit\n'
                        "aged 30,aged 70,age,\n", encoding="utf-8")
    pairs = load_pairs(csv_path)
    assert pairs.texts_a == ("Emily, 34, asks.", "aged 30") and pairs.texts_b == ("James, 34, asks.", "aged 70")
    assert pairs.attributes == ("gender", "age") and pairs.domains == ("credit", None) and pairs.langs == (None, None)
    assert pairs.sha256 == hashlib.sha256(csv_path.read_bytes()).hexdigest() and pairs.spec == str(csv_path)
    jsonl = load_pairs_from_rows([dict(GOOD, domain="credit", lang="en")], tmp_path)
    assert jsonl.domains == ("credit",) and jsonl.langs == ("en",) and jsonl.count == 1


def test_structural_breaks_name_file_and_line(tmp_path):
    bad_json = tmp_path / "broken.jsonl"
    bad_json.write_text(json.dumps(GOOD) + "\n" + '{"text_a": "x", "text_b"\n', encoding="utf-8")
    assert refused(bad_json).startswith(f"{bad_json} line 2: not valid JSON")

    quote = tmp_path / "quote.csv"
    quote.write_text('text_a,text_b,attribute\na,b,gender\n"never closes,b,age\nc,d,age\n', encoding="utf-8")
    assert refused(quote).startswith(f"{quote} line 3: unterminated quote")

    extra = tmp_path / "extra.csv"
    extra.write_text("text_a,text_b,attribute\nEmily asks, for a loan,James asks,gender\n", encoding="utf-8")
    assert refused(extra).startswith(f"{extra} line 2: 4 fields, but the header has 3")

    header = tmp_path / "header.csv"
    header.write_text("text,label\na,b\n", encoding="utf-8")
    message = refused(header)
    assert message.startswith(f"{header} line 1: no `text_a`, `text_b`, `attribute` column in the header")

    sjis = tmp_path / "sjis.csv"
    sjis.write_bytes(b"text_a,text_b,attribute\n" + "既婚の申込者,独身の申込者,marital_status\n".encode("cp932"))
    assert refused(sjis).startswith(f"{sjis} line 2: bytes that are not valid UTF-8")


def test_unusable_entries_are_listed_with_their_lines(tmp_path):
    rows = [GOOD, dict(GOOD, text_a=""), dict(GOOD, text_b=GOOD["text_a"]), {k: v for k, v in GOOD.items() if k != "attribute"},
            dict(GOOD, attribute="  "), GOOD]
    path = tmp_path / "entries.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    message = refused(path)
    assert message == (f"{path} has 4 unreadable entries (line 2: text_a: empty text; line 3: text_a and text_b are "
                       "identical (a pair must differ in the attribute); line 4: no attribute; line 5: no attribute); "
                       "fix them or pass --skip-bad-probes.")
    kept = load_pairs(path, skip_bad=True)
    assert kept.count == 2 and kept.skipped[0] == "line 2: text_a: empty text" and len(kept.skipped) == 4


def test_csv_entry_without_text_b_is_listed(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("text_a,text_b,attribute\nEmily asks,James asks,gender\nonly one\n", encoding="utf-8")
    assert "line 3: no text_b" in refused(path)


def test_no_usable_pair_is_refused_even_when_skipping(tmp_path):
    path = tmp_path / "same.jsonl"
    path.write_text(json.dumps(dict(GOOD, text_b=GOOD["text_a"])) + "\n", encoding="utf-8")
    with pytest.raises(BadInput) as info:
        load_pairs(path, skip_bad=True)
    assert str(info.value).startswith(f"{path} has no usable entries")
