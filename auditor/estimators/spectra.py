"""Spectral summaries of representation matrices."""
from __future__ import annotations

import numpy as np


def participation_ratio(z: np.ndarray) -> float | None:
    """Effective rank (tr C)^2 / ||C||_F^2 of the covariance C of the rows of z [N, d].

    Works on the smaller of the d x d covariance and the N x N Gram matrix (same non-zero
    spectrum), in float64. 1 = all variance in one direction; d = isotropic.
    """
    if z.ndim != 2 or z.shape[0] < 2:
        return None
    centred = z.astype(np.float64) - z.astype(np.float64).mean(axis=0, keepdims=True)
    small = centred @ centred.T if centred.shape[0] <= centred.shape[1] else centred.T @ centred
    trace = float(np.trace(small))
    frob2 = float(np.sum(small * small))
    if frob2 <= 0.0:
        return None
    return trace * trace / frob2
