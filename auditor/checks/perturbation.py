"""perturbation.sensitivity: does a small push to the input stay small? (docs/METHODS.md)"""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.checks._tasks import StreamingProbeHead, shared_probe_head
from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators import bootstrap
from auditor.estimators import device_ops as ops
from auditor.estimators import perturbation as est
from auditor.messages import Message
from auditor.models.base import Capability, Occludable
from auditor.models.perturb import (
    ALIGNED_KINDS,
    EMBEDDING_EPS,
    IMAGE_PERTURBATIONS,
    TEXT_PERTURBATIONS,
    PerturbationPlan,
    key_of,
)
from auditor.models.precision_noise import not_measurable, not_measurable_message
from auditor.trace import TraceBatch

HEADLINE_EPS = 0.05


class PerturbationStats:
    """Per-probe figures of every perturbed copy, gathered batch by batch during the capture pass.

    The figures are reduced where the copies ran (on the model's device for a PyTorch model,
    estimators.device_ops) and kept there as small per-probe rows until `run` moves them once."""

    def __init__(self, ctx: AuditContext, plan: PerturbationPlan, probe_head: StreamingProbeHead | None,
                 scored: np.ndarray | None, occlusion_examples: int = 0) -> None:
        self.adapter = ctx.adapter
        self.plan = plan
        self.pooling = ctx.identity.pooling
        self.probe_head = probe_head
        self.scored = scored               # rows whose probe-head predictions count (held-out split)
        self.rel: dict[str, ops.Parts] = {}      # key -> [B, L+1] relative change per layer
        self.cos: dict[str, ops.Parts] = {}
        self.kl: dict[str, ops.Parts] = {}
        self.flip: dict[str, ops.Parts] = {}
        # the probe of each row above, so intervals resample probes, not perturbed copies (METHODS, Uncertainty)
        self.probe: dict[str, list[np.ndarray]] = {}
        self.flip_probe: dict[str, list[np.ndarray]] = {}
        self.samples = 0
        self.occlusion_left = occlusion_examples if isinstance(self.adapter, Occludable) else 0
        self.occlusion: list[dict[str, Any]] = []

    def update(self, batch: TraceBatch) -> None:
        hidden = batch.device_hidden
        if batch.inputs is None or not hidden:
            return
        run = self.adapter.perturb(batch.inputs, self.plan)
        mask = batch.device_mask
        clean = ops.pool(hidden[-1], mask, self.pooling)
        logits = ops.last_valid(batch.device_logits, mask) if batch.device_logits is not None else None
        if self.probe_head is not None and not self.probe_head.ready:   # the head learns from the fit split only
            self.probe_head.observe(batch.index, ops.host(clean))
        norms = [ops.frobenius(h, mask) for h in hidden] if run.hidden else []
        for key, states in run.hidden.items():
            rel = ops.stack([ops.relative_change(c, p, mask, n)
                             for c, p, n in zip(hidden, states, norms, strict=True)], axis=1)
            self.rel.setdefault(key, ops.Parts()).append(rel)
        index = np.asarray(batch.index)
        scored = self.scored[index] if self.scored is not None else None
        head = self.probe_head.head() if self.probe_head is not None and scored is not None and scored.any() else None
        head = ops.beside(head, clean) if head is not None else None   # on the device once per batch
        for key, pooled in run.pooled.items():
            self.cos.setdefault(key, ops.Parts()).append(ops.row_cosine(clean, pooled))
            self.probe.setdefault(key, []).append(index)
            if logits is not None and key in run.logits:
                self.kl.setdefault(key, ops.Parts()).append(ops.softmax_kl(logits, run.logits[key]))
                self.flip.setdefault(key, ops.Parts()).append(ops.flips(logits, run.logits[key]))
                self.flip_probe.setdefault(key, []).append(index)
            elif head is not None:
                self.flip.setdefault(key, ops.Parts()).append(
                    ops.flips(ops.linear(ops.rows(clean, scored), head), ops.linear(ops.rows(pooled, scored), head)))
                self.flip_probe.setdefault(key, []).append(index[scored])
        if self.occlusion_left > 0:
            self._occlude(batch)
        self.samples += batch.size

    def figures(self) -> tuple[dict[str, np.ndarray], ...]:
        """(rel, cos, kl, flip) per copy key as host arrays: the one device-to-host copy of the check."""
        return tuple({k: parts.host() for k, parts in kind.items() if parts}
                     for kind in (self.rel, self.cos, self.kl, self.flip))

    def _occlude(self, batch: TraceBatch) -> None:
        """Token occlusion for the first few probes: which tokens move the pooled output most."""
        rows = np.arange(min(self.occlusion_left, batch.size))
        relevance = self.adapter.token_occlusion(batch.inputs, rows)
        if relevance is None:
            self.occlusion_left = 0
            return
        ids = batch.inputs.inputs["input_ids"]
        for row in rows:
            valid = batch.mask[row]
            self.occlusion.append({"probe": int(batch.index[row]), "token_ids": ids[row][valid].tolist(),
                                   "relevance": relevance[row][valid].round(5).tolist()})
        self.occlusion_left -= len(rows)


@register
class PerturbationSensitivity(Check):
    """Embedding-noise amplification per layer and input-level perturbations, all copies batched."""

    id = "perturbation.sensitivity"
    dimension = "robustness"
    charts = (Chart("amplification", ("amplification",), "line", "ratio"),
              Chart("layer_gain", ("layer_gain",), "line", "ratio"),
              Chart("changed_predictions", ("flip_rate_by_kind",), "bars", "rate"),
              Chart("output_similarity", ("output_cos_by_kind",), "bars", "cos"))
    requires = frozenset({Capability.HIDDEN_STATES, Capability.PERTURBATIONS})
    captures = frozenset({Capability.HIDDEN_STATES, Capability.LOGITS})
    metric_names = frozenset({"amplification", "amplification_by_eps", "layer_gain", "lyapunov", "flip_rate",
                              "output_cos", "output_kl", "flip_rate_by_kind", "output_cos_by_kind",
                              "output_kl_by_kind", "output_cos_ci", "flip_rate_ci"})
    step_metrics = frozenset({"layer_gain"})

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        return {"eps": list(EMBEDDING_EPS), "text": [list(p) for p in TEXT_PERTURBATIONS],
                "images": [list(p) for p in IMAGE_PERTURBATIONS], "max_rows": 512, "occlusion_examples": 0}

    def _plan(self, ctx: AuditContext) -> PerturbationPlan:
        torch_model = Capability.INTERVENTIONS in ctx.capabilities
        spec = self.params["images"] if ctx.identity.modality == "image" else self.params["text"]
        return PerturbationPlan(seed=ctx.seed, eps=tuple(float(e) for e in self.params["eps"]) if torch_model else (),
                                inputs=tuple((str(k), float(r)) for k, r in spec), max_rows=int(self.params["max_rows"]))

    def accumulator(self, ctx: AuditContext) -> PerturbationStats:
        head = None if Capability.LOGITS in ctx.capabilities else shared_probe_head(ctx)
        scored = None
        if head is not None:
            _fit, score = ctx.fit_score_split()
            scored = np.zeros(int(ctx.probes.count), bool)
            scored[score] = True
        return PerturbationStats(ctx, self._plan(ctx), head, scored, int(self.params["occlusion_examples"]))

    def run(self, ctx: AuditContext) -> CheckResult:
        stats: PerturbationStats = ctx.accumulators[self.id]  # type: ignore[assignment]
        if not stats.samples:
            return CheckResult.skipped(self.id, Message("check.perturbation.sensitivity.skip.no_batch"))
        plan = stats.plan
        rel, cos, kl, flip = stats.figures()
        eps_keys = {f"{e:g}": key_of("embedding", e) for e in plan.eps}
        input_keys = [k for k in plan.input_keys() if k in cos]
        headline = key_of("embedding", HEADLINE_EPS)
        evidence: dict[str, Any] = {"seed": plan.seed, "copies_per_input": len(plan.eps) + len(input_keys),
                                    "eps": list(plan.eps), "input_perturbations": input_keys,
                                    "samples": stats.samples}
        if stats.occlusion:   # 1 - cosine to the clean output when each token's embedding is zeroed
            evidence["token_occlusion"] = stats.occlusion
        if headline in rel or eps_keys:
            source, amp_by_eps = _noise_source(ctx, plan, rel, eps_keys, evidence)
        else:   # ONNX: the smallest aligned input-level perturbation, read off the exposed layer outputs
            aligned = [k for k in input_keys if k in rel and k.split("@")[0] in ALIGNED_KINDS]
            source = aligned[0] if aligned else None
            amp_by_eps = None
            evidence["amplification_source"] = (f"input-level perturbation {source} (no embedding noise without "
                                                "hooks)") if source else "none"
        evidence["amplification_by_kind"] = {k: est.amplification(rel[k]) for k in input_keys if k in rel}
        evidence["output_cos_by_eps"] = {e: float(cos[k].mean()) for e, k in eps_keys.items() if k in cos}
        amp = gains = lyap = None
        if source is not None and source in rel:
            amp = est.amplification(rel[source])
            gains = est.layer_gain(rel[source])
            lyap = est.lyapunov(gains)
        all_cos = np.concatenate([cos[k] for k in input_keys]) if input_keys else np.array([])
        flips_in = [flip[k] for k in input_keys if k in flip]
        all_flip = np.concatenate(flips_in) if flips_in else None
        kls = [kl[k] for k in input_keys if k in kl]
        if all_flip is not None:
            evidence["predictions"] = ("the model's own head" if Capability.LOGITS in ctx.capabilities else
                                       "a linear probe head fitted on the final layer (held-out probes only)")
        metrics = {
            "amplification": amp, "amplification_by_eps": amp_by_eps, "layer_gain": gains, "lyapunov": lyap,
            "flip_rate": float(all_flip.mean()) if all_flip is not None and all_flip.size else None,
            "output_cos": float(all_cos.mean()) if all_cos.size else None,
            "output_kl": float(np.concatenate(kls).mean()) if kls else None,
            "flip_rate_by_kind": {k: float(flip[k].mean()) for k in input_keys if k in flip and flip[k].size} or None,
            "output_cos_by_kind": {k: float(cos[k].mean()) for k in input_keys} or None,
            "output_kl_by_kind": {k: float(kl[k].mean()) for k in input_keys if k in kl} or None,
        }
        intervals = _intervals(stats, input_keys, rel.get(source) if source is not None else None, plan.seed)
        # the contract's [low, high] pairs, now from the bootstrap over probes
        metrics["output_cos_ci"] = _pair(intervals.get("output_cos"))
        metrics["flip_rate_ci"] = _pair(intervals.get("flip_rate"))
        evidence["intervals"] = ("95% percentile bootstrap over probes (B=200, seeded): every perturbed copy of a "
                                 "probe stays with its probe")
        sentences = _sentences(metrics)
        if evidence.get("eps_not_measurable"):
            sentences = (*sentences, not_measurable_message(evidence["eps_not_measurable"]))
        return CheckResult(check_id=self.id, outcome="ok", sentences=sentences, metrics=metrics,
                           evidence=evidence, intervals=intervals)


def _noise_source(ctx: AuditContext, plan: PerturbationPlan, rel: dict[str, Any], eps_keys: dict[str, str],
                  evidence: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The embedding-noise copy the headline amplification is read from, and amplification per noise size.

    In bfloat16/float16 small noise sizes read the dtype's rounding, not the model (models.precision_noise):
    those not run, or run but lifted by rounding, are said to be not measurable, never given as numbers; the
    headline then comes from the first size that was measured, or is None."""
    amp_by_eps: dict[str, Any] | None = {e: est.amplification(rel[k]) for e, k in eps_keys.items() if k in rel}
    gone = not_measurable(plan.eps, getattr(ctx.adapter, "compute_dtype", "float32"), int(ctx.identity.layers or 0),
                          amp_by_eps)
    if gone:
        evidence["eps_not_measurable"] = gone
        amp_by_eps = {e: a for e, a in (amp_by_eps or {}).items() if float(e) not in gone["eps"]} or None
    measured = [eps_keys[e] for e in (amp_by_eps or {})]
    headline = key_of("embedding", HEADLINE_EPS)
    source = headline if headline in measured else (measured[0] if measured else None)
    evidence["amplification_source"] = (f"embedding noise of relative size {source.split('@')[1]}" if source
                                        else "none: no noise size was measurable in this precision")
    return source, amp_by_eps


def _intervals(stats: PerturbationStats, input_keys: list[str], rel: np.ndarray | None,
               seed: int) -> dict[str, dict[str, Any]]:
    """95% intervals over probes of output_cos, flip_rate, and (from one resample of the probes) amplification,
    layer_gain and lyapunov, computed from the per-probe figures kept during the run."""
    out: dict[str, dict[str, Any]] = {}
    for name, values, probes in (("output_cos", stats.cos, stats.probe), ("flip_rate", stats.flip, stats.flip_probe)):
        lists = {k: [v.host()] if isinstance(v, ops.Parts) else v for k, v in values.items()}
        total, count = est.per_probe_sums(lists, probes, input_keys)
        if count.size:
            low, high = bootstrap.ratio_interval(total, count, seed=seed)
            out[name] = {"ci_low": float(low), "ci_high": float(high)}
    if rel is not None and rel.shape[0] and rel.shape[1] > 1:
        layers = rel.shape[1]

        def growth(r: dict[str, np.ndarray]) -> np.ndarray:
            gains = est.layer_gain(r["rel"])
            return np.concatenate([est.amplification(r["rel"]), gains, [est.lyapunov(gains)]])

        low, high = bootstrap.interval({"rel": rel}, growth, seed=seed)
        for name, part in (("amplification", slice(0, layers)), ("layer_gain", slice(layers, 2 * layers - 1))):
            out[name] = {"ci_low": low[part].tolist(), "ci_high": high[part].tolist()}
        out["lyapunov"] = {"ci_low": float(low[-1]), "ci_high": float(high[-1])}
    return out


def _pair(bounds: dict[str, Any] | None) -> list[float] | None:
    return None if bounds is None else [bounds["ci_low"], bounds["ci_high"]]


def _sentences(m: dict[str, Any]) -> tuple[Message, ...]:
    said = []
    if m["amplification"] is not None:
        amp = np.asarray(m["amplification"], dtype=np.float64)
        peak = int(np.argmax(amp[1:])) + 1 if amp.size > 1 else 0
        said.append(Message("check.perturbation.sensitivity.amplification", {
            "last": float(amp[-1]), "peak": float(amp[peak]), "peak_layer": peak, "lyapunov": _number(m["lyapunov"])}))
    if m["output_cos"] is not None:
        said.append(Message("check.perturbation.sensitivity.output_cos", {"cos": _number(m["output_cos"])}))
    if m["flip_rate"] is not None:
        said.append(Message("check.perturbation.sensitivity.flip_rate", {"rate": _number(m["flip_rate"])}))
    return tuple(said) or (Message("check.perturbation.sensitivity.no_figures"),)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
