"""Per-batch statistics on the model's device (issue 20): the torch versions equal the numpy estimators on
the same captured batches, the accumulators give the same figures either way, bfloat16 models accumulate in
float32/float64, and the flow, bottleneck and perturbation accumulators copy no layer tensor to the host."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from auditor.capture import capture_pass
from auditor.checks.base import AuditContext
from auditor.checks.registry import get
from auditor.estimators import attention as att
from auditor.estimators import device_ops as ops
from auditor.estimators import perturbation as pert
from auditor.models.base import Capability
from auditor.models.load import load_model
from auditor.models.perturb import IMAGE_PERTURBATIONS, TEXT_PERTURBATIONS, PerturbationPlan
from auditor.probes import load_probes
from auditor.runner import run_checks
from auditor.trace import Trace, pool

POINTS = frozenset({Capability.HIDDEN_STATES, Capability.ATTENTIONS, Capability.LOGITS})
DEVICE_CHECKS = ("attention.structure", "bottleneck.information_plane", "perturbation.sensitivity")


def _close(device, host, what):
    np.testing.assert_allclose(ops.host(device), host, rtol=1e-6, atol=1e-6, err_msg=what)


def _probes(fixture: str, limit: int):
    return load_probes("builtin:images" if fixture == "tiny_vit" else "builtin:text", limit=limit)


def _captured(adapter, fixture: str, count: int = 2, size: int = 6):
    batches = []
    for batch in adapter.batches(_probes(fixture, count * size), size):
        traced = adapter.capture(batch, POINTS)
        traced.inputs = batch
        batches.append(traced)
    return batches


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_gpt2", "tiny_vit"])
def test_device_statistics_equal_the_numpy_estimators_on_the_same_batches(fixture, request):
    adapter = load_model(request.getfixturevalue(fixture), device="cpu")
    plan = PerturbationPlan(seed=0, eps=(0.05,), inputs=IMAGE_PERTURBATIONS if fixture == "tiny_vit"
                            else TEXT_PERTURBATIONS)
    for batch in _captured(adapter, fixture):
        hidden, attn, mask = batch.device_hidden, batch.device_attentions, batch.device_mask
        assert ops.is_tensor(hidden[0]) and ops.is_tensor(attn[0]) and ops.is_tensor(mask)
        causal = att.is_causal(batch.attentions[0], batch.mask)
        assert causal == (fixture == "tiny_gpt2") and ops.is_causal(attn[0], mask) == causal
        for layer, maps in enumerate(attn):
            got = ops.head_stats(maps, mask, batch.device_special, causal=causal, grid=batch.grid,
                                 prefix=batch.prefix_tokens)
            want = att.head_stats(batch.attentions[layer], batch.mask, batch.special, causal=causal,
                                  grid=batch.grid, prefix=batch.prefix_tokens)
            for name in ("entropy", "distance", "sink"):
                assert np.isfinite(getattr(want, name)).any()
                _close(getattr(got, name), getattr(want, name), f"{name} of block {layer}")
        tokens = attn[0].shape[-1]
        rolled = ops.rollout(attn, mask[:, :tokens])
        _close(rolled, att.rollout(list(batch.attentions), batch.mask[:, :tokens]), "rollout")
        for pooling in ("mean", "cls", "last"):
            _close(ops.input_relevance(rolled, mask[:, :tokens], pooling),
                   att.input_relevance(ops.host(rolled), batch.mask[:, :tokens], pooling), f"relevance {pooling}")
            for layer, states in enumerate(hidden):
                # pooled states are the same bits on the CPU: every figure estimated from them is unchanged
                assert np.array_equal(ops.host(ops.pool(states, mask, pooling)),
                                      pool(batch.hidden[layer], batch.mask, pooling).astype(np.float32))
        run = adapter.perturb(batch.inputs, plan)
        assert run.hidden and all(ops.is_tensor(h) for states in run.hidden.values() for h in states)
        for key, states in run.hidden.items():
            for layer, (clean, moved) in enumerate(zip(hidden, states, strict=True)):
                _close(ops.frobenius(clean, mask), pert.frobenius(batch.hidden[layer], batch.mask), "frobenius")
                _close(ops.relative_change(clean, moved, mask),
                       pert.relative_change(batch.hidden[layer], ops.host(moved), batch.mask), f"{key} {layer}")
        pooled = ops.pool(hidden[-1], mask, adapter.pooling)
        for key, copy in run.pooled.items():
            _close(ops.row_cosine(pooled, copy), pert.row_cosine(ops.host(pooled), ops.host(copy)), f"cos {key}")
        if batch.device_logits is None:
            continue
        logits = ops.last_valid(batch.device_logits, mask)
        _close(logits, _host_last(batch), "last valid logits")
        for key in run.pooled:
            _close(ops.softmax_kl(logits, run.logits[key]),
                   pert.softmax_kl(ops.host(logits), ops.host(run.logits[key])), f"kl {key}")
            assert np.array_equal(ops.host(ops.flips(logits, run.logits[key])),
                                  pert.flips(ops.host(logits), ops.host(run.logits[key])))


def _host_last(batch):
    from auditor.models.perturb import last_valid

    return last_valid(batch.logits, batch.mask)


def test_a_bfloat16_model_is_reduced_in_float32_and_float64(tiny_bert):
    """The maps and states stay bfloat16 on the device; the statistics widen them exactly and sum in float64,
    so they equal the numpy estimators on the float32 host copies."""
    adapter = load_model(tiny_bert, device="cpu", dtype="bfloat16")
    batch = _captured(adapter, "tiny_bert", count=1, size=8)[0]
    assert batch.device_hidden[0].dtype == torch.bfloat16 and batch.hidden[0].dtype == np.float32
    stats = ops.head_stats(batch.device_attentions[0], batch.device_mask, batch.device_special, causal=False)
    want = att.head_stats(batch.attentions[0], batch.mask, batch.special, causal=False)
    assert stats.entropy.dtype == torch.float64
    _close(stats.entropy, want.entropy, "entropy")
    _close(stats.sink, want.sink, "sink")
    norm = ops.frobenius(batch.device_hidden[-1], batch.device_mask)
    assert norm.dtype == torch.float64
    _close(norm, pert.frobenius(batch.hidden[-1], batch.mask), "frobenius")
    pooled = ops.pool(batch.device_hidden[-1], batch.device_mask, "mean")
    assert pooled.dtype == torch.float32
    assert np.array_equal(ops.host(pooled), pool(batch.hidden[-1], batch.mask, "mean"))


def _context(adapter, probes) -> AuditContext:
    return AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(), probes=probes,
                        model_path=adapter.folder, adapter=adapter)


def _numbers(value, path=()):
    """(path, number) for every number inside a result's metrics or intervals."""
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _numbers(value[key], (*path, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _numbers(item, (*path, i))
    elif isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        yield path, float(value)


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_gpt2"])
def test_the_accumulators_give_the_same_figures_from_device_tensors_and_from_numpy(fixture, request):
    """The same probes through the same checks, once with the captures left on the device and once handed
    over as numpy (the host path an ONNX model takes): every figure within 1e-6."""
    adapter = load_model(request.getfixturevalue(fixture), device="cpu")
    probes = _probes(fixture, 16)
    figures = []
    for resident in (True, False):
        adapter.resident = resident
        results = run_checks([get(c)() for c in DEVICE_CHECKS], _context(adapter, probes), batch_size=8)
        assert [r.outcome for r in results] == ["ok"] * 3, [r.summary for r in results]
        figures.append(dict(_numbers({r.check_id: {"metrics": dict(r.metrics), "intervals": dict(r.intervals)}
                                      for r in results})))
    device, host = figures
    assert device.keys() == host.keys() and len(device) > 100
    for path, value in host.items():
        assert device[path] == pytest.approx(value, rel=1e-6, abs=1e-6, nan_ok=True), path


class _Counted:
    """An accumulator whose updates are attributed to its check in the transfer count."""

    def __init__(self, name, inner, phase):
        self.name, self.inner, self.phase = name, inner, phase
        self.gradient_task = getattr(inner, "gradient_task", None)

    def update(self, batch):
        self.phase[0] = self.name
        try:
            self.inner.update(batch)
        finally:
            self.phase[0] = "adapter"


def _layer_transfers(adapter, fixture, monkeypatch, resident: bool) -> tuple[list, int]:
    """Every device-to-host copy of a tensor of 3 or more dimensions ([B, T, d], [B, H, T, T], ...) during a
    capture pass feeding the three checks' accumulators, by phase; and the number of batches."""
    adapter.resident = resident
    phase, seen = ["adapter"], []
    real = torch.Tensor.numpy

    def numpy(self, *args, **kwargs):
        if self.dim() >= 3:
            seen.append((phase[0], tuple(self.shape)))
        return real(self, *args, **kwargs)

    add = Trace.add

    def traced_add(self, batch):
        phase[0] = "trace"
        add(self, batch)
        phase[0] = "adapter"

    probes = _probes(fixture, 24)
    ctx = _context(adapter, probes)
    made = {c: get(c)().accumulator(ctx) for c in DEVICE_CHECKS}
    accumulators = {c: _Counted(c, a, phase) for c, a in made.items() if a is not None}
    with monkeypatch.context() as patch:
        patch.setattr(torch.Tensor, "numpy", numpy)
        patch.setattr(Trace, "add", traced_add)
        trace = capture_pass(adapter, probes, POINTS | {Capability.GRADIENTS}, accumulators, batch_size=8,
                             retain=False)
    assert trace.count == 24
    return seen, 3


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_vit", "tiny_bert"])
def test_no_layer_tensor_leaves_the_device_per_batch(fixture, request, monkeypatch):
    adapter = load_model(request.getfixturevalue(fixture), device="cpu")
    seen, batches = _layer_transfers(adapter, fixture, monkeypatch, resident=True)
    assert seen == []
    # the count is real: handing the captures over as numpy copies every layer of every batch
    seen, batches = _layer_transfers(adapter, fixture, monkeypatch, resident=False)
    layers = adapter.identity.layers
    by_phase = {p: sum(1 for q, _ in seen if q == p) for p in {q for q, _ in seen}}
    assert by_phase["adapter"] >= batches * (2 * layers + 1)                 # states and maps of the capture
    assert by_phase["perturbation.sensitivity"] >= batches * (layers + 1)   # the noise copies' states


def test_the_trace_keeps_rows_in_probe_order_in_one_allocation(monkeypatch):
    """Rows land at their probe's place whatever the batch order; device rows wait and cross together;
    a pass with more probes than expected grows the array; what comes back cannot be written to."""
    from auditor import trace as trace_mod
    from auditor.trace import RowStore

    monkeypatch.setattr(trace_mod, "FLUSH_BYTES", 3 * 4 * 2)        # flush after three rows of two floats
    store = RowStore(capacity=4)
    store.add(np.array([2, 0]), torch.tensor([[2.0, 2.0], [0.0, 0.0]]))
    assert store.data is None and len(store._pending) == 1             # still on the device
    store.add(np.array([3]), np.array([[3.0, 3.0]]))                   # host rows go straight in
    store.add(np.array([1, 5]), torch.tensor([[1.0, 1.0], [5.0, 5.0]]))   # past the expected 4 probes
    assert not store._pending and len(store.data) >= 6
    rows = store.values()
    assert rows.tolist() == [[0, 0], [1, 1], [2, 2], [3, 3], [5, 5]]    # probe 4 never came: left out
    store.add(np.array([4]), np.array([[4.0, 4.0]]))
    full = store.values()
    assert full[:, 0].tolist() == [0, 1, 2, 3, 4, 5] and not full.flags.writeable


def _stored(audit_id: str, db: str) -> dict:
    from auditor import api
    from auditor.store import open_db, queries

    shown = api.show_audit(audit_id, db)
    evidence = {c["id"]: c["evidence"] for c in queries.stored_content(open_db(db), audit_id, None)["checks"]}
    return {"verdict": shown["verdict"], "checks": {
        c["id"]: {"status": c["status"], "metrics": c["metrics"], "intervals": c["intervals"],
                  "evidence": evidence[c["id"]]} for c in shown["checks"]}}


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_gpt2"])
def test_a_standard_audit_stores_the_same_figures_from_device_tensors_as_from_numpy(fixture, request, tmp_path,
                                                                                      monkeypatch):
    """Every stored figure of a standard audit (its rules, a small probe set) with the captures on the device
    equals the host path's (numpy copies of every capture, the numpy estimators) to 1e-6, and every status."""
    from auditor import api
    from auditor.models.torch_adapter import TorchAdapter
    from tests.fixtures.templates import no_minimum

    stored = []
    for resident in (True, False):
        monkeypatch.setattr(TorchAdapter, "resident", resident)
        db = str(tmp_path / f"{resident}.db")
        audit_id = api.run_audit(api.AuditRequest(model=str(request.getfixturevalue(fixture)), probes="builtin:text",
                                                  limit=24, db=db, device="cpu", template=no_minimum("standard")))
        stored.append(_stored(audit_id, db))
    device, host = stored
    assert device["verdict"] == host["verdict"]
    assert {k: v["status"] for k, v in device["checks"].items()} == {k: v["status"] for k, v in host["checks"].items()}
    numbers = dict(_numbers(host["checks"]))
    assert dict(_numbers(device["checks"])).keys() == numbers.keys() and len(numbers) > 500
    for path, value in _numbers(device["checks"]):
        if "seconds" in str(path[-1]) or str(path[-1]).endswith("_s"):
            continue    # timings
        assert value == pytest.approx(numbers[path], rel=1e-6, abs=1e-6, nan_ok=True), path
