"""An audit under japan-ai-guidelines (issue 19): the full Japanese report's framework section cites the METI/MIC AI
Guidelines for Business and the J-AISI evaluation perspectives, with the findings under each clause, and says in
both languages that a clause reference is coverage, not compliance."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.fixtures.templates import no_minimum


def _text(pdf: Path) -> str:
    """The PDF's text with all whitespace removed (table cells wrap anywhere)."""
    if shutil.which("pdftotext"):
        raw = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    else:
        from pypdf import PdfReader

        raw = "\n".join(p.extract_text() or "" for p in PdfReader(str(pdf)).pages)
    return re.sub(r"\s+", "", raw)


@pytest.fixture(scope="module")
def japan_audit(tiny_bert, tmp_path_factory) -> tuple[str, Path]:
    db = tmp_path_factory.mktemp("japan") / "audits.db"
    made = run_cli("audit", str(tiny_bert), "--probes", "builtin:text", "--limit", "24", "--json", "--progress", "none",
                   "--template", no_minimum("japan-ai-guidelines"), db=db)
    assert made.returncode == 0, made.stderr
    audit = json.loads(made.stdout)
    return audit["audit_id"], db


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_full_report_cites_both_japanese_documents_as_coverage(japan_audit, tmp_path, lang):
    audit_id, db = japan_audit
    pdf = tmp_path / f"full-{lang}.pdf"
    made = run_cli("report", audit_id, "--kind", "full", "--lang", lang, "--out", str(pdf), db=db)
    assert made.returncode == 0, made.stderr
    text = _text(pdf)
    for cited in ("AI事業者ガイドライン共通の指針2)安全性/AIGuidelinesforBusiness,CommonGuidingPrinciple:Safety",
                  "AISI「AIセーフティに関する評価観点ガイド」評価観点：ロバスト性/J-AISIGuidetoEvaluationPerspectives",
                  "AI事業者ガイドライン共通の指針3)公平性/AIGuidelinesforBusiness,CommonGuidingPrinciple:Fairness",
                  "評価観点：公平性と包摂性/J-AISIGuidetoEvaluationPerspectivesonAISafety:FairnessandInclusion",
                  "ISO/IEC42001A.6.2.4", "NISTAIRMFMEASURE2.9", "NISTAIRMFMEASURE2.11"):
        assert cited in text, cited
    if lang == "ja":
        assert "この監査のテンプレートが引用する条項" in text
        assert "条項の参照は、所見がどの要求事項に対する証拠となるかを示すものであり、モデルがその要求事項に適合していること" \
               "を示すものではありません。" in text
        # a finding under its clause, in Japanese; a rule whose check did not run (no reference model) says so
        assert "情報をほとんど変化させない層" in text
        assert "監査したモデルと配備形式の出力の一致（この監査では評価されていません）" in text
    else:
        assert "Clausescitedbythisaudit'stemplate" in text
        assert "Aclausereferenceshowswhichrequirementafindinggivesevidencetowards,notthatthemodelcomplieswithit." \
               in text
