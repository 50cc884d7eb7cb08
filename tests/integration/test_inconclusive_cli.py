"""Inconclusive audits from the command line: refused probe sets, missing evidence, gates."""
import json

from tests.conftest import run_cli
from tests.fixtures.templates import no_minimum


def test_fewer_probes_than_the_template_needs_are_refused_before_anything_runs(tmp_path, tiny_bert):
    db = tmp_path / "never.db"
    result = run_cli("audit", str(tiny_bert), "--limit", "8", db=db)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("auditor: 8 probes; template standard needs at least 256 (give more probes "
                                     "or a larger --limit; the `quick` template needs fewer)")
    assert not db.exists()          # refused before the database, the model or an audit row


def test_a_required_check_with_no_figures_makes_the_audit_inconclusive_and_every_gate_stops(tmp_path, tiny_bert):
    # artifact.parity needs --reference: required here, it cannot be measured
    text = open(no_minimum("quick"), encoding="utf-8").read()
    template = tmp_path / "needs-parity.yaml"
    template.write_text(text.replace("checks:\n", "checks:\n- id: artifact.parity\n  required: true\n", 1))
    db = tmp_path / "a.db"
    args = ("audit", str(tiny_bert), "--template", str(template), "--limit", "12", "--progress", "none")
    result = run_cli(*args, "--json", db=db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["verdict"] == "inconclusive"
    parity = next(c for c in data["checks"] if c["id"] == "artifact.parity")
    assert parity["status"] == "inconclusive" and "--reference" in parity["summary"]
    missing = {f["check_id"]: f for f in data["findings"] if f["severity"] == "inconclusive"}
    assert "--reference" in missing["artifact.parity"]["detail"]
    # 12 probes leave too few held out to score the label probe: that rule is not decided either
    assert "held out" in missing["bottleneck.information_plane"]["detail"]
    assert data["ratings"]["integrity"]["rating"] == "inconclusive"
    assert run_cli(*args, "--fail-on", "fail", db=db).returncode == 1
    shown = run_cli(*args, "--fail-on", "warn", db=db)
    assert shown.returncode == 1
    assert "Inconclusive: evidence is missing" in shown.stdout and "--reference" in shown.stdout
    listing = run_cli("list", db=db).stdout
    assert listing.count("? inconclusive") == 3 and "pass" not in listing


def test_the_surrogate_on_a_handful_of_held_out_probes_decides_nothing(tmp_path, tiny_bert):
    template = tmp_path / "pde.yaml"
    template.write_text("name: pde-only\nversion: 1\nchecks:\n  - id: flow.pde\n    conditions:\n"
                        "      - {condition: below, metric: pde_r2, reduce: min, warn: 0.1, fail: 0.0, "
                        "finding: flow.unexplained_step}\n")
    args = ("audit", str(tiny_bert), "--template", str(template), "--progress", "none", "--json")
    few = json.loads(run_cli(*args, "--limit", "12", db=tmp_path / "a.db").stdout)
    (rule,) = [f for f in few["findings"] if f.get("metric") == "pde_r2"]
    assert rule["severity"] == "inconclusive" and "held out to score the surrogate" in rule["detail"]
    assert few["verdict"] == "inconclusive"
    enough = json.loads(run_cli(*args, "--limit", "60", db=tmp_path / "a.db").stdout)
    (rule,) = [f for f in enough["findings"] if f.get("metric") == "pde_r2"]
    assert rule["severity"] in ("pass", "warn", "fail") and enough["verdict"] != "inconclusive"
