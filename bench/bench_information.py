"""Cost of the information-plane estimators relative to the MiniLM capture pass (docs/METHODS.md, Cost).

Times every estimator of bottleneck.information_plane (KDE, Renyi, linear probe, effective rank) on
  - the real MiniLM pooled states of builtin:text (330 probes x 7 layer boundaries), and
  - N synthetic pooled vectors (d = 384, 6 labels) x 7 layers, N = 2000 by default,
and prints each against the capture pass (hidden states) and F measured in the same run. The capture
pass is linear in the probe count, so for N synthetic vectors it is scaled to N probes.
    .venv/bin/python bench/bench_information.py [--n 2000] [--device auto|cpu|cuda] [--repeats 3]
"""
from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--layers", type=int, default=7)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from auditor import api
    from auditor.capture import capture_pass
    from auditor.estimators.information import information_plane
    from auditor.models.load import load_model
    from auditor.probes import load_probes
    from auditor.splits import split_indices
    from bench.timing import best, prepared_forward

    probes = load_probes("builtin:text")
    adapter = load_model(api.demo_model_path(), device=args.device)
    _, plain = prepared_forward(adapter, probes, args.batch_size)

    traces = []
    f = best(plain, args.repeats)
    capture = best(lambda: traces.append(capture_pass(adapter, probes, frozenset({"hidden"}), {},
                                                      batch_size=args.batch_size, retain=False)), args.repeats)
    device = adapter.device
    adapter.close()

    labels = np.asarray(probes.labels)
    fit, score = split_indices(len(labels), list(labels))
    pooled = traces[-1].pooled
    information_plane(pooled[:2], labels, fit, score, device=device)        # warm-up: torch kernels
    real = best(lambda: information_plane(pooled, labels, fit, score, device=device), args.repeats)

    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, args.n)
    centres = rng.normal(size=(6, args.dim))
    # layers in which the labels separate progressively, so the probe and the estimators do real work
    synthetic = [(rng.normal(size=(args.n, args.dim)) + centres[y] * (layer / args.layers)).astype(np.float32)
                 for layer in range(args.layers)]
    s_fit, s_score = split_indices(args.n, list(y))
    synth = best(lambda: information_plane(synthetic, y, s_fit, s_score, device=device), args.repeats)
    scaled = capture * args.n / probes.count

    print(f"probes: {probes.count}, batch size {args.batch_size}, device {device}")
    rows = [("F (plain forward, inference_mode)", f, "1.00 F"),
            ("capture pass, hidden states", capture, f"{capture / f:.2f} F"),
            (f"estimators, MiniLM pooled {probes.count} x {len(pooled)} layers", real,
             f"{real / f:.2f} F = {real / capture:.2f} x the capture pass"),
            (f"estimators, synthetic {args.n} x {args.layers} layers, d={args.dim}", synth,
             f"{synth / scaled:.2f} x a capture pass of {args.n} probes ({scaled:.1f} s, scaled)")]
    for name, seconds, ratio in rows:
        print(f"{name + ':':<52} {seconds:8.3f} s   {ratio}")


if __name__ == "__main__":
    main()
