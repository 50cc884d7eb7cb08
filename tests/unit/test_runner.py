"""The runner isolates failing checks, skips what a model cannot supply, and stops on request."""
from pathlib import Path

import numpy as np
import pytest

from auditor.checks.base import AuditContext, Check, CheckResult
from auditor.errors import Cancelled
from auditor.models.base import Capability, ModelBatch, ModelIdentity
from auditor.probes.types import ProbeSet
from auditor.runner import run_checks
from auditor.trace import Trace, TraceBatch


class Broken(Check):
    id = "test.broken"
    captures = frozenset({"hidden"})

    def run(self, ctx):
        raise ZeroDivisionError("division by zero in the estimator")


class NeedsGradients(Check):
    id = "test.gradients"
    requires = frozenset({Capability.GRADIENTS})

    def run(self, ctx):
        raise AssertionError("must not run")


class CountsProbes(Check):
    id = "test.counts"
    captures = frozenset({"hidden"})

    def run(self, ctx):
        return CheckResult(self.id, "ok", "counted", metrics={"n": ctx.trace.count,
                                                              "z": ctx.trace.pooled[-1].shape[0]})


class FakeAdapter:
    """A model stand-in that returns fixed states: the runner's logic is under test, not a model."""

    identity = ModelIdentity(format="test", architecture="fixed", model_type="test", parameters=0, layers=1,
                             dtype="float32", sha256="0" * 64)
    capabilities = frozenset({Capability.HIDDEN_STATES})
    device = "cpu"

    def batches(self, probes, batch_size):
        for start in range(0, probes.count, batch_size):
            n = min(batch_size, probes.count - start)
            yield ModelBatch(index=np.arange(start, start + n), inputs={}, mask=np.ones((n, 3), dtype=bool))

    def capture(self, batch, points):
        h = np.ones((batch.size, 3, 4), dtype=np.float32)
        return TraceBatch(index=batch.index, mask=batch.mask, hidden=[h, 2 * h])


def _ctx(n=10):
    probes = ProbeSet(spec="test", kind="text", sha256="0" * 64, texts=[f"t{i}" for i in range(n)])
    adapter = FakeAdapter()
    return AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(),
                        probes=probes, model_path=Path("."), adapter=adapter)


def test_a_failing_check_is_an_error_and_the_others_still_run():
    results = run_checks([Broken(), NeedsGradients(), CountsProbes()], _ctx(), batch_size=4)
    assert [r.outcome for r in results] == ["error", "skipped", "ok"]
    assert "ZeroDivisionError" in results[0].summary
    assert "no gradients" in results[1].summary
    assert results[2].metrics == {"n": 10.0, "z": 10.0}


def test_progress_is_monotonic_and_ends_at_one():
    seen = []
    from auditor.progress import Progress

    run_checks([CountsProbes()], _ctx(), batch_size=3, progress=Progress(lambda f, m: seen.append(f)))
    assert seen == sorted(seen)
    assert seen[-1] == pytest.approx(1.0)


def test_cancel_stops_the_capture():
    with pytest.raises(Cancelled):
        run_checks([CountsProbes()], _ctx(), batch_size=3, should_stop=lambda: True)


class ReadsBatches(Check):
    id = "test.batches"
    captures = frozenset({"hidden"})
    needs_batches = True

    def run(self, ctx):
        return CheckResult(self.id, "ok", "read", metrics={"batches": len(ctx.trace.batches)})


def test_batches_are_kept_only_for_checks_that_read_them():
    ctx = _ctx()
    run_checks([CountsProbes()], ctx, batch_size=4)
    assert ctx.trace.batches == [] and ctx.trace.count == 10
    ctx = _ctx()
    results = run_checks([ReadsBatches()], ctx, batch_size=4)
    assert results[0].metrics == {"batches": 3.0}


def test_whole_batch_checks_skip_above_the_memory_limit(monkeypatch):
    import auditor.runner

    monkeypatch.setattr(auditor.runner, "RETAIN_LIMIT", 5)
    results = run_checks([ReadsBatches(), CountsProbes()], _ctx(10), batch_size=4)
    assert results[0].outcome == "skipped" and "--limit" in results[0].summary
    assert results[1].outcome == "ok"


class IndexedAdapter(FakeAdapter):
    """States that encode the probe index, to see that captured rows come back in probe order."""

    def batches(self, probes, batch_size):
        for batch in super().batches(probes, batch_size):
            batch.inputs = {"ids": np.array([int(probes.texts[i][1:]) for i in batch.index])}
            yield batch

    def capture(self, batch, points):
        h = np.repeat(batch.inputs["ids"].astype(np.float32)[:, None, None], 3, axis=1).repeat(4, axis=2)
        return TraceBatch(index=batch.index, mask=batch.mask, hidden=[h, h + 1])


def test_fit_probes_run_first_and_pooled_states_come_back_in_probe_order():
    seen = []

    class Order(Check):
        id = "test.order"
        captures = frozenset({"hidden"})

        def accumulator(self, ctx):
            class Acc:
                def update(self, batch):
                    seen.extend(batch.index.tolist())
            return Acc()

        def run(self, ctx):
            return CheckResult(self.id, "ok", "")

    ctx = _ctx(10)
    ctx.adapter = IndexedAdapter()
    run_checks([Order()], ctx, batch_size=3)
    fit, score = ctx.split
    assert seen == [*fit.tolist(), *score.tolist()]
    assert ctx.trace.pooled[0][:, 0].tolist() == list(range(10))
