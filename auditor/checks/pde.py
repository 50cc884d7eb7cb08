"""flow.pde: the continuous-flow surrogate of the seed paper, done honestly (METHODS.md, flow.pde).

Everything streams through the one capture pass. The pass runs every fit-split probe before any
held-out probe (auditor.splits, runner), so the accumulator
  1. keeps the first fit batches until it has enough tokens for each step's PCA basis,
  2. turns every fit batch into sufficient statistics (estimators.pde.StepFit, KernelFit),
  3. solves when the last fit probe has arrived, and
  4. scores each held-out batch as it passes and forgets it.
Memory is bounded by the basis reservoir, never by the number of probes.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.checks.base import AuditContext, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators.attention_kernel import KernelFit
from auditor.estimators.laplacian import laplacian
from auditor.estimators.pde import StepFit, pca_basis
from auditor.models.base import Capability
from auditor.trace import TraceBatch

_EPS = 1e-12
_RESERVOIR_BYTES = 150e6          # token states kept to find the PCA bases, at most


def _rows(batch: TraceBatch, keep: np.ndarray) -> TraceBatch:
    return TraceBatch(index=batch.index[keep], mask=batch.mask[keep], hidden=[h[keep] for h in batch.hidden],
                      attentions=None if batch.attentions is None else [a[keep] for a in batch.attentions],
                      special=None if batch.special is None else batch.special[keep], grid=batch.grid,
                      prefix_tokens=batch.prefix_tokens)


def _sinks(batch: TraceBatch) -> np.ndarray:
    """Sink tokens per sequence: valid special tokens, else the first token."""
    mask = batch.mask.astype(bool)
    sinks = (batch.special & mask) if batch.special is not None else np.zeros_like(mask)
    none = ~sinks.any(axis=1)
    sinks[none, 0] = True
    return sinks


def _seq_cos_sum(a: np.ndarray, b: np.ndarray, seq: np.ndarray, counts: np.ndarray) -> float:
    """Sum over sequences of the mean token-wise cosine; a, b are valid tokens [n, d], seq their sequence."""
    cos = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), _EPS)
    return float((np.bincount(seq, weights=cos, minlength=len(counts)) / counts).sum())


class ScoreStats:
    """Held-out figures of one step, summed over batches."""

    def __init__(self, d: int) -> None:
        self.sequences = 0
        self.cos = {"pde": 0.0, "identity": 0.0, "pointwise": 0.0}
        self.sse = {"pde": 0.0, "pointwise": 0.0}
        self.yy = 0.0
        self.y_sum = np.zeros(d)
        self.tokens = 0
        self.energy = {"diffusion": 0.0, "attention": 0.0, "reaction": 0.0}

    def r2(self, key: str) -> float | None:
        sst = self.yy - float(self.y_sum @ self.y_sum) / max(self.tokens, 1)
        return 1.0 - self.sse[key] / sst if sst > _EPS * max(self.yy, 1.0) else None


class PDEStats:
    """The streaming accumulator of flow.pde (see the module docstring)."""

    def __init__(self, fit: np.ndarray, basis_size: int, ridge: float, seed: int = 0) -> None:
        self.seed = seed
        self.fit_index = np.asarray(fit)
        self.n_fit = len(self.fit_index)
        self.basis_size = basis_size
        self.ridge = ridge
        self.fit_seen = 0
        self.reservoir: list[TraceBatch] = []
        self.reservoir_tokens = 0
        self.steps: list[StepFit] = []
        self.kernels: list[KernelFit] | None = None
        self.scores: list[ScoreStats] = []
        self.rollout_sum: np.ndarray | None = None
        self.solved = False
        self.causal = False
        self.examples: list[dict[str, Any]] = []
        self.with_attention = True

    def update(self, batch: TraceBatch) -> None:
        is_fit = np.isin(batch.index, self.fit_index)
        if is_fit.any():
            self._fit(batch if is_fit.all() else _rows(batch, is_fit))    # copy only a straddling batch
        if not is_fit.all():
            if not self.solved:
                self._finish_fit()
            self._score(batch if not is_fit.any() else _rows(batch, ~is_fit))

    # -- fitting -------------------------------------------------------------------------------
    def _budget(self, batch: TraceBatch) -> int:
        d, layers = batch.hidden[0].shape[2], len(batch.hidden)
        return int(np.clip(_RESERVOIR_BYTES / (4 * d * layers), 1024, 2048))

    def _fit(self, batch: TraceBatch) -> None:
        self.fit_seen += batch.size
        if not self.steps:
            self.reservoir.append(batch)
            self.reservoir_tokens += int(batch.mask.sum())
            if self.reservoir_tokens >= self._budget(batch) or self.fit_seen >= self.n_fit:
                self._start(self.reservoir)
                for kept in self.reservoir:
                    self._feed(kept)
                self.reservoir = []
        else:
            self._feed(batch)
        if self.fit_seen >= self.n_fit:
            self._finish_fit()

    def _start(self, kept: list[TraceBatch]) -> None:
        first = kept[0]
        self.with_attention = first.attentions is not None
        if self.with_attention:
            a = first.attentions[0]
            self.causal = bool(np.triu(a.max(axis=(0, 1)), k=1).max() < 1e-6)
            self.kernels = [KernelFit(heads=a.shape[1], causal=self.causal, seed=self.seed)
                            for _ in first.attentions]
        for step in range(len(first.hidden) - 1):
            tokens = np.concatenate([np.concatenate([b.hidden[step][b.mask], b.hidden[step + 1][b.mask]])
                                     for b in kept])
            self.steps.append(StepFit(pca_basis(tokens, self.basis_size), self.with_attention, self.ridge))

    def _step_inputs(self, batch: TraceBatch, step: int, h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        lap = laplacian(h, batch.mask.astype(bool), batch.grid, batch.prefix_tokens)
        if not self.with_attention or batch.attentions is None:
            return lap, None
        abar = batch.attentions[step].mean(axis=1, dtype=np.float32)         # [B, T, T] head average
        return lap, np.matmul(abar, h) - h

    def _feed(self, batch: TraceBatch) -> None:
        mask = batch.mask.astype(bool)
        sinks = _sinks(batch)
        for step, fit in enumerate(self.steps):
            h = batch.hidden[step].astype(np.float32, copy=False)
            lap, att = self._step_inputs(batch, step, h)
            y = batch.hidden[step + 1][mask] - h[mask]
            fit.add(h[mask], lap[mask], None if att is None else att[mask], y)
            if self.kernels is not None:
                self.kernels[step].add_fit(batch.attentions[step], mask, sinks)

    def _finish_fit(self) -> None:
        if self.solved:
            return
        if not self.steps:
            if not self.reservoir:
                raise ValueError("no fit probes reached the flow surrogate")
            self._start(self.reservoir)
            for kept in self.reservoir:
                self._feed(kept)
            self.reservoir = []
        for fit in self.steps:
            fit.solve()
        for kernel in self.kernels or []:
            kernel.solve()
        self.solved = True

    # -- scoring -------------------------------------------------------------------------------
    def _score(self, batch: TraceBatch) -> None:
        """Held-out figures, computed on the valid tokens only (flattened: padding costs nothing)."""
        mask = batch.mask.astype(bool)
        if not self.scores:
            self.scores = [ScoreStats(batch.hidden[0].shape[2]) for _ in self.steps]
            self.rollout_sum = np.zeros(len(self.steps) + 1)
        seq = np.repeat(np.arange(batch.size), mask.sum(axis=1))          # sequence of each valid token
        counts = np.maximum(mask.sum(axis=1), 1)
        rolled_full = batch.hidden[0].astype(np.float64) * mask[:, :, None]
        self.rollout_sum[0] += batch.size
        sinks = _sinks(batch)
        for step, fit in enumerate(self.steps):
            stats = self.scores[step]
            h_full = batch.hidden[step].astype(np.float64)
            lap, att = self._step_inputs(batch, step, h_full)
            h, h_next = h_full[mask], batch.hidden[step + 1].astype(np.float64)[mask]
            y = h_next - h
            pred = fit.predict(h, lap[mask], None if att is None else att[mask])
            point = fit.pointwise(h)
            stats.sequences += batch.size
            stats.cos["pde"] += _seq_cos_sum(h + pred.change, h_next, seq, counts)
            stats.cos["identity"] += _seq_cos_sum(h, h_next, seq, counts)
            stats.cos["pointwise"] += _seq_cos_sum(h + point, h_next, seq, counts)
            stats.sse["pde"] += float(((y - pred.change) ** 2).sum())
            stats.sse["pointwise"] += float(((y - point) ** 2).sum())
            stats.yy += float((y * y).sum())
            stats.y_sum += y.sum(axis=0)
            stats.tokens += len(y)
            for name, value in pred.energy.items():
                stats.energy[name] += value or 0.0
            # free-running rollout: the fitted flow from the embeddings, with the real attention weights
            r_lap, r_att = self._step_inputs(batch, step, rolled_full)
            rolled = rolled_full[mask] + fit.predict(rolled_full[mask], r_lap[mask],
                                                     None if r_att is None else r_att[mask]).change
            rolled_full = np.zeros_like(rolled_full)
            rolled_full[mask] = rolled
            self.rollout_sum[step + 1] += _seq_cos_sum(rolled, h_next, seq, counts)
            if self.kernels is not None:
                self.kernels[step].add_score(batch.attentions[step], mask, sinks)
                if len(self.examples) <= step:
                    self.examples.append(self._example(batch, step, mask, sinks))

    def _example(self, batch: TraceBatch, step: int, mask: np.ndarray, sinks: np.ndarray) -> dict[str, Any]:
        """One held-out attention row beside its fitted kernel, for the report's chart."""
        length = int(mask[0].sum())
        query = length // 2
        kernel = self.kernels[step].kernels(mask[:1], sinks[:1])[0, 0, query, :length]
        return {"layer": step, "head": 0, "query": query, "probe": int(batch.index[0]),
                "attention": batch.attentions[step][0, 0, query, :length].astype(float).round(5).tolist(),
                "kernel": kernel.round(5).tolist()}


@register
class FlowPDE(Check):
    """Diffusion + attention transport + reaction per step, fitted on one split, scored on the other."""

    id = "flow.pde"
    title = "Continuous-flow surrogate"
    meaning = ("How well a simple picture of information flowing like water (spreading to neighbours, being "
               "carried by attention, being transformed in place) explains what each layer really does, "
               "checked on inputs the picture was not fitted to.")
    dimension = "flow"
    requires = frozenset({Capability.HIDDEN_STATES})
    captures = frozenset({"hidden", "attentions"})
    metric_names = frozenset({"pde_cos", "identity_cos", "pointwise_cos", "pde_r2", "rollout_cos",
                              "share_diffusion", "share_attention", "share_reaction",
                              "kernel_attention_cos", "uniform_attention_cos", "pointwise_r2"})
    step_metrics = frozenset({"pde_cos", "identity_cos", "pointwise_cos", "pde_r2", "share_diffusion",
                              "share_attention", "share_reaction", "kernel_attention_cos",
                              "uniform_attention_cos", "pointwise_r2"})

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        return {"basis_size": 64, "ridge": 1e-3}

    def skip_reason(self, ctx: AuditContext) -> str | None:
        if getattr(ctx.probes, "count", 0) < 4:
            return "the surrogate needs at least 4 probes: some to fit it and others to score it"
        return None

    def accumulator(self, ctx: AuditContext) -> PDEStats:
        fit, _ = ctx.fit_score_split()
        return PDEStats(fit, int(self.params["basis_size"]), float(self.params["ridge"]), ctx.seed)

    def run(self, ctx: AuditContext) -> CheckResult:
        stats: PDEStats = ctx.accumulators[self.id]  # type: ignore[assignment]
        if not stats.scores:
            return CheckResult.skipped(self.id, "no held-out probes reached the surrogate")
        return CheckResult(check_id=self.id, outcome="ok", summary=_summary(stats), metrics=_metrics(stats),
                           evidence=_evidence(stats, ctx))


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
    }
    if kernels is not None:
        metrics["kernel_attention_cos"] = [float(k.score_kernel_sum.mean() / k.score_rows) for k in kernels]
        metrics["uniform_attention_cos"] = [float(k.score_uniform_sum.mean() / k.score_rows) for k in kernels]
    return metrics


def _evidence(stats: PDEStats, ctx: AuditContext) -> dict[str, Any]:
    fit, score = ctx.fit_score_split()
    evidence: dict[str, Any] = {
        "diffusion_coefficient": [s.diffusion for s in stats.steps],
        "basis_size": [s.k for s in stats.steps], "ridge": stats.ridge,
        "fit_probes": len(fit), "scored_probes": len(score),
        "fit_tokens": [s.n for s in stats.steps], "scored_tokens": [s.tokens for s in stats.scores],
        "attention_available": stats.with_attention, "causal": stats.causal,
        "laplacian": "2-D patch grid, Neumann ends; class token excluded" if ctx.identity.modality == "image"
        else "token chain over valid tokens, Neumann ends",
        "attention_examples": stats.examples,
    }
    if stats.kernels is not None:
        evidence["kernel_parameters"] = [[{"drift": v, "spread": None if np.isinf(s) else s, "sink": w}
                                          for v, s, w in k.choice or []] for k in stats.kernels]
        evidence["kernel_cos_by_head"] = [(k.score_kernel_sum / k.score_rows).tolist() for k in stats.kernels]
    return evidence


def _summary(stats: PDEStats) -> str:
    metrics = _metrics(stats)
    r2 = [v for v in metrics["pde_r2"] if v is not None]
    beats = sum(p > i for p, i in zip(metrics["pde_cos"], metrics["identity_cos"], strict=True))
    text = (f"on held-out probes the flow picture explains {100 * float(np.mean(r2)):.0f}% of the layer changes "
            f"on average (R²), and beats 'no change' on {beats} of {len(stats.scores)} steps") if r2 else \
        "the layers change nothing measurable, so there is no flow to explain"
    if stats.kernels is not None:
        k = float(np.mean(metrics["kernel_attention_cos"]))
        u = float(np.mean(metrics["uniform_attention_cos"]))
        text += f"; drift-diffusion kernels match attention with cosine {k:.2f} (uniform attention: {u:.2f})"
    else:
        text += "; the model exposes no attention, so the attention terms are unavailable"
    return text
