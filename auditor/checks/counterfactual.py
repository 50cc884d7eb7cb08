"""perturbation.counterfactual: how far a protected-attribute swap moves each layer and the output.

Pairs of texts that differ only in a protected attribute (auditor/probes/pairs.py: the built-in
pairs, or the user's `--pairs FILE`) run inside the one capture pass (checks/_counterfactual_pass.py);
the estimator is auditor/estimators/counterfactual.py (docs/METHODS.md, Counterfactual sensitivity).
Pairs whose members reach the model as the same token ids are left out of every figure: the model
saw one input twice, and their zero would read as insensitivity.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.checks._counterfactual_pass import PairStats, sample_pairs
from auditor.checks._tasks import shared_probe_head
from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators import counterfactual as est
from auditor.estimators.probe_head import predict
from auditor.messages import Message, has, verbatim
from auditor.models.base import Capability
from auditor.probes.pairs import PairSet, builtin_pairs

CHECK_ID = "perturbation.counterfactual"
PAIRS_KEY = "counterfactual_pairs"     # ctx.shared: the user's PairSet (--pairs); absent: the built-in pairs
SOURCE_KEY = "counterfactual_pairs_source"   # ctx.shared: the set the pairs run were taken from
SHIFT, COS, KL, FLIP = ("counterfactual_shift", "counterfactual_output_cos", "counterfactual_output_kl",
                        "counterfactual_flip_rate")
TOP_PAIRS = 5   # the pairs that moved the output most, quoted in the evidence


@register
class PerturbationCounterfactual(Check):
    """Per-layer shift between pair members (normalised by random same-domain pairs) and output agreement."""

    id = CHECK_ID
    dimension = "robustness"
    charts = (Chart("shift", (SHIFT,), "line", "ratio"),
              Chart("output_similarity", (COS,), "bars", "cos"),
              Chart("changed_predictions", (FLIP,), "bars", "rate"))
    requires = frozenset({Capability.HIDDEN_STATES})
    captures = frozenset({Capability.HIDDEN_STATES, Capability.LOGITS})
    metric_names = frozenset({SHIFT, COS, KL, FLIP})

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        # threshold: the shift whose crossing (by the interval's lower bound) marks the first divergence
        # max_pairs: run about this many pairs (whole frames, seeded; 0 = all), to bound the pass's cost
        return {"threshold": 0.5, "max_pairs": 0}

    def skip_reason(self, ctx: AuditContext) -> Message | None:
        if ctx.identity.modality != "text":
            kind = str(ctx.identity.modality)
            # the kind of input in words of the report's language, or as stored when we have no words for it
            word = Message(f"counterfactual.modality.{kind}") if has(f"counterfactual.modality.{kind}") else verbatim(kind)
            return Message("check.perturbation.counterfactual.skip.not_text", {"modality": word})
        return None

    def accumulator(self, ctx: AuditContext) -> PairStats:
        head = None if Capability.LOGITS in ctx.capabilities else shared_probe_head(ctx)
        pairs = pairs_of(ctx)
        ctx.shared[SOURCE_KEY] = pairs
        return PairStats(ctx, sample_pairs(pairs, int(self.params["max_pairs"]), ctx.seed), head)

    def run(self, ctx: AuditContext) -> CheckResult:
        stats: PairStats = ctx.accumulators[self.id]  # type: ignore[assignment]
        if not stats.seen:
            return CheckResult.skipped(self.id, Message("check.perturbation.counterfactual.skip.no_batch"))
        stats.finish()
        pairs, source = stats.pairs, ctx.shared.get(SOURCE_KEY, stats.pairs)
        identical, differs = stats.token_identical(), stats.token_count_differs()
        keep = np.flatnonzero(~identical)
        if keep.size == 0:
            return CheckResult.skipped(self.id, Message("check.perturbation.counterfactual.skip.all_identical",
                                                        {"total": pairs.count}))
        threshold = float(self.params["threshold"])
        evidence: dict[str, Any] = {
            "pairs": source.describe(), "pairs_run": pairs.count, "max_pairs": int(self.params["max_pairs"]),
            "pairs_used": int(keep.size), "texts_run": len(stats.texts),
            "excluded_token_identical": int(identical.sum()),
            "excluded_pairs": stats.describe_pairs(np.flatnonzero(identical)),
            "token_count_differs": int(differs[keep].sum()),
            "token_count_differs_pairs": [int(i) for i in np.flatnonzero(differs & ~identical)],
            "threshold": threshold, "seed": ctx.seed,
            "intervals": "95% percentile bootstrap (B=200, seeded) over pairs; pairs that share text_a resample "
                         "together"}
        metrics, intervals, shift = _figures(ctx, stats, keep, evidence)
        first = est.first_divergence(shift.by_attribute, threshold)
        evidence["first_divergence"] = None if first is None else {"attribute": first[0], "layer": first[1]}
        said = [Message("check.perturbation.counterfactual.pairs", {
            "used": int(keep.size), "total": pairs.count, "identical": int(identical.sum()),
            "differs": int(differs[keep].sum())})]
        if source.count != pairs.count:
            said.insert(0, Message("check.perturbation.counterfactual.sampled", {"run": pairs.count, "of": source.count}))
        said += _findings(metrics, str(evidence["outputs"]), first, threshold)
        return CheckResult(check_id=self.id, outcome="ok", sentences=tuple(said), metrics=metrics,
                           evidence=evidence, intervals=intervals)


def _figures(ctx: AuditContext, stats: PairStats, keep: np.ndarray,
             evidence: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], est.ShiftResult]:
    """Metrics (variants: overall and each attribute) and their intervals from the pairs at `keep`."""
    pairs = stats.pairs
    a_slots, b_slots = (s[keep] for s in stats.indices())
    attributes = [pairs.attributes[i] for i in keep]
    probe_ids = [pairs.texts_a[i] for i in keep]   # a frame's pairs share text_a: one cluster
    shift = est.layer_shift(stats.states(a_slots), stats.states(b_slots), attributes,
                            [pairs.domains[i] for i in keep], seed=ctx.seed, probe_ids=probe_ids)
    evidence["random_distance"] = list(shift.random_distance)
    evidence["pairs_by_attribute"] = {a: v[0].n for a, v in shift.by_attribute.items()}
    series = {est.OVERALL: shift.overall, **shift.by_attribute}
    metrics: dict[str, Any] = {SHIFT: {k: [e.value for e in v] for k, v in series.items()},
                               COS: None, KL: None, FLIP: None}
    intervals: dict[str, Any] = {SHIFT: {k: {"ci_low": [e.low for e in v], "ci_high": [e.high for e in v]}
                                         for k, v in series.items()}}
    outputs, evidence["outputs"] = _outputs(stats, a_slots, b_slots)
    if outputs is not None:
        agree = est.output_agreement(*outputs, attributes, seed=ctx.seed, probe_ids=probe_ids)
        for name, figures in ((COS, agree.cosine), (KL, agree.kl), (FLIP, agree.flip_rate)):
            metrics[name] = {k: e.value for k, e in figures.items()}
            intervals[name] = {k: {"ci_low": e.low, "ci_high": e.high} for k, e in figures.items()}
        evidence["largest_output_moves"] = _largest_moves(stats, keep, *outputs)
    return metrics, intervals, shift


def _findings(metrics: dict[str, Any], head: str, first: tuple[str, int] | None, threshold: float) -> list[Message]:
    """The summary clauses: the last layer's shift, the outputs, the first divergence."""
    last = {k: v[-1] for k, v in metrics[SHIFT].items()}
    worst = _worst(last)
    said = [Message("check.perturbation.counterfactual.shift_last", {
        "overall": _number(last[est.OVERALL]), "layer": len(metrics[SHIFT][est.OVERALL]) - 1,
        "attribute": attribute_name(worst), "worst": _number(last[worst])})]
    if metrics[COS] is not None:
        which = "head" if head == "model_head" else "probe_head"
        said.append(Message("check.perturbation.counterfactual.output", {
            "cos": _number(metrics[COS][est.OVERALL]), "flips": _number(metrics[FLIP][est.OVERALL]),
            "source": Message(f"check.perturbation.counterfactual.source.{which}")}))
    else:
        said.append(Message("check.perturbation.counterfactual.no_outputs"))
    if first is None:
        said.append(Message("check.perturbation.counterfactual.no_divergence", {"threshold": threshold}))
    else:
        said.append(Message("check.perturbation.counterfactual.first_divergence",
                            {"attribute": attribute_name(first[0]), "layer": first[1], "threshold": threshold}))
    return said


def pairs_of(ctx: AuditContext) -> PairSet:
    """The user's pairs (--pairs) where given, else the built-in pairs."""
    pairs = ctx.shared.get(PAIRS_KEY)
    return pairs if isinstance(pairs, PairSet) else builtin_pairs()


def _outputs(stats: PairStats, a: np.ndarray, b: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray] | None, str]:
    """The members' output rows through the model's own head, else the shared probe head; and which."""
    out_a, out_b = stats.model_outputs(a), stats.model_outputs(b)
    if out_a is not None and out_b is not None:
        return (out_a, out_b), "model_head"
    head = stats.probe_head.head() if stats.probe_head is not None else None
    if head is None:
        return None, "none"
    last = len(stats.pooled[int(a[0])]) - 1  # type: ignore[arg-type]
    states_a, states_b = stats.states(a)[last], stats.states(b)[last]
    return (predict(states_a, head), predict(states_b, head)), "probe_head"


def _largest_moves(stats: PairStats, keep: np.ndarray, out_a: np.ndarray, out_b: np.ndarray) -> list[dict[str, Any]]:
    """The pairs whose outputs moved most (lowest cosine), quoted, with their cosine and whether the argmax flipped."""
    cos = est.row_cosine(np.asarray(out_a, np.float64), np.asarray(out_b, np.float64))
    order = np.argsort(cos, kind="stable")[:TOP_PAIRS]
    quoted = stats.describe_pairs(keep[order])
    for row, entry in zip(order, quoted, strict=True):
        entry.update({"output_cos": float(cos[row]), "flipped": bool(out_a[row].argmax() != out_b[row].argmax())})
    return quoted


def _worst(values: dict[str, float]) -> str:
    """The attribute (not the overall figure) with the largest value; NaN sorts last."""
    named = {k: v for k, v in values.items() if k != est.OVERALL}
    return max(sorted(named), key=lambda k: -1.0 if not np.isfinite(named[k]) else named[k])


def attribute_name(attribute: str) -> Message:
    """A built-in attribute in words (counterfactual.attribute.<name>); a user's own label as written."""
    key = f"counterfactual.attribute.{attribute}"
    return Message(key) if has(key) else verbatim(attribute)


def _number(value: Any) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None
