"""Perturbation maths: relative changes per layer, amplification, gains, output agreement."""
from __future__ import annotations

import numpy as np

_EPS = 1e-12


def frobenius(states: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """[B] ||H||_F over each row's valid tokens (H [B, T, d])."""
    if mask is not None:
        states = states * mask[:, :states.shape[1], None]
    flat = states.reshape(states.shape[0], -1)
    # float32 sums (pairwise in einsum) are accurate to ~1e-6 relative: far below the figures' noise
    return np.sqrt(np.einsum("bi,bi->b", flat, flat).astype(np.float64))


def relative_change(clean: np.ndarray, perturbed: np.ndarray, mask: np.ndarray | None,
                    clean_norm: np.ndarray | None = None) -> np.ndarray:
    """[B] ||H' - H||_F / ||H||_F over each row's valid tokens (H [B, T, d]).

    `clean_norm` (frobenius(clean, mask)) saves recomputing it when one clean state is compared
    with several perturbed copies.
    """
    tokens = min(clean.shape[1], perturbed.shape[1])
    diff = frobenius(perturbed[:, :tokens] - clean[:, :tokens], mask)
    norm = frobenius(clean[:, :tokens], mask) if clean_norm is None else clean_norm
    return diff / np.maximum(norm, _EPS)


def amplification(rel: np.ndarray) -> np.ndarray:
    """[L+1] median over samples of rel_l / rel_0 (rel [N, L+1] relative changes per layer).

    Samples the perturbation left unchanged at layer 0 (e.g. a text with no word to mask) say
    nothing about growth and are left out.
    """
    moved = rel[rel[:, 0] > _EPS] if (rel[:, 0] > _EPS).any() else rel
    return np.median(moved / np.maximum(moved[:, :1], _EPS), axis=0)


def layer_gain(rel: np.ndarray) -> np.ndarray:
    """[L] median over samples of rel_{l+1} / rel_l: how much each block grows a perturbation."""
    moved = rel[rel[:, 0] > _EPS] if (rel[:, 0] > _EPS).any() else rel
    return np.median(moved[:, 1:] / np.maximum(moved[:, :-1], _EPS), axis=0)


def lyapunov(gains: np.ndarray) -> float:
    """Mean log gain per block (> 0: perturbations grow through the depth, < 0: they shrink)."""
    return float(np.mean(np.log(np.maximum(gains, _EPS))))


def row_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[B] cosine between matching rows of a and b [B, d]."""
    a = a.astype(np.float64).reshape(a.shape[0], -1)
    b = b.astype(np.float64).reshape(b.shape[0], -1)
    denom = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), _EPS)
    return (a * b).sum(axis=1) / denom


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax_kl(clean_logits: np.ndarray, perturbed_logits: np.ndarray) -> np.ndarray:
    """[B] KL(p_clean || p_perturbed) in nats between the softmax distributions of two logit rows."""
    log_p = log_softmax(clean_logits)
    log_q = log_softmax(perturbed_logits)
    return np.maximum((np.exp(log_p) * (log_p - log_q)).sum(axis=-1), 0.0)


def flips(clean_logits: np.ndarray, perturbed_logits: np.ndarray) -> np.ndarray:
    """[B] 1.0 where the predicted class changed."""
    return (clean_logits.argmax(axis=-1) != perturbed_logits.argmax(axis=-1)).astype(np.float64)


def per_probe_sums(values: dict[str, list[np.ndarray]], probes: dict[str, list[np.ndarray]],
                   keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(sum, count) per probe of the rows of `keys` (probes that have none left out): a mean over copies is
    sum(sum) / sum(count), and resampling these pairs resamples probes with all their copies."""
    parts = [(np.concatenate(values[k]), np.concatenate(probes[k])) for k in keys if values.get(k)]
    if not parts:
        return np.zeros(0), np.zeros(0)
    rows = np.concatenate([v for v, _ in parts]).astype(np.float64)
    ids = np.concatenate([i for _, i in parts]).astype(np.int64)
    total, count = np.zeros(int(ids.max()) + 1), np.zeros(int(ids.max()) + 1)
    np.add.at(total, ids, rows)
    np.add.at(count, ids, 1.0)
    seen = count > 0
    return total[seen], count[seen]
