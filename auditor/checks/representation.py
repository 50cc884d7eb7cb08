"""flow.representation: how much each block changes the residual stream (METHODS.md)."""
from __future__ import annotations

import numpy as np

from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
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

    def update(self, batch: TraceBatch) -> None:
        mask = batch.mask.astype(np.float64)                       # [B, T]
        valid = np.maximum(mask.sum(axis=1), 1.0)                  # [B]
        ratios, cosines, norm_sums = [], [], []
        # two layers in float64 at a time: a large model's whole batch never sits in memory twice
        low = batch.hidden[0].astype(np.float64) * mask[:, :, None]
        n_low = np.linalg.norm(low, axis=2)                        # [B, T] token norms
        norm_sums.append(n_low.sum())
        for state in batch.hidden[1:]:
            high = state.astype(np.float64) * mask[:, :, None]
            n_high = np.linalg.norm(high, axis=2)
            frob_low = np.sqrt((n_low * n_low).sum(axis=1))        # [B] masked Frobenius norm
            diff = np.sqrt(((high - low) ** 2).sum(axis=(1, 2)))
            ratios.append((diff / np.maximum(frob_low, _EPS)).sum())
            cos = (low * high).sum(axis=2) / np.maximum(n_low * n_high, _EPS)   # [B, T]
            cosines.append(((cos * mask).sum(axis=1) / valid).sum())
            norm_sums.append(n_high.sum())
            low, n_low = high, n_high
        layer_norms = np.array(norm_sums)
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
        )
