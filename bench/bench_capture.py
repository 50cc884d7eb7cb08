"""Cost of the capture pass and of a standard audit in units of F (docs/METHODS.md, Cost).

F = one plain forward pass over the probe set under torch.inference_mode, same adapter, batch size
and device, excluding model loading. Prints ratios measured in this one run.
    .venv/bin/python -m bench.bench_capture [--limit N] [--batch-size B] [--device auto|cpu|cuda]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from auditor import api
    from auditor.capture import capture_pass
    from auditor.checks.representation import RepresentationStats
    from auditor.models.load import load_model
    from auditor.probes import load_probes
    from bench.timing import best, prepared_forward

    model = api.demo_model_path()
    probes = load_probes("builtin:text", limit=args.limit)
    adapter = load_model(model, device=args.device)
    _, plain = prepared_forward(adapter, probes, args.batch_size)

    def capture(points: frozenset[str]) -> None:
        capture_pass(adapter, probes, points, {"flow.representation": RepresentationStats()},
                     batch_size=args.batch_size)

    f = best(plain, args.repeats)
    hidden = best(lambda: capture(frozenset({"hidden"})), args.repeats)
    full = best(lambda: capture(frozenset({"hidden", "attentions", "logits"})), args.repeats)
    adapter.close()
    with tempfile.TemporaryDirectory() as tmp:
        request = api.AuditRequest(model=str(model), probes="builtin:text", limit=args.limit,
                                   db=str(Path(tmp) / "bench.db"), device=args.device, batch_size=args.batch_size)
        audit_id = api.run_audit(request)
        timings = api.show_audit(audit_id, request.db)["environment"]["timings"]
    print(f"probes: {probes.count}, batch size {args.batch_size}, device {adapter.device}")
    print(f"F (plain forward, inference_mode):       {f:7.3f} s   1.00 F")
    print(f"capture pass, hidden states + stats:     {hidden:7.3f} s   {hidden / f:4.2f} F")
    print(f"capture pass, + attentions and logits:   {full:7.3f} s   {full / f:4.2f} F")
    print(f"standard audit, checks incl. capture:    {timings['checks_s']:7.3f} s   {timings['checks_s'] / f:4.2f} F")
    print(f"model loading (not counted in F):        {timings['load_s']:7.3f} s")


if __name__ == "__main__":
    main()
