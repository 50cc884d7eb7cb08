"""sanity.randomization: is the audit measuring the model or the architecture? (docs/METHODS.md)

Adebayo et al. (2018): key metrics are recomputed on a copy of the model with re-initialised
weights, on a seeded subsample of at most 64 probes, and compared with the trained model's
values on the same probes (gathered during the one capture pass). A metric whose pattern barely
changes describes the architecture, not what the model learned, and is flagged as uninformative.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.checks._tasks import ProbeTask, StreamingProbeHead, gradient_setup, labels_of
from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators import bootstrap
from auditor.estimators.attention import head_stats, is_causal, spearman
from auditor.estimators.perturbation import relative_change
from auditor.messages import Message
from auditor.models.base import Capability, Reinitialisable
from auditor.trace import TraceBatch

KEY_METRICS = ("head_importance", "entropy", "sink_share", "grad_norm_hidden", "update_ratio")


class SubsampleMetrics:
    """Per-probe key metrics for the probes of the subsample, from any capture pass."""

    def __init__(self, subset: np.ndarray, task: ProbeTask | None) -> None:
        self.subset = set(int(i) for i in subset)
        self.gradient_task = task
        self.values: dict[str, list[np.ndarray]] = {name: [] for name in KEY_METRICS}
        self.probes: dict[str, list[np.ndarray]] = {name: [] for name in KEY_METRICS}   # the probe of each row
        self.causal: bool | None = None

    def update(self, batch: TraceBatch) -> None:
        rows = np.array([int(i) in self.subset for i in batch.index])
        if not rows.any() or not batch.hidden:
            return
        mask = batch.mask[rows]
        hidden = [h[rows] for h in batch.hidden]
        index = np.asarray(batch.index)
        for name in ("update_ratio", "entropy", "sink_share") if batch.attentions else ("update_ratio",):
            self.probes[name].append(index[rows])
        self.values["update_ratio"].append(
            np.stack([relative_change(a, b, mask) for a, b in zip(hidden[:-1], hidden[1:], strict=True)], axis=1))
        if batch.attentions:
            if self.causal is None:
                self.causal = is_causal(batch.attentions[0], batch.mask)
            special = batch.special[rows] if batch.special is not None else None
            stats = [head_stats(a[rows], mask, special, causal=self.causal, grid=batch.grid,
                                prefix=batch.prefix_tokens) for a in batch.attentions]
            self.values["entropy"].append(np.stack([s.entropy for s in stats], axis=1))
            self.values["sink_share"].append(np.stack([s.sink for s in stats], axis=1))
        if batch.grad_rows is not None:
            keep = rows & batch.grad_rows
            if batch.grad_hidden is not None and keep.any():
                self.values["grad_norm_hidden"].append(batch.grad_hidden[keep])
                self.probes["grad_norm_hidden"].append(index[keep])
            if batch.head_grad is not None and keep.any():
                self.values["head_importance"].append(batch.head_grad[keep])
                self.probes["head_importance"].append(index[keep])

    def means(self) -> dict[str, np.ndarray]:
        return {name: np.nanmean(np.concatenate(parts), axis=0) for name, parts in self.values.items() if parts}

    def by_probe(self) -> dict[str, dict[int, np.ndarray]]:
        """{metric: {probe: its values}} (the rows of one probe, for pairing with the other copy)."""
        out: dict[str, dict[int, np.ndarray]] = {}
        for name, parts in self.values.items():
            if parts and len(self.probes[name]) == len(parts):
                out[name] = dict(zip(np.concatenate(self.probes[name]).tolist(), np.concatenate(parts), strict=True))
        return out


@register
class SanityRandomization(Check):
    """Key metrics on a re-initialised copy of the model, compared with the trained model's."""

    id = "sanity.randomization"
    dimension = "transparency"
    charts = (Chart("change", ("randomization_delta",), "bars", "delta"),)
    requires = frozenset({Capability.HIDDEN_STATES, Capability.REINITIALISATION})
    captures = frozenset({Capability.HIDDEN_STATES, Capability.ATTENTIONS, Capability.GRADIENTS})
    metric_names = frozenset({"rank_correlation", "randomization_delta", "uninformative_metrics",
                              "informative_share"})

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        return {"probes": 64, "max_rank_correlation": 0.8, "min_delta": 0.1, "batch_size": 16,
                "max_parameters": 3_000_000_000}

    def skip_reason(self, ctx: AuditContext) -> Message | None:
        # the runner has checked Capability.REINITIALISATION (the Reinitialisable protocol) already
        if ctx.identity.parameters > int(self.params["max_parameters"]):
            return Message("check.sanity.randomization.skip.too_large", {
                "parameters": int(ctx.identity.parameters), "limit": int(self.params["max_parameters"])})
        return None

    def _subset(self, ctx: AuditContext) -> np.ndarray:
        """A seeded subsample of at most `probes` probes, among those the gradient pass scores."""
        if "sanity_subset" not in ctx.shared:
            task = gradient_setup(ctx).task
            pool = np.flatnonzero(task.scored) if task is not None else np.arange(int(ctx.probes.count))
            rng = np.random.default_rng([ctx.seed & 0xFFFFFFFF, 64])
            take = min(int(self.params["probes"]), pool.size)
            ctx.shared["sanity_subset"] = np.sort(rng.choice(pool, size=take, replace=False))
        return ctx.shared["sanity_subset"]

    def accumulator(self, ctx: AuditContext) -> SubsampleMetrics:
        return SubsampleMetrics(self._subset(ctx), gradient_setup(ctx).task)

    def run(self, ctx: AuditContext) -> CheckResult:
        from auditor.capture import capture_pass

        trained: SubsampleMetrics = ctx.accumulators[self.id]  # type: ignore[assignment]
        subset = self._subset(ctx)
        if not subset.size or not trained.means():
            return CheckResult.skipped(self.id, Message("check.sanity.randomization.skip.no_probes"))
        setup = gradient_setup(ctx)
        if not isinstance(ctx.adapter, Reinitialisable):   # run directly, without the runner's check
            return CheckResult.skipped(self.id, Message("capability.missing.reinitialisation"))
        random_adapter = ctx.adapter.randomized(ctx.seed)
        try:
            task, order = self._random_task(ctx, setup.task, subset)
            collected = SubsampleMetrics(subset, task)
            capture_pass(random_adapter, ctx.probes, self.captures, {"sanity": collected},
                         batch_size=int(self.params["batch_size"]), retain=False, progress=ctx.progress,
                         should_stop=ctx.should_stop, order=order, task=task)
        finally:
            random_adapter.close()
        before, after = trained.means(), collected.means()
        rho: dict[str, float | None] = {}
        delta: dict[str, float | None] = {}
        flagged = []
        for name in KEY_METRICS:
            if name not in before or name not in after:
                continue
            rho[name] = spearman(before[name], after[name])
            delta[name] = _pattern_change(before[name], after[name])
            if (rho[name] is not None and rho[name] > self.params["max_rank_correlation"]) or \
                    (delta[name] is not None and delta[name] < self.params["min_delta"]):
                flagged.append(name)
        compared = len(rho)
        if not compared:
            return CheckResult.skipped(self.id, Message("check.sanity.randomization.skip.none_computed"))
        metrics = {"rank_correlation": rho, "randomization_delta": delta, "uninformative_metrics": len(flagged),
                   "informative_share": (compared - len(flagged)) / compared if compared else None}
        said = [Message("check.sanity.randomization.changed", {"changed": compared - len(flagged), "compared": compared})]
        if flagged:   # each flagged metric by its code (the sentence key ends with it)
            said.append(Message("check.sanity.randomization.uninformative", {
                "metrics": [Message(f"check.sanity.randomization.metric.{name}") for name in flagged],
                "codes": list(flagged)}))
        evidence = {"subsample": subset.tolist(), "uninformative": flagged, "trained": before, "randomized": after,
                    "randomization": "all weights re-initialised with the architecture's own initialiser, "
                                     f"seed {ctx.seed}",
                    "delta": "relative L2 change of the metric's values, each scaled by its mean magnitude",
                    "loss": setup.description}
        limits = (float(self.params["max_rank_correlation"]), float(self.params["min_delta"]))
        intervals = sanity_intervals(trained, collected, list(rho), limits, ctx.seed)
        return CheckResult(check_id=self.id, outcome="ok", sentences=tuple(said), metrics=metrics, evidence=evidence,
                           intervals=intervals)

    def _random_task(self, ctx: AuditContext, trained: ProbeTask | None,
                     subset: np.ndarray) -> tuple[ProbeTask | None, np.ndarray]:
        """The same kind of loss for the random copy; a probe head is refitted on its own states."""
        if trained is None:
            return None, subset
        count = int(ctx.probes.count)
        scored = np.zeros(count, bool)
        scored[subset] = True
        # parameter gradients are not among the key metrics: the random copy's backward skips them
        if trained.kind != "probe_head":
            return ProbeTask(trained.kind, scored, trained.target_of, parameter_gradients=False), subset
        fit, _score = ctx.fit_score_split()
        rng = np.random.default_rng([ctx.seed & 0xFFFFFFFF, 65])
        fit = np.sort(rng.choice(fit, size=min(int(self.params["probes"]), fit.size), replace=False))
        labels = labels_of(ctx)
        head = StreamingProbeHead(fit, labels, int(labels.max()) + 1)
        return ProbeTask("probe_head", scored, labels, head, parameter_gradients=False), np.concatenate([fit, subset])


def _pattern_change(before: np.ndarray, after: np.ndarray) -> float | None:
    a = np.nan_to_num(np.asarray(before, dtype=np.float64).ravel())
    b = np.nan_to_num(np.asarray(after, dtype=np.float64).ravel())
    scale_a, scale_b = np.abs(a).mean(), np.abs(b).mean()
    if scale_a == 0 or scale_b == 0:
        return None
    a, b = a / scale_a, b / scale_b
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-30))


def sanity_intervals(trained: SubsampleMetrics, randomized: SubsampleMetrics, names: list[str],
                     limits: tuple[float, float], seed: int) -> dict[str, Any]:
    """95% intervals (bootstrap over the subsample's probes, each probe's trained and random values kept
    together) of rank_correlation and randomization_delta per metric, and of informative_share."""
    before, after = trained.by_probe(), randomized.by_probe()
    names = [n for n in names if n in before and n in after]
    common = sorted(set.intersection(*(set(before[n]) & set(after[n]) for n in names))) if names else []
    if len(common) < 2:
        return {}
    per_probe = {f"{side}:{n}": np.stack([values[n][p] for p in common]) for n in names
                 for side, values in (("t", before), ("r", after))}

    def figures(r: dict[str, np.ndarray]) -> np.ndarray:
        rho, delta = [], []
        for n in names:
            a, b = np.nanmean(r[f"t:{n}"], axis=0), np.nanmean(r[f"r:{n}"], axis=0)
            rho.append(_nan(spearman(a, b)))
            delta.append(_nan(_pattern_change(a, b)))
        flagged = sum(1 for x, d in zip(rho, delta, strict=True) if x > limits[0] or d < limits[1])
        return np.array([*rho, *delta, (len(names) - flagged) / len(names)])

    with np.errstate(all="ignore"):
        low, high = bootstrap.interval(per_probe, figures, seed=seed)
    k = len(names)
    return {"rank_correlation": {n: {"ci_low": low[i], "ci_high": high[i]} for i, n in enumerate(names)},
            "randomization_delta": {n: {"ci_low": low[k + i], "ci_high": high[k + i]} for i, n in enumerate(names)},
            "informative_share": {"ci_low": float(low[-1]), "ci_high": float(high[-1])}}


def _nan(value: float | None) -> float:
    return np.nan if value is None else float(value)
