"""Weights an ONNX graph keeps outside its initializers (free of onnxruntime)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import onnx

from auditor.errors import BadInput

_FLOAT_NAMES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
                onnx.TensorProto.BFLOAT16: "bfloat16", onnx.TensorProto.DOUBLE: "float64"}
_FLOAT_TYPES = frozenset(_FLOAT_NAMES)


def external_locations(model: onnx.ModelProto) -> list[str]:
    """Relative paths of the external data files the model's initializers live in."""
    found: list[str] = []
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            loc = next((e.value for e in tensor.external_data if e.key == "location"), "")
            if loc and loc not in found:
                found.append(loc)
    return found


def save_linked(model: onnx.ModelProto, file: Path, folder: Path) -> str:
    """`model` saved in `folder` beside links to the external weight files of `file`; its path.

    The external references stay relative, now to the links; a location outside the model's
    own folder is refused.
    """
    root = file.parent.resolve()
    for loc in external_locations(model):
        src = (root / loc).resolve()
        if root not in src.parents or not src.is_file():
            raise BadInput(f"{file.name} keeps weights in {loc}, which is not a file inside {root}")
        dst = folder / loc
        dst.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(src, dst)
    target = folder / file.name
    onnx.save(model, str(target))
    return str(target)


def _link_or_copy(src: Path, dst: Path) -> None:
    for link in (os.link, os.symlink):
        try:
            link(src, dst)
            return
        except OSError:
            continue
    shutil.copy2(src, dst)


def initializer_summary(model: onnx.ModelProto) -> tuple[int, str]:
    """Elements in all initializers and weight Constants, and the floating dtype of the weights
    ("mixed" when several)."""
    count, kinds = 0, set()
    shapes = [(t.data_type, list(t.dims)) for t in model.graph.initializer]
    for data_type, dims in [*shapes, *constant_weights(model)]:
        n = 1
        for d in dims:
            n *= d
        count += n
        if data_type in _FLOAT_NAMES and n > 1:   # scalars such as LayerNorm eps are not weights
            kinds.add(_FLOAT_NAMES[data_type])
    dtype = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "float32")
    return count, dtype


def constant_weights(model: onnx.ModelProto) -> list[tuple[int, list[int]]]:
    """(data_type, dims) of the weights held in `Constant` nodes, subgraphs and local functions included.

    Some exporters and hand-built graphs (voice-activity detectors, for one) keep every weight in
    Constant nodes rather than initializers. Exporters also emit many Constants that are not
    weights: shapes, axes and indices (integers) and scalar factors such as 1/sqrt(d) or an eps
    (rank 0). Floating tensors of rank 1 or more are counted; those are weights.
    """
    found: list[tuple[int, list[int]]] = []

    def walk(nodes: Any) -> None:
        for node in nodes:
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    walk(attribute.g.node)
                for sub in attribute.graphs:
                    walk(sub.node)
            if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
                continue
            for attribute in node.attribute:
                if attribute.name == "value" and attribute.t.data_type in _FLOAT_TYPES and len(attribute.t.dims):
                    found.append((attribute.t.data_type, list(attribute.t.dims)))
                elif attribute.name == "sparse_value" and attribute.sparse_tensor.values.data_type in _FLOAT_TYPES:
                    found.append((attribute.sparse_tensor.values.data_type, list(attribute.sparse_tensor.dims)))
                elif attribute.name == "value_floats" and len(attribute.floats):
                    found.append((onnx.TensorProto.FLOAT, [len(attribute.floats)]))

    walk(model.graph.node)
    for function in model.functions:
        walk(function.node)
    return found


def constant_parameters(model: onnx.ModelProto) -> int:
    """Elements in the weights held in Constant nodes (see constant_weights)."""
    total = 0
    for _, dims in constant_weights(model):
        n = 1
        for d in dims:
            n *= d
        total += n
    return total
