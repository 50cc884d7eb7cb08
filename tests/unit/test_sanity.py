"""sanity.randomization pieces: what counts as a change, and which probes are compared."""
import numpy as np
import pytest

from auditor.checks.sanity import SubsampleMetrics, _pattern_change
from auditor.trace import TraceBatch


def test_a_change_of_scale_is_no_change_of_pattern():
    profile = np.array([1.0, 2.0, 3.0, 4.0])
    assert _pattern_change(profile, 10 * profile) == pytest.approx(0.0)
    assert _pattern_change(profile, profile[::-1]) > 0.5
    assert _pattern_change(np.zeros(3), profile[:3]) is None


def test_only_subsample_rows_are_collected():
    rng = np.random.default_rng(0)
    hidden = [rng.normal(size=(4, 3, 2)).astype(np.float32) for _ in range(3)]
    batch = TraceBatch(index=np.array([5, 6, 7, 8]), mask=np.ones((4, 3), bool), hidden=hidden,
                       grad_rows=np.array([True, True, False, True]),
                       grad_hidden=np.arange(12, dtype=float).reshape(4, 3))
    collected = SubsampleMetrics(np.array([6, 7, 8]), task=None)
    collected.update(batch)
    means = collected.means()
    assert means["update_ratio"].shape == (2,)
    assert means["grad_norm_hidden"] == pytest.approx((np.array([3, 4, 5]) + np.array([9, 10, 11])) / 2)
