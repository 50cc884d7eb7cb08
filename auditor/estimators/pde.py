"""The continuous-flow surrogate of one layer step, fitted from streamed statistics (docs/METHODS.md, flow.pde).

For a step l -> l+1 with token states H = H_l (rows of d numbers) and change Y = H_{l+1} - H_l:

    Y  ~  D Lap(H)  +  T Q W Q^T + a T P  +  H Q R Q^T + c H P  +  b       T = Abar H - H,  P = I - Q Q^T
          diffusion    attention transport    reaction (per token)

D is one scalar, Q [d, k] an orthonormal PCA basis, W and R are k x k inside span(Q); outside it
the transport and the reaction get one isotropic scalar each (a, c), so the Laplacian's -2h
self-term no longer has to stand in for a reaction there and D is identified whatever k is.
b is a bias. D, a and c are solved jointly with W and R (ridge on W and R only) from sufficient
statistics, so any number of tokens streams through in batches.

`StepStats` holds the statistics for a basis of K columns; every k <= K is solved from the same
statistics (the top-k directions are the first k columns), which is what lets held-out
cross-validation choose k without a second pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_RIDGE = 1e-3     # relative to the mean feature energy: a mild, scale-free penalty
TERMS = ("attention", "diffusion", "reaction")
PERP_MIN = 1e-5          # an out-of-span feature with less than this share of its energy is rounding noise
_PAIRS = ("yy", "yl", "ll", "yh", "hh", "hl", "ya", "aa", "al", "ah")   # full-d dot products kept


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


def _rowsum(a: np.ndarray, b: np.ndarray) -> float:
    """sum over tokens of a.b: per row in the arrays' precision, over rows in float64."""
    return float(np.einsum("nd,nd->n", a, b).sum(dtype=np.float64))


class StepStats:
    """Sufficient statistics of one step for the basis Q [d, K] (one fold of the fit split, or all of it).

    In the basis: M = F^T [F | u | lq] with F = [aq | hq | 1] (aq only with attention), and the
    per-column sums of u*u, u*lq, lq*lq. In full d: the dot products of y, Lap(h), h and the
    transport t summed over tokens, and their sums [d]. Together they give every k <= K.
    """

    def __init__(self, basis: np.ndarray, with_attention: bool) -> None:
        self.q = basis
        self.K = basis.shape[1]
        self.with_attention = with_attention
        self.p = (2 if with_attention else 1) * self.K + 1
        d = basis.shape[0]
        self.m = np.zeros((self.p, self.p + 2 * self.K))
        self.cols = {name: np.zeros(self.K) for name in ("uu", "ul", "ll")}
        self.dots = dict.fromkeys(_PAIRS, 0.0)
        self.sums = {name: np.zeros(d) for name in "ylha"}
        self.n = 0

    def add(self, h: np.ndarray, lap: np.ndarray, att: np.ndarray | None, y: np.ndarray) -> None:
        """Fit tokens [n, d] (projects them; the capture pass uses `add_projected` with cheaper projections)."""
        q = self.q.astype(h.dtype)
        self.add_projected(h @ q, None if att is None else att @ q, y @ q, lap @ q, h, lap, att, y)

    def add_projected(self, hq: np.ndarray, aq: np.ndarray | None, u: np.ndarray, lq: np.ndarray, h: np.ndarray,
                      lap: np.ndarray, att: np.ndarray | None, y: np.ndarray) -> None:
        """Tokens given both in the basis (hQ, tQ, yQ, Lap(h)Q [n, K]) and in full d (h, Lap(h), t, y [n, d])."""
        n = hq.shape[0]
        use_att = self.with_attention and aq is not None
        parts = ([aq if use_att else np.zeros_like(hq)] if self.with_attention else []) + \
            [hq, np.ones((n, 1), dtype=hq.dtype), u, lq]
        x = np.concatenate(parts, axis=1).astype(np.float64)          # sums of products in float64
        self.m += x[:, :self.p].T @ x
        u64, l64 = x[:, self.p:self.p + self.K], x[:, self.p + self.K:]
        self.cols["uu"] += (u64 * u64).sum(axis=0)
        self.cols["ul"] += (u64 * l64).sum(axis=0)
        self.cols["ll"] += (l64 * l64).sum(axis=0)
        full = {"y": y, "l": lap, "h": h, "a": att if use_att else None}
        for pair in _PAIRS:
            a, b = full[pair[0]], full[pair[1]]
            if a is not None and b is not None:
                self.dots[pair] += _rowsum(a, b)
        for name, x_full in full.items():
            if x_full is not None:
                self.sums[name] += x_full.sum(axis=0, dtype=np.float64)
        self.n += n

    def __iadd__(self, other: StepStats) -> StepStats:
        self.m += other.m
        for name in self.cols:
            self.cols[name] += other.cols[name]
        for name in self.dots:
            self.dots[name] += other.dots[name]
        for name in self.sums:
            self.sums[name] += other.sums[name]
        self.n += other.n
        return self

    def sst(self) -> float:
        """Centred total sum of squares of y over the tokens."""
        return self.dots["yy"] - float(self.sums["y"] @ self.sums["y"]) / max(self.n, 1)

    # -- the pieces of the problem at k columns ------------------------------------------------------
    def index(self, k: int, terms: frozenset[str]) -> dict[str, np.ndarray]:
        """Column indices into M for k: the in-span features the terms use (ones last), u and lq."""
        cols = []
        offset = self.K if self.with_attention else 0
        if self.with_attention and "attention" in terms:
            cols.append(np.arange(k))
        if "reaction" in terms:
            cols.append(offset + np.arange(k))
        cols.append(np.array([self.p - 1]))
        g_off = k if self.with_attention else 0
        rows = ([np.arange(k)] if self.with_attention and "attention" in terms else []) + \
            ([g_off + np.arange(k)] if "reaction" in terms else []) + [np.array([g_off + k])]
        return {"f": np.concatenate(cols), "g": np.concatenate(rows), "u": self.p + np.arange(k), "l": self.p + self.K + np.arange(k),
                "a": np.arange(k), "h": offset + np.arange(k)}

    def perp(self, k: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Out-of-span dot products (uncentred, summed over tokens) and sums [d] at k: full minus in-span
        (Q has orthonormal columns, so x_perp . z_perp = x.z - xQ.zQ)."""
        m, off, K = self.m, (self.K if self.with_attention else 0), self.K

        def diag(r0: int, c0: int) -> float:
            return float(np.trace(m[r0:r0 + k, c0:c0 + k]))

        u0, l0 = self.p, self.p + K
        inside = {"yy": self.cols["uu"][:k].sum(), "yl": self.cols["ul"][:k].sum(),
                  "ll": self.cols["ll"][:k].sum(), "yh": diag(off, u0), "hh": diag(off, off), "hl": diag(off, l0),
                  "ya": diag(0, u0), "aa": diag(0, 0), "al": diag(0, l0), "ah": diag(0, off)}
        if not self.with_attention:
            inside.update(ya=0.0, aa=0.0, al=0.0, ah=0.0)
        dots = {pair: self.dots[pair] - float(inside[pair]) for pair in _PAIRS}
        qk = self.q[:, :k]
        sums = {name: s - qk @ (qk.T @ s) for name, s in self.sums.items()}
        return dots, sums


@dataclass
class Surrogate:
    """One solved surrogate at k columns: in-span coefficients g (rows [tQ | hQ | 1], zero for an absent
    term), D, the out-of-span scalars (attention a, reaction c) and the out-of-span bias [d]."""

    k: int
    q: np.ndarray
    with_attention: bool
    terms: frozenset[str]
    g: np.ndarray
    diffusion: float = 0.0
    attention_out: float = 0.0
    reaction_out: float = 0.0
    bias_perp: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def cast(self, name: str, dtype: np.dtype) -> np.ndarray:
        """A solved array in the inputs' precision (cached)."""
        cache = self.__dict__.setdefault("_cast", {})
        key = (name, np.dtype(dtype))
        if key not in cache:
            cache[key] = np.ascontiguousarray(getattr(self, name).astype(dtype))
        return cache[key]

    def predict(self, hq: np.ndarray, aq: np.ndarray | None, lap: np.ndarray, h: np.ndarray,
                att: np.ndarray | None, *, energy: bool = True) -> Prediction:
        """The change for tokens given in the basis (hQ, tQ [n, k]) and in full d (h, Lap(h), t [n, d]);
        in the precision of lap, with each term's squared norm summed over the tokens (`energy`).

        change = (in-span - c hQ - a tQ) Q^T + D Lap(h) + c h + a t + b_perp: c h + a t act in all d
        dimensions, so their in-span part is taken off before mapping back.
        """
        k, dtype = self.k, lap.dtype
        g = self.cast("g", dtype)
        off = k if self.with_attention else 0
        reaction_q = hq @ g[off:off + k] + g[-1]
        attention_q = aq @ g[:k] if self.with_attention and aq is not None else None
        in_span = reaction_q if attention_q is None else reaction_q + attention_q
        use_a = self.attention_out != 0.0 and att is not None and aq is not None
        if self.reaction_out != 0.0:
            in_span = in_span - self.reaction_out * hq
        if use_a:
            in_span = in_span - self.attention_out * aq
        change = in_span @ self.cast("q", dtype).T
        if self.diffusion != 0.0:
            change += self.diffusion * lap
        if self.reaction_out != 0.0:
            change += self.reaction_out * h
        if use_a:
            change += self.attention_out * att
        change += self.cast("bias_perp", dtype)
        terms: dict[str, float | None] = {}
        if energy:
            c, a, b = self.reaction_out, self.attention_out, self.bias_perp
            h_perp = _rowsum(h, h) - _rowsum(hq, hq)
            terms = {"diffusion": self.diffusion ** 2 * _rowsum(lap, lap),
                     "attention": None if attention_q is None else _rowsum(attention_q, attention_q) + (
                         a * a * (_rowsum(att, att) - _rowsum(aq, aq)) if use_a else 0.0),
                     "reaction": _rowsum(reaction_q, reaction_q) + c * c * h_perp
                     + 2 * c * float((h @ self.cast("bias_perp", dtype)).sum(dtype=np.float64))
                     + len(h) * float(b @ b)}
        return Prediction(change=change, energy=terms)


@dataclass
class Prediction:
    """The predicted change of some tokens and the squared norm of each term's contribution."""

    change: np.ndarray
    energy: dict[str, float | None]


def _pair(dots: dict[str, float], x: str, z: str) -> float:
    return dots[x + z] if x + z in dots else dots[z + x]


def solve(stats: StepStats, k: int, ridge: float = DEFAULT_RIDGE, terms: frozenset[str] = frozenset(TERMS)) -> Surrogate:
    """Joint least squares at k columns in D, W, R, b and the out-of-span a, c (ridge on W and R only).

    W, R and the in-span bias are profiled out for a given D (a ridge regression), which leaves a
    quadratic in D; the out-of-span part is an ordinary regression of y_perp on Lap(h)_perp, h_perp
    and t_perp with a bias. D is shared, so the two are solved together as one small system.
    """
    if stats.n == 0:
        raise ValueError("no fit tokens")
    k = min(k, stats.K)
    idx = stats.index(k, terms)
    f = idx["f"]
    m_ff = stats.m[np.ix_(f, f)].copy()
    if len(f) > 1:
        scale = float(np.mean(np.diag(m_ff)[:-1]))
        m_ff[np.arange(len(f) - 1), np.arange(len(f) - 1)] += ridge * max(scale, 1e-12)
    rhs = np.concatenate([stats.m[np.ix_(f, idx["u"])], stats.m[np.ix_(f, idx["l"])]], axis=1)
    try:
        mi = np.linalg.solve(m_ff, rhs)
    except np.linalg.LinAlgError:
        mi = np.linalg.lstsq(m_ff, rhs, rcond=None)[0]
    mi_fu, mi_fl = mi[:, :k], mi[:, k:]
    dots, sums = stats.perp(k)
    names = [x for x, term in (("l", "diffusion"), ("h", "reaction"), ("a", "attention")) if term in terms
             and (x != "a" or stats.with_attention)]
    n = stats.n
    gram = np.array([[_pair(dots, x, z) - float(sums[x] @ sums[z]) / n for z in names] for x in names])
    cross = np.array([_pair(dots, "y", x) - float(sums["y"] @ sums[x]) / n for x in names])
    live = np.array([gram[i, i] > PERP_MIN * stats.dots[x + x] for i, x in enumerate(names)], dtype=bool)
    gram[~live, :] = 0.0
    gram[:, ~live] = 0.0
    cross[~live] = 0.0
    if "l" in names:           # the in-span profile of D joins the out-of-span equations
        gram[0, 0] += stats.cols["ll"][:k].sum() - float((stats.m[np.ix_(f, idx["l"])] * mi_fl).sum())
        cross[0] += stats.cols["ul"][:k].sum() - float((stats.m[np.ix_(f, idx["u"])] * mi_fl).sum())
        live[0] = gram[0, 0] > 1e-12 * max(stats.dots["ll"], 1e-30)
    theta = np.zeros(len(names))
    if live.any():
        sub = np.ix_(live, live)
        theta[live] = np.linalg.lstsq(gram[sub], cross[live], rcond=1e-12)[0]
    coef = dict(zip(names, theta.tolist(), strict=True))
    diffusion = coef.get("l", 0.0)
    g_rows = (2 if stats.with_attention else 1) * k + 1
    g = np.zeros((g_rows, k))
    g[idx["g"]] = mi_fu - diffusion * mi_fl
    bias = sums["y"] - sum(coef.get(x, 0.0) * sums[x] for x in "lha")
    return Surrogate(k=k, q=stats.q[:, :k].copy(), with_attention=stats.with_attention, terms=frozenset(terms),
                     g=g, diffusion=diffusion, attention_out=coef.get("a", 0.0), reaction_out=coef.get("h", 0.0),
                     bias_perp=bias / n)


def sse(stats: StepStats, model: Surrogate) -> float:
    """Sum of squared errors of `model` on the tokens `stats` summarises (same basis), from the statistics alone:
    the in-span residual u - F g - D lq and the out-of-span residual y_p - D l_p - c h_p - a t_p - b_p."""
    k, D = model.k, model.diffusion
    idx = stats.index(k, frozenset(TERMS))
    f, g = idx["f"], model.g
    s_ff = stats.m[np.ix_(f, f)]
    inside = (stats.cols["uu"][:k].sum() - 2 * float((g * stats.m[np.ix_(f, idx["u"])]).sum())
              + float((g * (s_ff @ g)).sum()) - 2 * D * stats.cols["ul"][:k].sum()
              + 2 * D * float((g * stats.m[np.ix_(f, idx["l"])]).sum()) + D * D * stats.cols["ll"][:k].sum())
    dots, sums = stats.perp(k)
    theta = {"l": D, "h": model.reaction_out, "a": model.attention_out}
    out = dots["yy"] - 2 * sum(t * _pair(dots, "y", x) for x, t in theta.items())
    out += sum(ta * tb * _pair(dots, xa, xb) for xa, ta in theta.items() for xb, tb in theta.items())
    rest = sums["y"] - sum(t * sums[x] for x, t in theta.items())
    b = model.bias_perp
    out += -2 * float(b @ rest) + stats.n * float(b @ b)
    return float(inside + out)
