"""bench/service_load.py end to end with tiny settings (2 clients, 1 audit, 5 s): a real `auditor serve` on
loopback, the load run and the kill -9 fault run, bounded at 3 minutes. The figures are the bench's to print;
this checks that the run completes and reports no 5xx, no lost audit, no job left running and no half-audit."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT_S = 180


@pytest.mark.slow
def test_the_load_bench_runs_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("AUDITOR_DB", "AUDITOR_SERVER", "AUDITOR_TOKEN")}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "bench.service_load", "--clients", "2", "--audits", "1",
                             "--seconds", "5"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        proc.terminate()          # the bench kills its servers in `finally`
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        pytest.fail(f"the bench did not end in {LIMIT_S} s:\n{out[-3000:]}")
    assert proc.returncode == 0, out[-3000:]
    assert re.search(r"^requests: \d+ .*; 5xx: 0; connection errors: 0$", out, re.M), out
    shows = re.search(r"^GET /v1/audits/\{id\}: n=(\d+) p50 [\d.]+ ms, p95 [\d.]+ ms", out, re.M)
    assert shows and int(shows.group(1)) > 0, out
    assert re.search(r"^audits lost: 0 of 1 ", out, re.M), out
    assert re.search(r"^submit -> first progress event, in submission order: [\d.]+ s ", out, re.M), out
    assert re.search(r"^after restart: jobs running 0, jobs interrupted 1, audits interrupted 1; the killed job "
                     r"interrupted, its audit interrupted; half-audits completed: 0; the load's audits still "
                     r"completed: 1 of 1$", out, re.M), out
    assert not list(tmp_path.glob("auditor-service-load-*")), "the bench left its scratch folder"
