"""flow.representation known answers on hand-built traces (docs/METHODS.md)."""
from pathlib import Path

import numpy as np
import pytest

from auditor.checks.base import AuditContext
from auditor.checks.representation import RepresentationFlow
from auditor.estimators.spectra import participation_ratio
from auditor.models.base import Capability, ModelIdentity
from auditor.trace import Trace, TraceBatch


def _run(hidden_layers: list[np.ndarray], mask: np.ndarray):
    check = RepresentationFlow()
    identity = ModelIdentity(format="test", architecture="hand-built", model_type="test", parameters=0,
                             layers=len(hidden_layers) - 1, dtype="float32", sha256="0" * 64)
    ctx = AuditContext(identity=identity, capabilities=frozenset({Capability.HIDDEN_STATES}), trace=Trace(),
                       probes=None, model_path=Path("."))
    acc = check.accumulator(ctx)
    ctx.accumulators = {check.id: acc}
    n = hidden_layers[0].shape[0]
    for start in range(0, n, 3):     # several batches: statistics must stream correctly
        sl = slice(start, start + 3)
        batch = TraceBatch(index=np.arange(n)[sl], mask=mask[sl], hidden=[h[sl] for h in hidden_layers])
        acc.update(batch)
        ctx.trace.add(batch)
    return check.run(ctx)


def test_a_block_with_zero_update():
    rng = np.random.default_rng(0)
    h0 = rng.normal(size=(8, 5, 16)).astype(np.float32)
    mask = np.ones((8, 5), dtype=bool)
    result = _run([h0, h0.copy(), 2 * h0], mask)
    assert result.metrics["update_ratio"][0] == pytest.approx(0.0, abs=1e-9)
    assert result.metrics["consecutive_cos"][0] == pytest.approx(1.0)
    assert result.metrics["update_ratio"][1] == pytest.approx(1.0)      # H -> 2H changes it by its own size
    assert result.metrics["consecutive_cos"][1] == pytest.approx(1.0)   # same direction
    assert list(result.metrics["norm_growth"]) == pytest.approx([1.0, 1.0, 2.0])


def test_padding_is_excluded():
    rng = np.random.default_rng(1)
    h0 = rng.normal(size=(6, 4, 8))
    h1 = h0.copy()
    h1[:, 3, :] += 100.0            # a huge change on a padded position only
    mask = np.ones((6, 4), dtype=bool)
    mask[:, 3] = False
    result = _run([h0, h1], mask)
    assert result.metrics["update_ratio"][0] == pytest.approx(0.0, abs=1e-9)


def test_orthogonal_update_has_zero_cosine():
    h0 = np.zeros((3, 2, 4))
    h0[:, :, 0] = 1.0
    h1 = np.zeros((3, 2, 4))
    h1[:, :, 1] = 1.0
    result = _run([h0, h1], np.ones((3, 2), dtype=bool))
    assert result.metrics["consecutive_cos"][0] == pytest.approx(0.0, abs=1e-9)
    assert result.metrics["update_ratio"][0] == pytest.approx(np.sqrt(2))


def test_effective_rank_known_answers():
    rng = np.random.default_rng(2)
    assert participation_ratio(rng.normal(size=(4000, 8))) == pytest.approx(8, rel=0.05)   # isotropic
    line = rng.normal(size=(200, 1)) @ rng.normal(size=(1, 8))
    assert participation_ratio(line) == pytest.approx(1.0)
    assert participation_ratio(np.ones((10, 4))) is None        # no variance at all
