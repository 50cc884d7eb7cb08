"""The information plane, layer by layer: every estimator of auditor.estimators.information on each layer.

`information_plane` measures each layer's pooled states against the same reference (the sampled
probes' labels and a shuffled control, X's Gram matrix, the KDE noise level calibrated on X); the
per-layer pairwise estimates and the reference are computed by the helpers below. It is used as
`auditor.estimators.information.information_plane` (that module hands it out on first use).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from auditor.estimators.blocked import Pairwise
from auditor.estimators.information import (
    _EPS,
    DEFAULT_K,
    DEFAULT_L2,
    DEFAULT_MAX_SAMPLES,
    DEFAULT_SIGMA_FRACTION,
    Labelling,
    _bandwidth,
    _calibrate,
    _device,
    _gaussian,
    _kde_terms,
    _KdeSums,
    _labelling,
    _renyi_entropy,
    _renyi_of,
    _same_label_sum,
    _single_thread,
    _standardised,
    label_entropy,
    linear_probe,
    subsample_indices,
)

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class InformationPlane:
    """Per-layer estimates ([L+1] lists, bits) and the settings that produced them."""

    mi_xt_kde: list[float]
    mi_ty_kde: list[float]
    mi_xt_renyi: list[float]
    mi_ty_renyi: list[float]
    probe_accuracy: list[float | None]
    mi_ty_probe_bound: list[float | None]
    compression: list[float | None]
    mi_ty_kde_shuffled: list[float]         # the same estimators with the labels shuffled: the floor that
    mi_ty_renyi_shuffled: list[float]       # independent labels reach (finite-sample bias)
    probe_cross_entropy: list[float | None]
    effective_rank: list[float | None]
    components: list[int]                   # PCA components kept per layer (<= k)
    renyi_bandwidths: list[float]           # median-heuristic h per layer
    input_bandwidth: float                  # the same for X
    input_information: float                # KDE I(X;X), the reference of `compression`
    sigma: float
    sigma_rule: str
    sample_size: int                        # probes in the pairwise (KDE, Renyi) estimators
    count: int                              # probes in the set
    chance_accuracy: float
    label_entropy: float                    # H(Y) of all probes, bits
    probe_label_entropy: float              # H(Y) of the scored probes, the bound's reference
    probe_correct: np.ndarray | None = field(default=None, compare=False)   # [scored, L+1], for intervals
    probe_nll: np.ndarray | None = field(default=None, compare=False)


_PER_LAYER = ("mi_xt_kde", "mi_ty_kde", "mi_xt_renyi", "mi_ty_renyi", "probe_accuracy", "mi_ty_probe_bound",
              "mi_ty_kde_shuffled", "mi_ty_renyi_shuffled", "probe_cross_entropy", "effective_rank", "components",
              "renyi_bandwidths")


class _Reference(NamedTuple):
    """What every layer is measured against: the sampled labels (and a shuffled control), X, the KDE noise."""

    labelling: Labelling
    control: Labelling                      # the labels shuffled: the floor independent labels reach
    s_y: float                              # Renyi-2 entropy of the label Gram matrix
    x: Pairwise                             # X's standardised points (its Gram matrix, block by block),
    hx: float                               # their bandwidth and Renyi entropy
    s_x: float
    sigma: float
    rule: str                               # how sigma was chosen
    input_information: float                # KDE I(X;X)


def _reference(x: np.ndarray, labels: np.ndarray, k: int, sigma: float | None, fraction: float, seed: int,
               dev: str) -> _Reference:
    """X [n, d] and the labels [n] of the sampled probes, as the layers are measured against them."""
    labelling = _labelling(labels, dev)
    p_y = labelling[0].sum(dim=0) / len(labels)
    px = Pairwise(_standardised(x, k, dev))
    sig = float(sigma) if sigma is not None else _calibrate(px, fraction)
    rule = f"fixed at {sig:.4g}" if sigma is not None else \
        f"calibrated so that I(X;X) = {fraction:g} x its ceiling (log2 N for distinct probes)"
    hx = _bandwidth(px)
    control = _labelling(np.random.default_rng([seed, 5151]).permutation(labels), dev)
    return _Reference(labelling, control, -math.log2(float((p_y * p_y).sum())), px, hx,
                      _renyi_entropy(px, hx), sig, rule, _kde_terms(px, sig, [])[0])


def _pairwise_terms(t: torch.Tensor, ref: _Reference) -> dict[str, Any]:
    """One layer's KDE and Renyi estimates (and their shuffled-label controls) from its standardised states,
    in one pass over row blocks of the layer's and X's distance matrices (never an N x N matrix)."""
    pt, n = Pairwise(t, ref.x.block_elements), t.shape[0]
    h = _bandwidth(pt)
    labellings = [ref.labelling, ref.control]
    kde = _KdeSums(t, n, labellings)
    zero = t.new_zeros(())
    # traces and sums of squares of K_T and K_X o K_T; per labelling L, tr((K_T o L)^2) = sum_i sum_{j ~ i} K_T[i, j]^2
    trace_t, squares_t, trace_xt, squares_xt = zero, zero, zero, zero
    same_squares = [zero, zero]
    for (start, d2), (_, d2x) in zip(pt.blocks(), ref.x.blocks(), strict=True):
        kt = _gaussian(d2.clone(), h)
        kde.add(start, d2.mul_(-0.5 / ref.sigma ** 2).exp_())
        del d2
        trace_t = trace_t + kt.diagonal(offset=start).sum()
        squares_t = squares_t + (kt * kt).sum()
        kxt = _gaussian(d2x, ref.hx).mul_(kt)
        trace_xt = trace_xt + kxt.diagonal(offset=start).sum()
        squares_xt = squares_xt + (kxt * kxt).sum()
        del kxt
        kt.mul_(kt)
        same_squares = [total + _same_label_sum(kt, lab, start).sum()
                        for total, lab in zip(same_squares, labellings, strict=True)]
    i_xt, (i_ty, i_ty_control) = kde.terms()
    s_t, s_xt = _renyi_of(float(trace_t), float(squares_t)), _renyi_of(float(trace_xt), float(squares_xt))
    s_ty, s_ty_control = (-math.log2(max(float(total) / n ** 2, _EPS)) for total in same_squares)
    return {"mi_xt_kde": i_xt, "mi_ty_kde": i_ty, "mi_xt_renyi": ref.s_x + s_t - s_xt,
            "mi_ty_renyi": s_t + ref.s_y - s_ty, "mi_ty_kde_shuffled": i_ty_control,
            "mi_ty_renyi_shuffled": s_t + ref.s_y - s_ty_control, "components": int(t.shape[1]),
            "renyi_bandwidths": h}


def information_plane(pooled: list[np.ndarray], labels: np.ndarray, fit: np.ndarray, score: np.ndarray, *,
                      inputs: np.ndarray | None = None, k: int = DEFAULT_K, sigma: float | None = None,
                      sigma_fraction: float = DEFAULT_SIGMA_FRACTION, max_samples: int = DEFAULT_MAX_SAMPLES,
                      seed: int = 0, l2: float = DEFAULT_L2, device: str = "cpu",
                      on_layer: Callable[[int], None] | None = None) -> InformationPlane:
    """Every estimator on T_l = z_l [N, d] for l = 0..L, with Y = labels [N] and X = `inputs` (default z_0).

    sigma: the KDE noise level in standardised units (unit total variance); None calibrates it on X.
    The KDE I(X;T_l) bounds what T_l keeps about the probe itself (T_l is a function of it), so it
    needs no X; `compression` divides it by the same bound for X. `on_layer(l)` runs after each layer.
    """
    from auditor.estimators.held_out import per_probe
    from auditor.estimators.spectra import participation_ratio

    labels, dev = np.asarray(labels).reshape(-1), _device(device)
    rows = subsample_indices(len(labels), max_samples, seed)
    # the pairwise estimators run as many small block operations: on the CPU, one thread each (a pool that
    # wakes and synchronises for every block costs more than it gains, and many times more on a busy machine)
    with _single_thread():
        ref = _reference(np.asarray(pooled[0] if inputs is None else inputs)[rows], labels[rows], k, sigma,
                         sigma_fraction, seed, dev)
    out: dict[str, list[Any]] = {name: [] for name in _PER_LAYER}
    probe, probes = None, []
    for layer, z in enumerate(pooled):
        with _single_thread():
            terms = _pairwise_terms(_standardised(np.asarray(z)[rows], k, dev), ref)
        probes.append(probe := linear_probe(z, labels, fit, score, k=k, l2=l2))
        terms.update(probe_accuracy=probe.accuracy, mi_ty_probe_bound=probe.bound,
                     probe_cross_entropy=probe.cross_entropy, effective_rank=participation_ratio(np.asarray(z)))
        for name, value in terms.items():
            out[name].append(value)
        if on_layer is not None:
            on_layer(layer)
    x_info = ref.input_information
    compression = [v / x_info if x_info > _EPS else None for v in out["mi_xt_kde"]]
    correct, nll = (per_probe([getattr(r, part) for r in probes], len(score)) for part in ("correct", "nll"))
    return InformationPlane(**out, compression=compression, input_bandwidth=ref.hx, input_information=x_info,
                            sigma=ref.sigma, sigma_rule=ref.rule, sample_size=len(rows), count=len(labels),
                            probe_correct=correct, chance_accuracy=probe.chance if probe else 0.0,
                            label_entropy=label_entropy(labels),
                            probe_label_entropy=probe.label_entropy if probe else 0.0, probe_nll=nll)
