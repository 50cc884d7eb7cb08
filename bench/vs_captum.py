"""Our token-occlusion sensitivity against Captum's `Occlusion`, same inputs and target function.

Both compute, for every token of every probe, f(x) - f(x with that token's input embedding set to
0), where f is the cosine between the probe's pooled final-layer output and its clean output
(auditor.models.torch_occlusion). Captum runs `Occlusion.attribute` with a (1, d) window, stride
(1, d) and baseline 0 on the same embedding batches, at each `perturbations_per_eval` in
--ppe; its best time is used. Timings are the best of --repeats, interleaved, in one process, on
the same device.

    python -m bench.vs_captum [--model PATH] [--probes SPEC] [--limit N] [--device D]

The last line is `captum/ours ratio: X` (target >= 1.5).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.vs_captum")
    parser.add_argument("--model", default=None, help="a transformers text model folder (default: the MiniLM)")
    parser.add_argument("--probes", default="builtin:text")
    parser.add_argument("--limit", type=int, default=48)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--ppe", default=None,
                        help="Captum perturbations_per_eval values to try (default 1,2,4,16,64 on CPU, "
                             "where its best lies between 2 and 4; 1 to 1024 on CUDA)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    from captum.attr import Occlusion

    from auditor import api
    from auditor.models.load import load_model
    from auditor.models.torch_occlusion import clean_reference, pooled_cosine_target, token_occlusion
    from auditor.probes import load_probes

    model = Path(args.model) if args.model else api.demo_model_path()
    adapter = load_model(model, device=args.device)
    if adapter.modality != "text" or not adapter.blocks:
        raise SystemExit("vs_captum compares token occlusion: give a transformers text model")
    probes = load_probes(args.probes, limit=args.limit)
    target = pooled_cosine_target(adapter)
    inputs = [clean_reference(adapter, b) for b in adapter.batches(probes, args.batch_size)]
    sync = torch.cuda.synchronize if adapter.device.startswith("cuda") else (lambda: None)

    def ours() -> list[np.ndarray]:
        return [token_occlusion(target, e, m, tt, ref) for e, m, tt, ref in inputs]

    def captum(ppe: int) -> list[np.ndarray]:
        occlusion = Occlusion(target)
        out = []
        with torch.inference_mode():
            for e, m, tt, ref in inputs:
                attr = occlusion.attribute(e, sliding_window_shapes=(1, e.shape[-1]), strides=(1, e.shape[-1]),
                                           baselines=0.0, additional_forward_args=(m, tt, ref),
                                           perturbations_per_eval=ppe)
                out.append(attr[..., 0].double().cpu().numpy())
        return out

    def timed(fn, *fn_args) -> tuple[float, list[np.ndarray]]:
        began = time.perf_counter()
        result = fn(*fn_args)
        sync()
        return time.perf_counter() - began, result

    default_ppe = "1,4,16,64,256,1024" if adapter.device.startswith("cuda") else "1,2,4,16,64"
    ppes = [int(p) for p in (args.ppe or default_ppe).split(",") if p.strip()]
    ours()                                # warm-up: allocator and kernels for every shape
    ours_times: list[float] = []
    timings: dict[int, float] = {}
    results: dict[int, list[np.ndarray]] = {}
    for _ in range(args.repeats):         # interleaved, so a busy machine slows both alike
        seconds, mine = timed(ours)
        ours_times.append(seconds)
        for ppe in ppes:
            seconds, results[ppe] = timed(captum, ppe)
            timings[ppe] = min(timings.get(ppe, seconds), seconds)
    ours_time = min(ours_times)
    best_ppe = min(timings, key=timings.get)
    diff = max(float(np.abs((a - b) * (m.cpu().numpy() > 0)).max())
               for a, b, (_, m, _, _) in zip(mine, results[best_ppe], inputs, strict=True))
    rows = sum(int(m.sum()) for _, m, _, _ in inputs)
    padded = sum(int(m.numel()) for _, m, _, _ in inputs)
    print(f"model: {model.name}, probes: {probes.count} ({args.probes}), batch size {args.batch_size}, "
          f"device {adapter.device}, threads {torch.get_num_threads()}")
    print(f"occluded copies: ours {rows} (valid tokens), Captum {padded} (every position of the padded batches)")
    for ppe in ppes:
        print(f"captum Occlusion, perturbations_per_eval={ppe:<4} {timings[ppe]:8.3f} s")
    print(f"ours (token_occlusion)                      {ours_time:8.3f} s")
    print(f"largest difference from Captum's attributions on valid tokens: {diff:.2e}")
    print(f"captum/ours ratio: {timings[best_ppe] / ours_time:.2f}")


if __name__ == "__main__":
    main()
