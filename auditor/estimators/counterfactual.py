"""Counterfactual sensitivity: how far a protected-attribute swap moves each layer and the output.

Pure numpy. Pair i is two texts that differ only in one attribute (auditor/probes/pairs.py).
Per layer the shift is mean ||h_a - h_b|| over pairs divided by mean ||h_a - h_a'|| over random
pairs of the same domain (h_a' the a-member of another probe), so 1.0 reads "as different as
unrelated sentences of the domain" and 0 "identical". Every figure gets a percentile bootstrap
interval whose resampling unit is the pair (or the cluster of pairs that share an a-member: one
sentence frame varied in several attributes is one probe, not several independent ones).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from auditor.estimators.bootstrap import LEVEL, ROUNDS, ratio_interval
from auditor.estimators.perturbation import log_softmax, row_cosine

OVERALL = "overall"
_EPS = 1e-12
_PARTNER_STREAM = 0xCF01   # the derangement's own seeded stream, apart from the bootstrap's


@dataclass(frozen=True)
class Estimate:
    """A figure with its percentile bootstrap interval."""

    value: float
    low: float
    high: float
    n: int          # pairs behind the figure


@dataclass(frozen=True)
class ShiftResult:
    """Per-layer shift, overall and per attribute; `random_distance` is the per-layer normaliser."""

    overall: tuple[Estimate, ...]
    by_attribute: dict[str, tuple[Estimate, ...]]
    random_distance: tuple[float, ...]
    partners: tuple[int, ...]       # pair i's random partner (-1: none in its domain; left out)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class OutputResult:
    """Output agreement between the members of each pair: cosine, KL(p_a || p_b) in nats, flip rate."""

    cosine: dict[str, Estimate]
    kl: dict[str, Estimate]
    flip_rate: dict[str, Estimate]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def random_partners(domains: Sequence[str | None], seed: int, probe_ids: Sequence[object] | None = None) -> np.ndarray:
    """[n] for each pair, another pair of the same domain whose a-member is a different probe.

    A fixed seeded derangement per domain: the domain's probes in a random order, each pair
    matched with the pair `s` places on (cyclically), where `s` is the largest number of pairs
    sharing one probe; with at least 2s pairs in the domain no pair lands on its own probe.
    -1 where the domain has no other probe (such pairs are left out of the shift).
    """
    ids = list(range(len(domains))) if probe_ids is None else list(probe_ids)
    rng = np.random.default_rng([seed & 0xFFFFFFFF, _PARTNER_STREAM])
    partners = np.full(len(domains), -1, dtype=np.int64)
    for domain in sorted({d or "" for d in domains}):
        members = [i for i, d in enumerate(domains) if (d or "") == domain]
        groups: dict[object, list[int]] = {}
        for i in members:
            groups.setdefault(ids[i], []).append(i)
        keys = list(groups)
        order = [i for k in rng.permutation(len(keys)) for i in groups[keys[int(k)]]]
        step = max(len(g) for g in groups.values())
        if len(keys) < 2:
            continue
        for pos, i in enumerate(order):
            j = order[(pos + step) % len(order)]
            if ids[j] != ids[i]:      # only possible to fail when one probe holds over half the domain
                partners[i] = j
    return partners


def layer_shift(h_a: np.ndarray, h_b: np.ndarray, attributes: Sequence[str], domains: Sequence[str | None],
                *, seed: int, probe_ids: Sequence[object] | None = None, rounds: int = ROUNDS,
                level: float = LEVEL) -> ShiftResult:
    """Shift per layer, overall and per attribute, from pooled representations [layers, pairs, dim]."""
    h_a, h_b = np.asarray(h_a, dtype=np.float64), np.asarray(h_b, dtype=np.float64)
    if h_a.ndim != 3 or h_a.shape != h_b.shape or h_a.shape[1] != len(attributes) or len(domains) != len(attributes):
        raise ValueError(f"representations {h_a.shape} and {h_b.shape} do not match {len(attributes)} pairs")
    partners = random_partners(domains, seed, probe_ids)
    used = partners >= 0
    pair_dist = np.linalg.norm(h_a - h_b, axis=2).T                     # [pairs, layers]
    rand_dist = np.zeros_like(pair_dist)
    rand_dist[used] = np.linalg.norm(h_a[:, used] - h_a[:, partners[used]], axis=2).T
    clusters = _cluster_ids(probe_ids, len(attributes))
    attrs = np.asarray(attributes, dtype=object)

    def estimates(select: np.ndarray) -> tuple[Estimate, ...]:
        rows = select & used
        n = int(rows.sum())
        if n == 0:
            return tuple(Estimate(float("nan"), float("nan"), float("nan"), 0) for _ in range(h_a.shape[0]))
        num, den = _cluster_sums(pair_dist[rows], clusters[rows]), _cluster_sums(rand_dist[rows], clusters[rows])
        value = _safe_ratio(num.sum(axis=0), den.sum(axis=0))
        low, high = ratio_interval(num, den, seed=seed, rounds=rounds, level=level)
        return tuple(Estimate(float(v), float(lo), float(hi), n) for v, lo, hi in zip(value, low, high, strict=True))

    by_attribute = {a: estimates(attrs == a) for a in sorted(set(attributes))}
    mean_random = rand_dist[used].mean(axis=0) if used.any() else np.full(h_a.shape[0], np.nan)
    return ShiftResult(overall=estimates(np.ones(len(attributes), dtype=bool)), by_attribute=by_attribute,
                       random_distance=tuple(float(x) for x in mean_random), partners=tuple(int(p) for p in partners))


def output_agreement(out_a: np.ndarray, out_b: np.ndarray, attributes: Sequence[str], *, seed: int,
                     probabilities: bool = False, probe_ids: Sequence[object] | None = None,
                     rounds: int = ROUNDS, level: float = LEVEL) -> OutputResult:
    """Cosine of the output vectors, KL(p_a || p_b) and argmax flips, overall and per attribute.

    `out_a`, `out_b` [pairs, classes]: logits (softmax taken for KL), or probabilities when
    `probabilities` (renormalised; a zero where the other member is positive is clipped to 1e-12).
    """
    out_a, out_b = np.asarray(out_a, dtype=np.float64), np.asarray(out_b, dtype=np.float64)
    if out_a.ndim != 2 or out_a.shape != out_b.shape or out_a.shape[0] != len(attributes):
        raise ValueError(f"outputs {out_a.shape} and {out_b.shape} do not match {len(attributes)} pairs")
    if probabilities:
        log_p = np.log(np.maximum(out_a / out_a.sum(axis=1, keepdims=True), _EPS))
        log_q = np.log(np.maximum(out_b / out_b.sum(axis=1, keepdims=True), _EPS))
        p = out_a / out_a.sum(axis=1, keepdims=True)
    else:
        log_p, log_q = log_softmax(out_a), log_softmax(out_b)
        p = np.exp(log_p)
    kl = np.maximum(np.where(p > 0, p * (log_p - log_q), 0.0).sum(axis=1), 0.0)
    per_pair = {"cosine": row_cosine(out_a, out_b), "kl": kl,
                "flip_rate": (out_a.argmax(axis=1) != out_b.argmax(axis=1)).astype(np.float64)}
    clusters = _cluster_ids(probe_ids, len(attributes))
    attrs = np.asarray(attributes, dtype=object)
    selections = {OVERALL: np.ones(len(attributes), dtype=bool)}
    selections.update({a: attrs == a for a in sorted(set(attributes))})
    results: dict[str, dict[str, Estimate]] = {name: {} for name in per_pair}
    for name, values in per_pair.items():
        for key, rows in selections.items():
            results[name][key] = _mean_estimate(values[rows], clusters[rows], seed, rounds, level)
    return OutputResult(**results)


def first_divergence(shift_by_attribute: Mapping[str, Sequence[Estimate]], threshold: float) -> tuple[str, int] | None:
    """(attribute, layer) of the earliest layer where an attribute's shift is above `threshold`.

    Read on the interval's lower bound, not the point value: a claim that the attribute moves
    the representation at layer l needs the whole interval above the threshold, or the claim
    could be resampling noise. Ties at one layer go to the largest lower bound, then the name.
    """
    layers = max((len(v) for v in shift_by_attribute.values()), default=0)
    for layer in range(layers):
        above = [(-est[layer].low, attr) for attr, est in shift_by_attribute.items()
                 if layer < len(est) and np.isfinite(est[layer].low) and est[layer].low > threshold]
        if above:
            return min(above)[1], layer
    return None


def _mean_estimate(values: np.ndarray, clusters: np.ndarray, seed: int, rounds: int, level: float) -> Estimate:
    if values.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    sums = _cluster_sums(values[:, None], clusters)
    counts = _cluster_sums(np.ones((values.size, 1)), clusters)
    low, high = ratio_interval(sums, counts, seed=seed, rounds=rounds, level=level)
    return Estimate(float(values.mean()), float(low[0]), float(high[0]), int(values.size))


def _cluster_ids(probe_ids: Sequence[object] | None, count: int) -> np.ndarray:
    """[pairs] integer cluster of each pair: the pair itself, or its probe when given."""
    if probe_ids is None:
        return np.arange(count)
    if len(probe_ids) != count:
        raise ValueError(f"{len(probe_ids)} probe ids for {count} pairs")
    index: dict[object, int] = {}
    return np.array([index.setdefault(p, len(index)) for p in probe_ids], dtype=np.int64)


def _cluster_sums(rows: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """[clusters present, columns] sums of `rows` per cluster: resampling these resamples clusters."""
    _, inverse = np.unique(clusters, return_inverse=True)
    sums = np.zeros((int(inverse.max()) + 1, rows.shape[1]))
    np.add.at(sums, inverse, rows)
    return sums


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
