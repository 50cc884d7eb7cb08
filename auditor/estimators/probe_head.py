"""A linear probe head: L2-regularised softmax regression on final-layer states, in plain numpy.

Used where a headless encoder needs a task loss or predictions (docs/METHODS.md, gradients.flow).
Features are standardised; the returned (W, b) act on raw states. Accelerated gradient descent
with a step from the Lipschitz bound, a fixed number of steps: deterministic and fast at audit
sizes (hundreds to thousands of rows).
"""
from __future__ import annotations

import numpy as np


def fit_softmax(x: np.ndarray, y: np.ndarray, classes: int, *, l2: float = 1e-2,
                steps: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """(W [d, C], b [C]) minimising mean cross-entropy + l2/2 ||W||^2 on standardised features."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    mean = x.mean(axis=0)
    std = np.maximum(x.std(axis=0), 1e-6)
    z = (x - mean) / std
    n, d = z.shape
    onehot = np.zeros((n, classes))
    onehot[np.arange(n), y] = 1.0
    # softmax cross-entropy has Hessian <= 0.5 * X^T X / n (+ the bias column) plus l2
    lipschitz = 0.5 * (np.linalg.norm(z, 2) ** 2 + n) / n + l2
    step = 1.0 / lipschitz
    w = np.zeros((d, classes))
    b = np.zeros(classes)
    w_prev, b_prev = w.copy(), b.copy()
    for k in range(1, steps + 1):
        momentum = (k - 1) / (k + 2)
        vw = w + momentum * (w - w_prev)
        vb = b + momentum * (b - b_prev)
        p = _softmax(z @ vw + vb)
        grad_w = z.T @ (p - onehot) / n + l2 * vw
        grad_b = (p - onehot).mean(axis=0)
        w_prev, b_prev = w, b
        w, b = vw - step * grad_w, vb - step * grad_b
    raw_w = w / std[:, None]
    raw_b = b - (mean / std) @ w
    return raw_w.astype(np.float32), raw_b.astype(np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict(x: np.ndarray, head: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Logits [N, C] of the head on raw states x [N, d]."""
    return np.asarray(x, dtype=np.float32) @ head[0] + head[1]
