"""Cost of perturbation.counterfactual inside the capture pass, in units of F, and its figures on MiniLM.

F = one plain forward pass over the probe set (bench.timing.prepared_forward). The capture pass is
timed with the flow.representation statistics alone and with the counterfactual pairs added (every
distinct pair text runs once, batched beside the probe batches); the difference over F is the extra
cost (issue 19's goal: at most 1 F). Then the check runs through the runner and its per-attribute
table is printed: shift at the last layer with its 95% interval, output cosine, flip rate, and the
first divergence. Figures are from this one run.
    .venv/bin/python -m bench.counterfactual_cost [--limit N] [--batch-size B] [--device auto|cpu|cuda]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-pairs", default="0,150", help="comma-separated max_pairs values to time (0 = all)")
    args = parser.parse_args()

    from auditor import api
    from auditor.capture import capture_pass
    from auditor.checks.base import AuditContext
    from auditor.checks.counterfactual import PerturbationCounterfactual
    from auditor.checks.representation import RepresentationStats
    from auditor.models.load import load_model
    from auditor.probes import load_probes
    from auditor.runner import run_checks
    from auditor.trace import Trace
    from bench.timing import prepared_forward

    model = api.demo_model_path()
    probes = load_probes("builtin:text", limit=args.limit)
    adapter = load_model(model, device=args.device)
    _, plain = prepared_forward(adapter, probes, args.batch_size)
    sizes = [int(v) for v in args.max_pairs.split(",")]

    def context() -> AuditContext:
        return AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(),
                            probes=probes, model_path=Path(model), adapter=adapter)

    def capture(max_pairs: int | None) -> None:
        accumulators = {"flow.representation": RepresentationStats()}
        if max_pairs is not None:
            accumulators["cf"] = PerturbationCounterfactual(max_pairs=max_pairs).accumulator(context())
        capture_pass(adapter, probes, frozenset({"hidden", "logits"}), accumulators, batch_size=args.batch_size)

    # interleaved, so that a busy spell on a shared machine hits every configuration alike; the CPU time
    # of this process is reported beside the wall time because other people's work barely moves it
    runs = {"F": plain, "without": lambda: capture(None),
            **{size: (lambda size=size: capture(size)) for size in sizes}}
    wall: dict[object, float] = {k: float("inf") for k in runs}
    cpu: dict[object, float] = {k: float("inf") for k in runs}
    for _ in range(args.repeats):
        for key, fn in runs.items():
            began, began_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[key] = min(wall[key], time.perf_counter() - began)
            cpu[key] = min(cpu[key], time.process_time() - began_cpu)
    results = {size: run_checks([PerturbationCounterfactual(max_pairs=size)], context(), batch_size=args.batch_size)[0]
               for size in sizes}
    adapter.close()
    print(f"probes: {probes.count}, batch size {args.batch_size}, device {adapter.device}")
    print("                                     wall (best)          CPU time of the process (best)")
    _line("F (plain forward, inference_mode)", wall, cpu, "F")
    _line("capture pass without the pairs", wall, cpu, "without")
    for size in sizes:
        ev = results[size].evidence
        print(f"\nmax_pairs {size}: {ev['pairs_run']} of {ev['pairs']['count']} pairs run "
              f"({ev['texts_run']} distinct texts)")
        _line("capture pass with the pairs", wall, cpu, size)
        extra_wall, extra_cpu = wall[size] - wall["without"], cpu[size] - cpu["without"]
        print(f"{'extra cost of the pairs':36s} {extra_wall:7.2f} s {extra_wall / wall['F']:5.2f} F     "
              f"{extra_cpu:7.2f} s {extra_cpu / cpu['F']:5.2f} F")
        print(f"pairs used {ev['pairs_used']}, left out as token-identical {ev['excluded_token_identical']}, "
              f"differing in token count {ev['token_count_differs']}; outputs from {ev['outputs']}")
        _table(results[size])


def _line(name: str, wall: dict, cpu: dict, key: object) -> None:
    print(f"{name:36s} {wall[key]:7.2f} s {wall[key] / wall['F']:5.2f} F     {cpu[key]:7.2f} s {cpu[key] / cpu['F']:5.2f} F")


def _table(result: object) -> None:
    m, ci = result.metrics, result.intervals  # type: ignore[attr-defined]
    shift, cos, flip = m["counterfactual_shift"], m["counterfactual_output_cos"] or {}, \
        m["counterfactual_flip_rate"] or {}
    print(f"{'attribute':26s} {'n':>4s} {'shift@0':>8s} {'shift@last [95% CI]':>26s} {'out cos':>8s} {'flips':>7s}")
    counts = result.evidence["pairs_by_attribute"]  # type: ignore[attr-defined]
    for key in ["overall", *sorted(k for k in shift if k != "overall")]:
        low, high = ci["counterfactual_shift"][key]["ci_low"][-1], ci["counterfactual_shift"][key]["ci_high"][-1]
        print(f"{key:26s} {counts.get(key, sum(counts.values())):4d} {_f(shift[key][0]):>8s} "
              f"{_f(shift[key][-1]) + ' [' + _f(low) + ', ' + _f(high) + ']':>26s} {_f(cos.get(key)):>8s} "
              f"{_f(flip.get(key)):>7s}")
    print("first divergence:", result.evidence["first_divergence"],  # type: ignore[attr-defined]
          "at threshold", result.evidence["threshold"])  # type: ignore[attr-defined]
    print("summary:", result.summary)  # type: ignore[attr-defined]


def _f(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
