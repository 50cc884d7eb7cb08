"""Circular labels on a real audit: a model with an output head audited with probes that have no label column.

The tiny GPT-2: its next-token predictions differ between probes (a tiny BERT classifier's random head
predicts one class for every probe, and the check is then skipped, not circular)."""
import json
from pathlib import Path

from auditor.findings import LABELS_NOTE
from tests.conftest import run_cli
from tests.fixtures.templates import no_minimum

CHECK = "bottleneck.information_plane"


def _unlabelled(folder: Path) -> Path:
    words = ["credit", "bank", "fraud", "card", "risk", "debt", "job", "doctor"]
    path = folder / "unlabelled.csv"
    path.write_text("text\n" + "\n".join(f"the {v} claim of the {w}" for w in words
                                         for v in ("loan", "policy", "patient", "income", "score")) + "\n",
                    encoding="utf-8")
    return path


def _findings(data: dict) -> list[dict]:
    return [f for f in data["findings"] if f["check_id"] == CHECK]


def test_high_risk_does_not_decide_on_the_models_own_predictions_and_standard_says_it_used_them(
        tmp_path, tiny_gpt2):
    db = tmp_path / "a.db"
    high_risk = no_minimum("eu-ai-act-high-risk")
    result = run_cli("audit", str(tiny_gpt2), "--probes", str(_unlabelled(tmp_path)), "--template", high_risk,
                     "--progress", "none", "--json", db=db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rules = _findings(data)
    assert len(rules) == 3
    assert all(f["severity"] == "inconclusive" for f in rules), rules
    assert all("the model's own predictions as labels, which is circular" in f["detail"]
               and "label column" in f["detail"] for f in rules)
    assert data["verdict"] == "inconclusive"
    audit_id = data["audit_id"]
    # the standard template decides on the same stored figures, and says which labels they used
    assert run_cli("reevaluate", audit_id, "--template", no_minimum("standard"), "--json", db=db).returncode == 0
    shown = json.loads(run_cli("show", audit_id, "--json", db=db).stdout)
    decided = [f for f in _findings(shown) if f["severity"] in ("pass", "warn", "fail")]
    assert decided and all(f["detail"].endswith(LABELS_NOTE) for f in decided)
    # re-evaluating under the high-risk template reads the stored label source and decides as the audit did
    again = run_cli("reevaluate", audit_id, "--template", high_risk, "--json", db=db)
    assert again.returncode == 0 and json.loads(again.stdout)["verdict"] == "inconclusive"
    shown = json.loads(run_cli("show", audit_id, "--json", db=db).stdout)
    assert [f["severity"] for f in _findings(shown)] == ["inconclusive"] * 3
