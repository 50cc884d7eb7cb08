"""`auditor batch`: an inventory audited on a local Ray (driver as the single writer), on the local queue,
and refused when the inventory is bad. Real tiny BERTs, the quick template without its probe minimum."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.store.fingerprint import fingerprint_of
from tests.fixtures.templates import no_minimum
from tests.fixtures.torch_models import make_tiny_bert

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditor.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tiny BERT folders and the quick template, beside which the inventories are written."""
    folder = tmp_path_factory.mktemp("batch")
    make_tiny_bert(folder / "bert")
    make_tiny_bert(folder / "bert-cls", classifier=True)
    (folder / "quick.yaml").write_text(Path(no_minimum("quick")).read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "meta.yaml").write_text("purpose: Batch test\n", encoding="utf-8")
    return folder


def _inventory(folder: Path, name: str, models: str) -> Path:
    path = folder / name
    path.write_text("defaults: {template: quick.yaml, limit: 12, meta: {purpose: Batch test}}\nmodels:\n" + models,
                    encoding="utf-8")
    return path


def _metrics(db: Path, audit_id: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT check_id, name, layer, head, variant, value FROM metrics WHERE audit_id = ? "
                            "ORDER BY check_id, name, variant, layer, head", [audit_id]).fetchall()


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_batch_on_local_ray_imports_three_audits_that_verify(models: Path) -> None:
    inventory = _inventory(models, "ray.yaml", "  - {path: bert, name: bert-a, version: '1', seed: 1}\n"
                                                "  - {path: bert, name: bert-b, version: '1', seed: 2}\n"
                                                "  - {path: bert-cls, name: bert-c, seed: 3}\n")
    db = models / "ray.db"
    done = _cli("batch", str(inventory), "--db", str(db), "--ray", "auto", "--json", cwd=models, timeout=400)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert [(a["name"], a["status"]) for a in summary["audits"]] == [("bert-a", "completed"), ("bert-b", "completed"),
                                                                     ("bert-c", "completed")]
    assert summary["exit_code"] == done.returncode
    assert sum("submitted to Ray" in line for line in done.stderr.splitlines()) == 3
    assert sum("imported" in line for line in done.stderr.splitlines()) == 3

    from auditor.store import open_db, queries

    handle = open_db(db)
    try:
        for a in summary["audits"]:
            row = handle["audits"].get(a["audit_id"])
            evaluation = handle.execute("SELECT id, fingerprint FROM evaluations WHERE audit_id = ?",
                                        [a["audit_id"]]).fetchall()
            assert row["status"] == "completed" and len(evaluation) == 1
            content = queries.stored_content(handle, a["audit_id"], evaluation[0][0])
            # the fingerprint rule of a CLI audit: the stored content's digest, in the row, the evaluation and the summary
            assert fingerprint_of(content) == row["fingerprint"] == evaluation[0][1] == a["fingerprint"]
            assert row["seed"] == {"bert-a": 1, "bert-b": 2, "bert-c": 3}[a["name"]]
        kinds = [r[0] for r in handle.execute("SELECT kind FROM events ORDER BY id").fetchall()]
        assert kinds.count("created") == 3 and kinds.count("completed") == 3
    finally:
        handle.conn.close()
    verify = _cli("verify", "--db", str(db), cwd=models, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # the same inputs and seed through a CLI audit give the same figures (Ray runs a 1-CPU task with one thread)
    cli_db = models / "cli.db"
    audit = _cli("audit", "bert", "--template", "quick.yaml", "--limit", "12", "--seed", "1", "--name", "bert-a",
                 "--model-version", "1", "--meta", "meta.yaml", "--db", str(cli_db), "--json", "--progress", "none",
                 cwd=models, timeout=300, env={"OMP_NUM_THREADS": "1"})
    assert audit.returncode in (0, 1), audit.stderr[-2000:]
    cli_id = json.loads(audit.stdout)["audit_id"]
    ray_a = summary["audits"][0]
    assert _metrics(cli_db, cli_id) == _metrics(db, ray_a["audit_id"]) != []
    assert json.loads(audit.stdout)["verdict"] == ray_a["verdict"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_batch_on_local_queue_completes_the_others_when_one_model_is_broken(models: Path) -> None:
    inventory = _inventory(models, "broken.yaml", "  - {path: no-such-model, name: broken}\n"
                                                   "  - {path: bert, name: bert-ok, seed: 4}\n")
    db = models / "local.db"
    done = _cli("batch", str(inventory), "--db", str(db), cwd=models, timeout=280)
    assert done.returncode == 3, done.stderr[-2000:]
    assert "batch [1/2] broken: failed: no such file or folder:" in done.stderr
    assert "batch [2/2] bert-ok: queued (job J-" in done.stderr
    assert "batch [2/2] bert-ok: completed:" in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "VERSION", "AUDIT", "ID", "VERDICT", "TIME"]
    assert lines[1].startswith("broken") and "✗ failed" in lines[1]
    assert lines[2].startswith("bert-ok") and " s" in lines[2]
    assert lines[-1] == "1 of 2 audits completed"
    listed = json.loads(_cli("list", "--db", str(db), "--json", cwd=models, timeout=60).stdout)["audits"]
    assert [(r["name"], r["status"]) for r in listed] == [("bert-ok", "completed")]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM jobs").fetchall() == [("completed",)]


@pytest.mark.parametrize(("text", "expected"), [
    ("models:\n  - {path: bert, nmae: x}\n", "model 1: unknown key(s) nmae (known: path, name, version, template"),
    ("modles: []\n", "unknown key(s) modles (known: models, defaults)"),
    ("models: []\n", "`models:` must be a non-empty list"),
    ("models:\n  - {name: x}\n", "model 1: path is missing"),
    ("models:\n  - {path: bert, limit: -1}\n", "model 1: limit must be a whole number, 0 or more"),
    ("defaults: {path: bert}\nmodels:\n  - {path: bert}\n", "defaults: unknown key(s) path"),
    ("models:\n  - {path: bert, meta: {owner: me}}\n", "model 1: meta: unknown key(s) owner"),
    ("models:\n  - {path: bert, name: a}\n  - {path: bert, name: a}\n", "models 1 and 2 are both a"),
    ("models: [\n", "is not valid YAML"),
])
def test_bad_inventory_is_one_line_and_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(text, encoding="utf-8")
    done = _cli("batch", str(inventory), "--db", str(tmp_path / "a.db"), cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("auditor: inventory ")
    assert expected in done.stderr
    assert not (tmp_path / "a.db").exists()      # nothing ran


def test_missing_inventory_and_conflicting_flags_exit_2(tmp_path: Path) -> None:
    missing = _cli("batch", str(tmp_path / "nope.yaml"), cwd=tmp_path, timeout=60)
    assert missing.returncode == 2 and missing.stderr.strip().endswith("nope.yaml: no such file")
    both = _cli("batch", "x.yaml", "--ray", "auto", "--server", "https://a.example", cwd=tmp_path, timeout=60)
    assert both.returncode == 2 and len(both.stderr.strip().splitlines()) == 1 and "exclude each other" in both.stderr


_PROBE = """
import json, psutil
from auditor.batch_ray import _start
ray = _start("auto")
try:
    try:                      # where Ray keeps it moved between versions
        from ray._common.usage import usage_lib
    except ImportError:
        from ray._private.usage import usage_lib
    me = psutil.Process()
    pids = {me.pid} | {p.pid for p in me.children(recursive=True)}
    sockets = [(c.laddr.ip if c.laddr else None, c.raddr.ip if c.raddr else None)
               for c in psutil.net_connections(kind="inet") if c.pid in pids]
    print(json.dumps({"sockets": sockets, "usage_stats": usage_lib.usage_stats_enabled(),
                      "node_ip": ray.util.get_node_ip_address(), "cpus": ray.cluster_resources().get("CPU")}))
finally:
    ray.shutdown()
"""


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_local_ray_uses_loopback_only_and_sends_no_usage_stats(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["usage_stats"] is False and found["node_ip"] == "127.0.0.1" and found["cpus"] == 2
    assert len(found["sockets"]) >= 3          # the GCS, the raylet and the workers did open sockets
    loopback = {"127.0.0.1", "::ffff:127.0.0.1", "::1", None}
    assert {ip for pair in found["sockets"] for ip in pair} <= loopback, found["sockets"]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_batch_on_a_service_runs_there_and_reports_each_model(models: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.test_service_http import Server

    monkeypatch.setenv("AUDITOR_IDENTITY_DIR", str(tmp_path / "ids"))
    for name in ("AUDITOR_DB", "AUDITOR_SERVER", "AUDITOR_TOKEN", "AUDITOR_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    from auditor import api
    from auditor.identity import create_identity
    from auditor.service.tokens import create_token

    create_identity("P. Preparer", "preparer", passphrase="correct horse battery")
    db = tmp_path / "server.db"
    api.create_database(str(db))
    token = create_token(str(db), "P. Preparer")[1]
    inventory = _inventory(models, "server.yaml", f"  - {{path: {models / 'bert'}, name: bert-srv, seed: 5}}\n"
                                                  f"  - {{path: {tmp_path / 'gone'}, name: gone}}\n")
    srv = Server(db, tmp_path, "--workers", "1")
    try:
        srv.wait_ready()
        done = _cli("batch", str(inventory), "--server", srv.url, "--token", token, "--json", cwd=models, timeout=300)
    finally:
        srv.stop()
    assert done.returncode == 3, done.stderr[-2000:]
    audits = json.loads(done.stdout)["audits"]
    assert [(a["name"], a["status"]) for a in audits] == [("bert-srv", "completed"), ("gone", "failed")]
    assert audits[0]["job_id"].startswith("J-") and audits[0]["verdict"] and audits[0]["fingerprint"]
    assert "no such file or folder" in audits[1]["error"]
    assert "batch [1/2] bert-srv: queued (job J-" in done.stderr and "batch [2/2] gone: failed: " in done.stderr
    listed = json.loads(_cli("list", "--db", str(db), "--json", cwd=models, timeout=60).stdout)["audits"]
    assert [(r["audit_id"], r["status"]) for r in listed] == [(audits[0]["audit_id"], "completed")]
