"""flow.pde's streaming accumulator: fit on one split, score on the other, in the one capture pass (METHODS.md).

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

from auditor.checks.pde_batch import EPS, BatchFlow, rowdot, select_rows, seq_cos_sum
from auditor.estimators.attention_kernel import KernelFit, add_fit_layers
from auditor.estimators.pde import Scatter, StepFit, pca_basis, pca_basis_of_scatter
from auditor.parallel import run_all as _run_all
from auditor.trace import TraceBatch

_RESERVOIR_BYTES = 150e6          # token states kept to find the PCA bases, at most


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
        return 1.0 - self.sse[key] / sst if sst > EPS * max(self.yy, 1.0) else None


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
            self._fit(batch if is_fit.all() else select_rows(batch, is_fit))    # copy only a straddling batch
        if not is_fit.all():
            if not self.solved:
                self._finish_fit()
            self._score(batch if not is_fit.any() else select_rows(batch, ~is_fit))

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
        flow = BatchFlow(batch)
        flow.lap_weights()                     # fill the shared cache before the tasks
        tasks: list[Callable[[], None]] = []
        if self.kernels is not None:
            tasks.append(partial(add_fit_layers, self.kernels, batch.attentions, flow.valid, flow.sinks))
        tasks.extend(partial(self._feed_step, flow, step, fit) for step, fit in enumerate(self.steps))
        _run_all(tasks)

    @staticmethod
    def _feed_step(flow: BatchFlow, step: int, fit: StepFit) -> None:
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
                          flow.masked_sum(rowdot(y, lap)), flow.masked_sum(rowdot(lap, lap)))

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
        flow = BatchFlow(batch)
        mask = flow.valid
        if not self.scores:
            self.scores = [ScoreStats(batch.hidden[0].shape[2]) for _ in self.steps]
            self.rollout_sum = np.zeros(len(self.steps) + 1)
        seq = np.repeat(np.arange(batch.size), mask.sum(axis=1))          # sequence of each valid token
        counts = np.maximum(mask.sum(axis=1), 1)

        def boundary(layer: int) -> tuple[np.ndarray, np.ndarray]:
            tokens = flow.hidden(layer)[mask]
            return tokens, rowdot(tokens, tokens)

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

    def _score_step(self, flow: BatchFlow, step: int, tokens: list[np.ndarray], norms: list[np.ndarray],
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
        stats.cos["pde"] += seq_cos_sum(rowdot(z, h_next), rowdot(z, z), n_norm, seq, counts)
        stats.cos["identity"] += seq_cos_sum(rowdot(h, h_next), h_norm, n_norm, seq, counts)
        z = h_next - z                                                   # y - predicted change
        stats.sse["pde"] += float(rowdot(z, z).sum(dtype=np.float64))
        z = h + fit.pointwise_projected(hq)
        stats.cos["pointwise"] += seq_cos_sum(rowdot(z, h_next), rowdot(z, z), n_norm, seq, counts)
        z = h_next - z
        stats.sse["pointwise"] += float(rowdot(z, z).sum(dtype=np.float64))
        stats.yy += float(rowdot(y, y).sum(dtype=np.float64))
        stats.y_sum += y.sum(axis=0, dtype=np.float64)
        stats.tokens += len(y)
        for name, value in pred.energy.items():
            stats.energy[name] += value or 0.0
        if self.kernels is not None:
            self.kernels[step].add_score(batch.attentions[step], mask, flow.sinks)

    def _rollout(self, flow: BatchFlow, tokens: list[np.ndarray], norms: list[np.ndarray], seq: np.ndarray,
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
            self.rollout_sum[step + 1] += seq_cos_sum(rowdot(rolled, h_next), rowdot(rolled, rolled),
                                                       norms[step + 1], seq, counts)

    def _example(self, batch: TraceBatch, step: int, mask: np.ndarray, sinks: np.ndarray) -> dict[str, Any]:
        """One held-out attention row beside its fitted kernel, for the report's chart."""
        length = int(mask[0].sum())
        query = length // 2
        kernel = self.kernels[step].kernels(mask[:1], sinks[:1])[0, 0, query, :length]
        return {"layer": step, "head": 0, "query": query, "probe": int(batch.index[0]),
                "attention": batch.attentions[step][0, 0, query, :length].astype(float).round(5).tolist(),
                "kernel": kernel.round(5).tolist()}

