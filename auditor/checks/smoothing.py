"""flow.smoothing: do tokens become indistinguishable as information diffuses? (METHODS.md)

Special tokens ([CLS], [SEP], a vision model's class token) are left out of all three figures:
they act as aggregators and sinks, not as content positions, and would otherwise dominate the
similarity of short texts. Padding is always excluded. For vision transformers the Dirichlet
energy runs over the 2-D patch grid (4-neighbour), for text along the token chain.
"""
from __future__ import annotations

import numpy as np

from auditor.checks.base import AuditContext, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators.smoothing import figures
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
    title = "Smoothing and rank collapse"
    meaning = ("Whether the words (or image patches) of an input become indistinguishable inside the "
               "model, which would mean detail is being lost as information spreads out.")
    dimension = "flow"
    requires = frozenset({Capability.HIDDEN_STATES})
    captures = frozenset({"hidden"})
    metric_names = frozenset({"token_similarity", "rank_collapse_residual", "dirichlet_energy"})

    def accumulator(self, ctx: AuditContext) -> SmoothingStats:
        return SmoothingStats()

    def run(self, ctx: AuditContext) -> CheckResult:
        stats: SmoothingStats = ctx.accumulators[self.id]  # type: ignore[assignment]
        if not stats.sums or not stats.counts["token_similarity"].any():
            return CheckResult.skipped(self.id, "no sequence has two or more content tokens")
        metrics = {name: stats.means(name) for name in self.metric_names}
        residual = metrics["rank_collapse_residual"]
        similarity = metrics["token_similarity"]
        summary = (f"token similarity {_fmt(similarity[0])} at the embeddings and {_fmt(similarity[-1])} at the "
                   f"last layer; rank-collapse residual {_fmt(residual[-1])} at the last layer "
                   "(1 = tokens fully distinct, 0 = all identical)")
        return CheckResult(
            check_id=self.id, outcome="ok", summary=summary, metrics=metrics,
            evidence={"sequences": stats.counts["token_similarity"].tolist(),
                      "tokens": "valid non-special tokens; [CLS]/[SEP]/class tokens and padding excluded",
                      "neighbours": "2-D patch grid (4-neighbour)" if _is_grid(ctx) else "token chain"})


def _is_grid(ctx: AuditContext) -> bool:
    return ctx.identity.modality == "image"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
