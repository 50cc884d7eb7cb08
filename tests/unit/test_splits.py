"""The shared held-out split: seeded, stratified, disjoint, complete."""
import numpy as np

from auditor.splits import split_indices


def test_split_is_stratified_disjoint_and_complete():
    labels = [0] * 50 + [1] * 20 + [2] * 3
    fit, score = split_indices(len(labels), labels, seed=0)
    assert set(fit).isdisjoint(score) and sorted([*fit, *score]) == list(range(len(labels)))
    counts = {lab: sum(labels[i] == lab for i in fit) for lab in (0, 1, 2)}
    assert counts == {0: 35, 1: 14, 2: 2}


def test_split_is_seeded():
    a = split_indices(100, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, split_indices(100, seed=1), strict=True))
    assert not np.array_equal(a[0], split_indices(100, seed=2)[0])


def test_every_label_with_two_probes_is_on_both_sides():
    fit, score = split_indices(4, [0, 0, 1, 1], seed=0)
    assert len(fit) == 2 and len(score) == 2
