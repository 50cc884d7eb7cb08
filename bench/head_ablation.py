"""The cost and the figures of attention.structure's head ablation, on the MiniLM by default.

F = one plain forward pass over the whole probe set (the adapter's own forward, same batch size and
device, inference_mode). The capture pass is the one attention.structure asks for (hidden states,
attention maps, logits and the gradient pass for head importance); the ablation pass is the one
extra forward over the held-out probes with the candidate heads masked, batched as the capture pass
batched them. Each timing is the best of `--repeats`, interleaved with F.

    python -m bench.head_ablation [--model PATH] [--probes SPEC] [--limit N] [--rules 0.1 0.5]

With the default rule (relative_importance 0.1) the MiniLM has no candidate head, so nothing is
masked; the other rules are demonstrations of the measurement.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.head_ablation")
    parser.add_argument("--model", default=None, help="model folder (default: the MiniLM)")
    parser.add_argument("--probes", default="builtin:text")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rules", type=float, nargs="+", default=[0.1, 0.5], help="relative_importance values")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    from auditor import api
    from auditor.checks.attention import AttentionStructure, masked_pass
    from auditor.checks.base import AuditContext
    from auditor.models.load import load_model
    from auditor.probes import load_probes
    from auditor.runner import run_checks
    from auditor.trace import Trace

    model = Path(args.model) if args.model else api.demo_model_path()
    probes = load_probes(args.probes, limit=args.limit)
    adapter = load_model(model, device=args.device)
    batches = list(adapter.batches(probes, args.batch_size))
    for batch in batches[:2]:            # warm-up: allocator, kernels
        adapter.forward(batch)

    def forward_pass() -> float:
        began = time.perf_counter()
        for batch in batches:
            adapter.forward(batch)
        _sync(adapter.device)
        return time.perf_counter() - began

    forwards = [forward_pass()]
    print(f"model: {model.name}, probes: {probes.count} ({args.probes}), batch size {args.batch_size}, "
          f"device {adapter.device}")
    for rule in args.rules:
        ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(),
                           probes=probes, model_path=model, adapter=adapter)
        began = time.perf_counter()
        (result,) = run_checks([AttentionStructure(relative_importance=rule)], ctx, batch_size=args.batch_size)
        total = time.perf_counter() - began
        forwards.append(forward_pass())
        m, stats = result.metrics, ctx.accumulators["attention.structure"]
        heads = [(int(layer), int(head)) for layer, head in result.evidence.get("redundant") or []]
        ablation = []
        for _ in range(args.repeats if heads else 0):
            began = time.perf_counter()
            masked_pass(ctx, stats.groups, heads)
            _sync(adapter.device)
            ablation.append(time.perf_counter() - began)
            forwards.append(forward_pass())
        f = min(forwards)
        held_out = sum(len(g) for g in stats.groups)
        print(f"relative_importance {rule:g}: {int(m['redundant_heads'])} of {len(m['entropy']) * len(m['entropy'][0])}"
              f" heads are candidates ({m['prunable_attention_share']:.1%} of attention FLOPs)")
        if ablation:
            print(f"  masked together on {held_out} held-out probes: ablation_output_cos "
                  f"{m['ablation_output_cos']:.4f}, ablation_flip_rate {_pct(m['ablation_flip_rate'])}, "
                  f"low_effect_attention_share {m['low_effect_attention_share']:.3f}")
            print(f"  ablation pass: {min(ablation):.3f} s = {min(ablation) / f:.2f} F "
                  f"({held_out / probes.count:.0%} of the probes); attention.structure's capture pass and check "
                  f"together: {total:.3f} s = {total / f:.2f} F (ablation included)")
        else:
            print(f"  nothing masked: {result.evidence.get('ablation')}; capture pass and check: {total:.3f} s "
                  f"= {total / f:.2f} F")
        print(f"  summary: {result.summary}")
    print(f"F (plain forward, inference_mode): {min(forwards):.3f} s "
          f"(runs: {', '.join(f'{x:.2f}' for x in forwards)})")
    adapter.close()


def _pct(value: float | None) -> str:
    return "n/a (no prediction head)" if value is None else f"{value:.1%}"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
