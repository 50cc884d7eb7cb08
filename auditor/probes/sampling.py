"""`--limit N`: a seeded, label-stratified sample that keeps the original order."""
from __future__ import annotations

import dataclasses
import operator
from fractions import Fraction

import numpy as np

from auditor.errors import BadInput
from auditor.probes.types import ProbeSet


def check_limit(limit: object, seed: object) -> tuple[int | None, int]:
    """Validate --limit and --seed; BadInput with one sentence otherwise."""
    try:
        seed_value = operator.index(seed)  # type: ignore[arg-type]
    except TypeError:
        raise BadInput(f"--seed must be a whole number (got {seed!r}).") from None
    if isinstance(seed, bool) or seed_value < 0:
        raise BadInput(f"--seed must be a whole number of 0 or more (got {seed!r}).")
    if limit is None:
        return None, seed_value
    try:
        value = operator.index(limit)  # type: ignore[arg-type]
    except TypeError:
        raise BadInput(f"--limit must be a whole number of probes (got {limit!r}).") from None
    if isinstance(limit, bool) or value <= 0:
        raise BadInput(f"--limit must be a positive number of probes (got {limit!r}); leave it out to use every probe.")
    return value, seed_value


def apply_limit(probes: ProbeSet, limit: int | None, seed: int = 0) -> ProbeSet:
    """The probes sampled down to `limit` (stratified by label), with `selection` recorded."""
    limit, seed = check_limit(limit, seed)
    if limit is None:
        return probes
    total = probes.count
    selection = {"limit": limit, "seed": seed, "source_count": total}
    if limit >= total:
        return dataclasses.replace(probes, selection=selection)
    chosen = sample_indices(probes.labels, total, limit, seed)
    return dataclasses.replace(
        probes,
        texts=None if probes.texts is None else [probes.texts[i] for i in chosen],
        images=None if probes.images is None else [probes.images[i] for i in chosen],
        labels=None if probes.labels is None else [probes.labels[i] for i in chosen],
        selection=selection,
    )


def sample_indices(labels: list[int] | None, total: int, limit: int, seed: int) -> list[int]:
    """Sorted indices of a seeded sample of `limit` items out of `total` (limit < total)."""
    rng = np.random.default_rng(seed)
    if labels is None:
        return sorted(int(i) for i in rng.choice(total, size=limit, replace=False))
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    sizes = {k: len(v) for k, v in sorted(groups.items())}
    tie_break = [int(k) for k in rng.permutation(np.asarray(sorted(sizes)))]
    allocation = allocate(sizes, limit, tie_break)
    chosen: list[int] = []
    for label, members in sorted(groups.items()):
        if allocation[label]:
            chosen += [int(i) for i in rng.choice(np.asarray(members), size=allocation[label], replace=False)]
    return sorted(chosen)


def allocate(sizes: dict[int, int], limit: int, tie_break: list[int] | None = None) -> dict[int, int]:
    """Largest-remainder proportional allocation, at least 1 per label when limit >= labels.

    Equal remainders are ordered by `tie_break` (a seeded permutation of the labels), so the
    seed, not the label order, decides which label gets the odd probe.
    """
    rank = {k: i for i, k in enumerate(tie_break or sorted(sizes))}
    total = sum(sizes.values())
    quotas = {k: Fraction(limit * n, total) for k, n in sizes.items()}
    allocation = {k: int(q) for k, q in quotas.items()}
    by_remainder = sorted(sizes, key=lambda k: (-(quotas[k] - allocation[k]), rank[k]))
    for k in by_remainder[: limit - sum(allocation.values())]:
        allocation[k] += 1
    if limit >= len(sizes):
        for k in sorted(sizes):
            if allocation[k] == 0:
                donor = max(sizes, key=lambda j: (allocation[j], quotas[j] - allocation[j], -rank[j]))
                allocation[donor] -= 1
                allocation[k] = 1
    return allocation
