"""The board page (and every report's footer) under realistic metadata (issue 17, item 3 and the board side of
item 4): a 150-character model name, with and without spaces, and Japanese purpose, users, scope, preparer,
decision and owner in both report languages. Checked on the PDF itself, as poppler reads it: every footer
word lies inside the page on every page (board and full), the Japanese font is embedded on every page that
holds Japanese text (an English report with a Japanese purpose), no line starts with a character Japanese
typesetting forbids there, the full name is in the control block, and an audit under a template that is
not approval-grade carries the banner (a standard one does not), with each partial dimension's coverage.
The audits are written through the store under the real quick and standard templates (no model run)."""
from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from auditor.templates import builtin_dir
from reports.commands import build_report
from reports.textflow import CANNOT_END, CANNOT_START, break_at, shorten

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("pdffonts"),
                                reason="poppler-utils (pdftotext, pdffonts) not installed")

NO_SPACES = ("enterprise-customer-support-intent-classifier-multilingual-distilled-int8-"
             "finetuned-on-call-centre-transcripts-2019-2024-tokyo-osaka-release-candidate-7")[:150]
SPACES = ("Customer Support Intent Classifier 顧客問い合わせ分類モデル multilingual distilled "
          "for the Tokyo and Osaka call centres release candidate seven")
SPACES = (SPACES + " " + SPACES)[:150]
# dense with characters that may not start a line: a wrap anywhere in it meets one
PURPOSE = ("顧客からの問い合わせ（電話・メール・チャット）を意図別に分類し、担当部署へ自動で振り分ける。"
           "「至急」「苦情」「解約」は優先！対象：個人顧客のみ？法人は対象外。" * 3)
META = {"purpose": PURPOSE, "users": "カスタマーサポート部（東京・大阪）、品質管理チーム",
        "out_of_scope": "医療・法律・金融に関する判断（助言を含む）。", "preparer": "山田 太郎（リスク管理部）",
        "decision_requested": "本番環境への配備を承認するか？条件付き承認の場合、その条件は何か。"}
RESULTS = ("artifact.integrity", "flow.representation", "flow.smoothing", "bottleneck.information_plane",
           "perturbation.sensitivity", "gradients.flow", "attention.structure")
STANDARD_ONLY = ("flow.pde", "sanity.randomization")
FINDING = {"check_id": "flow.smoothing", "key": "flow.over_smoothing", "severity": "warn",
           "title": "Over-smoothing", "title_ja": "過平滑化（トークンの区別が失われる）",
           "detail": "token_similarity = 0.93 at the last layer (warn above 0.9)",
           "meaning": {"en": "Tokens look alike by the last layer.", "ja": "最終層でトークンどうしが似通っています。"},
           "action": "Check the last layers.", "action_ja": "最後の数層を確認してください。",
           "owner": "佐藤 花子（モデル開発チーム）", "metric": "token_similarity", "value": 0.93}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _store(db: Path, name: str, template: str) -> str:
    """A completed audit of `name` with META, evaluated under the built-in `template` (its real text, so
    approval_grade is the template's own): every check it runs passes but flow.smoothing, which warns."""
    from auditor.store import open_db, records

    text = (builtin_dir() / f"{template}.yaml").read_text(encoding="utf-8")
    row = dict(name=template, version="2", sha256="0" * 64, source="builtin", text=text)
    checks = RESULTS + (STANDARD_ONLY if template == "standard" else ())
    handle = open_db(db)
    audit_id = records.create_audit(
        handle, identity={"sha256": "ab" * 32, "format": "transformers", "architecture": "BertModel",
                          "parameters": 22_700_000, "layers": 6},
        probes={"spec": "builtin:text", "sha256": "cd" * 32, "count": 300}, template=row, meta=META,
        environment={}, seed=0, device="cpu", name=name, model_version="2024.10-rc1")
    records.store_results(handle, audit_id, [{"check_id": c, "outcome": "ok", "summary": "figures stored"}
                                             for c in checks])
    records.store_evaluation(handle, audit_id, row, [FINDING], "warn", reason="initial")
    records.mark_finished_at(handle, audit_id)
    records.finish_audit(handle, audit_id, verdict="warn", fingerprint=None)
    handle.conn.close()
    return audit_id


@pytest.fixture(scope="module")
def audits(tmp_path_factory) -> dict:
    db = tmp_path_factory.mktemp("board-stress") / "audits.db"
    return {"db": str(db), "out": db.parent, "no_spaces": _store(db, NO_SPACES, "quick"),
            "spaces": _store(db, SPACES, "quick"), "standard": _store(db, NO_SPACES, "standard")}


_BUILT: dict[tuple, Path] = {}


def _pdf(audits: dict, which: str, lang: str, kind: str = "board") -> Path:
    key = (which, lang, kind)
    if key not in _BUILT:
        out = audits["out"] / f"{which}-{kind}-{lang}.pdf"
        _BUILT[key] = build_report(audits[which], out, kind=kind, lang=lang, db=audits["db"])
    return _BUILT[key]


def _pages(pdf: Path) -> list[ET.Element]:
    xml = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    root = ET.fromstring(re.sub(r'xmlns="[^"]+"', "", xml, count=1))
    return list(root.iter("page"))


def _text(pdf: Path) -> str:
    """The text in drawing order (-raw: a name wrapped at a hyphen keeps its hyphen)."""
    return subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _box(el: ET.Element) -> tuple[float, ...]:
    return tuple(float(el.get(k)) for k in ("xMin", "yMin", "xMax", "yMax"))


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize(("kind", "which"), [("board", "no_spaces"), ("board", "spaces"), ("full", "no_spaces")])
def test_every_footer_word_is_inside_the_page_on_every_page(audits, which, lang, kind):
    pdf = _pdf(audits, which, lang, kind)
    pages = _pages(pdf)
    assert len(pages) >= (1 if kind == "board" else 4)
    for number, page in enumerate(pages, start=1):
        width, height = float(page.get("width")), float(page.get("height"))
        footer = [w for w in page.iter("word") if _box(w)[1] > height - 30]
        text = " ".join(w.text or "" for w in footer)
        for word in footer:
            x0, y0, x1, y1 = _box(word)
            assert 0 <= x0 and x1 <= width and y1 <= height, (number, word.text, x0, x1)
        assert "R-" in text and (f"{number} / {len(pages)}" in text or f"{number} of {len(pages)}" in text), text
        assert any(len(w.text or "") == 16 and re.fullmatch(r"[0-9a-f]{16}", w.text or "") for w in footer), text
        assert "…" in text   # the name was shortened, not dropped


@pytest.mark.parametrize("which", ["no_spaces", "spaces"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_full_name_is_in_the_control_block(audits, which, lang):
    name = NO_SPACES if which == "no_spaces" else SPACES
    assert re.sub(r"\s+", "", name) in re.sub(r"\s+", "", _text(_pdf(audits, which, lang)))


def _fonts(pdf: Path, page: int) -> str:
    return subprocess.run(["pdffonts", "-f", str(page), "-l", str(page), str(pdf)], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("kind", ["board", "full"])
def test_japanese_text_in_an_english_report_is_set_in_the_embedded_japanese_font(audits, kind):
    pdf = _pdf(audits, "no_spaces", "en", kind)
    text = _text(pdf)
    assert PURPOSE[:30] in re.sub(r"\s+", "", text)
    for number, page in enumerate(_pages(pdf), start=1):
        if any(JAPANESE.search(w.text or "") for w in page.iter("word")):
            listed = [line.split() for line in _fonts(pdf, number).splitlines()[2:]]
            japanese = [row for row in listed if row[0].endswith("+IPAexGothic")]
            assert japanese and japanese[0][-5] == "yes", (number, listed)   # the 'emb' column


@pytest.mark.parametrize("which", ["no_spaces", "spaces"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_no_line_starts_or_ends_with_a_character_japanese_forbids_there(audits, which, lang):
    lines = []
    for page in _pages(_pdf(audits, which, lang)):
        for line in page.iter("line"):
            text = " ".join(w.text or "" for w in line.iter("word")).strip()
            if JAPANESE.search(text):
                lines.append(text)
    assert len(lines) >= 8 and any(PURPOSE[:10] in line for line in lines)   # the purpose wraps onto lines
    bad = [t for t in lines if t[0] in CANNOT_START or t[-1] in CANNOT_END]
    assert not bad, bad


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_quick_audit_carries_the_not_for_approval_banner_and_each_partial_dimensions_coverage(audits, lang):
    quick = re.sub(r"\s+", "", _text(_pdf(audits, "no_spaces", lang)))
    standard = re.sub(r"\s+", "", _text(_pdf(audits, "standard", lang)))
    banner = "Quickaudit—afirstlook,notforapproval" if lang == "en" else "簡易監査（初回確認）：承認の判断には使えません"
    assert banner in quick and "quick" in quick.split(banner)[1][:80]
    assert banner not in standard and "notforapproval" not in standard and "承認の判断には使えません" not in standard
    flow = "2of3checksran;notrun:Continuous-flow" if lang == "en" else "3件中2件のチェックを実行。未実行：連続フロー"
    assert flow in quick and flow not in standard
    transparency = "1of2checksran;notrun:Sanitycheck" if lang == "en" else "2件中1件のチェックを実行。未実行：健全性"
    assert transparency in quick


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_checks_not_assessed_are_named_by_their_titles_in_the_reports_language(audits, lang):
    text = re.sub(r"\s+", " ", _text(_pdf(audits, "standard", lang)))
    said = ("Not assessed: Counterfactual sensitivity to protected attributes, Parity with another format."
            if lang == "en" else "未評価：保護属性に対する反実仮想の感度、他形式との同等性。")
    assert said in text and "artifact.parity" not in text


def test_a_line_never_breaks_before_a_closing_mark_or_inside_a_number():
    chars = list("この監査で測定した値によると閾値は0.0103（ブロック3）」。です")
    for end in range(2, len(chars)):   # a break moves back at most half a line, so the line is long
        i = break_at(chars, 0, end)
        assert chars[i] not in CANNOT_START and chars[i - 1] not in "（「", (end, i, "".join(chars[:i]))
        inside_number = all(c.isascii() and (c.isdigit() or c == ".") for c in chars[i - 1:i + 1])
        assert not inside_number, (end, i, "".join(chars[:i]))


def test_shorten_keeps_the_head_and_the_tail_within_the_width():
    short = shorten(NO_SPACES, 200, "DejaVuSans", 7)
    assert "…" in short and short.startswith("enterprise-") and short.endswith(NO_SPACES[-3:])
    from reports.textflow import width

    assert width(short, "DejaVuSans", 7) <= 200 < width(NO_SPACES, "DejaVuSans", 7)
    assert shorten("short", 200, "DejaVuSans", 7) == "short"


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_long_name_wraps_after_its_hyphens_into_full_lines(lang):
    from reports.layout import esc, styles
    from reports.textflow import Paragraph, width

    style = styles(lang)["body"]
    para = Paragraph(f"名前: {esc(NO_SPACES)}（{esc(SPACES)}）", style)
    para.wrap(300, 1000)
    lines = ["".join(w.text for w in line.words) for line in para.blPara.lines]
    needed = width(f"名前: {NO_SPACES}（{SPACES}）", style.fontName, style.fontSize) / 300
    assert len(lines) <= needed + 2, lines   # no line of a single hyphenated piece
    assert all(line[:1] not in CANNOT_START for line in lines[1:]), lines
