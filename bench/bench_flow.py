"""The flow family (flow.smoothing + flow.pde) on the MiniLM: cost over the capture pass, and memory.

1. Cost, in one process: F (plain forward, inference_mode), the capture pass with hidden states
   and attention but no statistics, and the same pass feeding the flow accumulators. The flow
   family's extra cost is printed in units of F.
2. Peak memory (max RSS of a child process running a flow-only audit) for N = 256 and N = 4096
   probes: the statistics stream, so the ratio should stay near 1 while N grows 16-fold.
    .venv/bin/python -m bench.bench_flow [--small 256] [--large 4096] [--skip-memory]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOW_TEMPLATE = """name: flow-bench
version: 1
checks:
  - id: flow.smoothing
  - id: flow.pde
"""


def _probe_file(folder: Path, count: int) -> Path:
    """`count` distinct texts made from pairs of the built-in sentences (labels kept)."""
    from auditor.probes import load_probes

    base = load_probes("builtin:text")
    names = base.label_names
    rows = []
    n = base.count
    for i in range(count):
        a, b = i % n, (i * 7 + i // n) % n
        rows.append({"text": f"{base.texts[a]} {base.texts[b]}", "label": names[base.labels[a]]})
    path = folder / f"probes-{count}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


def cost(rounds: int = 3) -> None:
    import numpy as np
    from threadpoolctl import threadpool_limits

    from auditor import api
    from auditor.capture import capture_pass
    from auditor.checks.pde import PDEStats
    from auditor.checks.smoothing import SmoothingStats
    from auditor.models.load import load_model
    from auditor.probes import load_probes
    from auditor.splits import split_indices
    from bench.timing import prepared_forward

    probes = load_probes("builtin:text")
    adapter = load_model(api.demo_model_path(), device="auto")
    fit, score = split_indices(probes.count, probes.labels)
    order = np.concatenate([fit, score])
    points = frozenset({"hidden", "attentions"})
    with threadpool_limits(limits=1, user_api="blas"):
        _, plain = prepared_forward(adapter, probes, 16)

    def timed(fn):
        began = time.perf_counter()
        out = fn()
        return time.perf_counter() - began, out

    # interleaved rounds (F, bare capture, capture feeding the flow checks), best of each: a busy machine
    # slows all three alike, and every ratio below comes from this one process
    runs: dict[str, list[float]] = {"f": [], "bare": [], "flow": [], "flow.smoothing": [], "flow.pde": []}
    for _ in range(rounds):
        runs["f"].append(timed(plain)[0])
        runs["bare"].append(timed(lambda: capture_pass(adapter, probes, points, {}, order=order))[0])
        seconds, trace = timed(lambda: capture_pass(
            adapter, probes, points, {"flow.smoothing": SmoothingStats(), "flow.pde": PDEStats(fit, 64, 1e-3)},
            order=order))
        runs["flow"].append(seconds)
        for check_id in ("flow.smoothing", "flow.pde"):
            runs[check_id].append(trace.accumulator_seconds[check_id])
    f, bare, flow = min(runs["f"]), min(runs["bare"]), min(runs["flow"])
    print(f"probes {probes.count}, device {adapter.device}, best of {rounds} interleaved rounds")
    print(f"F (plain forward):                          {f:7.3f} s  1.00 F")
    print(f"capture pass, hidden + attention:           {bare:7.3f} s  {bare / f:4.2f} F")
    print(f"capture pass feeding flow.smoothing+pde:    {flow:7.3f} s  {flow / f:4.2f} F")
    for check_id in ("flow.smoothing", "flow.pde"):
        print(f"  {check_id:<16} (its accumulator in the pass) {min(runs[check_id]):7.3f} s  "
              f"{min(runs[check_id]) / f:4.2f} F")
    print(f"flow family extra cost: {(flow - bare) / f:.2f} F (target: well under 1 F)")


def child(probes: str, db: str, template: str) -> None:
    from auditor import api

    api.run_audit(api.AuditRequest(model=str(api.demo_model_path()), probes=probes, template=template, db=db,
                                   device="cpu"))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def memory(small: int, large: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        template = folder / "flow.yaml"
        template.write_text(FLOW_TEMPLATE)
        peaks = {}
        for count in (small, large):
            probes = _probe_file(folder, count)
            began = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "bench.bench_flow", "--child", str(probes),
                                  str(folder / f"{count}.db"), str(template)], capture_output=True, text=True,
                                 check=True, cwd=Path(__file__).resolve().parents[1])
            peaks[count] = int(out.stdout.strip().splitlines()[-1]) / 1024
            print(f"N = {count:5d}: peak RSS {peaks[count]:7.1f} MiB, {time.perf_counter() - began:6.1f} s")
        print(f"peak memory ratio N={large} / N={small}: {peaks[large] / peaks[small]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=256)
    parser.add_argument("--large", type=int, default=4096)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("PROBES", "DB", "TEMPLATE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    cost()
    if not args.skip_memory:
        memory(args.small, args.large)


if __name__ == "__main__":
    main()
