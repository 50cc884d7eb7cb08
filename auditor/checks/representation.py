"""flow.representation: how much each block changes the residual stream (docs/METHODS.md)."""
from __future__ import annotations

import numpy as np

from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators import bootstrap
from auditor.estimators.spectra import participation_ratio
from auditor.messages import Message
from auditor.models.base import Capability
from auditor.trace import TraceBatch

_EPS = 1e-12


class RepresentationStats:
    """Per-layer sums over the probe set, gathered batch by batch (never all [N, T, d] at once)."""

    def __init__(self) -> None:
        self.samples = 0
        self.update_ratio_sum: np.ndarray | None = None    # [L] sum over samples
        self.cos_sum: np.ndarray | None = None             # [L] sum over samples of mean token cosine
        self.norm_sum: np.ndarray | None = None            # [L+1] sum of valid token norms
        self.tokens = 0
        # the same per probe ([B, L], [B, L], [B, L+1], [B]), for the intervals (bootstrap over probes)
        self.rows: dict[str, list[np.ndarray]] = {"ratio": [], "cos": [], "norm": [], "tokens": []}

    def update(self, batch: TraceBatch) -> None:
        mask = batch.mask.astype(np.float64)                       # [B, T]
        valid = np.maximum(mask.sum(axis=1), 1.0)                  # [B]
        ratios, cosines, norm_sums = [], [], []
        # two layers in float64 at a time: a large model's whole batch never sits in memory twice
        low = batch.hidden[0].astype(np.float64) * mask[:, :, None]
        n_low = np.linalg.norm(low, axis=2)                        # [B, T] token norms
        norm_sums.append(n_low.sum(axis=1))
        for state in batch.hidden[1:]:
            high = state.astype(np.float64) * mask[:, :, None]
            n_high = np.linalg.norm(high, axis=2)
            frob_low = np.sqrt((n_low * n_low).sum(axis=1))        # [B] masked Frobenius norm
            diff = np.sqrt(((high - low) ** 2).sum(axis=(1, 2)))
            ratios.append(diff / np.maximum(frob_low, _EPS))
            cos = (low * high).sum(axis=2) / np.maximum(n_low * n_high, _EPS)   # [B, T]
            cosines.append((cos * mask).sum(axis=1) / valid)
            norm_sums.append(n_high.sum(axis=1))
            low, n_low = high, n_high
        for name, part in (("ratio", ratios), ("cos", cosines), ("norm", norm_sums)):
            self.rows[name].append(np.stack(part, axis=1))
        self.rows["tokens"].append(mask.sum(axis=1))
        ratios, cosines = [r.sum() for r in ratios], [c.sum() for c in cosines]
        layer_norms = np.array([n.sum() for n in norm_sums])
        if self.update_ratio_sum is None:
            self.update_ratio_sum = np.zeros(len(ratios))
            self.cos_sum = np.zeros(len(cosines))
            self.norm_sum = np.zeros(len(layer_norms))
        self.update_ratio_sum += np.array(ratios)
        self.cos_sum += np.array(cosines)
        self.norm_sum += layer_norms
        self.samples += batch.size
        self.tokens += int(mask.sum())


@register
class RepresentationFlow(Check):
    """How much each block changes the residual stream."""

    id = "flow.representation"
    dimension = "flow"
    requires = frozenset({Capability.HIDDEN_STATES})
    captures = frozenset({Capability.HIDDEN_STATES})
    metric_names = frozenset({"update_ratio", "consecutive_cos", "effective_rank", "norm_growth"})
    step_metrics = frozenset({"update_ratio", "consecutive_cos"})
    charts = (Chart("update", ("update_ratio", "consecutive_cos"), "line", "ratio"),
              Chart("norm", ("norm_growth",), "line", "ratio"),
              Chart("rank", ("effective_rank",), "line", "rank"))

    def accumulator(self, ctx: AuditContext) -> RepresentationStats:
        return RepresentationStats()

    def run(self, ctx: AuditContext) -> CheckResult:
        stats: RepresentationStats = ctx.accumulators[self.id]  # type: ignore[assignment]
        if not stats.samples or stats.update_ratio_sum is None:
            return CheckResult.skipped(self.id, Message("check.flow.representation.skip.no_hidden_states"))
        update_ratio = stats.update_ratio_sum / stats.samples
        consecutive_cos = stats.cos_sum / stats.samples
        mean_norm = stats.norm_sum / max(stats.tokens, 1)
        norm_growth = mean_norm / max(mean_norm[0], _EPS)
        effective_rank = [participation_ratio(z) for z in ctx.trace.pooled]
        biggest = int(np.argmax(update_ratio))
        smallest = int(np.argmin(update_ratio))
        # blocks are numbered from 1 (block b maps layer b-1 to layer b), as the charts' step axis
        summary = Message("check.flow.representation.summary", {
            "biggest_block": biggest + 1, "biggest_ratio": float(update_ratio[biggest]),
            "smallest_block": smallest + 1, "smallest_ratio": float(update_ratio[smallest]),
            "final_norm_growth": float(norm_growth[-1])})
        return CheckResult(
            check_id=self.id, outcome="ok", sentences=(summary,),
            metrics={
                "update_ratio": update_ratio,          # [L]
                "consecutive_cos": consecutive_cos,    # [L]
                "effective_rank": effective_rank,      # [L+1]
                "norm_growth": norm_growth,            # [L+1]
            },
            evidence={"mean_token_norm": mean_norm.tolist(), "samples": stats.samples, "tokens": stats.tokens,
                      "pooling": ctx.trace.pooling},
            intervals=representation_intervals(stats, ctx.trace.pooled, ctx.seed),
        )


def _figures(r: dict[str, np.ndarray]) -> np.ndarray:
    """update_ratio [L], consecutive_cos [L], norm_growth [L+1] of a probe resample."""
    norm = r["norm"].sum(axis=0) / max(r["tokens"].sum(), 1.0)
    return np.concatenate([r["ratio"].mean(axis=0), r["cos"].mean(axis=0), norm / max(norm[0], _EPS)])


def rank_interval(pooled: list[np.ndarray], seed: int, max_probes: int = 4096) -> dict[str, list[float]] | None:
    """95% interval over probes of effective_rank [L+1], re-centred on the measured value (resampling
    biases this figure down); None above `max_probes` probes.

    A resample is a count vector w over the probes; with the Gram matrix G = Z Z^T, a = G w / n and
    b = w.a / n, the resample's covariance has n tr C = w.diag(G) - n b and
    n^2 ||C||_F^2 = w^T (G o G) w - 2n sum_i w_i a_i^2 + n^2 b^2, so every resample is two matrix
    products per layer (no [n, n] block gathered per resample).
    """
    count = len(pooled[0]) if pooled else 0
    if count < 2 or count > max_probes:
        return None
    draws = bootstrap.resample_indices(count, seed)
    weights = np.zeros((len(draws), count))
    np.add.at(weights, (np.repeat(np.arange(len(draws)), count), draws.ravel()), 1.0)   # [B, n]
    values = np.empty((len(draws), len(pooled)))
    for layer, z in enumerate(pooled):
        z = np.asarray(z, dtype=np.float64)
        gram = z @ z.T
        a = weights @ gram / count                                   # [B, n]
        b = (weights * a).sum(axis=1) / count                        # [B]
        trace = weights @ np.diag(gram) - count * b
        frob = ((weights @ (gram * gram)) * weights).sum(axis=1) - 2 * count * (weights * a * a).sum(axis=1) \
            + count * count * b * b
        with np.errstate(divide="ignore", invalid="ignore"):
            values[:, layer] = np.where(frob > 0, trace * trace / frob, np.nan)
    tail = 100 * (1 - bootstrap.LEVEL) / 2
    low, middle, high = (np.nanpercentile(values, q, axis=0) for q in (tail, 50.0, 100 - tail))
    # a resample holds about 63% distinct probes, and duplicated rows lower the participation ratio (by
    # ~15% on MiniLM): the bootstrap's spread is kept and placed at the measured value
    point = np.array([_rank(np.asarray(z, dtype=np.float64)) for z in pooled])
    return {"ci_low": (point - (middle - low)).tolist(), "ci_high": (point + (high - middle)).tolist()}


def _rank(z: np.ndarray) -> float:
    return float(participation_ratio(z) or np.nan)


def representation_intervals(stats: RepresentationStats, pooled: list[np.ndarray] | None,
                             seed: int) -> dict[str, dict[str, list[float]]]:
    """95% intervals over probes of the four metrics (all of them carry template rules)."""
    per_probe = {name: np.concatenate(parts) for name, parts in stats.rows.items() if parts}
    if len(per_probe) < 4 or per_probe["ratio"].shape[0] < 2:
        return {}
    low, high = bootstrap.interval(per_probe, _figures, seed=seed)
    steps = per_probe["ratio"].shape[1]
    parts = {"update_ratio": slice(0, steps), "consecutive_cos": slice(steps, 2 * steps),
             "norm_growth": slice(2 * steps, 3 * steps + 1)}
    out = {name: {"ci_low": low[part].tolist(), "ci_high": high[part].tolist()} for name, part in parts.items()}
    ranks = rank_interval(pooled or [], seed)
    if ranks is not None:
        out["effective_rank"] = ranks
    return out
