"""flow.pde's streaming accumulator: fit on one split, score on the other, in the one capture pass (docs/METHODS.md).

Everything streams through the one capture pass. The pass runs every fit-split probe before any
held-out probe (auditor.splits, runner), so the accumulator
  1. keeps the first fit batches until it has enough tokens for each step's PCA basis,
  2. turns every fit batch into sufficient statistics (estimators.pde.StepStats, KernelFit), per
     cross-validation fold of the fit probes when the basis size is chosen (`basis_size: auto`),
  3. when the last fit probe has arrived, chooses k by held-out R² across the folds and solves the
     surrogate and its reduced variants (a term removed, the rest refitted) on all fit probes, and
  4. scores each held-out batch as it passes, keeps per-probe sums for the bootstrap, and forgets it.
Memory is bounded by the basis reservoir and the statistics, never by the number of probes (apart
from a few numbers per held-out probe and step).

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
from auditor.estimators.pde import (
    TERMS,
    Scatter,
    StepStats,
    Surrogate,
    pca_basis,
    pca_basis_of_scatter,
    solve,
    sse,
)
from auditor.parallel import run_all as _run_all
from auditor.trace import TraceBatch

_RESERVOIR_BYTES = 150e6          # token states kept to find the PCA bases, at most
_STATS_BYTES = 256e6              # the fit statistics of all steps and folds, at most (caps the largest k tried)
FOLDS = 2                         # cross-validation folds of the fit probes when k is chosen
CV_TOLERANCE = 0.005              # the smallest k whose cross-validated R² is this close to the best
# the surrogate and its variants: each reduced one drops a term and is refitted without it
VARIANTS: dict[str, frozenset[str]] = {
    "pde": frozenset(TERMS), "pointwise": frozenset({"reaction"}),
    **{f"no_{term}": frozenset(TERMS) - {term} for term in TERMS}}


def basis_candidates(limit: int, steps: int, with_attention: bool, fit_tokens: float, folds: int = FOLDS,
                     budget: float = _STATS_BYTES) -> list[int]:
    """The k tried by cross-validation: 4, 8, 16, ... below `limit` and `limit` itself, while the p = 2k + 1
    in-span features stay within a quarter of the tokens a fold is fitted on (least squares with more
    features than that inflates the held-out error by a third of the noise or more; on MiniLM at 192 probes
    the cross-validated R² falls from k = 128 to 256 on every step) and the statistics of every step and fold
    (float64, p x (p + 2k)) fit in `budget`."""
    ks = [k for k in (4 << i for i in range(16)) if k < limit] + [limit]

    def features(k: int) -> int:
        return (2 if with_attention else 1) * k + 1

    def size(k: int) -> float:
        return 8.0 * features(k) * (features(k) + 2 * k) * folds * steps

    return [k for k in ks if size(k) <= budget and features(k) <= fit_tokens / folds / 4] or ks[:1]


class ScoreStats:
    """Held-out figures of one step, summed over batches, and the per-probe sums the bootstrap resamples."""

    def __init__(self, d: int) -> None:
        self.sequences = 0
        self.cos = {"pde": 0.0, "identity": 0.0, "pointwise": 0.0}
        self.sse = dict.fromkeys(VARIANTS, 0.0)
        self.yy = 0.0
        self.y_sum = np.zeros(d)
        self.tokens = 0
        self.energy = {"diffusion": 0.0, "attention": 0.0, "reaction": 0.0}
        self.probe: dict[str, list[np.ndarray]] = {"sse": [], "yy": [], "ys": [], "n": []}

    def r2(self, key: str) -> float | None:
        sst = self.yy - float(self.y_sum @ self.y_sum) / max(self.tokens, 1)
        return 1.0 - self.sse[key] / sst if sst > EPS * max(self.yy, 1.0) else None

    def per_probe(self) -> dict[str, np.ndarray]:
        """Per held-out probe: the surrogate's SSE, sum |y|^2, sum y [d] and the token count."""
        return {name: np.concatenate(parts) for name, parts in self.probe.items()}


class PDEStats:
    """The streaming accumulator of flow.pde (see the module docstring)."""

    def __init__(self, fit: np.ndarray, basis_size: int | str, ridge: float, seed: int = 0) -> None:
        self.seed = seed
        self.fit_index = np.asarray(fit)
        self.n_fit = len(self.fit_index)
        self.auto = str(basis_size) == "auto"
        self.basis_size = 0 if self.auto else int(basis_size)
        self.folds = FOLDS if self.auto and self.n_fit >= 2 * FOLDS else 1
        order = np.random.default_rng([seed & 0xFFFFFFFF, 0xF01D]).permutation(self.n_fit)
        self.fold_of = dict(zip(self.fit_index[order].tolist(), (np.arange(self.n_fit) % self.folds).tolist(),
                                strict=True))
        self.ridge = ridge
        self.fit_seen = 0
        self.reservoir: list[TraceBatch] = []
        self.reservoir_tokens = 0
        self.stats: list[list[StepStats]] = []          # [step][fold], dropped once solved
        self.models: list[dict[str, Surrogate]] = []     # [step] surrogate and variants at the chosen k
        self.candidates: list[int] = []
        self.cv_r2: list[dict[int, float | None]] = []
        self.fit_tokens: list[int] = []
        self.kernels: list[KernelFit] | None = None
        self.scores: list[ScoreStats] = []
        self.rollout_sum: np.ndarray | None = None
        self.solved = False
        self.causal = False
        self.examples: list[dict[str, Any]] = []
        self.with_attention = True
        self.fit_used: list[np.ndarray] = []             # the probes each stage actually used (tests check them)
        self.scored_used: list[np.ndarray] = []

    @property
    def steps(self) -> list[Surrogate]:
        """The solved surrogate of each step."""
        return [m["pde"] for m in self.models]

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
        if not self.stats:
            self.reservoir.append(batch.on_host())   # kept past this batch: no device memory
            self.reservoir_tokens += int(batch.mask.sum())
            if self.reservoir_tokens >= self._budget(batch) or self.fit_seen >= self.n_fit:
                self._start_and_feed()
        else:
            self._feed(batch)
        if self.fit_seen >= self.n_fit:
            self._finish_fit()

    def _start_and_feed(self) -> None:
        self._start(self.reservoir)
        for kept in self.reservoir:
            self._feed(kept)
        self.reservoir = []

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
        tokens = 2 * sum(int(m.sum()) for m in masks)
        limit = max(1, min(d, tokens - 1))
        fit_tokens = tokens / 2 / max(sum(b.size for b in kept), 1) * self.n_fit     # expected, from the first
        self.candidates = basis_candidates(limit, layers - 1, self.with_attention, fit_tokens, self.folds) \
            if self.auto else [max(1, min(self.basis_size, limit))]
        size = self.candidates[-1]
        use_scatter = tokens >= d

        def boundary(layer: int) -> np.ndarray | Scatter:
            states = np.concatenate([b.hidden[layer][m] for b, m in zip(kept, masks, strict=True)]) \
                if len(kept) > 1 else kept[0].hidden[layer][masks[0]]
            return Scatter.of(states) if use_scatter else states

        parts = _run_all([partial(boundary, layer) for layer in range(layers)])

        def basis(step: int) -> np.ndarray:
            if use_scatter:
                return pca_basis_of_scatter(parts[step] + parts[step + 1], size)
            return pca_basis(np.concatenate([parts[step], parts[step + 1]]), size)

        bases = _run_all([partial(basis, step) for step in range(layers - 1)])
        self.stats = [[StepStats(q, self.with_attention) for _ in range(self.folds)] for q in bases]

    def _feed(self, batch: TraceBatch) -> None:
        """Fit-split batch -> each step's sufficient statistics (per fold), in the PCA basis where the maths allows.

        Lap and Abar act along the token axis and the basis along the feature axis, so
        Lap(H)Q = Lap(HQ) and (Abar H - H)Q = Abar(HQ) - HQ: the token mixing runs on K numbers per token.
        """
        self.fit_used.append(np.asarray(batch.index).copy())
        flow = BatchFlow(batch)
        flow.lap_weights()                     # fill the shared cache before the tasks
        seq_fold = np.array([self.fold_of[int(i)] for i in batch.index])
        token_fold = np.repeat(seq_fold, flow.valid.sum(axis=1))
        tasks: list[Callable[[], None]] = []
        if self.kernels is not None:
            tasks.append(partial(add_fit_layers, self.kernels, batch.attentions, flow.valid, flow.sinks))
        tasks.extend(partial(self._feed_step, flow, step, token_fold) for step in range(len(self.stats)))
        _run_all(tasks)

    def _feed_step(self, flow: BatchFlow, step: int, token_fold: np.ndarray) -> None:
        folds = self.stats[step]
        h, h_next = flow.hidden(step), flow.hidden(step + 1)
        q = folds[0].q.astype(h.dtype)
        rows = flow.valid
        hq_full = flow.project(h, q)
        hq = hq_full[rows]
        u = h_next[rows] @ q                   # the next states in the basis, valid tokens only
        u -= hq
        lq = flow.laplacian(hq_full)[rows]
        aq = flow.transport(step, hq_full)
        att = flow.transport(step, h)
        h_rows, y = h[rows], h_next[rows] - h[rows]
        lap = flow.laplacian(h)[rows]
        for fold, stats in enumerate(folds):
            sel = token_fold == fold
            if self.folds == 1 or sel.all():
                sel = slice(None)
            elif not sel.any():
                continue
            stats.add_projected(hq[sel], None if aq is None else aq[rows][sel], u[sel], lq[sel], h_rows[sel],
                                lap[sel], None if att is None else att[rows][sel], y[sel])

    def _finish_fit(self) -> None:
        if self.solved:
            return
        if not self.stats:
            if not self.reservoir:
                raise ValueError("no fit probes reached the flow surrogate")
            self._start_and_feed()
        chosen = _run_all([partial(self._solve_step, folds) for folds in self.stats])
        self.models = [models for models, _, _ in chosen]
        self.cv_r2 = [cv for _, cv, _ in chosen]
        self.fit_tokens = [n for _, _, n in chosen]
        self.stats = []                        # the statistics at the largest k are no longer needed
        for kernel in self.kernels or []:
            kernel.solve()
        self.solved = True

    def _solve_step(self, folds: list[StepStats]) -> tuple[dict[str, Surrogate], dict[int, float | None], int]:
        """Chooses k by held-out R² across the folds (each fold scored by the surrogate fitted on the others),
        then solves the surrogate and its variants at that k on all fit tokens."""
        cv: dict[int, float | None] = {}
        if len(folds) > 1 and all(s.n for s in folds):
            for k in self.candidates:
                errors, totals = 0.0, 0.0
                for held, stats in enumerate(folds):
                    rest = _merged([s for i, s in enumerate(folds) if i != held])
                    errors += sse(stats, solve(rest, k, self.ridge))
                    totals += stats.sst()
                cv[k] = 1.0 - errors / totals if totals > 0 else None
        scored = {k: r for k, r in cv.items() if r is not None}
        if scored:
            best = max(scored.values())
            k = min(k for k, r in scored.items() if r >= best - CV_TOLERANCE)
        else:               # a fixed k, or too few fit probes to cross-validate: the largest k up to 64
            k = max([c for c in self.candidates if c <= 64] or self.candidates[:1])
        total = _merged(folds)
        variants = {name: terms for name, terms in VARIANTS.items()
                    if self.with_attention or name != "no_attention"}
        return {name: solve(total, k, self.ridge, terms) for name, terms in variants.items()}, cv, total.n

    # -- scoring -------------------------------------------------------------------------------
    def _score(self, batch: TraceBatch) -> None:
        """Held-out figures, computed on the valid tokens only (flattened: padding costs nothing).

        Tasks: the layer boundaries' valid tokens and norms and the blocks' mean attention first, then each
        step's figures (with its attention-kernel scores) and the free-running rollout, which chains the steps.
        """
        self.scored_used.append(np.asarray(batch.index).copy())
        flow = BatchFlow(batch)
        mask = flow.valid
        if not self.scores:
            self.scores = [ScoreStats(batch.hidden[0].shape[2]) for _ in self.models]
            self.rollout_sum = np.zeros(len(self.models) + 1)
        seq = np.repeat(np.arange(batch.size), mask.sum(axis=1))          # sequence of each valid token
        counts = np.maximum(mask.sum(axis=1), 1)

        def boundary(layer: int) -> tuple[np.ndarray, np.ndarray]:
            tokens = flow.hidden(layer)[mask]
            return tokens, rowdot(tokens, tokens)

        prepare: list[Callable[[], Any]] = [partial(boundary, layer) for layer in range(len(self.models) + 1)]
        if batch.attentions is not None:
            prepare.extend(partial(flow.abar, step) for step in range(len(self.models)))
        boundaries = _run_all(prepare)[:len(self.models) + 1]
        tokens = [t for t, _ in boundaries]
        norms = [n for _, n in boundaries]
        self.rollout_sum[0] += batch.size
        _run_all([partial(self._rollout, flow, tokens, norms, seq, counts)] +
                 [partial(self._score_step, flow, step, tokens, norms, seq, counts) for step in range(len(self.models))])
        if self.kernels is not None:
            for step in range(len(self.models)):
                if len(self.examples) <= step:
                    self.examples.append(self._example(batch, step, mask, flow.sinks))

    def _score_step(self, flow: BatchFlow, step: int, tokens: list[np.ndarray], norms: list[np.ndarray],
                    seq: np.ndarray, counts: np.ndarray) -> None:
        """One step's held-out figures (and its attention-kernel scores) for one batch."""
        models, stats, mask, batch = self.models[step], self.scores[step], flow.valid, flow.batch
        h_full = flow.hidden(step)
        hq_full = flow.project(h_full, models["pde"].cast("q", h_full.dtype))
        aq = flow.transport(step, hq_full)
        att = flow.transport(step, h_full)
        inputs = (hq_full[mask], None if aq is None else aq[mask], flow.laplacian(h_full)[mask], tokens[step],
                  None if att is None else att[mask])
        h, h_next = tokens[step], tokens[step + 1]
        y = h_next - h
        stats.sequences += batch.size
        stats.cos["identity"] += seq_cos_sum(rowdot(h, h_next), norms[step], norms[step + 1], seq, counts)
        for name, model in models.items():
            pred = model.predict(*inputs, energy=name == "pde")
            z = h + pred.change
            if name in stats.cos:
                stats.cos[name] += seq_cos_sum(rowdot(z, h_next), rowdot(z, z), norms[step + 1], seq, counts)
            z = h_next - z                                               # y - predicted change
            error = rowdot(z, z)
            stats.sse[name] += float(error.sum(dtype=np.float64))
            if name == "pde":
                stats.probe["sse"].append(np.bincount(seq, weights=error, minlength=batch.size))
                for term, value in pred.energy.items():
                    stats.energy[term] += value or 0.0
        y_token = rowdot(y, y)
        stats.yy += float(y_token.sum(dtype=np.float64))
        stats.y_sum += y.sum(axis=0, dtype=np.float64)
        stats.tokens += len(y)
        stats.probe["yy"].append(np.bincount(seq, weights=y_token, minlength=batch.size))
        y_full = np.zeros(h_full.shape, np.float64)
        y_full[mask] = y
        stats.probe["ys"].append(y_full.sum(axis=1))
        stats.probe["n"].append(mask.sum(axis=1).astype(np.float64))
        if self.kernels is not None:
            self.kernels[step].add_score(batch.attentions[step], mask, flow.sinks)

    def _rollout(self, flow: BatchFlow, tokens: list[np.ndarray], norms: list[np.ndarray], seq: np.ndarray,
                 counts: np.ndarray) -> None:
        """The free-running rollout: the fitted flow from the embeddings, with the real attention weights."""
        mask = flow.valid
        rolled_full = flow.hidden(0) * mask[:, :, None]
        rolled = tokens[0]
        for step, model in enumerate(self.steps):
            rq_full = flow.project(rolled_full, model.cast("q", rolled_full.dtype))
            r_aq = flow.transport(step, rq_full)
            r_att = flow.transport(step, rolled_full)
            rolled = rolled + model.predict(rq_full[mask], None if r_aq is None else r_aq[mask],
                                            flow.laplacian(rolled_full)[mask], rolled,
                                            None if r_att is None else r_att[mask], energy=False).change
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


def _merged(parts: list[StepStats]) -> StepStats:
    """The statistics of several folds together (a new object: the folds stay as they are)."""
    if len(parts) == 1:
        return parts[0]
    total = StepStats(parts[0].q, parts[0].with_attention)
    for part in parts:
        total += part
    return total

