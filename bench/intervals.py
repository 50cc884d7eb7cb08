"""The extra cost of intervals (docs/METHODS.md, Uncertainty) on the standard audit, in units of F.

Intervals are recomputed from per-probe statistics the checks keep during the run (no forward pass):
their cost is the time spent in the bootstrap, measured by timing every call of
`auditor.estimators.bootstrap.interval` (through which mean_interval and ratio_interval go) and of
`representation.rank_interval` during one standard audit, against F (one plain forward pass over the
probe set, as bench.audit_overhead measures it) in the same process. Keeping the per-probe statistics
costs a few array appends per batch and is not counted. Target (issue 14): < 0.3 F.

    python -m bench.intervals [--model PATH] [--probes SPEC] [--limit N] [--template NAME]

The last line is `intervals/forward ratio: X`.
"""
from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def _timed(spent: dict[str, float], name: str, function: Any) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - began
    return wrapper


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.intervals")
    parser.add_argument("--model", default=None, help="model folder or file (default: the MiniLM)")
    parser.add_argument("--probes", default="builtin:text")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--template", default="standard")
    args = parser.parse_args(argv)

    from auditor import api
    from auditor.checks import representation
    from auditor.estimators import bootstrap
    from auditor.models.load import load_model
    from auditor.probes import load_probes

    model = Path(args.model) if args.model else api.demo_model_path()
    probes = load_probes(args.probes, limit=args.limit)
    adapter = load_model(model, device=args.device)
    batches = list(adapter.batches(probes, args.batch_size))
    for batch in batches[:2]:            # warm-up
        adapter.forward(batch)
    forwards = []
    for _ in range(3):
        began = time.perf_counter()
        for batch in batches:
            adapter.forward(batch)
        forwards.append(time.perf_counter() - began)
    device = adapter.device
    adapter.close()
    f = min(forwards)

    spent: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    original = bootstrap.interval

    def counted(*a: Any, **k: Any) -> Any:
        calls["bootstrap.interval"] += 1
        return original(*a, **k)

    bootstrap.interval = _timed(spent, "bootstrap.interval", counted)          # type: ignore[assignment]
    representation.rank_interval = _timed(spent, "representation.rank_interval",  # type: ignore[assignment]
                                          representation.rank_interval)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        request = api.AuditRequest(model=str(model), probes=args.probes, limit=args.limit, db=str(Path(tmp) / "b.db"),
                                   device=args.device, batch_size=args.batch_size, template=args.template)
        api.run_audit(request)
    audit = time.perf_counter() - began
    total = sum(spent.values())
    print(f"model: {model.name}, probes: {probes.count} ({args.probes}), template {args.template}, device {device}")
    print(f"F (plain forward): {f:.3f} s (runs: {', '.join(f'{x:.2f}' for x in forwards)})")
    for name, seconds in spent.items():
        extra = f", {calls[name]} calls" if name in calls else ""
        print(f"  {name:<32} {seconds:8.3f} s  {seconds / f:5.2f} F{extra}")
    print(f"audit incl. loading: {audit:.1f} s ({audit / f:.1f} F); intervals: {total:.3f} s, "
          f"{100 * total / audit:.1f}% of the audit")
    print(f"intervals/forward ratio: {total / f:.3f}")


if __name__ == "__main__":
    main()
