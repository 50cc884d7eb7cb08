"""bench/gpu_check.sh runs on the CPU with tiny models, so the GPU check cannot rot between GPU runs."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bench import gpu_check

ROOT = Path(__file__).resolve().parents[2]
LABELS = ("F on the GPU", "standard audit ÷ F on the GPU", "1 B model standard audit, 256 probes",
          "peak GPU memory ÷ weight bytes", "GPU vs CPU figures, largest difference per metric family", "goals")


def test_the_script_prints_every_figure_on_the_cpu_with_tiny_models() -> None:
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--device", "cpu", "--tiny", "--strict"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    lines = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in out.splitlines() if ": " in line}
    for label in LABELS:
        assert label in lines, out
    assert lines["F on the GPU"].startswith("n/a (no GPU); on cpu: ")
    f = float(re.search(r"on cpu: ([\d.]+) s", lines["F on the GPU"]).group(1))
    ratio = float(re.search(r"on cpu: ([\d.]+) F", lines["standard audit ÷ F on the GPU"]).group(1))
    assert f > 0 and ratio > 1          # an audit costs more than one plain forward pass
    assert re.search(r"tiny Llama, 32 probes on cpu: [\d.]+ s \(loading", lines["1 B model standard audit, 256 probes"])
    assert lines["peak GPU memory ÷ weight bytes"] == "n/a (no GPU)"
    assert "all within the documented tolerance" in lines["GPU vs CPU figures, largest difference per metric family"]
    families = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(families) >= 5 and all(line.endswith(": within") for line in families)
    assert lines["goals"].startswith("all judged goals met")


def test_cuda_without_a_gpu_is_one_line_and_exit_2(capsys) -> None:
    import torch

    if torch.cuda.is_available():
        return
    assert gpu_check.main(["--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["gpu_check: --device cuda was asked for but torch sees no CUDA GPU; "
                                        "use --device cpu --tiny"]


def _audit(checks: list[dict]) -> dict:
    return {"environment": {"dtype": "float32"}, "checks": checks}


def test_figures_compare_per_family_with_the_documented_tolerance() -> None:
    a = _audit([{"id": "flow.representation", "status": "pass",
                 "metrics": {"update_ratio": [0.5, 0.25], "norm_growth": [1.0, 2.0]}},
                {"id": "perturbation.sensitivity", "status": "pass",
                 "metrics": {"flip_rate": 0.25, "output_kl": None, "output_cos": 0.99}}])
    same = gpu_check.compare_figures(a, a)
    assert same and all(row["diff"] == 0 and row["within"] and row["where"] is None for row in same.values())
    b = _audit([{"id": "flow.representation", "status": "pass",
                 "metrics": {"update_ratio": [0.5, 0.3], "norm_growth": [1.0, 2.0 + 1e-6]}},
                {"id": "perturbation.sensitivity", "status": "pass",
                 "metrics": {"flip_rate": 0.25, "output_kl": 0.1, "output_cos": 0.9905}}])
    moved = gpu_check.compare_figures(a, b)
    flow = moved["flow"]
    assert flow["count"] == 2 and not flow["within"] and "update_ratio" in flow["where"]
    assert abs(flow["diff"] - 0.05) < 1e-12 and flow["allowed"] < 0.05
    assert moved["divergence"]["diff"] == float("inf") and not moved["divergence"]["within"]
    cosine = moved["cosine"]
    assert cosine["within"] and abs(cosine["diff"] - 5e-4) < 1e-12    # inside its 2e-3
