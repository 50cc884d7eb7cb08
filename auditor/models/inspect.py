"""Facts about a model artifact for the `artifact.integrity` check (docs/METHODS.md).

Everything here reads headers and graph structure only: no tensor data is loaded and no
runtime (torch, onnxruntime) is started, so inspecting a multi-GB model stays cheap.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any

from auditor.models.identity import manifest
from auditor.models.safety import (
    UNSAFE_WEIGHT_SUFFIXES,
    check_artifact,
    onnx_file_in,
    onnx_tensors,
    read_safetensors_header,
    validate_safetensors,
)

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
CONTRIB_DOMAIN = "com.microsoft"  # onnxruntime's contrib ops: they run on onnxruntime only

# One dtype vocabulary for both formats (numpy / torch spelling).
_SAFETENSORS_DTYPES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16", "F16": "float16",
    "BF16": "bfloat16", "U32": "uint32", "I32": "int32", "F32": "float32", "C64": "complex64",
    "U64": "uint64", "I64": "int64", "F64": "float64", "F8_E5M2": "float8_e5m2",
    "F8_E4M3": "float8_e4m3fn", "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F8_E8M0": "float8_e8m0fnu", "F4": "float4_e2m1fn", "F6_E2M3": "float6_e2m3fn", "F6_E3M2": "float6_e3m2fn",
}
_ONNX_DTYPES = {
    "FLOAT": "float32", "DOUBLE": "float64", "FLOAT16": "float16", "BFLOAT16": "bfloat16",
    "FLOAT8E4M3FN": "float8_e4m3fn", "FLOAT8E4M3FNUZ": "float8_e4m3fnuz", "FLOAT8E5M2": "float8_e5m2",
    "FLOAT8E5M2FNUZ": "float8_e5m2fnuz", "FLOAT8E8M0": "float8_e8m0fnu", "FLOAT4E2M1": "float4_e2m1fn",
    "FLOAT6E2M3": "float6_e2m3fn", "FLOAT6E3M2": "float6_e3m2fn",
}
_LOW_OPSET = 17  # below it LayerNormalization is decomposed, which the ONNX adapter must know


def inspect_artifact(path: Path) -> dict[str, Any]:
    """JSON-ready facts: format, files, manifest sha256, dtypes, parameters, operators, findings.

    Raises BadInput (from the safety checks) for anything refused; checks run before hashing
    so a refused multi-GB file is not read in full.
    """
    path = Path(path)
    fmt = check_artifact(path)
    sha, digests = manifest(path)
    facts: dict[str, Any] = {
        "format": fmt,
        "sha256": sha,
        "files": [asdict(digest) for digest in digests],
        "total_bytes": sum(digest.size for digest in digests),
    }
    facts.update(_transformers_facts(path) if fmt == "transformers" else _onnx_facts(path))
    facts["findings"] = _findings(facts, path)
    return facts


def _transformers_facts(folder: Path) -> dict[str, Any]:
    dtypes: Counter[str] = Counter()
    parameters = 0
    shards = validate_safetensors(folder)
    for shard in shards:
        for info in read_safetensors_header(shard).values():
            dtypes[_SAFETENSORS_DTYPES.get(info["dtype"], info["dtype"].lower())] += 1
            parameters += math.prod(info["shape"])
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    architectures = config.get("architectures") or []
    return {
        "dtypes": dict(sorted(dtypes.items())),
        "parameters": parameters,
        "shards": len(shards),
        "weight_files": [shard.relative_to(folder).as_posix() for shard in shards],
        "custom_code": False,  # check_artifact refused auto_map and referenced *.py already
        "config_model_type": config["model_type"],
        "config_architectures": [str(a) for a in architectures] if isinstance(architectures, list) else [],
    }


def _onnx_facts(path: Path) -> dict[str, Any]:
    import onnx

    model_file = onnx_file_in(path) if path.is_dir() else path
    root = path if path.is_dir() else path.parent
    model = onnx.load(str(model_file), load_external_data=False)
    local_functions = {(f.domain, f.name) for f in model.functions}
    custom, contrib, functions = set(), set(), set()
    for node in _all_nodes(model):
        key = f"{node.domain}:{node.op_type}"
        if (node.domain, node.op_type) in local_functions:
            functions.add(key)  # defined inside the model itself, not a runtime kernel
        elif node.domain == CONTRIB_DOMAIN:
            contrib.add(key)
        elif node.domain not in STANDARD_DOMAINS:
            custom.add(key)
    dtypes: Counter[str] = Counter()
    parameters = 0
    external: set[str] = set()
    from auditor.models.onnx_weights import constant_weights

    # weights kept in Constant nodes count as much as initializers (hand-built and some exported graphs)
    for data_type, dims in [*_initializers(model.graph), *constant_weights(model)]:
        dtypes[_onnx_dtype(data_type)] += 1
        parameters += math.prod(dims)
    for tensor in onnx_tensors(model):
        for entry in tensor.external_data:
            if entry.key == "location":  # validate_onnx proved these stay inside the folder
                external.add((model_file.parent / entry.value).relative_to(root).as_posix())
    initializer_names = {t.name for t in model.graph.initializer}
    return {
        "model_file": model_file.relative_to(root).as_posix(),
        "opset": {imp.domain or "ai.onnx": int(imp.version) for imp in model.opset_import},
        "ir_version": int(model.ir_version),
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "graph_name": model.graph.name,
        "nodes": sum(1 for _ in _all_nodes(model)),
        "dtypes": dict(sorted(dtypes.items())),
        "parameters": parameters,
        "custom_operators": sorted(custom),
        "contrib_operators": sorted(contrib),
        "local_functions": sorted(functions),
        "external_data_files": sorted(external),
        # IR < 4 exporters list initializers among the inputs; they are weights, not inputs.
        "inputs": [_value_info(v) for v in model.graph.input if v.name not in initializer_names],
        "outputs": [_value_info(v) for v in model.graph.output],
    }


def _all_nodes(model: Any) -> Iterator[Any]:
    def walk(graph: Any) -> Iterator[Any]:
        for node in graph.node:
            yield node
            for attribute in node.attribute:
                if attribute.HasField("g"):
                    yield from walk(attribute.g)
                for sub in attribute.graphs:
                    yield from walk(sub)

    yield from walk(model.graph)
    for function in model.functions:
        yield from function.node


def _initializers(graph: Any) -> Iterator[tuple[int, list[int]]]:
    """(data_type, dims) of every initializer, subgraphs included; sparse ones by their dense dims."""
    for tensor in graph.initializer:
        yield tensor.data_type, list(tensor.dims)
    for sparse in graph.sparse_initializer:
        yield sparse.values.data_type, list(sparse.dims)
    for node in graph.node:
        for attribute in node.attribute:
            subgraphs = ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs)
            for sub in subgraphs:
                yield from _initializers(sub)


def _onnx_dtype(data_type: int) -> str:
    import onnx

    name = onnx.TensorProto.DataType.Name(data_type)
    return _ONNX_DTYPES.get(name, name.lower())


def _value_info(value: Any) -> dict[str, Any]:
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        return {"name": value.name, "dtype": (kind or "unknown").replace("_type", ""), "shape": None}
    tensor_type = value.type.tensor_type
    shape = None
    if tensor_type.HasField("shape"):  # no shape field means the rank itself is unknown
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor_type.shape.dim]
    return {"name": value.name, "dtype": _onnx_dtype(tensor_type.elem_type), "shape": shape}


def _findings(facts: dict[str, Any], path: Path) -> list[str]:
    findings: list[str] = []
    ignored = [f["path"] for f in facts["files"] if PurePosixPath(f["path"]).suffix.lower() in UNSAFE_WEIGHT_SUFFIXES]
    if ignored:
        findings.append(f"{_count(len(ignored), 'pickle or unsafe weight file')} present but not loaded: "
                        + ", ".join(ignored))
    floats = {k: v for k, v in facts["dtypes"].items() if "float" in k}  # int buffers (position_ids) are normal
    if len(floats) > 1:
        findings.append("mixed floating-point dtypes: " + ", ".join(f"{k} ({_count(v, 'tensor')})" for k, v in floats.items()))
    if facts["format"] == "transformers":
        if facts["shards"] > 1:
            findings.append(f"weights in {facts['shards']} safetensors shards")
        return findings
    if facts["custom_operators"]:
        findings.append(f"{_count(len(facts['custom_operators']), 'custom operator')}: "
                        + ", ".join(facts["custom_operators"]))
    if facts["contrib_operators"]:
        findings.append(f"{_count(len(facts['contrib_operators']), 'onnxruntime contrib operator')} "
                        "(run only on onnxruntime): " + ", ".join(facts["contrib_operators"]))
    if facts["external_data_files"]:
        findings.append("external data files present: " + ", ".join(facts["external_data_files"]))
        if path.is_file():  # the manifest of a single file cannot cover its companions
            findings.append("the sha256 covers the .onnx file only, not its external data; audit the folder to hash both")
    opset = facts["opset"].get("ai.onnx")
    if opset is not None and opset < _LOW_OPSET:
        findings.append(f"ai.onnx opset {opset} is below {_LOW_OPSET}: LayerNormalization appears decomposed")
    return findings


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
