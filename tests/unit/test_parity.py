"""artifact.parity pieces: differences over valid tokens only, whatever the padding."""
import numpy as np
import pytest

from auditor.checks.parity import _masked_diff


def test_differences_ignore_padding_and_width():
    a = np.zeros((2, 3, 2))
    b = np.zeros((2, 5, 2))                   # the other format pads to a fixed length
    b[0, 1, 0] = 0.5
    b[1, 2, 1] = 9.0                          # padding in both: ignored
    mask = np.array([[1, 1, 1], [1, 1, 0]], bool)
    assert _masked_diff(a, b, mask) == pytest.approx((0.5, 0.5))
    assert _masked_diff(np.ones((2, 4)), np.full((2, 4), 1.25), mask) == pytest.approx((0.25, 1.25))
