"""Compare says only what both audits measured the same way (issue 13, case 5).

Real audits of a tiny BERT (and of a copy with one block's weights scaled) under copies of the
built-in templates with `min_probes: 0`, so a few dozen probes are enough to run them.
"""
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from auditor import api
from auditor.templates import builtin_dir
from tests.conftest import run_cli

# checks the standard template runs and quick does not
STANDARD_ONLY = {"flow.pde", "sanity.randomization", "artifact.parity"}
# the existing contract of `compare --json`: additions only
CONTRACT = {"a", "b", "models", "same_model_name", "same_artifact", "verdict", "ratings", "checks", "metrics",
            "findings", "summary", "tolerance"}


def _template(folder: Path, name: str, edit: tuple[str, str] | None = None) -> str:
    text = re.sub(r"(?m)^min_probes: \d+$", "min_probes: 0", (builtin_dir() / f"{name}.yaml").read_text("utf-8"))
    if edit:
        assert edit[0] in text
        text = text.replace(*edit)
    path = folder / f"{name}{'-edited' if edit else ''}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _scaled_copy(model: Path, target: Path) -> Path:
    """Version 2 of the tiny model: block 2's weight matrices four times larger (a real change)."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(model, target)
    weights = load_file(str(target / "model.safetensors"))
    for name in weights:
        if ".layer.2." in name and name.endswith("weight") and "LayerNorm" not in name:
            weights[name] = weights[name] * 4.0
    save_file({k: v.contiguous() for k, v in weights.items()}, str(target / "model.safetensors"),
              metadata={"format": "pt"})
    return target


@pytest.fixture(scope="module")
def audits(tiny_bert, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("compare")
    db = str(root / "audits.db")
    standard, quick = _template(root, "standard"), _template(root, "quick")
    v2 = _scaled_copy(tiny_bert, root / "tiny-bert-v2")

    def audit(model: Path, template: str, limit: int) -> str:
        # 64 probes hold out 16, enough for the bottleneck check to decide; 16 probes are not
        return api.run_audit(api.AuditRequest(model=str(model), db=db, device="cpu", template=template, limit=limit,
                                              name="tiny-bert"))

    return {"db": db, "root": root, "quick_template": quick,
            "standard": audit(tiny_bert, standard, 64), "quick": audit(tiny_bert, quick, 64),
            "quick_v2": audit(v2, quick, 64), "quick_16": audit(tiny_bert, quick, 16)}


def test_standard_against_quick_compares_only_what_both_measured(audits):
    a, b, db = audits["standard"], audits["quick"], audits["db"]
    result = run_cli("compare", a, b, "--json", "--db", db)
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    assert CONTRACT <= set(diff)
    # before: the standard-only checks' findings came back "gone" (no longer raised)
    assert not [f for f in diff["findings"] if f["change"] == "gone"]
    apart = [f for f in diff["findings"] if f["check_id"] in STANDARD_ONLY]
    assert apart and all(f["change"] == "not_compared" and f["b"] is None and "quick" in f["reason"] for f in apart)
    assert diff["comparable"] is False and diff["same_template"] is False
    assert any("standard" in r and "quick" in r for r in diff["reasons"])
    assert len(diff["reasons_ja"]) == len(diff["reasons"])
    assert diff["templates"]["a"]["name"] == "standard" and diff["templates"]["b"]["name"] == "quick"
    assert diff["templates"]["a"]["version"] == diff["templates"]["b"]["version"] == "2"
    # flow.pde ran in standard only: the flow rating is not compared, whatever the two ratings are
    assert diff["ratings"]["flow"]["change"] == "not_compared" and "flow.pde" in diff["ratings"]["flow"]["reason"]
    assert diff["verdict"]["change"] == "not_compared"
    checks = {c["id"]: c for c in diff["checks"]}
    assert STANDARD_ONLY <= set(checks) and checks["flow.pde"]["b"] is None
    # the two templates give the perturbation test different parameters: its figures are not changes
    assert "max_rows" in checks["perturbation.sensitivity"]["reason"]
    moved = [m for m in diff["metrics"] if m["check_id"] == "perturbation.sensitivity"]
    assert moved and all(m["direction"] == "not_compared" for m in moved)
    assert diff["summary"]["not_compared"] == sum(m["direction"] == "not_compared" for m in diff["metrics"]) > 0
    assert sum(diff["summary"].values()) == len(diff["metrics"])
    # a check both templates run alike still compares
    assert checks["flow.representation"]["change"] in ("same", "better", "worse")

    text = run_cli("compare", a, b, "--db", db)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert "template standard v2" in out and "template quick v2" in out
    assert out.index("WARNING") < out.index("Ratings:") and "not compared" in out
    assert re.search(r"flow +\S+ +-> \S+ +not compared", out)


def test_same_template_still_shows_a_real_change(audits):
    diff = api.compare_audits(audits["quick"], audits["quick_v2"], audits["db"])
    assert diff["comparable"] is True and diff["reasons"] == [] and diff["same_template"] and diff["same_probes"]
    assert not diff["same_artifact"]
    assert not [m for m in diff["metrics"] if m["direction"] == "not_compared"]
    assert [m for m in diff["metrics"] if m["direction"] in ("improved", "worse")], \
        "scaling a block's weights must move a ruled figure"
    assert all(r["change"] in ("better", "worse", "same") for r in diff["ratings"].values()), diff["ratings"]
    assert all(f["change"] != "not_compared" for f in diff["findings"])
    assert diff["verdict"]["change"] in ("better", "worse", "same")
    text = run_cli("compare", audits["quick"], audits["quick_v2"], "--db", audits["db"]).stdout
    assert "WARNING" not in text and "every check run in both audits is compared" in text


def test_other_probes_or_an_inconclusive_check_are_not_compared(audits):
    diff = api.compare_audits(audits["quick_16"], audits["quick"], audits["db"])
    assert diff["same_template"] and not diff["same_probes"] and diff["comparable"] is False
    assert any("probe sets" in r for r in diff["reasons"])
    checks = {c["id"]: c for c in diff["checks"]}
    # 16 probes hold out too few to score the linear probe: the check is inconclusive in A
    assert checks["bottleneck.information_plane"]["a"] == "inconclusive"
    assert "inconclusive in A" in checks["bottleneck.information_plane"]["reason"]
    assert diff["ratings"]["retention"]["change"] == "not_compared"
    # the file's integrity check feeds no probes: other probes do not stop it from being compared
    assert checks["artifact.integrity"]["change"] == "same"


def test_a_changed_rule_is_not_compared(audits, tmp_path):
    db = tmp_path / "copy.db"
    with sqlite3.connect(audits["db"]) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    edited = _template(tmp_path, "quick", ("metric: norm_growth\n    reduce: max\n    warn: 8",
                                           "metric: norm_growth\n    reduce: max\n    warn: 1.01"))
    api.reevaluate(audits["quick_v2"], edited, db=str(db))
    diff = api.compare_audits(audits["quick"], audits["quick_v2"], str(db))
    checks = {c["id"]: c for c in diff["checks"]}
    assert checks["flow.representation"]["change"] == "not_compared"
    assert "norm_growth" in checks["flow.representation"]["reason"]
    assert all(f["change"] == "not_compared" for f in diff["findings"] if f["check_id"] == "flow.representation")
    assert checks["flow.smoothing"]["change"] in ("same", "better", "worse")   # its rules did not change


@pytest.mark.parametrize(("lang", "warning", "not_compared"), [
    ("en", "Not comparable as a whole", "not compared"), ("ja", "全体としては比較できません", "比較対象外")])
def test_full_report_change_section_names_templates_and_warns(audits, lang, warning, not_compared):
    from reports import data as report_data
    from reports import full
    from reports.layout import styles
    from reports.strings import text

    # the quick audit's previous audit of the same model is the standard one
    data = report_data.load(audits["quick"], audits["db"], lang)
    assert data.comparison and data.comparison["a"] == audits["standard"]
    body = " ".join(p.getPlainText() for p in full._change(data, text(lang), styles(lang)) if hasattr(p, "getPlainText"))
    assert "standard" in body and "quick" in body and warning in body and not_compared in body
    assert body.index(warning) < body.index(not_compared)
    reasons = data.comparison["reasons_ja" if lang == "ja" else "reasons"]
    assert reasons and all(r in body for r in reasons)
