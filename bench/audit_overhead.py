"""The standard audit's cost in units of F (docs/METHODS.md, Cost), measured in one process.

F = one plain forward pass over the probe set (the adapter's own forward, eager attention, same
batch size and device, under torch.inference_mode), excluding model loading. The audit's cost is
its wall time from the first capture batch to the last stored row. Each is timed `--repeats`
times, interleaved (F, audit, F, audit, ..., F) so a busy machine slows both alike; the best
of each is used.

    python -m bench.audit_overhead [--model PATH] [--probes SPEC] [--limit N] [--device D]

The last line is `audit/forward ratio: X` (target <= 15; the floor is about 12).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_overhead")
    parser.add_argument("--model", default=None, help="model folder or file (default: the MiniLM)")
    parser.add_argument("--probes", default="builtin:text")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--template", default=None, help="audit template (default: standard)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    from auditor import api
    from auditor.models.load import load_model
    from auditor.probes import load_probes

    model = Path(args.model) if args.model else api.demo_model_path()
    probes = load_probes(args.probes, limit=args.limit)
    adapter = load_model(model, device=args.device)
    batches = list(adapter.batches(probes, args.batch_size))
    for batch in batches[:2]:            # warm-up: allocator, kernels
        adapter.forward(batch)

    cpu: dict[str, list[float]] = {"forward": [], "audit": []}

    def forward_pass() -> float:
        began, began_cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            adapter.forward(batch)
        _sync(adapter.device)
        cpu["forward"].append(time.process_time() - began_cpu)
        return time.perf_counter() - began

    forwards = [forward_pass()]
    audits: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            began_cpu = time.process_time()
            audits.append(_timed_audit(api, model, args, Path(tmp) / f"bench{i}.db"))
            cpu["audit"].append(time.process_time() - began_cpu)
            forwards.append(forward_pass())
    adapter.close()
    f = min(forwards)
    best = min(audits, key=lambda a: a["cost_s"])
    print(f"model: {model.name}, probes: {probes.count} ({args.probes}), batch size {args.batch_size}, "
          f"device {adapter.device}")
    runs_f = ", ".join(f"{x:.2f}" for x in forwards)
    print(f"F (plain forward, inference_mode): {f:8.3f} s  (runs: {runs_f})")
    print("capture pass, incl. work the checks stream during it (perturbed copies, gradients):")
    print(f"                                   {best['capture_s']:8.3f} s  {best['capture_s'] / f:5.2f} F")
    print("per check, streamed and own work (streamed work is part of the capture pass above):")
    for check_id, seconds in best["checks"].items():
        print(f"  {check_id:<32} {seconds:8.3f} s  {seconds / f:5.2f} F")
    runs = ", ".join(f"{a['cost_s']:.2f}" for a in audits)
    print(f"audit, first capture batch to last stored row: {best['cost_s']:.3f} s (runs: {runs})")
    # CPU time of this process (all threads): steadier than wall time where other work shares the
    # cores; it includes model loading in the audit, so it is an upper bound and a cross-check only
    print(f"cross-check, CPU-time ratio (audit incl. loading / forward): "
          f"{min(cpu['audit']) / max(min(cpu['forward']), 1e-9):.2f}")
    print(f"audit/forward ratio: {best['cost_s'] / f:.2f}")


def _timed_audit(api, model: Path, args: argparse.Namespace, db: Path) -> dict:
    marks: dict[str, float] = {}

    def progress(_fraction: float, message: str) -> None:
        now = time.perf_counter()
        if "capturing layer states" in message:
            marks.setdefault("start", now)
        elif "start" in marks and not message.startswith("capture"):
            marks.setdefault("captured", now)

    request = api.AuditRequest(model=str(model), probes=args.probes, limit=args.limit, db=str(db),
                               device=args.device, batch_size=args.batch_size, template=args.template)
    audit_id = api.run_audit(request, progress=progress)
    end = time.perf_counter()
    shown = api.show_audit(audit_id, str(db))
    start = marks.get("start", end)
    # the capture pass ends where the first check starts; a check's own duration excludes it
    checks = {c["id"]: float(c["duration_s"] or 0.0) for c in shown["checks"] if c["status"] != "skipped"}
    return {"cost_s": end - start, "capture_s": marks.get("captured", end) - start, "checks": checks}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
