"""The memory plan made before a model is loaded (auditor.memory_plan, auditor.memory_sizes)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from auditor import memory_plan
from auditor.errors import BadInput
from auditor.memory_plan import AUTO_SHARE, GIB, MIB, MemoryRefused, plan_audit
from auditor.probes import load_probes
from auditor.probes.types import ProbeSet
from auditor.templates import load_template
from tests.fixtures import sized_models


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("planned")
    return {"bert": sized_models.make_bert(root / "bert", hidden=64, layers=2, classifier=True),
            "gpt2": sized_models.make_gpt2(root / "gpt2"),
            "llama": sized_models.make_llama(root / "llama"),
            "vit": sized_models.make_vit(root / "vit")}


@pytest.fixture(scope="module")
def big_config(tmp_path_factory, models) -> tuple[Path, int]:
    """A 41 M-parameter BERT config whose weights file is garbage (only a plan can read it), and its parameters."""
    import torch
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("big")
    config = BertConfig(vocab_size=30522, hidden_size=512, num_hidden_layers=8, num_attention_heads=8,
                        intermediate_size=2048)
    config.save_pretrained(str(folder))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(models["bert"] / name, folder / name)
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"trunc")
    with torch.device("meta"):
        parameters = sum(p.numel() for p in BertModel(config).parameters())
    return folder, parameters


def _text(count: int = 16) -> ProbeSet:
    return load_probes("builtin:text", limit=count)


def _plan(model: Path, probes: ProbeSet | None = None, *, template: str = "standard", device: str = "cpu",
          dtype: str = "float32", batch_size: int | None = 16):
    return plan_audit(model, template=load_template(template), probes=probes or _text(), device=device,
                      dtype=dtype, batch_size=batch_size)


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "vit"])
def test_parameters_from_the_config_are_the_loaded_models(models, name):
    from auditor.models.torch_adapter import TorchAdapter

    probes = load_probes("builtin:images", limit=8) if name == "vit" else _text()
    plan = _plan(models[name], probes)
    adapter = TorchAdapter(models[name], device="cpu")
    assert plan.parameters == adapter.identity.parameters == sum(p.numel() for p in adapter.model.parameters())
    assert plan.weights_bytes == 4 * plan.parameters
    assert plan.parts["capture"] > 0 and plan.parts["backward"] > 0 and plan.parts["perturbation"] > 0
    assert "not_traced" not in json.dumps([n.key for n in plan.notes])


def test_vit_tokens_are_its_patches_and_class_token(models):
    plan = _plan(models["vit"], load_probes("builtin:images", limit=8))
    assert plan.tokens == (32 // 8) ** 2 + 1


def test_weights_halve_in_bfloat16_and_so_does_every_traced_pass(models):
    full = _plan(models["llama"], dtype="float32")
    half = _plan(models["llama"], dtype="bfloat16")
    assert full.weights_bytes == 2 * half.weights_bytes
    assert half.dtype == "bfloat16" and full.parameters == half.parameters
    assert half.parts["capture"] < full.parts["capture"]


def test_tokens_are_the_longest_probe_capped_by_the_models_length(models):
    short = ProbeSet(spec="mine", kind="text", sha256="0", texts=["the loan", "a claim for the bank"])
    assert _plan(models["bert"], short).tokens == 7          # [CLS] + 5 words + [SEP]
    long = ProbeSet(spec="mine", kind="text", sha256="0", texts=["the loan " * 100, "a"])
    assert _plan(models["bert"], long).tokens == 64           # the tokenizer's model_max_length
    assert _plan(models["bert"], long).parts["capture"] > _plan(models["bert"], short).parts["capture"]


def test_a_plan_reads_no_weights(big_config, monkeypatch):
    folder, parameters = big_config
    monkeypatch.setattr(memory_plan, "available_memory", lambda device: 64 * GIB)
    plan = _plan(folder)
    assert plan.parameters == parameters and plan.weights_bytes == 4 * parameters


def test_weights_that_do_not_fit_are_refused_before_loading_with_one_line(big_config, monkeypatch):
    folder, parameters = big_config
    monkeypatch.setattr(memory_plan, "available_memory", lambda device: 100 * MIB)
    with pytest.raises(MemoryRefused) as refused:
        _plan(folder)
    assert str(refused.value) == (f"needs {4 * parameters / MIB:.0f} MiB for the weights in float32; this machine "
                                  "has 100 MiB of memory available; try --dtype bfloat16 or a machine with more memory")
    assert isinstance(refused.value, BadInput) and refused.value.exit_code == 2
    assert memory_plan.render(refused.value.message, "ja").endswith("使ってください。")


def test_no_dtype_is_suggested_when_none_would_fit(big_config, monkeypatch):
    folder, parameters = big_config
    assert 2 * parameters > 60 * MIB
    monkeypatch.setattr(memory_plan, "available_memory", lambda device: 60 * MIB)
    with pytest.raises(MemoryRefused, match=r"; this machine has 60 MiB of memory available; "
                                            r"try a machine with more memory$"):
        _plan(folder)
    with pytest.raises(MemoryRefused, match=r"for the weights in bfloat16; .*; try a machine with more memory$"):
        _plan(folder, dtype="bfloat16")


def test_cuda_reads_the_free_gpu_memory(big_config, monkeypatch):
    import torch

    folder, parameters = big_config
    asked = []
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (asked.append(device) or (100 * MIB, GIB)))
    with pytest.raises(MemoryRefused) as refused:
        _plan(folder, device="cuda")
    assert str(asked[0]) == "cuda"
    assert str(refused.value) == (f"needs {4 * parameters / MIB:.0f} MiB for the weights in float32; the GPU has "
                                  "100 MiB free; try --dtype bfloat16 or --device cpu")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (asked.append(device) or (60 * MIB, GIB)))
    with pytest.raises(MemoryRefused, match=r"the GPU has 60 MiB free; try --device cpu$"):
        _plan(folder, device="cuda:1", dtype="float16")
    assert str(asked[-1]) == "cuda:1"


def test_a_gpu_plan_counts_its_largest_phase(models, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (40 * GIB, 80 * GIB))
    plan = _plan(models["bert"], device="cuda")
    assert plan.available_bytes == 40 * GIB
    assert "runtime" not in plan.parts and "pooled" not in plan.parts    # host memory is not the GPU's
    assert plan.total_bytes == max(plan.phases.values())
    p = plan.parts
    assert plan.phases["capture"] == p["weights"] + p["gradients"] + p["capture"] + p["backward"]
    assert plan.phases["perturbation"] == p["weights"] + p["gradients"] + p["captured_batch"] + p["perturbation"]
    # sanity.randomization's fresh copy of the weights, and its own gradient pass
    assert plan.phases["randomization"] == p["weights"] + p["randomization"] and p["randomization"] > p["weights"]


def test_a_cpu_plan_adds_the_capture_and_perturbation_passes(models):
    plan = _plan(models["bert"], template="quick")
    p = plan.parts
    assert set(plan.phases) == {"capture_pass"}      # quick runs no sanity.randomization
    assert plan.total_bytes == sum(p[k] for k in ("runtime", "weights", "gradients", "pooled", "capture", "backward",
                                                   "captured_batch", "perturbation"))
    assert p["pooled"] == 4 * 16 * ((2 + 1) * 64 + 3)     # 16 probes x 3 boundaries x d=64, and 3 classes
    assert plan.summary() == (f"planned {plan.total_bytes / 2**20:.0f} MiB (weights {p['weights'] / 2**10:.0f} KiB "
                              f"in float32, batch 16 of {plan.tokens} tokens); "
                              f"{plan.available_bytes / GIB:.1f} GiB available")
    stored = json.loads(json.dumps(plan.to_dict()))
    assert stored["total_bytes"] == plan.total_bytes and stored["summary"] == plan.summary()
    assert plan.summary("ja").startswith("必要なメモリを") and plan.summary("ja").endswith("。")


def test_auto_batch_grows_with_the_memory_and_stops_at_its_cap(models, monkeypatch):
    probes = _text(64)
    first = _plan(models["bert"], probes, template="quick")
    needed = {b: _plan(models["bert"], probes, template="quick", batch_size=b).total_bytes for b in (1, 8, 16)}
    chosen = []
    for available in (first.weights_bytes + 1, needed[1] / AUTO_SHARE + 1, needed[8] / AUTO_SHARE + 1,
                      needed[16] / AUTO_SHARE + 1, 1000 * GIB):
        monkeypatch.setattr(memory_plan, "available_memory", lambda device, a=int(available): a)
        plan = _plan(models["bert"], probes, template="quick", batch_size=None)
        assert plan.auto and (plan.total_bytes <= AUTO_SHARE * available or plan.batch_size == 1)
        chosen.append(plan.batch_size)
    # the largest batch that fits: one more would not have
    assert _plan(models["bert"], probes, template="quick", batch_size=chosen[2] + 1).total_bytes > \
        AUTO_SHARE * (needed[8] / AUTO_SHARE + 1)
    assert chosen[0] == 1 and chosen[1] == 1 and 8 <= chosen[2] < 16 <= chosen[3]
    assert chosen == sorted(chosen) and chosen[-1] == memory_plan.BATCH_CAP["cpu"]
    assert memory_plan.render(plan.notes, "en") == "" and "(auto)" in plan.summary()


def test_batch_one_is_chosen_and_said_when_nothing_fits_but_the_weights(models, monkeypatch):
    weights = _plan(models["bert"]).weights_bytes
    monkeypatch.setattr(memory_plan, "available_memory", lambda device: weights + 1024)
    plan = _plan(models["bert"], batch_size=None)
    assert plan.batch_size == 1
    assert plan.summary().endswith("; even batch 1 needs more than 80% of the available memory; batch 1 chosen")


def test_auto_batch_is_never_more_than_the_probes(models, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000 * GIB, 1000 * GIB))
    assert _plan(models["bert"], _text(24), device="cuda", batch_size=None).batch_size == 24
    assert _plan(models["bert"], _text(200), device="cuda", batch_size=None).batch_size == \
        memory_plan.BATCH_CAP["cuda"]


def test_an_onnx_plan_counts_the_initializers_and_says_what_it_does_not_plan(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.zeros((4, 1000), np.float32), "w")
    bias = numpy_helper.from_array(np.zeros(1000, np.float16), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Cast", ["y"], ["z"], to=TensorProto.FLOAT16),
         helper.make_node("Add", ["z", "b"], ["out"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT16, [1, 1000])], [weight, bias])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "m.onnx"))
    plan = _plan(tmp_path / "m.onnx", batch_size=None)
    assert plan.parameters == 5000 and plan.weights_bytes == 4 * 4000 + 2 * 1000
    assert plan.parts == {"weights": 18000} and plan.total_bytes == 18000 and plan.batch_size == 16
    assert "onnxruntime sizes an ONNX graph's activations itself" in plan.summary()

