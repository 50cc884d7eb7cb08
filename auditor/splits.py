"""The held-out split shared by every check that fits on one part of the probes and scores on the other.

A seeded, label-stratified split by probe (docs/METHODS.md): within each label, a seeded shuffle puts
round(train_fraction * n_label) probes in the fit part (at least one on each side where the label
has two or more probes). Checks that use the same seed use the same split.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from auditor.messages import Message

TRAIN_FRACTION = 0.7
# below this many held-out probes a score fitted on the rest cannot be told from noise: one probe moves
# an accuracy by 6 points at 16, and the binomial standard error near 50% is 12 points
MIN_SCORED = 16


def too_few_scored(score_count: int, what: str) -> dict[str, Any] | None:
    """Why a held-out figure is not decided on (a stored Message: evidence stays plain JSON), or None when
    the held-out split is large enough. `what` names the scored estimator: `probe` or `surrogate`."""
    if score_count >= MIN_SCORED:
        return None
    return Message(f"evidence.too_few_scored.{what}", {"count": score_count, "needed": MIN_SCORED}).to_json()


def split_indices(count: int, labels: Sequence[int] | None = None, *, seed: int = 0,
                  train_fraction: float = TRAIN_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """(fit, score) probe indices, each sorted ascending."""
    rng = np.random.default_rng([seed, 7011])   # a stream of its own, apart from other seeded draws
    groups = [np.arange(count)] if labels is None else \
        [np.flatnonzero(np.asarray(labels) == value) for value in sorted(set(labels))]
    fit: list[np.ndarray] = []
    score: list[np.ndarray] = []
    for members in groups:
        members = rng.permutation(members)
        n_fit = int(round(train_fraction * len(members)))
        if len(members) >= 2:
            n_fit = min(max(n_fit, 1), len(members) - 1)
        fit.append(members[:n_fit])
        score.append(members[n_fit:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(score))
