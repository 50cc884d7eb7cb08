"""Mutual-information estimators for the information plane (docs/METHODS.md, bottleneck.information_plane).

Plain arrays in, numbers in bits out; no model code. The algebra runs in torch (float64) on the
device asked for (the CPU by default, a GPU where present). The pairwise sums are taken over row blocks of
the distance matrix (auditor.estimators.blocked): a few 512 KiB blocks whatever the sample size, never an
N x N matrix (only gaussian_gram, whose answer is one, builds it).

- Kolchinsky-Tracey pairwise-distance (KDE) upper bound: T + N(0, sigma^2 I) is a mixture of Gaussians
  centred on the samples, so I(X;T) <= -mean_i ln mean_j exp(-||t_i - t_j||^2 / 2 sigma^2), and
  I(T;Y) = H(T) - sum_y p(y) H(T|Y=y) under the same bound (Saxe et al. 2018).
- Matrix-based Renyi alpha=2 entropy (Giraldo et al. 2015): S(A) = -log2 tr((A / tr A)^2) of a Gram
  matrix A, the joint entropy from the normalised Hadamard product; no eigendecomposition.
- A held-out linear probe: accuracy and the lower bound I(T;Y) >= H(Y) - cross-entropy.

All of them on every layer: `information_plane` (auditor.estimators.plane, handed out here as well).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from auditor.estimators.blocked import Pairwise

if TYPE_CHECKING:
    import torch

LN2 = math.log(2.0)
DEFAULT_K = 32
DEFAULT_MAX_SAMPLES = 2000
DEFAULT_SIGMA_FRACTION = 0.5
DEFAULT_L2 = 1e-2
_EPS = 1e-12
Labelling = tuple["torch.Tensor", "torch.Tensor"]     # one-hot [N, C] and class index [N]


# ---------------------------------------------------------------- plain-array helpers

def standardise(z: np.ndarray, k: int = DEFAULT_K) -> np.ndarray:
    """Centred PCA scores of z [N, d] on at most k components, scaled to unit total variance.

    One scale for the whole cloud (not one per component) keeps the shape of the spectrum: a
    representation squeezed into few directions stays squeezed, while a layer's arbitrary overall
    magnitude (LayerNorm gains, norm growth) no longer sets the estimators' scale.
    """
    return _standardised(z, k, "cpu").numpy()


def subsample_indices(count: int, max_samples: int, seed: int = 0) -> np.ndarray:
    """All indices when count <= max_samples, else a seeded sorted sample of max_samples."""
    if count <= max_samples:
        return np.arange(count)
    rng = np.random.default_rng([seed, 4242])   # a stream of its own, apart from the split's
    return np.sort(rng.choice(count, size=max_samples, replace=False))


def label_entropy(labels: np.ndarray) -> float:
    """Plug-in Shannon entropy H(Y) in bits."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    p = counts / counts.sum()
    return max(0.0, float(-(p * np.log2(p)).sum()))


# ---------------------------------------------------------------- torch helpers

@contextmanager
def _single_thread() -> Iterator[None]:
    """Small dense problems (a 384 x 384 eigenproblem, a probe on a few thousand rows, a 512 KiB block of
    distances) run faster on one thread than on a pool that must wake and synchronise; on a busy machine,
    many times faster."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _device(device: str | None) -> str:
    import torch

    return device if device and device.startswith("cuda") and torch.cuda.is_available() else "cpu"


def _tensor(a: Any, device: str) -> torch.Tensor:
    import torch

    return torch.as_tensor(np.asarray(a, dtype=np.float64), device=device)


def _standardised(z: Any, k: int, device: str) -> torch.Tensor:
    zc = _tensor(z, device)
    zc = zc - zc.mean(dim=0)
    scores = zc @ _pca_axes(zc, k)
    total = float((scores * scores).sum(dim=1).mean()) if scores.numel() else 0.0
    return scores / math.sqrt(total) if total > _EPS else zc.new_zeros((zc.shape[0], 0))


def _pca_axes(zc: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k principal axes [d, k'] of centred rows (dropping directions without variance), from the
    smaller of the d x d and N x N eigenproblems."""
    import torch

    n, d = zc.shape
    with _single_thread():
        values, vectors = torch.linalg.eigh(zc @ zc.T if n < d else zc.T @ zc)
    order = torch.argsort(values, descending=True)[:k]
    order = order[values[order] > _EPS * max(float(values.max()), _EPS)]
    if n < d:   # zc = U S V^T, so V = zc^T U / S
        return zc.T @ vectors[:, order] / values[order].sqrt()
    return vectors[:, order]


def _labelling(labels: np.ndarray, device: str) -> Labelling:
    import torch

    _, index = np.unique(np.asarray(labels), return_inverse=True)
    idx = torch.as_tensor(index.reshape(-1), device=device)
    onehot = torch.zeros(len(idx), int(idx.max()) + 1, dtype=torch.float64, device=device)
    return onehot.scatter_(1, idx[:, None], 1.0), idx


def _same_label_sum(block: torch.Tensor, labelling: Labelling, start: int = 0) -> torch.Tensor:
    """Per row i of a row block (rows start..), the sum of block[i, j] over the j that share i's label."""
    onehot, idx = labelling
    return (block @ onehot).gather(1, idx[start:start + block.shape[0], None])[:, 0]


def _points(x: Any, device: str) -> Pairwise:
    return Pairwise(_tensor(x, _device(device)))


# ---------------------------------------------------------------- KDE (Kolchinsky-Tracey)

class _KdeSums:
    """The per-row kernel sums of the KDE bound, filled one row block of the kernel matrix at a time.
    exp(-d2) cannot overflow and the diagonal's 1 keeps every row sum >= 1, so no log-sum-exp shift."""

    def __init__(self, like: torch.Tensor, n: int, labellings: list[Labelling]) -> None:
        self.n, self.labellings = n, labellings
        self.log_row = like.new_empty(n)
        self.same = [like.new_empty(n) for _ in labellings]

    def add(self, start: int, kernel: torch.Tensor) -> None:
        rows = slice(start, start + kernel.shape[0])
        self.log_row[rows] = (kernel.sum(dim=1) / self.n).log()
        for same, labelling in zip(self.same, self.labellings, strict=True):
            same[rows] = _same_label_sum(kernel, labelling, start)

    def terms(self) -> tuple[float, list[float]]:
        """I(X;T) and I(T;Y) for each labelling, in bits."""
        values = []
        for same, (onehot, idx) in zip(self.same, self.labellings, strict=True):
            sizes = onehot.sum(dim=0)[idx]
            # sum_y p(y) x (mean over the members of y) is a plain mean over all samples
            values.append(float(((same / sizes).log() - self.log_row).mean()) / LN2)
        return float(-self.log_row.mean()) / LN2 + 0.0, values   # + 0.0: no -0.0 in stored figures


def _kde_terms(points: Pairwise, sigma: float, labellings: list[Labelling]) -> tuple[float, list[float]]:
    """I(X;T) and I(T;Y) for each labelling, in bits, one row block of the kernel matrix at a time."""
    sums = _KdeSums(points.x, points.n, labellings)
    for start, d2 in points.blocks():
        sums.add(start, d2.mul_(-0.5 / sigma ** 2).exp_())
    return sums.terms()


def kde_mutual_information(t: np.ndarray, sigma: float, device: str = "cpu") -> float:
    """Upper bound on I(X;T + noise) in bits for T = f(X) sampled as the rows of t, noise N(0, sigma^2 I)."""
    with _single_thread():
        return _kde_terms(_points(t, device), sigma, [])[0]


def kde_label_information(t: np.ndarray, labels: np.ndarray, sigma: float, device: str = "cpu") -> float:
    """I(T;Y) in bits as H(T) - sum_y p(y) H(T|Y=y), each entropy under the pairwise-distance bound."""
    dev = _device(device)
    with _single_thread():
        return _kde_terms(Pairwise(_tensor(t, dev)), sigma, [_labelling(labels, dev)])[1][0]


def calibrate_sigma(x: np.ndarray, fraction: float = DEFAULT_SIGMA_FRACTION, device: str = "cpu") -> float:
    """The sigma at which the KDE bound gives I(X;X) = fraction x its ceiling (log2 N for N distinct rows).

    A deterministic network maps distinct inputs to distinct points, so with a small sigma every layer
    sits at log2 N and nothing can be compared; calibrating on X puts the input half-way between
    saturation and zero, leaving room to see both compression and expansion.
    """
    with _single_thread():
        return _calibrate(_points(x, device), fraction)


def _calibrate(points: Pairwise, fraction: float) -> float:
    n = points.n
    if n < 2:
        return 1.0
    median = points.median()
    # as sigma -> 0 only exact duplicates still overlap: that is the bound's ceiling
    threshold = _EPS * max(median, _EPS)
    twins = points.x.new_empty(n)
    for start, d2 in points.blocks():
        twins[start:start + d2.shape[0]] = (d2 <= threshold).sum(dim=1).double()
    ceiling = float(-(twins / n).log().mean())
    if median <= 0.0 or ceiling <= _EPS:
        return 1.0    # no spread to calibrate on: every sigma gives the same (zero) information
    target = fraction * ceiling
    # safeguarded Newton in v = ln u, u = 1 / 2 sigma^2; g(v) = -mean_i ln mean_j exp(-u d2_ij) rises with v
    v, low, high = -math.log(median), -math.inf, math.inf
    rows, weighted = points.x.new_empty(n), points.x.new_empty(n)
    for _ in range(60):
        u = math.exp(v)
        for start, d2 in points.blocks():     # one pass: each row's kernel sum and its d2-weighted sum
            kernel = (d2 * -u).exp_()
            block = slice(start, start + d2.shape[0])
            rows[block] = kernel.sum(dim=1)
            weighted[block] = kernel.mul_(d2).sum(dim=1)
        g = float(-(rows / n).log().mean())
        if abs(g - target) < 1e-6 * target:
            break
        low, high = (v, high) if g < target else (low, v)
        slope = u * float((weighted / rows).mean())
        step = v - (g - target) / slope if slope > _EPS else math.nan
        if math.isnan(step) or not low < step < high or abs(step - v) > 4.0:
            step = (low + high) / 2 if math.isfinite(low) and math.isfinite(high) else v + (2.0 if g < target else -2.0)
        v = step
    return math.sqrt(0.5 / math.exp(v))


# ---------------------------------------------------------------- matrix-based Renyi (alpha = 2)

def _bandwidth(points: Pairwise) -> float:
    """The median heuristic: h = the (lower) median pairwise distance."""
    return math.sqrt(points.median())


def _gaussian(d2: torch.Tensor, h: float) -> torch.Tensor:
    """exp(-d2 / 2h^2) in place; all ones where h = 0 (all points equal: one state, zero entropy)."""
    return d2.mul_(-0.5 / h ** 2).exp_() if h > 0.0 else d2.fill_(1.0)


def _renyi_of(trace: float, squares: float) -> float:
    """-log2 tr((A / tr A)^2) from tr A and tr(A^2) = sum A_ij^2 (A symmetric)."""
    return -math.log2(max(squares / trace ** 2, _EPS)) if trace > 0.0 else 0.0


def _renyi(gram: torch.Tensor) -> float:
    return _renyi_of(float(gram.diagonal().sum()), float((gram * gram).sum()))


def _renyi_entropy(points: Pairwise, h: float) -> float:
    """S of the Gaussian Gram matrix of the points at bandwidth h, one row block at a time."""
    trace, squares = points.x.new_zeros(()), points.x.new_zeros(())
    for start, d2 in points.blocks():
        gram = _gaussian(d2, h)
        trace += gram.diagonal(offset=start).sum()
        squares += (gram * gram).sum()
    return _renyi_of(float(trace), float(squares))


def gaussian_gram(x: np.ndarray, bandwidth: float | None = None, device: str = "cpu") -> tuple[np.ndarray, float]:
    """Gaussian Gram matrix [N, N] of the rows of x and its bandwidth (median heuristic by default)."""
    points = _points(x, device)
    with _single_thread():
        h = bandwidth if bandwidth is not None else _bandwidth(points)
        return _gaussian(points.dense(), h).cpu().numpy(), h if h > 0.0 else 0.0


def label_gram(labels: np.ndarray) -> np.ndarray:
    """1 where two samples share a label: a Gaussian kernel on one-hot codes as its bandwidth -> 0."""
    y = np.asarray(labels).reshape(-1)
    return (y[:, None] == y[None, :]).astype(np.float64)


def renyi_entropy(gram: Any, device: str = "cpu") -> float:
    """Matrix-based Renyi alpha=2 entropy -log2 tr((A / tr A)^2) in bits."""
    return _renyi(_tensor(gram, _device(device)))


def renyi_mutual_information(gram_a: Any, gram_b: Any, device: str = "cpu") -> float:
    """S(A) + S(B) - S(A o B / tr(A o B)) in bits."""
    a, b = _tensor(gram_a, _device(device)), _tensor(gram_b, _device(device))
    return _renyi(a) + _renyi(b) - _renyi(a * b)


# ---------------------------------------------------------------- held-out linear probe

@dataclass(frozen=True)
class ProbeResult:
    accuracy: float | None
    cross_entropy: float | None         # bits, on the score split
    label_entropy: float                # H(Y) of the score split, bits
    bound: float | None                 # max(0, H(Y) - cross-entropy), bits
    chance: float                       # accuracy of always answering the fit split's commonest label
    correct: np.ndarray | None = field(default=None, compare=False)   # [scored] 1.0 where right, per probe
    nll: np.ndarray | None = field(default=None, compare=False)       # [scored] -log2 p(true label), bits


def linear_probe(z: np.ndarray, labels: np.ndarray, fit: np.ndarray, score: np.ndarray, *,
                 k: int = DEFAULT_K, l2: float = DEFAULT_L2, max_iter: int = 200) -> ProbeResult:
    """Multinomial logistic regression with an L2 penalty (L-BFGS), fitted on `fit`, scored on `score`.

    Features: PCA to k components and per-component standardisation, both learnt on the fit split
    alone so nothing of the scored probes leaks into the probe.
    """
    import torch

    _, y = np.unique(np.asarray(labels), return_inverse=True)
    y, fit, score = y.reshape(-1), np.asarray(fit, dtype=int), np.asarray(score, dtype=int)
    h_y = label_entropy(y[score]) if len(score) else 0.0
    majority = np.bincount(y[fit]).argmax() if len(fit) else 0
    chance = float(np.mean(y[score] == majority)) if len(score) else 0.0
    if len(fit) < 2 or len(score) == 0 or len(np.unique(y[fit])) < 2:
        return ProbeResult(None, None, h_y, None, chance)
    with _single_thread(), torch.enable_grad():
        z_t = _tensor(z, "cpu")
        centre = z_t[fit].mean(dim=0)
        axes = _pca_axes(z_t[fit] - centre, k)
        a, b = (z_t[fit] - centre) @ axes, (z_t[score] - centre) @ axes
        spread = a.std(dim=0, correction=0) if a.shape[1] else a.new_ones(0)
        spread[spread <= _EPS] = 1.0
        a, b = a / spread, b / spread
        ya, yb = torch.as_tensor(y[fit]), torch.as_tensor(y[score])
        weight = torch.zeros(a.shape[1], int(y.max()) + 1, dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(int(y.max()) + 1, dtype=torch.float64, requires_grad=True)
        optimiser = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe",
                                      tolerance_grad=1e-8, tolerance_change=1e-12)

        def closure() -> torch.Tensor:
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(a @ weight + bias, ya) + 0.5 * l2 * (weight * weight).sum()
            loss.backward()
            return loss

        optimiser.step(closure)
        with torch.no_grad():
            logits = b @ weight + bias
            nll = torch.nn.functional.cross_entropy(logits, yb, reduction="none").numpy() / LN2
            correct = (logits.argmax(dim=1) == yb).double().numpy()
    ce, accuracy = float(nll.mean()), float(correct.mean())
    return ProbeResult(accuracy, ce, h_y, max(0.0, h_y - ce), chance, correct, nll)


# ---------------------------------------------------------------- the information plane, layer by layer

def __getattr__(name: str) -> Any:
    """information_plane and InformationPlane, from auditor.estimators.plane (which builds on this module)."""
    if name in ("information_plane", "InformationPlane"):
        from auditor.estimators import plane

        return getattr(plane, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
