"""flow.pde: the continuous-flow surrogate of the seed paper, done honestly (METHODS.md, flow.pde).

Everything streams through the one capture pass. The pass runs every fit-split probe before any
held-out probe (auditor.splits, runner), so the accumulator
  1. keeps the first fit batches until it has enough tokens for each step's PCA basis,
  2. turns every fit batch into sufficient statistics (estimators.pde.StepFit, KernelFit),
  3. solves when the last fit probe has arrived, and
  4. scores each held-out batch as it passes and forgets it.
Memory is bounded by the basis reservoir, never by the number of probes.

Steps are independent once their bases exist, so each batch's per-step work (and the attention-kernel
statistics, and the free-running rollout) runs as separate tasks on a small thread pool: numpy's matrix
products and array loops release the GIL, numpy's BLAS stays at the one thread the capture pass allows,
and every figure is summed in the same order as one thread would, so the results do not depend on it.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from auditor.checks.base import AuditContext, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators.attention_kernel import KernelFit, add_fit_layers
from auditor.estimators.laplacian import laplacian
from auditor.estimators.pde import Scatter, StepFit, pca_basis, pca_basis_of_scatter
from auditor.models.base import Capability
from auditor.parallel import run_all as _run_all
from auditor.splits import too_few_scored
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


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-token dot products over the last axis: [..., d] x [..., d] -> [...]."""
    return np.einsum("...d,...d->...", a, b)


def _seq_cos_sum(dot: np.ndarray, a2: np.ndarray, b2: np.ndarray, seq: np.ndarray, counts: np.ndarray) -> float:
    """Sum over sequences of the mean token-wise cosine, from per-token a.b, |a|^2 and |b|^2 of the valid tokens."""
    cos = dot.astype(np.float64) / np.maximum(np.sqrt(a2.astype(np.float64) * b2), _EPS)
    return float((np.bincount(seq, weights=cos, minlength=len(counts)) / counts).sum())


class _BatchFlow:
    """One batch's layer states in float32 and the token-axis operators of flow.pde, shared by all steps."""

    def __init__(self, batch: TraceBatch) -> None:
        self.batch = batch
        self.valid = batch.mask.astype(bool)
        self.sinks = _sinks(batch)
        self._weights = self.valid.astype(np.float32).reshape(1, -1)
        self._abar: dict[int, np.ndarray] = {}
        self._lap_weights: np.ndarray | None = None

    def hidden(self, layer: int) -> np.ndarray:
        return self.batch.hidden[layer].astype(np.float32, copy=False)

    @staticmethod
    def project(h: np.ndarray, q: np.ndarray) -> np.ndarray:
        """h Q for [B, T, d] states: one matrix product over all tokens -> [B, T, k]."""
        return (h.reshape(-1, h.shape[-1]) @ q).reshape(h.shape[:-1] + (q.shape[1],))

    def laplacian(self, h: np.ndarray) -> np.ndarray:
        return laplacian(h, self.valid, self.batch.grid, self.batch.prefix_tokens)

    def transport(self, step: int, hq: np.ndarray) -> np.ndarray | None:
        """(Abar H - H) Q = Abar (HQ) - HQ with Abar the head-averaged attention of the block; None without attention."""
        if self.batch.attentions is None:
            return None
        out = np.matmul(self.abar(step), hq)
        out -= hq
        return out

    def abar(self, step: int) -> np.ndarray:
        """The head-averaged attention of block `step` [B, T, T] (cached: a rollout task and a step task share it;
        computed twice at worst, to the same numbers)."""
        if step not in self._abar:
            self._abar[step] = self.batch.attentions[step].mean(axis=1, dtype=np.float32)
        return self._abar[step]

    def token_sum(self, x: np.ndarray) -> np.ndarray:
        """Sum over the valid tokens [d], in float64."""
        return (self._weights @ x.reshape(-1, x.shape[-1]))[0].astype(np.float64)

    def masked_sum(self, per_token: np.ndarray) -> float:
        return float(per_token[self.valid].sum(dtype=np.float64))

    def laplacian_sum(self, h: np.ndarray) -> np.ndarray:
        """Sum of Lap(h) over the valid tokens = sum_t c_t h_t with c = Lap(valid) (Lap is symmetric): 0 for a
        chain or a full grid, computed rather than assumed."""
        weights = self.lap_weights()
        if not weights.size:
            return np.zeros(h.shape[-1])
        return (weights @ h.reshape(-1, h.shape[-1]))[0].astype(np.float64)

    def lap_weights(self) -> np.ndarray:
        """c = Lap(valid) as [1, B*T] ([1, 0] where it is all zero), cached."""
        if self._lap_weights is None:
            c = self.laplacian(self.valid.astype(np.float32)[:, :, None])[:, :, 0]
            self._lap_weights = c.reshape(1, -1) if np.any(c) else np.zeros((1, 0), np.float32)
        return self._lap_weights


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
        # each step's basis comes from the tokens of both its boundaries; a boundary's scatter serves two steps
        masks = [b.mask.astype(bool) for b in kept]
        layers = len(first.hidden)
        d = first.hidden[0].shape[2]
        use_scatter = 2 * sum(int(m.sum()) for m in masks) >= d

        def boundary(layer: int) -> np.ndarray | Scatter:
            tokens = np.concatenate([b.hidden[layer][m] for b, m in zip(kept, masks, strict=True)]) \
                if len(kept) > 1 else kept[0].hidden[layer][masks[0]]
            return Scatter.of(tokens) if use_scatter else tokens

        parts = _run_all([partial(boundary, layer) for layer in range(layers)])

        def basis(step: int) -> np.ndarray:
            if use_scatter:
                return pca_basis_of_scatter(parts[step] + parts[step + 1], self.basis_size)
            return pca_basis(np.concatenate([parts[step], parts[step + 1]]), self.basis_size)

        bases = _run_all([partial(basis, step) for step in range(layers - 1)])
        self.steps.extend(StepFit(q, self.with_attention, self.ridge) for q in bases)

    def _feed(self, batch: TraceBatch) -> None:
        """Fit-split batch -> each step's sufficient statistics, in the PCA basis where the maths allows.

        Lap and Abar act along the token axis and the basis along the feature axis, so
        Lap(H)Q = Lap(HQ) and (Abar H - H)Q = Abar(HQ) - HQ: the token mixing runs on k numbers per token.
        """
        flow = _BatchFlow(batch)
        flow.lap_weights()                     # fill the shared cache before the tasks
        tasks: list[Callable[[], None]] = []
        if self.kernels is not None:
            tasks.append(partial(add_fit_layers, self.kernels, batch.attentions, flow.valid, flow.sinks))
        tasks.extend(partial(self._feed_step, flow, step, fit) for step, fit in enumerate(self.steps))
        _run_all(tasks)

    @staticmethod
    def _feed_step(flow: _BatchFlow, step: int, fit: StepFit) -> None:
        h, h_next = flow.hidden(step), flow.hidden(step + 1)
        q = fit.basis(h.dtype)
        rows = flow.valid
        hq = flow.project(h, q)
        hq_rows = hq[rows]
        u = h_next[rows] @ q                   # the next states in the basis, valid tokens only
        u -= hq_rows
        lap = flow.laplacian(h)
        y = h_next - h
        aq = flow.transport(step, hq)
        fit.add_projected(hq_rows, None if aq is None else aq[rows], u,
                          flow.laplacian(hq)[rows], flow.token_sum(y), flow.laplacian_sum(h),
                          flow.masked_sum(_rowdot(y, lap)), flow.masked_sum(_rowdot(lap, lap)))

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
        """Held-out figures, computed on the valid tokens only (flattened: padding costs nothing).

        Tasks: the layer boundaries' valid tokens and norms and the blocks' mean attention first, then each
        step's figures (with its attention-kernel scores) and the free-running rollout, which chains the steps.
        """
        flow = _BatchFlow(batch)
        mask = flow.valid
        if not self.scores:
            self.scores = [ScoreStats(batch.hidden[0].shape[2]) for _ in self.steps]
            self.rollout_sum = np.zeros(len(self.steps) + 1)
        seq = np.repeat(np.arange(batch.size), mask.sum(axis=1))          # sequence of each valid token
        counts = np.maximum(mask.sum(axis=1), 1)

        def boundary(layer: int) -> tuple[np.ndarray, np.ndarray]:
            tokens = flow.hidden(layer)[mask]
            return tokens, _rowdot(tokens, tokens)

        prepare: list[Callable[[], Any]] = [partial(boundary, layer) for layer in range(len(self.steps) + 1)]
        if batch.attentions is not None:
            prepare.extend(partial(flow.abar, step) for step in range(len(self.steps)))
        boundaries = _run_all(prepare)[:len(self.steps) + 1]
        tokens = [t for t, _ in boundaries]
        norms = [n for _, n in boundaries]
        self.rollout_sum[0] += batch.size
        _run_all([partial(self._rollout, flow, tokens, norms, seq, counts)] +
                 [partial(self._score_step, flow, step, tokens, norms, seq, counts) for step in range(len(self.steps))])
        if self.kernels is not None:
            for step in range(len(self.steps)):
                if len(self.examples) <= step:
                    self.examples.append(self._example(batch, step, mask, flow.sinks))

    def _score_step(self, flow: _BatchFlow, step: int, tokens: list[np.ndarray], norms: list[np.ndarray],
                    seq: np.ndarray, counts: np.ndarray) -> None:
        """One step's held-out figures (and its attention-kernel scores) for one batch."""
        fit, stats, mask, batch = self.steps[step], self.scores[step], flow.valid, flow.batch
        h_full = flow.hidden(step)
        q = fit.basis(h_full.dtype)
        hq_full = flow.project(h_full, q)
        lap = flow.laplacian(h_full)[mask]
        aq = flow.transport(step, hq_full)
        hq = hq_full[mask]
        h, h_next = tokens[step], tokens[step + 1]
        h_norm, n_norm = norms[step], norms[step + 1]
        y = h_next - h
        pred = fit.predict_projected(hq, lap, None if aq is None else aq[mask])
        stats.sequences += batch.size
        z = h + pred.change
        stats.cos["pde"] += _seq_cos_sum(_rowdot(z, h_next), _rowdot(z, z), n_norm, seq, counts)
        stats.cos["identity"] += _seq_cos_sum(_rowdot(h, h_next), h_norm, n_norm, seq, counts)
        z = h_next - z                                                   # y - predicted change
        stats.sse["pde"] += float(_rowdot(z, z).sum(dtype=np.float64))
        z = h + fit.pointwise_projected(hq)
        stats.cos["pointwise"] += _seq_cos_sum(_rowdot(z, h_next), _rowdot(z, z), n_norm, seq, counts)
        z = h_next - z
        stats.sse["pointwise"] += float(_rowdot(z, z).sum(dtype=np.float64))
        stats.yy += float(_rowdot(y, y).sum(dtype=np.float64))
        stats.y_sum += y.sum(axis=0, dtype=np.float64)
        stats.tokens += len(y)
        for name, value in pred.energy.items():
            stats.energy[name] += value or 0.0
        if self.kernels is not None:
            self.kernels[step].add_score(batch.attentions[step], mask, flow.sinks)

    def _rollout(self, flow: _BatchFlow, tokens: list[np.ndarray], norms: list[np.ndarray], seq: np.ndarray,
                 counts: np.ndarray) -> None:
        """The free-running rollout: the fitted flow from the embeddings, with the real attention weights."""
        mask = flow.valid
        rolled_full = flow.hidden(0) * mask[:, :, None]
        rolled = tokens[0]
        for step, fit in enumerate(self.steps):
            q = fit.basis(rolled_full.dtype)
            rq_full = flow.project(rolled_full, q)
            r_aq = flow.transport(step, rq_full)
            rolled = rolled + fit.predict_projected(rq_full[mask], flow.laplacian(rolled_full)[mask],
                                                    None if r_aq is None else r_aq[mask], energy=False).change
            rolled_full = np.zeros_like(rolled_full)
            rolled_full[mask] = rolled
            h_next = tokens[step + 1]
            self.rollout_sum[step + 1] += _seq_cos_sum(_rowdot(rolled, h_next), _rowdot(rolled, rolled),
                                                       norms[step + 1], seq, counts)

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
        # the held-out scores of the surrogate decide nothing on a handful of probes
        "insufficient": {m: thin for m in ("pde_r2", "rollout_cos") if (thin := too_few_scored(len(score),
                                                                                                "the surrogate"))},
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
