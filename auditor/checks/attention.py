"""attention.structure: who looks at whom, and which heads matter (docs/METHODS.md)."""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.checks._tasks import gradient_setup
from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators import attention as est
from auditor.estimators import device_ops as ops
from auditor.messages import Message, render
from auditor.models.base import Capability, HeadMaskable
from auditor.trace import TraceBatch

# a head is a pruning candidate when its importance is below this fraction of the MEAN head's; a share of
# the total would depend on the head count (1% of the total is below average for 72 heads, above for 144)
RELATIVE_IMPORTANCE = 0.1
ROLLOUT_EXAMPLES = 3
# what `prunable_attention_share` is a share of, stated in the evidence
FLOPS_BASIS = ("share of attention FLOPs: per head and sequence of T tokens, QK^T and AV each take 2*T^2*d_head "
               "FLOPs, so a head costs 4*T^2*d_head of the model's L*H*4*T^2*d_head; with equal-width heads one "
               "head is 1/(L*H). The Q/K/V/output projections and the softmax are not counted")
# "little effect" is said only when masking the candidates together keeps at least this output cosine and
# changes at most this share of predictions (template parameters min_output_cos, max_flip_rate)
MIN_OUTPUT_COS = 0.99
MAX_FLIP_RATE = 0.01
ABLATION_METHOD = ("the candidate heads were masked together (their outputs zeroed before the attention output "
                   "projection) in one extra forward pass over the held-out probes, batched as in the capture pass, "
                   "and compared with the same probes' unmasked outputs from the capture pass")


class AttentionStats:
    """Per-layer, per-head sums over the probes, gathered batch by batch.

    The maps are reduced where they were captured (on the model's device for a PyTorch model,
    estimators.device_ops); sums stay there as [L, H] tensors and come to the host when the check runs."""

    def __init__(self, ctx: AuditContext) -> None:
        setup = gradient_setup(ctx)
        self.gradient_task = setup.task    # head importance comes from the same gradient pass
        self.pooling = ctx.identity.pooling
        self.sums: dict[str, Any] = {}
        self.counts: dict[str, Any] = {}
        self.importance: np.ndarray | None = None
        self.grad_rows = 0
        self.causal: bool | None = None
        self.rollout_special: Any = 0.0
        self.rollout_rows = 0
        self.examples: list[dict[str, Any]] = []
        self.samples = 0
        _fit, score = ctx.fit_score_split()
        self.scored = np.zeros(int(ctx.probes.count), dtype=bool)
        self.scored[score] = True
        # the held-out probes as the capture pass batched them, with their unmasked outputs (for the ablation)
        self.groups: list[np.ndarray] = []
        self.clean = ops.Parts()
        self.predictions = ops.Parts()

    def update(self, batch: TraceBatch) -> None:
        attentions = batch.device_attentions
        if not attentions:
            return
        mask = batch.device_mask
        if self.causal is None:
            self.causal = ops.is_causal(attentions[0], mask)
        per_layer = [ops.head_stats(a, mask, batch.device_special, causal=self.causal, grid=batch.grid,
                                    prefix=batch.prefix_tokens) for a in attentions]
        for name in ("entropy", "distance", "sink"):
            values = ops.stack([getattr(s, name) for s in per_layer], axis=1)     # [B, L, H]
            self._add(name, values)
        if batch.head_grad is not None and batch.grad_rows is not None and batch.grad_rows.any():
            part = batch.head_grad[batch.grad_rows].astype(np.float64).sum(axis=0)
            self.importance = part if self.importance is None else self.importance + part
            self.grad_rows += int(batch.grad_rows.sum())
        self._rollout(batch)
        self._keep_scored(batch)
        self.samples += batch.size

    def _keep_scored(self, batch: TraceBatch) -> None:
        rows = self.scored[np.asarray(batch.index)]
        hidden = batch.device_hidden
        if not rows.any() or not hidden:
            return
        self.groups.append(np.asarray(batch.index)[rows])
        mask = ops.rows(batch.device_mask, rows)
        self.clean.append(ops.pool(ops.rows(hidden[-1], rows), mask, self.pooling))
        if batch.device_logits is not None:
            self.predictions.append(ops.last_valid(ops.rows(batch.device_logits, rows), mask).argmax(-1))

    def _add(self, name: str, values: Any) -> None:
        total, count = ops.finite_sum(values)
        if name not in self.sums:
            self.sums[name], self.counts[name] = total, count
        else:
            self.sums[name] = self.sums[name] + total
            self.counts[name] = self.counts[name] + count

    def _rollout(self, batch: TraceBatch) -> None:
        attentions = batch.device_attentions
        tokens = attentions[0].shape[-1]
        mask = batch.device_mask[:, :tokens]
        relevance = ops.input_relevance(ops.rollout(attentions, mask), mask, self.pooling)   # [B, T]
        sinks = ops.like(_sink_tokens(batch.mask[:, :tokens], batch.special), relevance)
        self.rollout_special = self.rollout_special + (relevance * sinks).sum()
        self.rollout_rows += batch.size
        shown = min(batch.size, ROLLOUT_EXAMPLES - len(self.examples))
        if shown <= 0:
            return
        relevance = ops.host(relevance[:shown])   # the first few probes only, for the evidence
        for row in range(shown):
            valid = batch.mask[row, :tokens]
            ids = batch.inputs.inputs.get("input_ids") if batch.inputs is not None else None
            self.examples.append({"probe": int(batch.index[row]),
                                  "token_ids": ids[row][valid[:ids.shape[1]]].tolist() if ids is not None else None,
                                  "relevance": relevance[row][valid].round(4).tolist()})

    def mean(self, name: str) -> np.ndarray:
        sums, counts = ops.host(self.sums[name]), ops.host(self.counts[name])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _sink_tokens(mask: np.ndarray, special: np.ndarray | None) -> np.ndarray:
    """[B, T] the first token and the special tokens: where rollout relevance counts as sunk."""
    sinks = np.zeros_like(mask, dtype=bool)
    sinks[:, 0] = True
    if special is not None:
        sinks |= special[:, :mask.shape[1]]
    return sinks


@register
class AttentionStructure(Check):
    """Entropy, distance and sink share per head; head importance from the gradient pass."""

    id = "attention.structure"
    dimension = "transparency"
    charts = (Chart("head_importance", ("head_importance",), "heatmap", "importance"),
              Chart("entropy", ("entropy",), "heatmap", "entropy"))
    requires = frozenset({Capability.ATTENTIONS})
    captures = frozenset({Capability.HIDDEN_STATES, Capability.ATTENTIONS, Capability.GRADIENTS,
                          Capability.LOGITS})
    metric_names = frozenset({"entropy", "distance", "sink_share", "head_importance", "redundant_heads",
                              "prunable_attention_share", "mean_entropy", "rollout_special_share",
                              "ablation_output_cos", "ablation_flip_rate", "low_effect_attention_share"})

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        return {"relative_importance": RELATIVE_IMPORTANCE, "min_output_cos": MIN_OUTPUT_COS,
                "max_flip_rate": MAX_FLIP_RATE}

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
        candidates: list[list[int]] | None = None
        if stats.importance is not None and stats.grad_rows:
            importance = stats.importance / stats.grad_rows                  # [L, H] mean |dLoss_b/dxi_h|
            found = low_importance_heads(importance, self.params["relative_importance"])
            redundant, share = found["redundant_heads"], found["prunable_attention_share"]
            candidates = found["evidence"]["redundant"]
            evidence.update({**found["evidence"], "importance_loss": setup.description,
                             "importance_rows": stats.grad_rows, "label_source": setup.label_source,
                             # only these figures depend on the task's labels (findings.py reads this); the
                             # ablation's do too, through the choice of candidate heads
                             "label_metrics": ["head_importance", "redundant_heads", "prunable_attention_share",
                                               "ablation_output_cos", "ablation_flip_rate",
                                               "low_effect_attention_share"]})
        else:
            why = setup.reason or Message("check.attention.structure.no_head_mask")
            evidence["importance_missing"] = render(why, "en")
            evidence["importance_missing_message"] = why.to_json()
        ablation = self._ablation(ctx, stats, candidates, share)
        evidence.update(ablation.pop("evidence"))
        unmeasured: Message | None = ablation.pop("reason", None)
        metrics = {"entropy": entropy, "distance": distance, "sink_share": sink, "head_importance": importance,
                   "redundant_heads": redundant, "prunable_attention_share": share,
                   "mean_entropy": float(np.nanmean(entropy)),
                   "rollout_special_share": float(stats.rollout_special) / max(stats.rollout_rows, 1), **ablation}
        sentences = _sentences(metrics, self.params, unmeasured)
        # the low-effect share rests on the masked pass: its finding states that measurement too
        measured = [m.to_json() for m in sentences if m.key.startswith("check.attention.structure.ablation.")]
        if measured:
            evidence["backing"] = {"low_effect_attention_share": measured}
        return CheckResult(check_id=self.id, outcome="ok", sentences=sentences, metrics=metrics, evidence=evidence)

    def _ablation(self, ctx: AuditContext, stats: AttentionStats, candidates: list[list[int]] | None,
                  share: float | None) -> dict[str, Any]:
        """The candidates masked together on the held-out probes: ablation metrics and their evidence."""
        none = {"ablation_output_cos": None, "ablation_flip_rate": None}
        reason = _unmeasurable(ctx, stats, candidates)
        if reason is not None:
            # no candidates: nothing to prune, a measured zero; otherwise the share is unknown
            low_effect = 0.0 if candidates == [] else None
            return {**none, "low_effect_attention_share": low_effect, "reason": reason,
                    "evidence": {"ablation": render(reason, "en"), "ablation_message": reason.to_json()}}
        heads = [(int(layer), int(head)) for layer, head in candidates or []]
        masked, predicted = masked_pass(ctx, stats.groups, heads)
        clean = stats.clean.host()
        clean_pred = stats.predictions.host() if stats.predictions and predicted is not None else None
        cos, flips = est.ablation_effect(clean, masked, clean_pred, predicted)
        little = est.little_effect(cos, flips, float(self.params["min_output_cos"]),
                                   float(self.params["max_flip_rate"]))
        rule = (f"little effect: ablation_output_cos >= {self.params['min_output_cos']:g}"
                + (f" and ablation_flip_rate <= {self.params['max_flip_rate']:g}" if flips is not None else ""))
        return {"ablation_output_cos": cos, "ablation_flip_rate": flips,
                "low_effect_attention_share": float(share or 0.0) if little else 0.0,
                "evidence": {"ablation": {"method": ABLATION_METHOD, "heads": [list(h) for h in heads],
                                          "probes": int(clean.shape[0]), "output": f"pooled final state ({stats.pooling})",
                                          "predictions": "the model's own head" if flips is not None else None,
                                          "rule": rule, "little_effect": little}}}


def _unmeasurable(ctx: AuditContext, stats: AttentionStats, candidates: list[list[int]] | None) -> Message | None:
    """Why the candidates' joint effect cannot be measured (None: it can)."""
    if not isinstance(ctx.adapter, HeadMaskable):
        return Message("check.attention.structure.ablation.no_hooks", {"format": ctx.identity.format})
    if candidates is None:
        return Message("check.attention.structure.ablation.no_importance")
    if not candidates:
        return Message("check.attention.structure.ablation.no_candidates")
    problem = ctx.adapter.head_mask_problem()
    if problem is not None:
        return problem
    if not stats.groups:
        return Message("check.attention.structure.ablation.no_scored")
    return None


def masked_pass(ctx: AuditContext, groups: list[np.ndarray], heads: list[tuple[int, int]]
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Pooled outputs [N, d] and predictions [N] (None without a head) of the held-out probes with `heads`
    masked, one batch per capture batch (`groups`: its held-out probe indices), in the same order."""
    from auditor.errors import Cancelled

    pooled: list[np.ndarray] = []
    predicted: list[np.ndarray] = []
    for group in groups:
        if ctx.should_stop():
            raise Cancelled("attention.structure")
        for batch in ctx.adapter.batches(ctx.probes.subset(group), len(group)):
            out = ctx.adapter.mask_heads(batch, heads)
            pooled.append(out.pooled)
            if out.logits is not None:
                predicted.append(out.logits.argmax(axis=-1))
    return np.concatenate(pooled), (np.concatenate(predicted) if predicted else None)


def low_importance_heads(importance: np.ndarray, relative: Any) -> dict[str, Any]:
    """Heads whose importance is below `relative` x the mean head's: count, share of attention FLOPs, evidence.

    Relative to the mean, so the same distribution of importance flags the same fraction of heads in a model
    of 72 heads and in one of 144. No head is removed here (AttentionStructure._ablation measures that)."""
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
                "redundant": low.tolist(), "compute_share_basis": FLOPS_BASIS}
    return {"redundant_heads": int(len(low)), "prunable_attention_share": share, "evidence": evidence}


def _sentences(m: dict[str, Any], params: dict[str, Any], unmeasured: Message | None = None) -> tuple[Message, ...]:
    """The summary; the ablation's clause says "little effect" only when est.little_effect holds."""
    said = [Message("check.attention.structure.entropy", {"entropy": float(m["mean_entropy"])}),
            Message("check.attention.structure.sink", {"share": float(np.nanmean(m["sink_share"]))})]
    if m["redundant_heads"] is not None:
        said.append(Message("check.attention.structure.low_importance", {
            "low": int(m["redundant_heads"]), "heads": int(np.asarray(m["entropy"]).size),
            "relative": float(params["relative_importance"]), "share": float(m["prunable_attention_share"])}))
    cos, flips = m.get("ablation_output_cos"), m.get("ablation_flip_rate")
    if cos is not None:
        min_cos, max_flips = float(params["min_output_cos"]), float(params["max_flip_rate"])
        little = est.little_effect(float(cos), flips, min_cos, max_flips)
        key = "check.attention.structure.ablation." + ("little" if little else "large") + \
            ("" if flips is not None else "_no_head")
        said.append(Message(key, {"count": int(m["redundant_heads"] or 0), "cos": float(cos),
                                  "flips": None if flips is None else float(flips),
                                  "min_cos": min_cos, "max_flips": max_flips}))
    elif m["redundant_heads"] and unmeasured is not None:
        said.append(Message("check.attention.structure.ablation.not_measured", {"reason": unmeasured}))
    return tuple(said)
