"""flow.pde: the continuous-flow surrogate of the seed paper, done honestly (docs/METHODS.md, flow.pde).

The check fits a diffusion + attention transport + reaction flow per block on the fit split and
scores it on the held-out split, always beside trivial baselines. The streaming work lives in
auditor.checks.pde_stats (the accumulator) and auditor.checks.pde_batch (per-batch operators);
this module turns the accumulated statistics into metrics, evidence and the summary's facts.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.pde_batch import EPS

# BatchFlow and rowdot stay importable here under their old names (tests/unit/test_flow.py, bench/)
from auditor.checks.pde_batch import BatchFlow as _BatchFlow  # noqa: F401
from auditor.checks.pde_batch import rowdot as _rowdot  # noqa: F401
from auditor.checks.pde_stats import PDEStats, ScoreStats
from auditor.checks.registry import register
from auditor.messages import Message
from auditor.models.base import Capability
from auditor.splits import too_few_scored

_KEY = "check.flow.pde"
MIN_PROBES = 4    # some to fit the surrogate and others to score it
DROPS = ("r2_drop_attention", "r2_drop_diffusion", "r2_drop_reaction")
SHARE_KIND = "energy shares; cross terms dropped"
INTERVAL_METHOD = "percentile bootstrap over held-out probes (B = 200, seeded) of 1 - SSE/SST"


@register
class FlowPDE(Check):
    """Diffusion + attention transport + reaction per step, fitted on one split, scored on the other."""

    id = "flow.pde"
    dimension = "flow"
    requires = frozenset({Capability.HIDDEN_STATES})
    captures = frozenset({Capability.HIDDEN_STATES, Capability.ATTENTIONS})
    metric_names = frozenset({"pde_cos", "identity_cos", "pointwise_cos", "pde_r2", "rollout_cos",
                              "share_diffusion", "share_attention", "share_reaction",
                              "kernel_attention_cos", "uniform_attention_cos", "pointwise_r2",
                              "diffusion", "basis_size", *DROPS})
    step_metrics = frozenset({"pde_cos", "identity_cos", "pointwise_cos", "pde_r2", "share_diffusion",
                              "share_attention", "share_reaction", "kernel_attention_cos",
                              "uniform_attention_cos", "pointwise_r2", "diffusion", "basis_size", *DROPS})
    # what each term explains on held-out probes, not the energy shares (those drop the cross terms)
    charts = (Chart("fidelity", ("pde_cos", "identity_cos", "pointwise_cos"), "line", "cos"),
              Chart("explained", ("pde_r2", "pointwise_r2"), "line", "share"),
              Chart("r2_drop", DROPS, "line", "pde_r2_drop"),
              Chart("kernel", ("kernel_attention_cos", "uniform_attention_cos"), "line", "cos"))
    baselines = (("pde_cos", "identity_cos"), ("pde_cos", "pointwise_cos"), ("pde_r2", "pointwise_r2"),
                 ("kernel_attention_cos", "uniform_attention_cos"))

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        return {"basis_size": "auto", "ridge": 1e-3}

    def skip_reason(self, ctx: AuditContext) -> Message | None:
        if getattr(ctx.probes, "count", 0) < MIN_PROBES:
            return Message(f"{_KEY}.skip.too_few_probes", {"minimum": MIN_PROBES})
        return None

    def accumulator(self, ctx: AuditContext) -> PDEStats:
        fit, _ = ctx.fit_score_split()
        size = self.params["basis_size"]
        if not (size == "auto" or (isinstance(size, int | float) and not isinstance(size, bool)
                                   and int(size) == size and size >= 1)):
            raise ValueError(f"flow.pde: basis_size must be 'auto' or a positive whole number, not {size!r}")
        return PDEStats(fit, size if size == "auto" else int(size), float(self.params["ridge"]), ctx.seed)

    def run(self, ctx: AuditContext) -> CheckResult:
        stats: PDEStats = ctx.accumulators[self.id]  # type: ignore[assignment]
        if not stats.scores:
            return CheckResult.skipped(self.id, Message(f"{_KEY}.skip.no_scored_probes"))
        metrics = _metrics(stats)
        evidence = _evidence(stats, ctx)
        return CheckResult(check_id=self.id, outcome="ok", sentences=summary(metrics, stats.kernels is not None),
                           metrics=metrics, evidence=evidence,
                           intervals={"pde_r2": r2_interval(stats.scores, ctx.seed)})


def _metrics(stats: PDEStats) -> dict[str, Any]:
    scores = stats.scores
    shares: dict[str, list[float | None]] = {"diffusion": [], "attention": [], "reaction": []}
    for s in scores:
        total = sum(s.energy.values())
        for name in shares:
            unavailable = name == "attention" and not stats.with_attention
            shares[name].append(None if unavailable or total <= 0 else s.energy[name] / total)
    kernels = stats.kernels
    metrics: dict[str, Any] = {
        "pde_cos": [s.cos["pde"] / s.sequences for s in scores],
        "identity_cos": [s.cos["identity"] / s.sequences for s in scores],
        "pointwise_cos": [s.cos["pointwise"] / s.sequences for s in scores],
        "pde_r2": [s.r2("pde") for s in scores],
        "pointwise_r2": [s.r2("pointwise") for s in scores],
        "rollout_cos": (stats.rollout_sum / scores[0].sequences).tolist(),
        "share_diffusion": shares["diffusion"], "share_attention": shares["attention"],
        "share_reaction": shares["reaction"],
        "kernel_attention_cos": [None] * len(scores), "uniform_attention_cos": [None] * len(scores),
        "diffusion": [m.diffusion for m in stats.steps], "basis_size": [m.k for m in stats.steps],
    }
    for term in ("attention", "diffusion", "reaction"):
        metrics[f"r2_drop_{term}"] = [_drop(s, term, stats.with_attention) for s in scores]
    if kernels is not None:
        metrics["kernel_attention_cos"] = [float(k.score_kernel_sum.mean() / k.score_rows) for k in kernels]
        metrics["uniform_attention_cos"] = [float(k.score_uniform_sum.mean() / k.score_rows) for k in kernels]
    return metrics


def _drop(score: ScoreStats, term: str, with_attention: bool) -> float | None:
    """Held-out R² lost when `term` is removed and the rest refitted on the fit probes."""
    full, reduced = score.r2("pde"), (score.r2(f"no_{term}") if with_attention or term != "attention" else None)
    return None if full is None or reduced is None else full - reduced


def _evidence(stats: PDEStats, ctx: AuditContext) -> dict[str, Any]:
    fit, score = ctx.fit_score_split()
    evidence: dict[str, Any] = {
        "diffusion_coefficient": [s.diffusion for s in stats.steps],
        "basis_size": [s.k for s in stats.steps], "ridge": stats.ridge,
        "basis_selection": {"mode": "cross-validated" if stats.auto else "fixed", "folds": stats.folds,
                            "candidates": stats.candidates,
                            "cv_r2": [{str(k): r for k, r in cv.items()} for cv in stats.cv_r2]},
        "out_of_span_reaction": [s.reaction_out for s in stats.steps],
        "out_of_span_attention": [s.attention_out if stats.with_attention else None for s in stats.steps],
        "share_kind": SHARE_KIND, "interval_method": INTERVAL_METHOD,
        "fit_probes": len(fit), "scored_probes": len(score),
        "fit_tokens": stats.fit_tokens, "scored_tokens": [s.tokens for s in stats.scores],
        "attention_available": stats.with_attention, "causal": stats.causal,
        "laplacian": "2-D patch grid, Neumann ends; class token excluded" if ctx.identity.modality == "image"
        else "token chain over valid tokens, Neumann ends",
        "attention_examples": stats.examples,
        # the held-out scores of the surrogate decide nothing on a handful of probes
        "insufficient": {m: thin for m in ("pde_r2", "rollout_cos", *DROPS) if (thin := too_few_scored(len(score),
                                                                                                "surrogate"))},
    }
    if stats.kernels is not None:
        evidence["kernel_parameters"] = [[{"drift": v, "spread": None if np.isinf(s) else s, "sink": w}
                                          for v, s, w in k.choice or []] for k in stats.kernels]
        evidence["kernel_cos_by_head"] = [(k.score_kernel_sum / k.score_rows).tolist() for k in stats.kernels]
    return evidence


def summary(metrics: dict[str, Any], with_kernels: bool) -> tuple[Message, ...]:
    """How much of the layer changes the flow explains on held-out probes (mean R²) and on how many blocks it
    beats 'no change', then how well the drift-diffusion kernels match attention (or that there is none)."""
    r2 = [v for v in metrics["pde_r2"] if v is not None]
    steps = len(metrics["pde_cos"])
    beats = sum(p > i for p, i in zip(metrics["pde_cos"], metrics["identity_cos"], strict=True))
    fidelity = Message(f"{_KEY}.explained", {"r2": float(np.mean(r2)), "beats": beats, "steps": steps}) if r2 \
        else Message(f"{_KEY}.no_change", {"steps": steps})
    if not with_kernels:
        return fidelity, Message(f"{_KEY}.no_attention")
    kernel = float(np.mean(metrics["kernel_attention_cos"]))
    uniform = float(np.mean(metrics["uniform_attention_cos"]))
    return fidelity, Message(f"{_KEY}.kernel", {"kernel_cos": kernel, "uniform_cos": uniform})


def r2_interval(scores: list[ScoreStats], seed: int) -> dict[str, list[float | None]]:
    """Percentile bootstrap over held-out probes of pde_r2 per step, from the per-probe sums kept while scoring:
    each resample recomputes 1 - SSE / (sum |y|^2 - |sum y|^2 / n), as the point figure is computed."""
    from auditor.estimators.bootstrap import interval

    probes = [s.per_probe() for s in scores]
    count = len(probes[0]["n"])

    def statistic(resampled: dict[str, np.ndarray]) -> np.ndarray:
        w = np.bincount(resampled["i"], minlength=count).astype(np.float64)     # how often each probe is drawn
        out = []
        for p in probes:
            ys = w @ p["ys"]
            sst = float(w @ p["yy"]) - float(ys @ ys) / max(float(w @ p["n"]), 1.0)
            out.append(1.0 - float(w @ p["sse"]) / sst if sst > EPS * max(float(w @ p["yy"]), 1.0) else np.nan)
        return np.array(out)

    low, high = interval({"i": np.arange(count)}, statistic, seed=seed)
    return {"ci_low": [None if np.isnan(v) else float(v) for v in low],
            "ci_high": [None if np.isnan(v) else float(v) for v in high]}
