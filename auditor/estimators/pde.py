"""The continuous-flow surrogate of one layer step, fitted from streamed statistics (METHODS.md, flow.pde).

For a step l -> l+1 with token states H = H_l (rows of d numbers) and change Y = H_{l+1} - H_l:

    Y  ~  D * Lap(H)  +  (Abar H - H) Q W Q^T  +  H Q R Q^T + b
          diffusion      attention transport      reaction (per token)

D is one scalar, Q [d, k] an orthonormal PCA basis of the step's token states, W and R are
k x k, b a bias. The fit is a joint ridge regression (ridge on W and R only) solved from
sufficient statistics, so any number of tokens streams through in batches: project Y and
Lap(H) onto Q (the in-span part, where W, R and D act together) and onto its complement
(where only D and the bias act). Predictions are mapped back to all d dimensions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_RIDGE = 1e-3     # relative to the mean feature energy: a mild, scale-free penalty


def pca_basis(tokens: np.ndarray, k: int) -> np.ndarray:
    """Top-k principal directions [d, k] of token states [n, d] (centred).

    From the d x d covariance's eigenvectors (an order of magnitude faster than an SVD of the
    n x d token matrix when n >> d), or from the n x n Gram matrix when there are fewer tokens.
    """
    x = tokens.astype(np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    k = max(1, min(k, x.shape[1], max(x.shape[0] - 1, 1)))
    if x.shape[0] >= x.shape[1]:
        _, vectors = np.linalg.eigh(x.T @ x)
        return vectors[:, ::-1][:, :k].copy()
    values, vectors = np.linalg.eigh(x @ x.T)
    top = vectors[:, ::-1][:, :k] / np.sqrt(np.maximum(values[::-1][:k], 1e-30))
    return (x.T @ top).copy()


@dataclass
class Prediction:
    """The predicted change of some tokens and the squared norm of each term's contribution.

    Energies come from the k-dimensional coefficients: Q has orthonormal columns and the
    out-of-span bias is orthogonal to it, so no term needs mapping back on its own.
    """

    change: np.ndarray
    energy: dict[str, float | None]


class StepFit:
    """Sufficient statistics and the solved surrogate for one step.

    Call `add` with fit-split tokens, then `solve`, then `predict`/`pointwise` on any tokens.
    Token arrays are [n, d] (or [..., d]: the maths acts on the last axis).
    """

    def __init__(self, basis: np.ndarray, with_attention: bool, ridge: float = DEFAULT_RIDGE) -> None:
        self.q = basis
        self.k = basis.shape[1]
        self.with_attention = with_attention
        self.ridge = ridge
        p = (2 if with_attention else 1) * self.k + 1          # [attention Q | h Q | 1]
        d = basis.shape[0]
        self.s_ff = np.zeros((p, p))
        self.s_fu = np.zeros((p, self.k))
        self.s_fl = np.zeros((p, self.k))
        self.uu = self.ul = self.ll = 0.0
        self.perp_y = np.zeros(d)
        self.perp_l = np.zeros(d)
        self.perp_yl = self.perp_ll = 0.0
        self.n = 0
        self.diffusion = 0.0
        self.g: np.ndarray | None = None
        self.bias_perp = np.zeros(d)
        self.g_pointwise: np.ndarray | None = None
        self.bias_perp_pointwise = np.zeros(d)

    def _features(self, h: np.ndarray, att: np.ndarray | None, q: np.ndarray | None = None) -> np.ndarray:
        q = self.q if q is None else q
        parts = ([att @ q] if self.with_attention else []) + [h @ q, np.ones(h.shape[:-1] + (1,), dtype=h.dtype)]
        return np.concatenate(parts, axis=-1)

    def add(self, h: np.ndarray, lap: np.ndarray, att: np.ndarray | None, y: np.ndarray) -> None:
        """Fit-split tokens [n, d]."""
        # projections in the inputs' precision, sums of products in float64 (they grow with n)
        q = self.q.astype(h.dtype, copy=False)
        f = self._features(h, att, q).astype(np.float64)
        u, lq = (y @ q).astype(np.float64), (lap @ q).astype(np.float64)
        self.s_ff += f.T @ f
        self.s_fu += f.T @ u
        self.s_fl += f.T @ lq
        self.uu += float((u * u).sum())
        self.ul += float((u * lq).sum())
        self.ll += float((lq * lq).sum())
        y_perp, l_perp = y - u @ self.q.T, lap - lq @ self.q.T      # float64 from here
        self.perp_y += y_perp.sum(axis=0)
        self.perp_l += l_perp.sum(axis=0)
        self.perp_yl += float((y_perp * l_perp).sum())
        self.perp_ll += float((l_perp * l_perp).sum())
        self.n += h.shape[0]

    def _regularised(self, cols: np.ndarray) -> np.ndarray:
        m = self.s_ff[np.ix_(cols, cols)].copy()
        scale = float(np.mean(np.diag(m)[:-1])) if len(cols) > 1 else 1.0
        m[np.arange(len(cols) - 1), np.arange(len(cols) - 1)] += self.ridge * max(scale, 1e-12)
        return m

    def solve(self) -> None:
        """Joint least squares in D, W, R, b (ridge on W, R): D from its 1-D profile, then the rest."""
        if self.n == 0:
            raise ValueError("no fit tokens")
        cols = np.arange(self.s_ff.shape[0])
        m = self._regularised(cols)
        m_fu = np.linalg.solve(m, self.s_fu)
        m_fl = np.linalg.solve(m, self.s_fl)
        a1 = self.ul - float((self.s_fu * m_fl).sum())
        a2 = self.ll - float((self.s_fl * m_fl).sum())
        c1 = self.perp_yl - float(self.perp_y @ self.perp_l) / self.n
        c2 = self.perp_ll - float(self.perp_l @ self.perp_l) / self.n
        denom = a2 + c2
        self.diffusion = (a1 + c1) / denom if denom > 1e-12 * max(self.ll + self.perp_ll, 1e-30) else 0.0
        self.g = m_fu - self.diffusion * m_fl
        self.bias_perp = (self.perp_y - self.diffusion * self.perp_l) / self.n
        # the pointwise baseline: reaction only (h Q and the bias), no diffusion, no attention
        point = cols[-(self.k + 1):]
        self.g_pointwise = np.linalg.solve(self._regularised(point), self.s_fu[point])
        self.bias_perp_pointwise = self.perp_y / self.n

    def predict(self, h: np.ndarray, lap: np.ndarray, att: np.ndarray | None) -> Prediction:
        """The surrogate's change for tokens [n, d] (or [..., d]), with per-term energies."""
        assert self.g is not None, "solve() first"
        k = self.k
        offset = k if self.with_attention else 0
        reaction_q = (h @ self.q) @ self.g[offset:offset + k] + self.g[-1]
        attention_q = (att @ self.q) @ self.g[:k] if self.with_attention and att is not None else None
        in_span = reaction_q if attention_q is None else reaction_q + attention_q
        tokens = int(np.prod(h.shape[:-1]))
        energy = {"diffusion": float(self.diffusion ** 2 * (lap * lap).sum()),
                  "attention": None if attention_q is None else float((attention_q * attention_q).sum()),
                  "reaction": float((reaction_q * reaction_q).sum() + tokens * (self.bias_perp @ self.bias_perp))}
        return Prediction(change=self.diffusion * lap + in_span @ self.q.T + self.bias_perp, energy=energy)

    def pointwise(self, h: np.ndarray) -> np.ndarray:
        assert self.g_pointwise is not None, "solve() first"
        return ((h @ self.q) @ self.g_pointwise[:-1] + self.g_pointwise[-1]) @ self.q.T + self.bias_perp_pointwise
