"""The precision policy: which dtype runs (models.precision), what a reduced dtype cannot measure
(models.precision_noise), float32 sums of reduced-precision gradients (models.torch_grad) and the figure
tolerances two audits are compared with (auditor.figure_tolerance)."""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from auditor.errors import BadInput
from auditor.figure_tolerance import FAMILIES, compare_audits, tolerance_for
from auditor.models import precision_noise as pn
from auditor.models.precision import checkpoint_dtype, resolve_dtype

# -- resolve_dtype and checkpoint_dtype ---------------------------------------------------------------


def test_auto_is_the_checkpoints_dtype_on_cuda_and_float32_on_the_cpu():
    assert resolve_dtype("auto", "cpu", "bfloat16") == "float32"
    assert resolve_dtype("auto", "cpu", "float32") == "float32"
    assert resolve_dtype("auto", "cuda", "bfloat16") == "bfloat16"
    assert resolve_dtype("auto", "cuda:1", "float16") == "float16"
    assert resolve_dtype("auto", "cuda", "float32") == "float32"
    assert resolve_dtype("auto", "cuda", "float64") == "float32"     # no float64 runs: float32
    assert resolve_dtype("auto", "cuda", None) == "float32"          # the checkpoint does not say


def test_an_explicit_dtype_is_honoured_on_both_devices_and_a_bad_one_refused():
    assert resolve_dtype("bfloat16", "cpu", "float32") == "bfloat16"
    assert resolve_dtype("float16", "cpu", "bfloat16") == "float16"
    assert resolve_dtype("float32", "cuda", "bfloat16") == "float32"
    with pytest.raises(BadInput, match="--dtype int8 is not one of auto, float32, bfloat16, float16"):
        resolve_dtype("int8", "cpu", None)


def _safetensors(path: Path, dtypes: list[str]) -> None:
    header = {f"w{i}": {"dtype": d, "shape": [1], "data_offsets": [2 * i, 2 * i + 2]} for i, d in enumerate(dtypes)}
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * (2 * len(dtypes)))


def test_checkpoint_dtype_reads_the_config_then_the_safetensors_header(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"torch_dtype": "bfloat16"}))
    assert checkpoint_dtype(tmp_path) == "bfloat16"
    (tmp_path / "config.json").write_text(json.dumps({"dtype": "torch.float16"}))   # transformers 5 spelling
    assert checkpoint_dtype(tmp_path) == "float16"
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert checkpoint_dtype(tmp_path) is None
    _safetensors(tmp_path / "model.safetensors", ["BF16", "BF16", "F32"])             # the commonest wins
    assert checkpoint_dtype(tmp_path) == "bfloat16"
    (tmp_path / "config.json").write_text(json.dumps({"torch_dtype": "float32"}))   # the config wins
    assert checkpoint_dtype(tmp_path) == "float32"
    (tmp_path / "config.json").write_text("{broken")
    assert checkpoint_dtype(tmp_path) == "bfloat16"


def test_a_real_bfloat16_checkpoint_runs_in_float32_on_the_cpu_unless_asked(tmp_path):
    from auditor.models.torch_adapter import TorchAdapter
    from tests.fixtures.torch_models import make_tiny_bert

    folder = make_tiny_bert(tmp_path / "bf16", dtype="bfloat16")
    assert checkpoint_dtype(folder) == "bfloat16"
    assert TorchAdapter(folder, device="cpu").compute_dtype == "float32"
    asked = TorchAdapter(folder, device="cpu", dtype="bfloat16")
    assert asked.compute_dtype == "bfloat16" and str(asked.model.dtype) == "torch.bfloat16"


# -- precision_noise ----------------------------------------------------------------------------------


def test_noise_sizes_below_the_rounding_floor_are_not_run():
    assert pn.split_eps([0.01, 0.05, 0.10], "float32", 24) == ((0.01, 0.05, 0.10), ())
    assert pn.split_eps([0.01, 0.05, 0.10], "bfloat16", 6) == ((0.05, 0.10), (0.01,))
    assert pn.split_eps([0.01, 0.05, 0.10], "bfloat16", 24) == ((0.10,), (0.01, 0.05))
    assert pn.split_eps([0.01, 0.05, 0.10], "float16", 6) == ((0.01, 0.05, 0.10), ())
    least = pn.min_measurable_eps("bfloat16", 6)
    assert pn.rounding_bias_at(least, "bfloat16", 6) == pytest.approx(pn.MAX_BIAS, rel=1e-9)
    assert pn.rounding_bias_at(0.01, "bfloat16", 6) > 0.5             # 0.01 in bfloat16: +75% at A = 1


def test_the_floor_model_explains_minilms_bfloat16_amplification():
    """bench/precision.py on MiniLM (256 probes): float32 amplification A at eps 0.05 and what bfloat16
    measured; the floor model predicts a larger m (it is conservative) and calls 0.05 not measurable."""
    a32 = np.array([1.0, 0.6017, 0.5156, 0.4762, 0.4501, 0.4236, 0.5240])
    m16 = np.array([1.0, 0.6092, 0.5330, 0.5027, 0.4851, 0.4641, 0.5836])
    predicted = np.sqrt(a32 ** 2 + (pn.rounding_floor("bfloat16", np.arange(7)) / 0.05) ** 2)
    assert np.all(predicted >= m16 - 1e-4) and np.all(predicted <= 1.15 * m16)
    assert not pn.amplification_measurable(m16, 0.05, "bfloat16")
    assert pn.amplification_measurable(a32, 0.05, "float32")
    assert pn.amplification_measurable([1.0, 0.6033, 0.5183, 0.4807, 0.4551, 0.4337, 0.5365], 0.10, "bfloat16")
    entry = pn.not_measurable([0.01, 0.05, 0.10], "bfloat16", 6, {"0.05": list(m16)})
    assert entry is not None and entry["eps"] == [0.01, 0.05] and entry["not_run"] == [0.01]
    assert pn.not_measurable([0.05, 0.10], "float32", 6, {"0.05": list(a32)}) is None


def test_the_sentence_for_unmeasurable_noise_exists_in_both_languages():
    from auditor.messages import render, validate

    assert validate() == []
    message = pn.not_measurable_message(pn.not_measurable([0.01], "bfloat16", 6))
    assert "0.01" in render(message, "en") and "bfloat16" in render(message, "en")
    assert "0.01" in render(message, "ja") and render(message, "ja").endswith("。")


def test_noise_is_added_in_float32_and_rounded_once():
    import torch

    torch.manual_seed(0)
    part = torch.randn(3, 5, 8)
    direction = torch.randn(3, 5, 8)
    direction = direction / direction.flatten(1).norm(dim=1).reshape(-1, 1, 1)
    eps, scale = torch.tensor([0.01, 0.05, 0.1]), part.flatten(1).norm(dim=1)
    exact = part + direction * (eps * scale).reshape(-1, 1, 1)
    assert torch.equal(pn.add_relative_noise(part, direction, eps, scale), exact)     # float32: unchanged
    half = pn.add_relative_noise(part.bfloat16(), direction, eps, scale)
    assert half.dtype == torch.bfloat16
    once = (part.bfloat16().float() + direction * (eps * scale).reshape(-1, 1, 1)).bfloat16()
    assert torch.equal(half, once)
    thrice = part.bfloat16() + direction.bfloat16() * (eps * scale).bfloat16().reshape(-1, 1, 1)
    assert not torch.equal(half, thrice)                             # the old sum rounded three times
    valid = torch.ones(3, 5, 1)
    realised = pn.realised_relative(part.bfloat16(), half, valid)
    assert torch.allclose(realised, eps, rtol=0.1)                   # bfloat16 realises eps to ~u / eps


# -- gradients in reduced precision -------------------------------------------------------------------


def test_reduced_precision_parameter_gradients_are_summed_in_float32():
    import torch

    from auditor.models.torch_grad import fold_parameter_gradients, parameter_gradient_norms

    block = torch.nn.Linear(4, 4, bias=False).to(torch.bfloat16)
    step = torch.full((4, 4), 1e-3)
    for _ in range(2000):   # in bfloat16 the running sum stops growing once a step is below 2^-9 of it
        block.weight.grad = step.to(torch.bfloat16)
        fold_parameter_gradients([block])
    exact = float((step.to(torch.bfloat16).double() * 2000).norm())
    assert parameter_gradient_norms(block, [block])[0] == pytest.approx(exact, rel=1e-3)
    naive = torch.zeros(4, 4, dtype=torch.bfloat16)
    for _ in range(2000):
        naive += step.to(torch.bfloat16)
    assert float(naive.float().norm()) < 0.5 * exact                 # what summing in .grad would have said
    assert block.weight.grad is None


def test_float32_gradients_keep_summing_in_grad():
    import torch

    from auditor.models.torch_grad import fold_parameter_gradients, loss_scale, parameter_gradient_norms

    block = torch.nn.Linear(2, 2, bias=False)
    block.weight.grad = torch.ones(2, 2)
    fold_parameter_gradients([block])
    assert block.weight.grad is not None                             # untouched: the float32 path is as before
    assert parameter_gradient_norms(block, [block]) == [pytest.approx(2.0)]
    assert loss_scale(block) == 1.0 and loss_scale(block.to(torch.bfloat16)) == 1.0
    assert loss_scale(block.to(torch.float16)) == 1024.0


def test_torch_pool_averages_in_float32():
    import torch

    from auditor.models.torch_grad import torch_pool

    hidden = (torch.arange(3 * 300 * 2, dtype=torch.float32).reshape(3, 300, 2) % 7 + 100.0).bfloat16()
    mask = torch.ones(3, 300, dtype=torch.bool)
    pooled = torch_pool(hidden, mask, "mean")
    assert pooled.dtype == torch.float32
    assert torch.allclose(pooled, hidden.double().mean(dim=1).float(), rtol=1e-6)


# -- figure tolerances and compare_audits ---------------------------------------------------------------


def _audit(dtype: str, checks: dict[str, dict]) -> dict:
    return {"environment": {"dtype": dtype}, "checks": [
        {"id": cid, "metrics": c.get("metrics", {}), "intervals": c.get("intervals", {})} for cid, c in checks.items()]}


def _one(diffs, metric, variant=None):
    found = [d for d in diffs if d.metric == metric and d.variant == variant]
    assert len(found) == 1, [(d.metric, d.variant) for d in diffs]
    return found[0]


def test_tolerances_are_per_family():
    assert tolerance_for("flow.pde", "pde_r2").family == "update_fit"
    assert tolerance_for("perturbation.sensitivity", "amplification").family == "perturbation"
    assert tolerance_for("artifact.integrity", "parameters") == FAMILIES["exact"]
    assert tolerance_for("perturbation.counterfactual", "counterfactual_flip_rate").family == "rate"
    assert tolerance_for("bottleneck.information_plane", "mi_xt_kde").family == "information"
    assert tolerance_for("x.new", "a_metric_nobody_classified") == FAMILIES["unclassified"]
    assert FAMILIES["unclassified"].abs == 0 and FAMILIES["unclassified"].rel == 0


def test_identical_audits_are_within_every_tolerance():
    checks = {"flow.representation": {"metrics": {"update_ratio": [0.5, 0.4], "effective_rank": [60.0, 61.0]},
                                      "intervals": {"update_ratio": {"ci_low": [0.4, 0.3], "ci_high": [0.6, 0.5]}}},
              "artifact.integrity": {"metrics": {"parameters": 1000.0}}}
    diffs = compare_audits(_audit("float32", checks), _audit("bfloat16", checks))
    assert len(diffs) == 5 and all(d.within and d.max_abs == 0 for d in diffs)
    assert {d.variant for d in diffs if d.metric == "update_ratio"} == {None, "ci_low", "ci_high"}


@pytest.mark.parametrize("factor, within", [(0.95, True), (1.05, False)])
def test_a_difference_over_tolerance_fails(factor, within):
    tol = tolerance_for("flow.representation", "effective_rank")          # abs 3e-3 + rel 1e-2 * scale
    a = [60.0, 10.0]
    allowed = tol.abs + tol.rel * 60.0                                     # the figure's scale: its largest value
    b = [60.0, 10.0 + factor * allowed]
    diff = _one(compare_audits(_audit("float32", {"flow.representation": {"metrics": {"effective_rank": a}}}),
                               _audit("bfloat16", {"flow.representation": {"metrics": {"effective_rank": b}}})),
                "effective_rank")
    assert diff.within is within
    assert diff.max_abs == pytest.approx(factor * allowed) and diff.share_of_tolerance == pytest.approx(factor)
    assert diff.max_rel == pytest.approx(factor * allowed / 60.0)


def test_figures_in_one_audit_only_are_listed_not_dropped():
    a = _audit("float32", {"gradients.flow": {"metrics": {"grad_ratio": 2.0, "grad_attenuation": 0.5}},
                           "attention.structure": {"metrics": {"entropy": [[0.5, 0.6]]}}})
    b = _audit("bfloat16", {"gradients.flow": {"metrics": {"grad_ratio": 2.0, "grad_attenuation": None,
                                                           "param_grad_ratio": 3.0}}})
    diffs = compare_audits(a, b)
    only_a = _one(diffs, "grad_attenuation")
    assert only_a.only_in == "a" and not only_a.within and only_a.max_abs is None
    only_b = _one(diffs, "param_grad_ratio")
    assert only_b.only_in == "b" and not only_b.within
    missing = [d for d in diffs if d.check_id == "attention.structure"]
    assert len(missing) == 1 and missing[0].only_in == "a" and not missing[0].within
    assert _one(diffs, "grad_ratio").within


def test_variants_shapes_and_nan_are_compared_value_by_value():
    a = _audit("float32", {"perturbation.counterfactual": {"metrics": {
        "counterfactual_shift": {"overall": [0.2, 0.3], "age": [0.1, 0.2]},
        "counterfactual_flip_rate": {"overall": 0.05}}},
        "flow.smoothing": {"metrics": {"token_similarity": [0.4, float("nan")], "dirichlet_energy": [1.0, 1.0]}}})
    b = _audit("bfloat16", {"perturbation.counterfactual": {"metrics": {
        "counterfactual_shift": {"overall": [0.2, 0.3], "age": [0.1, 0.25]},
        "counterfactual_flip_rate": {"overall": 0.06}}},
        "flow.smoothing": {"metrics": {"token_similarity": [0.4, 0.5], "dirichlet_energy": [1.0, 1.0, 1.0]}}})
    diffs = compare_audits(a, b)
    assert _one(diffs, "counterfactual_shift", "overall").within
    assert not _one(diffs, "counterfactual_shift", "age").within
    assert _one(diffs, "counterfactual_flip_rate", "overall").within          # rate: 0.02 absolute
    assert not _one(diffs, "token_similarity").within and math.isinf(_one(diffs, "token_similarity").max_abs)
    shape = _one(diffs, "dirichlet_energy")
    assert not shape.within and "shapes differ" in shape.note


def test_noise_a_dtype_cannot_measure_is_named_with_the_reason_not_compared():
    amp32 = [1.0, 0.60, 0.52, 0.48, 0.45, 0.42, 0.52]
    amp16 = {"0.01": [1.0, 0.74, 0.81, 0.89, 0.93, 0.94, 1.27], "0.05": [1.0, 0.61, 0.53, 0.50, 0.49, 0.46, 0.58],
             "0.1": [1.0, 0.603, 0.518, 0.481, 0.455, 0.434, 0.537]}
    by_eps32 = {"0.01": [1.0, 0.601, 0.51, 0.47, 0.45, 0.42, 0.52], "0.05": amp32,
                "0.1": [1.0, 0.601, 0.514, 0.474, 0.448, 0.424, 0.52]}
    a = _audit("float32", {"perturbation.sensitivity": {"metrics": {
        "amplification": amp32, "amplification_by_eps": by_eps32}}})
    b = _audit("bfloat16", {"perturbation.sensitivity": {"metrics": {
        "amplification": amp16["0.05"], "amplification_by_eps": dict(amp16)}}})
    diffs = compare_audits(a, b)
    for eps in ("0.01", "0.05"):
        d = _one(diffs, "amplification_by_eps", eps)
        assert d.within and "not measurable in bfloat16" in d.note
    headline = _one(diffs, "amplification")          # its source is 0.05: not measurable either
    assert headline.within and "embedding noise 0.05" in headline.note
    measured = _one(diffs, "amplification_by_eps", "0.1")
    assert measured.note is None and measured.within                      # 3% apart: within 6%
    # after the check leaves an unmeasurable size out, the float32 figure alone still gets the reason
    b["checks"][0]["metrics"]["amplification_by_eps"]["0.01"] = None
    gone = _one(compare_audits(a, b), "amplification_by_eps", "0.01")
    assert gone.only_in == "a" and gone.within and "not measurable" in gone.note
    # the same figures from two float32 audits are compared as numbers
    b["checks"][0]["metrics"]["amplification_by_eps"]["0.01"] = amp16["0.01"]
    same = compare_audits(a, {**b, "environment": {"dtype": "float32"}})
    assert not _one(same, "amplification_by_eps", "0.01").within
    assert _one(same, "amplification_by_eps", "0.01").note is None


def test_update_fits_are_not_compared_where_the_update_is_below_the_dtypes_rounding():
    ratio = [0.01, 0.5]                          # 0.01 < 20 * 2^-8: bfloat16 cannot resolve the first step
    a = _audit("float32", {"flow.representation": {"metrics": {"update_ratio": ratio}},
                           "flow.pde": {"metrics": {"pde_r2": [0.9, 0.8]}}})
    b = _audit("bfloat16", {"flow.representation": {"metrics": {"update_ratio": ratio}},
                            "flow.pde": {"metrics": {"pde_r2": [0.7, 0.8001]}}})
    fit = _one(compare_audits(a, b), "pde_r2")
    assert fit.within and "layer(s) 1" in fit.note and fit.max_abs == pytest.approx(1e-4)
    b["checks"][1]["metrics"]["pde_r2"] = [0.7, 0.7]
    assert not _one(compare_audits(a, b), "pde_r2").within          # the resolved step still counts
    a["environment"]["dtype"] = b["environment"]["dtype"] = "float32"
    assert not _one(compare_audits(a, b), "pde_r2").within and _one(compare_audits(a, b), "pde_r2").note is None


def test_a_rate_may_move_by_half_its_own_interval():
    def side(rate: float, low: float, high: float) -> dict:
        return {"perturbation.counterfactual": {
            "metrics": {"counterfactual_flip_rate": {"overall": rate}},
            "intervals": {"counterfactual_flip_rate": {"overall": {"ci_low": low, "ci_high": high}}}}}

    wide = compare_audits(_audit("float32", side(0.05, 0.0, 0.12)), _audit("bfloat16", side(0.09, 0.02, 0.14)))
    assert _one(wide, "counterfactual_flip_rate", "overall").within            # 0.04 <= 0.14 / 2
    assert _one(wide, "counterfactual_flip_rate", "overall").allowed == pytest.approx(0.06)
    narrow = compare_audits(_audit("float32", side(0.05, 0.04, 0.06)), _audit("bfloat16", side(0.09, 0.08, 0.1)))
    assert not _one(narrow, "counterfactual_flip_rate", "overall").within     # 0.04 > 0.02


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_gradient_figures_in_reduced_precision_match_float32(tmp_path_factory, dtype):
    """The gradient pass in bfloat16 (float32 parameter sums) and float16 (loss scaled by 1024, divided out)."""
    from auditor.checks._tasks import ProbeTask
    from auditor.models.torch_adapter import TorchAdapter
    from auditor.probes import load_probes
    from tests.fixtures.torch_models import make_tiny_gpt2

    folder = make_tiny_gpt2(tmp_path_factory.mktemp("gpt2"))
    figures = {}
    for name in ("float32", dtype):
        adapter = TorchAdapter(folder, device="cpu", dtype=name)
        hidden = []
        for batch in adapter.batches(load_probes("builtin:text", limit=24), 8):
            trace = adapter.capture(batch, frozenset({"hidden_states", "gradients"}),
                                    task=ProbeTask("causal_lm", np.ones(100, bool), None))
            hidden.append(trace.grad_hidden)
        figures[name] = (np.concatenate(hidden), np.asarray(adapter.parameter_gradient_norms()))
        assert all(p.grad is None for block in adapter.blocks for p in block.parameters())
    (h32, p32), (h16, p16) = figures["float32"], figures[dtype]
    assert h16.shape == h32.shape and np.all(h32 > 0)
    assert np.allclose(h16, h32, rtol=0.05) and np.allclose(p16, p32, rtol=0.05)
