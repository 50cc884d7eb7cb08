"""flow.smoothing: do tokens become indistinguishable as information diffuses? (docs/METHODS.md)

Special tokens ([CLS], [SEP], a vision model's class token) are left out of all three figures:
they act as aggregators and sinks, not as content positions, and would otherwise dominate the
similarity of short texts. Padding is always excluded. For vision transformers the Dirichlet
energy runs over the 2-D patch grid (4-neighbour), for text along the token chain.
"""
from __future__ import annotations

import numpy as np

from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators.smoothing import figures
from auditor.messages import Message
from auditor.models.base import Capability
from auditor.trace import TraceBatch


def content_tokens(batch: TraceBatch) -> np.ndarray:
    """Valid, non-special tokens [B, T]."""
    mask = batch.mask.astype(bool)
    return mask & ~batch.special if batch.special is not None else mask


class SmoothingStats:
    """Per-layer sums of per-sequence figures, and how many sequences each counts."""

    def __init__(self) -> None:
        self.sums: dict[str, np.ndarray] = {}
        self.counts: dict[str, np.ndarray] = {}

    def _add(self, name: str, layer: int, layers: int, values: np.ndarray) -> None:
        if name not in self.sums:
            self.sums[name], self.counts[name] = np.zeros(layers), np.zeros(layers)
        finite = np.isfinite(values)
        self.sums[name][layer] += values[finite].sum()
        self.counts[name][layer] += finite.sum()

    def update(self, batch: TraceBatch) -> None:
        content = content_tokens(batch)
        layers = len(batch.hidden)
        for layer, hidden in enumerate(batch.hidden):
            x = hidden.astype(np.float32, copy=False)
            for name, values in figures(x, content, batch.grid, batch.prefix_tokens).items():
                self._add(name, layer, layers, values)

    def means(self, name: str) -> list[float | None]:
        return [s / c if c else None for s, c in zip(self.sums[name], self.counts[name], strict=True)]


@register
class FlowSmoothing(Check):
    """Token similarity, rank-collapse residual and Dirichlet energy per layer boundary."""

    id = "flow.smoothing"
    dimension = "flow"
    requires = frozenset({Capability.HIDDEN_STATES})
    captures = frozenset({Capability.HIDDEN_STATES})
    metric_names = frozenset({"token_similarity", "rank_collapse_residual", "dirichlet_energy"})
    charts = (Chart("similarity", ("token_similarity", "rank_collapse_residual"), "line", "ratio"),)

    def accumulator(self, ctx: AuditContext) -> SmoothingStats:
        return SmoothingStats()

    def run(self, ctx: AuditContext) -> CheckResult:
        stats: SmoothingStats = ctx.accumulators[self.id]  # type: ignore[assignment]
        if not stats.sums or not stats.counts["token_similarity"].any():
            return CheckResult.skipped(self.id, Message("check.flow.smoothing.skip.no_content_tokens"))
        metrics = {name: stats.means(name) for name in self.metric_names}
        residual = metrics["rank_collapse_residual"]
        similarity = metrics["token_similarity"]
        # a layer whose sequences all lack two content tokens has no figure: None renders as n/a
        summary = Message("check.flow.smoothing.summary", {
            "first_similarity": similarity[0], "last_similarity": similarity[-1], "last_residual": residual[-1]})
        return CheckResult(
            check_id=self.id, outcome="ok", sentences=(summary,), metrics=metrics,
            evidence={"sequences": stats.counts["token_similarity"].tolist(),
                      "tokens": "valid non-special tokens; [CLS]/[SEP]/class tokens and padding excluded",
                      "neighbours": "2-D patch grid (4-neighbour)" if _is_grid(ctx) else "token chain"})


def _is_grid(ctx: AuditContext) -> bool:
    return ctx.identity.modality == "image"

