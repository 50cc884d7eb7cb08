"""The counterfactual section of the full report and its line on the board page, from a real CLI audit of a tiny
BERT under the standard template with user pairs (every member reaches the model as itself), read back with
pdftotext in English and Japanese; the reports still verify; an image model's report says the check was not
applicable."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) not installed")

# words of the tiny BERT's vocabulary (tests/fixtures/torch_models.py), under three attribute keys of the built-in
# set, one of them a key that must never reach the page as written
FRAMES = ["the applicant {w} review the loan", "the {w} is on the policy", "a claim for the {w} was urgent",
          "the {w} report with income", "the {w} of the account is a risk", "deny the card to the {w}"]
SWAPS = [("doctor", "nurse", "gender"), ("patient", "applicant", "nationality_or_ethnicity"),
         ("bank", "insurance", "marital_status")]
WORDS = {"en": ("gender", "nationality or ethnicity", "marital status"), "ja": ("性別", "国籍・民族", "婚姻状況")}
SECTION = {"en": "Counterfactual sensitivity", "ja": "反実仮想の感度"}
NOT_FAIRNESS = {"en": "counterfactual sensitivity is not the fairness of decisions",
                "ja": "反実仮想の感度は判断の公平性ではありません"}
BOARD = {"en": "Swapping only a protected attribute moves the model's last layer",
         "ja": "保護属性だけを入れ替えると、最終層の表現は"}
NOT_APPLICABLE = {"en": "This check was not applicable to this audit", "ja": "この監査にはこの検査を適用していません"}


def _text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return out


def _flat(text: str) -> str:
    """Line breaks and the layout's runs of spaces folded, so a wrapped sentence reads as one."""
    return " ".join(text.split())


def _report(audit_id: str, db: Path, kind: str, lang: str, out: Path) -> str:
    pdf = out / f"{kind}-{lang}.pdf"
    result = run_cli("report", audit_id, "--kind", kind, "--lang", lang, "--out", str(pdf), db=db)
    assert result.returncode == 0, result.stderr
    return _flat(_text(pdf))


@pytest.fixture(scope="module")
def bert(tiny_bert, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("cf-report")
    rows = [{"text_a": f.format(w=a), "text_b": f.format(w=b), "attribute": attr, "domain": "credit"}
            for f in FRAMES for a, b, attr in SWAPS]
    pairs = folder / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    db = folder / "audits.db"
    result = run_cli("audit", str(tiny_bert), "--probes", "builtin:text", "--template", "standard", "--pairs",
                     str(pairs), "--json", "--progress", "none", "--device", "cpu", db=db)
    assert result.returncode in (0, 1), result.stderr
    audit_id = json.loads(result.stdout)["audit_id"]
    texts = {(kind, lang): _report(audit_id, db, kind, lang, folder) for kind in ("full", "board") for lang in ("en", "ja")}
    return {"db": db, "id": audit_id, "folder": folder, "text": texts, "rows": rows}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_full_report_has_the_section_in_words_with_the_quoted_pairs(bert, lang):
    text = bert["text"][("full", lang)]
    assert SECTION[lang] in text
    for word in WORDS[lang]:
        assert word in text, word
    for raw in ("nationality_or_ethnicity", "marital_status"):
        assert raw not in text, raw
    assert NOT_FAIRNESS[lang] in text
    # five pairs quoted as they ran: each quoted text is one of the file's
    quoted = {r["text_a"] for r in bert["rows"]} | {r["text_b"] for r in bert["rows"]}
    opening, closing = ("「", "」") if lang == "ja" else ("“", "”")
    found = {q for q in quoted if f"{opening}{q}{closing}" in text}
    assert len(found) >= 5, found
    # the by-attribute table's first row: all pairs, the last layer's shift with its interval, the output cosine
    overall, dash = ("all attributes", "–") if lang == "en" else ("すべての属性", "〜")
    assert re.search(rf"{overall} 18 0\.\d+ \[0\.\d+{dash}[01]\.?\d*\] 0\.\d+ ", text), text[-3000:]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_board_has_the_line_and_stays_one_page(bert, lang):
    text = bert["text"][("board", lang)]
    assert BOARD[lang] in text
    assert any(word in text.split(BOARD[lang], 1)[1][:400] for word in WORDS[lang])
    from pypdf import PdfReader

    assert len(PdfReader(str(bert["folder"] / f"board-{lang}.pdf")).pages) == 1
    # the attribute whose swaps change the most predictions is named when it is above the overall share (the
    # rules judge all attributes together, so the board must not let one attribute hide in the overall figure)
    from auditor import api

    check = next(c for c in api.show_audit(bert["id"], str(bert["db"]))["checks"]
                 if c["id"] == "perturbation.counterfactual")
    flips = check["metrics"]["counterfactual_flip_rate"]
    worst = max((k for k in flips if k != "overall"), key=lambda k: (flips[k], k))
    said = {"en": "change the most predictions", "ja": "予測を最も多く変える属性は"}[lang]
    if flips[worst] > flips["overall"]:
        word = WORDS[lang][[swap[2] for swap in SWAPS].index(worst)]
        assert said in text and word in text.split(said, 1)[0][-60:] + text.split(said, 1)[1][:60], text
    else:
        assert said not in text


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_reports_with_the_section_still_verify(bert, lang):
    for kind in ("full", "board"):
        result = run_cli("verify-report", str(bert["folder"] / f"{kind}-{lang}.pdf"), db=bert["db"])
        assert result.returncode == 0, result.stdout + result.stderr


def test_an_image_models_report_says_the_check_was_not_applicable(tiny_vit, tmp_path):
    from tests.fixtures.templates import no_minimum

    db = tmp_path / "audits.db"
    result = run_cli("audit", str(tiny_vit), "--probes", "builtin:images", "--limit", "24", "--template",
                     no_minimum("standard"), "--json",
                     "--progress", "none", "--device", "cpu", db=db)
    assert result.returncode in (0, 1), result.stderr
    audit_id = json.loads(result.stdout)["audit_id"]
    for lang in ("en", "ja"):
        text = _report(audit_id, db, "full", lang, tmp_path)
        assert SECTION[lang] in text and NOT_APPLICABLE[lang] in text
        assert ("image pairs are out of scope" if lang == "en" else "画像のペアは対象外です") in text
        assert BOARD[lang] not in _report(audit_id, db, "board", lang, tmp_path)
