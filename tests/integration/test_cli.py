"""The `auditor` CLI contract on the real MiniLM and on hostile input (docs/ARCHITECTURE.md, CLI contract)."""
import json
import pickle
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import run_cli
from tests.fixtures.templates import no_minimum

METRIC_LENGTHS = {"update_ratio": 6, "consecutive_cos": 6, "effective_rank": 7, "norm_growth": 7}


def test_minilm_audit_keeps_the_json_contract(minilm_audit):
    data = minilm_audit["json"]
    assert data["status"] == "completed" and data["verdict"] in ("pass", "warn", "fail")
    assert set(data) >= {"audit_id", "status", "verdict", "model", "probes", "environment", "meta", "checks",
                         "findings", "fingerprint"}
    model = data["model"]
    assert (model["layers"], model["format"], model["architecture"], model["pooling"]) == (6, "transformers",
                                                                                            "BertModel", "mean")
    assert len(model["sha256"]) == 64 and model["files"]
    assert data["probes"]["count"] >= 300 and len(data["probes"]["sha256"]) == 64
    checks = {c["id"]: c for c in data["checks"]}
    for name, length in METRIC_LENGTHS.items():
        values = checks["flow.representation"]["metrics"][name]
        assert len(values) == length and all(isinstance(v, float) for v in values)
    # a trained MiniLM changes its stream in every block and keeps diverse final representations
    assert min(checks["flow.representation"]["metrics"]["update_ratio"]) > 0.1
    assert checks["flow.representation"]["metrics"]["effective_rank"][-1] > 10
    assert checks["artifact.integrity"]["metrics"]["parameters"] > 2e7
    assert {f["severity"] for f in data["findings"]} <= {"pass", "warn", "fail", "error", "info"}
    for finding in data["findings"]:
        assert finding["meaning"]["en"] and finding["meaning"]["ja"] and finding["clauses"] and finding["action"]
    assert len(data["fingerprint"]) == 64


def test_show_json_equals_what_audit_printed(minilm_audit):
    data = minilm_audit["json"]
    shown = run_cli("show", data["audit_id"], "--json", db=minilm_audit["db"])
    assert shown.returncode == 0
    assert json.loads(shown.stdout) == data


def test_progress_jsonl_is_machine_readable(minilm_audit):
    events = [json.loads(line) for line in minilm_audit["stderr"].splitlines() if line.strip()]
    fractions = [e["fraction"] for e in events if e["event"] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 5
    assert events[-1] == {"event": "finished", "audit_id": minilm_audit["json"]["audit_id"]}


def test_metrics_table_is_long_form(minilm_audit):
    conn = sqlite3.connect(minilm_audit["db"])
    audit_id = minilm_audit["json"]["audit_id"]
    rows = conn.execute("SELECT layer, variant, value FROM metrics WHERE audit_id = ? AND check_id = 'flow.representation' "
                        "AND name = 'update_ratio' ORDER BY variant, layer", [audit_id]).fetchall()
    # the point values have no variant; their 95% interval is stored beside them as variants ci_low / ci_high
    # of the same (check, name, layer, head) (issue 14)
    points = [r for r in rows if r[1] is None]
    assert [r[0] for r in points] == list(range(6))
    lows = {r[0]: r[2] for r in rows if r[1] == "ci_low"}
    highs = {r[0]: r[2] for r in rows if r[1] == "ci_high"}
    assert sorted(lows) == sorted(highs) == list(range(6)) and len(rows) == 18
    assert all(lows[layer] <= value <= highs[layer] for layer, _, value in points)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(metrics)")]
    assert cols == ["audit_id", "check_id", "name", "layer", "head", "variant", "value"]


def test_list_and_text_show(minilm_audit):
    listed = run_cli("list", "--json", db=minilm_audit["db"])
    assert minilm_audit["json"]["audit_id"] in [a["audit_id"] for a in json.loads(listed.stdout)["audits"]]
    shown = run_cli("show", minilm_audit["json"]["audit_id"][:15], db=minilm_audit["db"])
    assert shown.returncode == 0 and "flow.representation" in shown.stdout


def test_junit_export(minilm_audit, tmp_path):
    target = tmp_path / "audit.xml"
    assert run_cli("show", minilm_audit["json"]["audit_id"], "--junit", str(target), db=minilm_audit["db"]).returncode == 0
    assert target.read_text().count("<testcase") == len(minilm_audit["json"]["findings"])


def _assert_refused(result, *words):
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditor: ") and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]


def _no_completed_audits(db):
    if not db.exists():
        return True
    return all(a["status"] != "completed" for a in json.loads(run_cli("list", "--json", db=db).stdout)["audits"])


def test_hostile_and_bad_inputs_are_one_line_and_exit_2(tmp_path, minilm_path):
    db = tmp_path / "bad.db"
    _assert_refused(run_cli("audit", str(tmp_path / "nope"), db=db), "no such file")
    evil = tmp_path / "weights.pt"
    evil.write_bytes(pickle.dumps({"a": 1}))
    _assert_refused(run_cli("audit", str(evil), db=db), "pickle")
    jit = tmp_path / "model.jit"
    jit.write_bytes(b"PK\x03\x04 not really")
    _assert_refused(run_cli("audit", str(jit), db=db))
    fake_onnx = tmp_path / "model.onnx"
    fake_onnx.write_bytes(b"\x00\x01garbage" * 50)
    _assert_refused(run_cli("audit", str(fake_onnx), db=db), "not an ONNX model")
    _assert_refused(run_cli("audit", str(minilm_path), "--template", "nope", db=db), "unknown template")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _assert_refused(run_cli("audit", str(minilm_path), "--probes", str(empty), db=db))
    binary = tmp_path / "probes.jsonl"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    _assert_refused(run_cli("audit", str(minilm_path), "--probes", str(binary), db=db), "not a text file")
    _assert_refused(run_cli("audit", str(minilm_path), "--limit", "0", db=db))
    _assert_refused(run_cli("audit", str(minilm_path), "--bogus-flag", db=db))
    _assert_refused(run_cli("show", "no-such-audit", db=db), "no audit")
    assert _no_completed_audits(db)


def test_truncated_safetensors_is_refused(tmp_path, tiny_bert):
    import shutil

    folder = tmp_path / "truncated"
    shutil.copytree(tiny_bert, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    _assert_refused(run_cli("audit", str(folder), db=tmp_path / "t.db"), "model.safetensors")


def test_wrong_probe_kind_fails_the_audit_without_completing_it(tmp_path, tiny_bert):
    db = tmp_path / "kind.db"
    result = run_cli("audit", str(tiny_bert), "--probes", "builtin:images", "--template", no_minimum(), db=db)
    _assert_refused(result, "builtin:text")
    audits = json.loads(run_cli("list", "--json", db=db).stdout)["audits"]
    assert [a["status"] for a in audits] in ([], ["failed"])


def test_fail_on_and_a_strict_template(tmp_path, tiny_bert):
    strict = tmp_path / "strict.yaml"
    strict.write_text("name: strict\nversion: 1\nchecks:\n  - id: flow.representation\n    conditions:\n"
                      "      - {condition: above, metric: update_ratio, reduce: min, warn: 0.0, finding: flow.idle_block}\n")
    db = tmp_path / "strict.db"
    result = run_cli("audit", str(tiny_bert), "--template", str(strict), "--fail-on", "warn", "--json", db=db)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["verdict"] == "warn" and data["checks"][0]["status"] == "warn"
    assert run_cli("audit", str(tiny_bert), "--template", str(strict), "--fail-on", "fail", db=db).returncode == 0


def test_vision_and_causal_models_audit_end_to_end(tmp_path, tiny_vit, tiny_gpt2):
    db = tmp_path / "models.db"
    vit = run_cli("audit", str(tiny_vit), "--probes", "builtin:images", "--limit", "24", "--json",
                  "--template", no_minimum(), db=db)
    assert vit.returncode == 0, vit.stderr
    data = json.loads(vit.stdout)
    assert data["model"]["pooling"] == "cls" and data["probes"]["count"] == 24
    rep = next(c for c in data["checks"] if c["id"] == "flow.representation")
    assert len(rep["metrics"]["update_ratio"]) == 2
    gpt = run_cli("audit", str(tiny_gpt2), "--limit", "12", "--json", "--meta", str(_meta(tmp_path)),
                  "--template", no_minimum(), db=db)
    assert gpt.returncode == 0, gpt.stderr
    data = json.loads(gpt.stdout)
    assert data["model"]["pooling"] == "last"
    assert data["meta"]["purpose"] == "Next-word suggestions for claim handlers"
    assert data["model"]["version"] == "2.1"


def _meta(tmp_path):
    path = tmp_path / "meta.yaml"
    path.write_text("purpose: Next-word suggestions for claim handlers\nusers: claim handlers\n"
                    "out_of_scope: automated decisions\npreparer: A. Officer\ndecision_requested: approve pilot\n"
                    "version: '2.1'\n")
    return path


def test_templates_command():
    result = run_cli("templates", "--json")
    assert result.returncode == 0
    assert "standard" in [t["name"] for t in json.loads(result.stdout)["templates"]]


def test_library_modules_import_without_the_model_runtimes():
    code = ("import sys, auditor.api, auditor.store, auditor.templates, auditor.findings, auditor.cli; "
            "heavy = {'torch', 'transformers', 'onnxruntime', 'onnx'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help(flag):
    result = run_cli(flag)
    assert result.returncode == 0 and result.stdout.strip()


def test_bare_onnx_with_tokenizer_and_exporter_folder(tmp_path, minilm_bare, minilm_folder, minilm_path,
                                                      minilm_audit):
    db = tmp_path / "onnx.db"
    bare = run_cli("audit", str(minilm_bare), "--tokenizer", str(minilm_path), "--json", "--progress", "none", db=db)
    assert bare.returncode == 0, bare.stderr
    assert bare.stderr == ""                         # no runtime log noise in the user's terminal
    folder = run_cli("audit", str(minilm_folder), "--json", db=db)
    assert folder.returncode == 0, folder.stderr
    torch_rep = next(c for c in minilm_audit["json"]["checks"] if c["id"] == "flow.representation")
    for result in (bare, folder):
        data = json.loads(result.stdout)
        assert data["model"]["format"] == "onnx" and data["model"]["layers"] == 6
        rep = next(c for c in data["checks"] if c["id"] == "flow.representation")
        assert rep["status"] != "skipped" and len(rep["metrics"]["update_ratio"]) == 6
        # the same model in two formats gives the same figures
        for name in ("update_ratio", "norm_growth"):
            assert rep["metrics"][name] == pytest.approx(torch_rep["metrics"][name], rel=1e-3)
    assert json.loads(folder.stdout)["model"]["sha256"] != json.loads(bare.stdout)["model"]["sha256"]


def test_bare_text_onnx_without_tokenizer_is_refused(tmp_path, minilm_bare):
    _assert_refused(run_cli("audit", str(minilm_bare), db=tmp_path / "n.db"), "--tokenizer")


def test_a_cnn_is_audited_with_what_applies(tmp_path, cnn_file):
    result = run_cli("audit", str(cnn_file), "--probes", "builtin:images", "--limit", "12", "--json",
                     "--template", no_minimum(), db=tmp_path / "cnn.db")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    # a required check the CNN cannot give: the audit says so instead of passing on the rest
    assert statuses["flow.representation"] == "inconclusive" and statuses["artifact.integrity"] == "pass"
    assert data["verdict"] == "inconclusive"
    rep = next(c for c in data["checks"] if c["id"] == "flow.representation")
    assert "hidden states" in rep["summary"]
    assert data["model"]["layers"] is None


def test_long_texts_are_truncated_and_bad_rows_skipped_on_request(tmp_path, tiny_bert):
    probes = tmp_path / "probes.jsonl"
    long_text = " ".join(["loan"] * 200)             # the tiny model reads at most 64 tokens
    rows = [{"text": long_text, "label": "credit"}, {"text": "", "label": "credit"},
            {"text": "claim report", "label": "insurance"}, {"text": "urgent patient triage", "label": "health"}]
    # a line that parses but is unusable (one that does not parse is refused even when skipping)
    probes.write_text("\n".join(json.dumps(r) for r in rows) + "\n[\"not an object\"]\n", encoding="utf-8")
    db = tmp_path / "p.db"
    _assert_refused(run_cli("audit", str(tiny_bert), "--probes", str(probes), db=db), "line 2", "--skip-bad-probes")
    result = run_cli("audit", str(tiny_bert), "--probes", str(probes), "--skip-bad-probes", "--json",
                     "--template", no_minimum(), db=db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["probes"]["count"] == 3 and len(data["probes"]["skipped"]) == 2
    assert any("1 probe text(s) longer than 64 tokens were truncated" in n
               for n in data["environment"]["input_notes"])


def test_demo_writes_where_the_results_are(tmp_path):
    result = run_cli("demo", "--out", str(tmp_path), "--limit", "256", "--progress", "none")
    assert result.returncode == 0, result.stderr
    assert "Database:" in result.stdout and str(tmp_path / "demo.db") in result.stdout
    saved = list(tmp_path.glob("audit-*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["model"]["name"] == "all-MiniLM-L6-v2"


def test_reference_must_exist(tmp_path, tiny_bert):
    _assert_refused(run_cli("audit", str(tiny_bert), "--reference", str(tmp_path / "nope.onnx"),
                            db=tmp_path / "r.db"), "--reference")


def test_sigterm_cancels_a_running_audit_and_records_it(tiny_bert, tmp_path):
    """The GUI stops its worker with SIGTERM: the audit must end as `cancelled`, exit 3."""
    import signal

    from tests.conftest import AUDITOR

    db = tmp_path / "cancel.db"
    proc = subprocess.Popen([AUDITOR, "audit", str(tiny_bert), "--db", str(db), "--progress", "jsonl"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        event = json.loads(line)
        if event.get("event") == "progress" and event["fraction"] >= 0.05:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert "cancelled" in err and "Traceback" not in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM audits").fetchall() == [("cancelled",)]
