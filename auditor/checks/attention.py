"""attention.structure: who looks at whom, and which heads matter (METHODS.md)."""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.checks._tasks import gradient_setup
from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators import attention as est
from auditor.messages import Message, render
from auditor.models.base import Capability
from auditor.trace import TraceBatch

# a head is a pruning candidate when its importance is below this fraction of the MEAN head's; a share of
# the total would depend on the head count (1% of the total is below average for 72 heads, above for 144)
RELATIVE_IMPORTANCE = 0.1
ROLLOUT_EXAMPLES = 3
# what `prunable_attention_share` is a share of, stated in the evidence
FLOPS_BASIS = ("share of attention FLOPs: per head and sequence of T tokens, QK^T and AV each take 2*T^2*d_head "
               "FLOPs, so a head costs 4*T^2*d_head of the model's L*H*4*T^2*d_head; with equal-width heads one "
               "head is 1/(L*H). The Q/K/V/output projections and the softmax are not counted")
NOT_ABLATED = "not measured: the candidate heads were not removed, so their effect on the outputs is unknown"


class AttentionStats:
    """Per-layer, per-head sums over the probes, gathered batch by batch."""

    def __init__(self, ctx: AuditContext) -> None:
        setup = gradient_setup(ctx)
        self.gradient_task = setup.task    # head importance comes from the same gradient pass
        self.pooling = ctx.identity.pooling
        self.sums: dict[str, np.ndarray] = {}
        self.counts: dict[str, np.ndarray] = {}
        self.importance: np.ndarray | None = None
        self.grad_rows = 0
        self.causal: bool | None = None
        self.rollout_special = 0.0
        self.rollout_rows = 0
        self.examples: list[dict[str, Any]] = []
        self.samples = 0

    def update(self, batch: TraceBatch) -> None:
        if not batch.attentions:
            return
        if self.causal is None:
            self.causal = est.is_causal(batch.attentions[0], batch.mask)
        per_layer = [est.head_stats(a, batch.mask, batch.special, causal=self.causal, grid=batch.grid,
                                    prefix=batch.prefix_tokens) for a in batch.attentions]
        for name in ("entropy", "distance", "sink"):
            values = np.stack([getattr(s, name) for s in per_layer], axis=1)     # [B, L, H]
            self._add(name, values)
        if batch.head_grad is not None and batch.grad_rows is not None and batch.grad_rows.any():
            part = batch.head_grad[batch.grad_rows].astype(np.float64).sum(axis=0)
            self.importance = part if self.importance is None else self.importance + part
            self.grad_rows += int(batch.grad_rows.sum())
        self._rollout(batch)
        self.samples += batch.size

    def _add(self, name: str, values: np.ndarray) -> None:
        finite = np.isfinite(values)
        total = np.where(finite, values, 0.0).sum(axis=0)
        count = finite.sum(axis=0)
        if name not in self.sums:
            self.sums[name], self.counts[name] = total, count
        else:
            self.sums[name] = self.sums[name] + total
            self.counts[name] = self.counts[name] + count

    def _rollout(self, batch: TraceBatch) -> None:
        tokens = batch.attentions[0].shape[-1]
        mask = batch.mask[:, :tokens]
        relevance = est.input_relevance(est.rollout(batch.attentions, mask), mask, self.pooling)   # [B, T]
        sinks = np.zeros_like(mask)
        sinks[:, 0] = True
        if batch.special is not None:
            sinks |= batch.special[:, :tokens]
        self.rollout_special += float((relevance * sinks).sum())
        self.rollout_rows += batch.size
        for row in range(min(batch.size, ROLLOUT_EXAMPLES - len(self.examples))):
            valid = mask[row]
            ids = batch.inputs.inputs.get("input_ids") if batch.inputs is not None else None
            self.examples.append({"probe": int(batch.index[row]),
                                  "token_ids": ids[row][valid[:ids.shape[1]]].tolist() if ids is not None else None,
                                  "relevance": relevance[row][valid].round(4).tolist()})

    def mean(self, name: str) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts[name] > 0, self.sums[name] / np.maximum(self.counts[name], 1), np.nan)


@register
class AttentionStructure(Check):
    """Entropy, distance and sink share per head; head importance from the gradient pass."""

    id = "attention.structure"
    dimension = "transparency"
    charts = (Chart("head_importance", ("head_importance",), "heatmap", "importance"),
              Chart("entropy", ("entropy",), "heatmap", "entropy"))
    requires = frozenset({Capability.ATTENTIONS})
    captures = frozenset({Capability.HIDDEN_STATES, Capability.ATTENTIONS, Capability.GRADIENTS})
    metric_names = frozenset({"entropy", "distance", "sink_share", "head_importance", "redundant_heads",
                              "prunable_attention_share", "mean_entropy", "rollout_special_share"})

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        return {"relative_importance": RELATIVE_IMPORTANCE}

    def accumulator(self, ctx: AuditContext) -> AttentionStats:
        return AttentionStats(ctx)

    def run(self, ctx: AuditContext) -> CheckResult:
        stats: AttentionStats = ctx.accumulators[self.id]  # type: ignore[assignment]
        if not stats.samples:
            return CheckResult.skipped(self.id, Message("check.attention.structure.skip.no_maps"))
        entropy, distance, sink = stats.mean("entropy"), stats.mean("distance"), stats.mean("sink")
        setup = gradient_setup(ctx)
        evidence: dict[str, Any] = {"causal": stats.causal, "samples": stats.samples,
                                    "rollout_examples": stats.examples,
                                    "sink_tokens": "special tokens and the first token"}
        importance = redundant = share = None
        if stats.importance is not None and stats.grad_rows:
            importance = stats.importance / stats.grad_rows                  # [L, H] mean |dLoss_b/dxi_h|
            found = low_importance_heads(importance, self.params["relative_importance"])
            redundant, share = found["redundant_heads"], found["prunable_attention_share"]
            evidence.update({**found["evidence"], "importance_loss": setup.description,
                             "importance_rows": stats.grad_rows, "label_source": setup.label_source,
                             # only these figures depend on the task's labels (findings.py reads this)
                             "label_metrics": ["head_importance", "redundant_heads", "prunable_attention_share"]})
        else:
            why = setup.reason or Message("check.attention.structure.no_head_mask")
            evidence["importance_missing"] = render(why, "en")
            evidence["importance_missing_message"] = why.to_json()
        metrics = {"entropy": entropy, "distance": distance, "sink_share": sink, "head_importance": importance,
                   "redundant_heads": redundant, "prunable_attention_share": share,
                   "mean_entropy": float(np.nanmean(entropy)),
                   "rollout_special_share": stats.rollout_special / max(stats.rollout_rows, 1)}
        return CheckResult(check_id=self.id, outcome="ok", sentences=_sentences(metrics, self.params["relative_importance"]),
                           metrics=metrics, evidence=evidence)


def low_importance_heads(importance: np.ndarray, relative: Any) -> dict[str, Any]:
    """Heads whose importance is below `relative` x the mean head's: count, share of attention FLOPs, evidence.

    Relative to the mean, so the same distribution of importance flags the same fraction of heads in a model
    of 72 heads and in one of 144. No head is removed here: the effect on the outputs is not measured."""
    if isinstance(relative, bool) or not isinstance(relative, (int, float)) or not 0 < relative <= 1:
        raise ValueError(f"template parameter relative_importance must be a number in (0, 1], not {relative!r}")
    importance = np.asarray(importance, dtype=np.float64)
    mean = float(importance.mean())
    threshold = relative * mean
    low = np.argwhere(importance < threshold)
    # every head of these models has the same width, so each costs 1/(L*H) of the attention FLOPs
    share = len(low) / importance.size
    ratio = importance / mean if mean > 0 else np.full_like(importance, np.nan)
    evidence = {"importance_rule": f"importance below {relative:g} x the mean head importance",
                "relative_importance": float(relative), "importance_threshold": threshold, "importance_mean": mean,
                "importance_relative": ratio, "importance_share": importance / max(float(importance.sum()), 1e-30),
                "redundant": low.tolist(), "compute_share_basis": FLOPS_BASIS, "ablation": NOT_ABLATED}
    return {"redundant_heads": int(len(low)), "prunable_attention_share": share, "evidence": evidence}


def _sentences(m: dict[str, Any], relative: float) -> tuple[Message, ...]:
    said = [Message("check.attention.structure.entropy", {"entropy": float(m["mean_entropy"])}),
            Message("check.attention.structure.sink", {"share": float(np.nanmean(m["sink_share"]))})]
    if m["redundant_heads"] is not None:
        said.append(Message("check.attention.structure.low_importance", {
            "low": int(m["redundant_heads"]), "heads": int(np.asarray(m["entropy"]).size),
            "relative": float(relative), "share": float(m["prunable_attention_share"])}))
    return tuple(said)
