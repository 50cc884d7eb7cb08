"""bottleneck.information_plane: what each layer keeps about the input and about the task (docs/METHODS.md).

Reads only the pooled representations z_l the capture pass always keeps ([N, d] per layer
boundary, in probe order), so it scales to large probe sets without holding [N, T, d] tensors.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.checks._tasks import MODEL_PREDICTIONS, PROBE_LABELS
from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
from auditor.errors import Cancelled
from auditor.estimators import bootstrap, held_out
from auditor.estimators import device_ops as ops
from auditor.estimators import information as info
from auditor.messages import Message, render
from auditor.models.base import Capability
from auditor.splits import too_few_scored
from auditor.trace import RowStore, TraceBatch

_KEY = "check.bottleneck.information_plane"
# what these estimates cannot say, in every language (the stored evidence keeps the English text)
LIMITATIONS = Message(f"{_KEY}.limitations")
_INFO_METRICS = ("mi_xt_kde", "mi_ty_kde", "mi_xt_renyi", "mi_ty_renyi", "probe_accuracy",
                 "mi_ty_probe_bound", "compression")
_BASELINES = ("mi_ty_kde_shuffled", "mi_ty_renyi_shuffled")   # what independent labels would score


class InputRepresentation:
    """X per probe: the mean over valid tokens of the layer-0 states, whatever the model's pooling.

    A class token or a causal LM's last token at layer 0 does not depend on (most of) the input,
    so under `cls` or `last` pooling z_0 cannot stand for X; the mean-pooled embeddings can.
    """

    def __init__(self, capacity: int = 0) -> None:
        # float32 rows by probe index, pooled where the states are (on the model's device for PyTorch)
        self.rows = RowStore(capacity)

    def update(self, batch: TraceBatch) -> None:
        self.rows.add(batch.index, ops.pool(batch.device_hidden[0], batch.device_mask, "mean"))

    def values(self) -> np.ndarray | None:
        return self.rows.values()


@register
class InformationPlaneCheck(Check):
    """I(X;T) and I(T;Y) per layer under three estimators, and a held-out linear probe."""

    id = "bottleneck.information_plane"
    dimension = "retention"
    requires = frozenset({Capability.HIDDEN_STATES})
    # logits stand in for labels when the probe set has none (the model's own predictions)
    captures = frozenset({Capability.HIDDEN_STATES, Capability.LOGITS})
    needs_batches = False
    # beyond the contract: the chance-scaled accuracy, shuffled-label baselines and two scalars for conditions
    metric_names = frozenset({*_INFO_METRICS, *_BASELINES, "probe_accuracy_over_chance", "estimator_trend_agreement",
                              "task_information_drop"})
    step_metrics = frozenset()
    charts = (Chart("plane", ("mi_xt_kde", "mi_ty_kde"), "plane", "ity"),
              Chart("probe", ("probe_accuracy",), "line", "accuracy"),
              Chart("task", ("mi_ty_kde", "mi_ty_kde_shuffled"), "line", "bits"))
    baselines = (("mi_ty_kde", "mi_ty_kde_shuffled"), ("mi_ty_renyi", "mi_ty_renyi_shuffled"))

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        return {
            "k": info.DEFAULT_K,                          # PCA components before estimating (<= 32)
            "sigma": None,                                # KDE noise std in standardised units; None = calibrate
            "sigma_fraction": info.DEFAULT_SIGMA_FRACTION,  # calibration: I(X;X) = fraction x log2 N
            "max_samples": info.DEFAULT_MAX_SAMPLES,      # seeded sub-sample above this for the O(N^2) estimators
            "l2": info.DEFAULT_L2,                        # the linear probe's L2 penalty
        }

    def accumulator(self, ctx: AuditContext) -> InputRepresentation | None:
        # under mean pooling z_0 already is the mean-pooled embedding output
        return None if ctx.identity.pooling == "mean" else InputRepresentation(int(ctx.probes.count))

    def skip_reason(self, ctx: AuditContext) -> Message | None:
        if _probe_labels(ctx) is None and Capability.LOGITS not in ctx.capabilities:
            return Message(f"{_KEY}.skip.no_labels_no_head")
        return None

    def run(self, ctx: AuditContext) -> CheckResult:
        pooled = ctx.trace.pooled
        if not pooled or pooled[0].shape[0] < 2:
            return CheckResult.skipped(self.id, Message(f"{_KEY}.skip.too_few_probes", {"minimum": 2}))
        labels, source, names = _labels(ctx)
        if labels is None:
            return CheckResult.skipped(self.id, Message(f"{_KEY}.skip.no_labels_no_predictions"))
        if len(np.unique(labels)) < 2:
            return CheckResult.skipped(self.id, Message(f"{_KEY}.skip.one_predicted_class"))
        collected = ctx.accumulators.get(self.id)
        inputs = collected.values() if isinstance(collected, InputRepresentation) else None
        fit, score = ctx.fit_score_split()
        layers = len(pooled)

        def on_layer(layer: int) -> None:
            ctx.progress((layer + 1) / layers, f"layer {layer}/{layers - 1}")
            if ctx.should_stop():
                raise Cancelled(self.id)

        p = self.params
        plane = info.information_plane(
            pooled, labels, fit, score, inputs=inputs, k=min(int(p["k"]), info.DEFAULT_K),
            sigma=None if p["sigma"] is None else float(p["sigma"]), sigma_fraction=float(p["sigma_fraction"]),
            max_samples=int(p["max_samples"]), seed=ctx.seed, l2=float(p["l2"]), device=ctx.device,
            on_layer=on_layer)
        metrics: dict[str, Any] = {name: getattr(plane, name) for name in (*_INFO_METRICS, *_BASELINES)}
        chance = plane.chance_accuracy
        metrics["probe_accuracy_over_chance"] = [
            None if a is None or chance >= 1.0 else (a - chance) / (1.0 - chance) for a in plane.probe_accuracy]
        pairs = {
            "kde_renyi": rank_correlation(plane.mi_ty_kde, plane.mi_ty_renyi),
            "kde_probe": rank_correlation(plane.mi_ty_kde, plane.mi_ty_probe_bound),
            "renyi_probe": rank_correlation(plane.mi_ty_renyi, plane.mi_ty_probe_bound),
        }
        known = [v for v in pairs.values() if v is not None]
        # the least agreeing pair: a trend is trusted only where every estimator shows it
        metrics["estimator_trend_agreement"] = min(known) if known else None
        drop, intervals = held_out_intervals(plane, labels, fit, score, ctx.seed)
        metrics["task_information_drop"] = drop
        evidence = _evidence(ctx, plane, p, inputs=inputs, labels=labels, source=source, names=names, pairs=pairs)
        evidence["task_information_drop_plain"] = _drop(plane)
        evidence["task_information_drop_method"] = DROP_METHOD
        return CheckResult(check_id=self.id, outcome="ok", sentences=summary(plane, metrics, evidence),
                           metrics=metrics, evidence=evidence, intervals=intervals)


def _evidence(ctx: AuditContext, plane: info.InformationPlane, p: dict[str, Any], *, inputs: np.ndarray | None,
              labels: np.ndarray, source: str, names: list[str], pairs: dict[str, float | None]) -> dict[str, Any]:
    """How the figures were estimated: the plane's paths, settings, split sizes and the labels used."""
    fit, score = ctx.fit_score_split()
    return {
        "information_plane": {
            estimator: [{"layer": layer, "i_xt": xt, "i_ty": ty} for layer, (xt, ty) in
                        enumerate(zip(getattr(plane, f"mi_xt_{estimator}"), getattr(plane, f"mi_ty_{estimator}"),
                                      strict=True))]
            for estimator in ("kde", "renyi")},
        "units": "bits",
        "sigma": plane.sigma, "sigma_rule": plane.sigma_rule,
        "renyi_bandwidths": plane.renyi_bandwidths, "renyi_input_bandwidth": plane.input_bandwidth,
        "input_information_kde": plane.input_information,
        "input": "z_0" if inputs is None else "mean-pooled layer-0 states (the pooled z_0 is one token)",
        "k": min(int(p["k"]), info.DEFAULT_K), "components": plane.components,
        "sample_size": plane.sample_size, "probe_count": plane.count, "max_samples": int(p["max_samples"]),
        "fit_count": int(len(fit)), "score_count": int(len(score)), "probe_l2": float(p["l2"]),
        "chance_accuracy": plane.chance_accuracy, "label_entropy": plane.label_entropy,
        "probe_label_entropy": plane.probe_label_entropy, "probe_cross_entropy": plane.probe_cross_entropy,
        "label_source": source, "label_names": names, "classes": int(len(np.unique(labels))),
        "trend_agreement_pairs": pairs, "effective_rank": plane.effective_rank,
        # English in the stored evidence, as always; reports render LIMITATIONS in the reader's language
        "pooling": ctx.trace.pooling, "limitations": render(LIMITATIONS, "en"),
        "insufficient": insufficient_evidence(plane, labels, score),
    }


# the rules decided on the held-out probe: each is undecided when the probe's own evidence is thin
_PROBE_RULES = ("probe_accuracy_over_chance", "task_information_drop")


def insufficient_evidence(plane: info.InformationPlane, labels: np.ndarray,
                          score: np.ndarray) -> dict[str, dict[str, Any]]:
    """{metric: reason (a stored Message)} for the probe-based figures whose own evidence is too thin."""
    scored = np.asarray(labels)[np.asarray(score, dtype=int)]
    reason = too_few_scored(len(scored), "probe")
    if not reason and (len(np.unique(scored)) < 2 or plane.chance_accuracy >= 1.0):
        reason = Message("evidence.one_label_held_out").to_json()
    if not reason and plane.probe_accuracy[-1] is None:
        reason = Message("evidence.probe_not_fitted").to_json()
    return {metric: reason for metric in _PROBE_RULES} if reason else {}


def rank_correlation(a: list[float | None], b: list[float | None], flat: float = 0.05) -> float | None:
    """Spearman rank correlation (ties averaged) over the positions where both are defined.

    A series whose range is below `flat` times its largest magnitude has no trend: two such series
    agree (1.0); one flat and one moving share no trend (0.0), which is not a disagreement.
    """
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if len(pairs) < 2:
        return None
    sa, sb = (np.array(side, dtype=np.float64) for side in zip(*pairs, strict=True))
    flat_a, flat_b = (bool(np.ptp(s) <= flat * np.abs(s).max()) for s in (sa, sb))
    if flat_a or flat_b:
        return 1.0 if flat_a and flat_b else 0.0
    return float(np.corrcoef(_ranks(sa), _ranks(sb))[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]


def _probe_labels(ctx: AuditContext) -> np.ndarray | None:
    labels = getattr(ctx.probes, "labels", None)
    if labels is None or len(set(labels)) < 2:
        return None
    return np.asarray(labels)


def _labels(ctx: AuditContext) -> tuple[np.ndarray | None, str, list[str]]:
    """Y, where it came from (PROBE_LABELS | MODEL_PREDICTIONS) and the label names: the probe set's labels,
    else the model's predictions."""
    labels = _probe_labels(ctx)
    if labels is not None:
        return labels, PROBE_LABELS, [str(n) for n in getattr(ctx.probes, "label_names", [])]
    predicted = ctx.trace.predictions
    if predicted is None:
        return None, "", []
    # the probe set has no labels: Y is the class the model's own output head predicts (circular)
    return np.asarray(predicted), MODEL_PREDICTIONS, []


DROP_METHOD = ("cross-fitted: the peak layer is chosen on one half of the held-out probes and the drop from it "
               "to the last layer measured on the other half, both ways round, averaged (the plain max - last, "
               "kept as task_information_drop_plain, is biased upwards by the maximum of noisy values)")


def held_out_intervals(plane: info.InformationPlane, labels: np.ndarray, fit: np.ndarray, score: np.ndarray,
                       seed: int) -> tuple[float | None, dict[str, dict[str, Any]]]:
    """The debiased task_information_drop, and 95% intervals (bootstrap over the held-out probes) of
    probe_accuracy, probe_accuracy_over_chance, mi_ty_probe_bound (per layer) and the drop."""
    if plane.probe_nll is None or plane.probe_correct is None or len(score) < 2:
        return None, {}
    _, codes = np.unique(np.asarray(labels), return_inverse=True)
    codes = codes.reshape(-1)
    majority = np.bincount(codes[np.asarray(fit, dtype=int)]).argmax() if len(fit) else 0
    y = codes[np.asarray(score, dtype=int)]
    per_probe = {"correct": plane.probe_correct, "nll": plane.probe_nll, "y": y, "major": (y == majority) * 1.0,
                 "half": held_out.halves(len(y), seed)}
    drop = float(held_out.figures(per_probe)[-1])
    low, high = bootstrap.interval(per_probe, held_out.figures, seed=seed)
    layers = plane.probe_nll.shape[1]
    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(("probe_accuracy", "probe_accuracy_over_chance", "mi_ty_probe_bound")):
        part = slice(i * layers, (i + 1) * layers)
        out[name] = {"ci_low": low[part].tolist(), "ci_high": high[part].tolist()}
    out["task_information_drop"] = {"ci_low": float(low[-1]), "ci_high": float(high[-1])}
    return (drop if np.isfinite(drop) else None), out


def _drop(plane: info.InformationPlane) -> float | None:
    """(best layer's probe bound - last layer's) / H(Y): the share of the label information lost by the
    end. Dividing by H(Y), not by the peak, keeps a fall from a negligible peak from reading as a loss."""
    bound = [v for v in plane.mi_ty_probe_bound if v is not None]
    if not bound or plane.mi_ty_probe_bound[-1] is None or plane.probe_label_entropy <= 0.0:
        return None
    return (max(bound) - bound[-1]) / plane.probe_label_entropy


def summary(plane: info.InformationPlane, metrics: dict[str, Any], evidence: dict[str, Any]) -> tuple[Message, ...]:
    """How well the last layer separates the labels, where task information peaks, and whether the
    estimators agree on the trend (layer indices count from 0 = the embeddings)."""
    accuracy = plane.probe_accuracy[-1]
    if accuracy is None:
        head = Message(f"{_KEY}.probe_unfitted")
    else:
        # whose labels: the probe set's groups, or the classes the model itself predicts (circular)
        whose = "labels" if evidence["label_source"] == PROBE_LABELS else "predictions"
        head = Message(f"{_KEY}.separation.{whose}", {
            "classes": evidence["classes"], "label_source": evidence["label_source"],
            "accuracy": accuracy, "chance": plane.chance_accuracy})
    bound = [v if v is not None else 0.0 for v in plane.mi_ty_probe_bound]
    peak, last = int(np.argmax(bound)), len(bound) - 1
    if bound[peak] <= 0.0:
        where = Message(f"{_KEY}.peak.none")
    elif bound[last] >= bound[peak] - 1e-9:
        where = Message(f"{_KEY}.peak.last", {"layer": last})
    else:
        where = Message(f"{_KEY}.peak.earlier", {"layer": peak, "kept": bound[last] / bound[peak]})
    agreement = metrics["estimator_trend_agreement"]
    trend = "unknown" if agreement is None else "agree" if agreement >= 0.5 else \
        "weak" if agreement >= 0.0 else "disagree"
    return head, where, Message(f"{_KEY}.trend.{trend}", {"agreement": agreement})
