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
class Scatter:
    """Token count, mean [d] and centred scatter matrix [d, d] of one set of token states.

    The mean in float64; the products of the centred tokens in float32 (centred first, so nothing cancels),
    returned in float64 for the combination and the eigendecomposition.
    """

    n: int
    mean: np.ndarray
    matrix: np.ndarray

    @classmethod
    def of(cls, tokens: np.ndarray) -> Scatter:
        mean = tokens.mean(axis=0, dtype=np.float64)
        # centred in float64 and rounded to float32 chunk by chunk (no float64 copy of all tokens)
        x = np.subtract(tokens, mean, out=np.empty(tokens.shape, np.float32), casting="same_kind")
        return cls(len(x), mean, (x.T @ x).astype(np.float64))

    def __add__(self, other: Scatter) -> Scatter:
        """The scatter of both sets together (Chan et al.'s pairwise update: no cancellation)."""
        n = self.n + other.n
        delta = other.mean - self.mean
        return Scatter(n, self.mean + delta * (other.n / n),
                       self.matrix + other.matrix + np.outer(delta, delta) * (self.n * other.n / n))


def pca_basis_of_scatter(scatter: Scatter, k: int) -> np.ndarray:
    """`pca_basis` of the tokens a Scatter summarises (used when there are at least d tokens)."""
    k = max(1, min(k, scatter.matrix.shape[0], max(scatter.n - 1, 1)))
    _, vectors = np.linalg.eigh(scatter.matrix)
    return vectors[:, ::-1][:, :k].copy()


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

    def basis(self, dtype: np.dtype) -> np.ndarray:
        """Q in the given precision (cached): projections run in the inputs' precision."""
        cache = self.__dict__.setdefault("_basis", {})
        key = np.dtype(dtype)
        if key not in cache:
            cache[key] = np.ascontiguousarray(self.q.astype(key))
        return cache[key]

    def add(self, h: np.ndarray, lap: np.ndarray, att: np.ndarray | None, y: np.ndarray) -> None:
        """Fit-split tokens [n, d] (the full-d form of `add_projected`)."""
        q = self.basis(h.dtype)
        hq = h @ q
        aq = att @ q if self.with_attention and att is not None else None
        self.add_projected(hq, aq, y @ q, lap @ q, y.sum(axis=0, dtype=np.float64),
                           lap.sum(axis=0, dtype=np.float64), float(np.einsum("nd,nd->", y, lap, dtype=np.float64)),
                           float(np.einsum("nd,nd->", lap, lap, dtype=np.float64)))

    def add_projected(self, hq: np.ndarray, aq: np.ndarray | None, u: np.ndarray, lq: np.ndarray, y_sum: np.ndarray,
                      lap_sum: np.ndarray, y_lap: float, lap_lap: float) -> None:
        """Fit-split tokens given in the basis: hq = hQ, aq = (Abar h - h)Q, u = yQ, lq = Lap(h)Q [n, k], and
        the full-d totals the out-of-span part needs: sum y, sum Lap(h) [d], sum y.Lap(h), sum |Lap(h)|^2.

        The out-of-span sums follow from the full ones because Q has orthonormal columns:
        sum (y - uQ^T) = sum y - (sum u) Q^T and (y - uQ^T).(l - lqQ^T) = y.l - u.lq.
        """
        n = hq.shape[0]
        parts = ([aq] if self.with_attention else []) + [hq, np.ones((n, 1), dtype=hq.dtype), u, lq]
        x = np.concatenate(parts, axis=1).astype(np.float64)          # sums of products in float64
        p = self.s_ff.shape[0]
        f, u64, l64 = x[:, :p], x[:, p:p + self.k], x[:, p + self.k:]
        products = f.T @ x
        self.s_ff += products[:, :p]
        self.s_fu += products[:, p:p + self.k]
        self.s_fl += products[:, p + self.k:]
        uu, ul, ll = float((u64 * u64).sum()), float((u64 * l64).sum()), float((l64 * l64).sum())
        self.uu += uu
        self.ul += ul
        self.ll += ll
        self.perp_y += y_sum - self.q @ u64.sum(axis=0)
        self.perp_l += lap_sum - self.q @ l64.sum(axis=0)
        self.perp_yl += y_lap - ul
        self.perp_ll += lap_lap - ll
        self.n += n

    def _regularised(self, cols: np.ndarray) -> np.ndarray:
        m = self.s_ff[np.ix_(cols, cols)].copy()
        scale = float(np.mean(np.diag(m)[:-1])) if len(cols) > 1 else 1.0
        m[np.arange(len(cols) - 1), np.arange(len(cols) - 1)] += self.ridge * max(scale, 1e-12)
        return m

    def solve(self) -> None:
        """Joint least squares in D, W, R, b (ridge on W, R): D from its 1-D profile, then the rest."""
        if self.n == 0:
            raise ValueError("no fit tokens")
        self.__dict__.pop("_solved", None)
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
        q = self.basis(h.dtype)
        aq = att @ q if self.with_attention and att is not None else None
        return self.predict_projected(h @ q, lap, aq)

    def predict_projected(self, hq: np.ndarray, lap: np.ndarray, aq: np.ndarray | None, *,
                          energy: bool = True) -> Prediction:
        """`predict` from hq = hQ and aq = (Abar h - h)Q; the change comes in the precision of lap."""
        assert self.g is not None, "solve() first"
        k, dtype = self.k, lap.dtype
        offset = k if self.with_attention else 0
        g = self._cast("g", dtype)
        reaction_q = hq @ g[offset:offset + k] + g[-1]
        attention_q = aq @ g[:k] if self.with_attention and aq is not None else None
        in_span = reaction_q if attention_q is None else reaction_q + attention_q
        change = in_span @ self.basis(dtype).T
        change += self.diffusion * lap
        change += self._cast("bias_perp", dtype)
        terms: dict[str, float | None] = {}
        if energy:
            tokens = int(np.prod(hq.shape[:-1]))
            terms = {"diffusion": float(self.diffusion ** 2 * _square_sum(lap)),
                     "attention": None if attention_q is None else _square_sum(attention_q),
                     "reaction": _square_sum(reaction_q) + tokens * float(self.bias_perp @ self.bias_perp)}
        return Prediction(change=change, energy=terms)

    def pointwise(self, h: np.ndarray) -> np.ndarray:
        return self.pointwise_projected(h @ self.basis(h.dtype))

    def pointwise_projected(self, hq: np.ndarray) -> np.ndarray:
        assert self.g_pointwise is not None, "solve() first"
        g = self._cast("g_pointwise", hq.dtype)
        out = (hq @ g[:-1] + g[-1]) @ self.basis(hq.dtype).T
        out += self._cast("bias_perp_pointwise", hq.dtype)
        return out

    def _cast(self, name: str, dtype: np.dtype) -> np.ndarray:
        """A solved array in the inputs' precision (cached; solve() fills the arrays once)."""
        cache = self.__dict__.setdefault("_solved", {})
        key = (name, np.dtype(dtype))
        if key not in cache:
            cache[key] = getattr(self, name).astype(dtype)
        return cache[key]


def _square_sum(x: np.ndarray) -> float:
    """sum of squares, per row in the array's precision and over rows in float64."""
    rows = x.reshape(-1, x.shape[-1])
    return float(np.einsum("nd,nd->n", rows, rows).sum(dtype=np.float64))
