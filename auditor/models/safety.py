"""What we refuse to load, decided from file names and headers before any runtime touches them.

Pickle (torch.save, joblib) and remote code can run arbitrary code on load, so they are
refused; safetensors and ONNX files are checked structurally so a corrupt or lying file
fails here with a clear sentence instead of deep inside a runtime. Only the standard library
is imported at module level (onnx is imported inside the ONNX checks) so callers stay light.
"""
from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from auditor.errors import BadInput

ACCEPTED = "a transformers folder with safetensors weights, or an ONNX file/folder"
PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".jit", ".joblib"})
# Weights transformers could load but we cannot check or load safely (pickle, Keras, Flax).
UNSAFE_WEIGHT_SUFFIXES = PICKLE_SUFFIXES | {".h5", ".msgpack"}
# Files whose auto_map makes transformers import Python shipped with the model.
_CODE_CONFIGS = ("config.json", "tokenizer_config.json", "preprocessor_config.json",
                 "processor_config.json", "feature_extractor_config.json")
_MAX_HEADER = 100_000_000  # the safetensors library itself refuses headers above 100 MB
# Bits per element of every dtype the safetensors format defines (0.8: 22 of them).
SAFETENSORS_DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "I16": 16, "U16": 16, "F16": 16,
    "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}


def _pickle_refusal(path: Path) -> BadInput:
    return BadInput(f"{path} is a pickle file; pickle can run code when loaded, so it is refused. Convert it to "
                    "safetensors (transformers: save_pretrained(..., safe_serialization=True)) or export it to ONNX.")


def is_pickle(path: Path) -> bool:
    """True when the bytes are a pickle (protocol 2+) or a zip holding *.pkl (torch.save, TorchScript)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 10:  # PROTO opcode, then version
        return True
    if head[:2] == b"PK":
        try:
            with zipfile.ZipFile(path) as archive:
                return any(name.endswith(".pkl") for name in archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    return False


def detect_format(path: Path) -> str:
    """"transformers" or "onnx"; BadInput for anything missing, pickle-based, code-bearing or unknown."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"no such file or folder: {path}")
    if path.is_dir():
        return _detect_folder(path)
    if path.suffix.lower() in PICKLE_SUFFIXES or is_pickle(path):
        raise _pickle_refusal(path)
    if path.suffix.lower() == ".onnx":
        return "onnx"
    if path.suffix.lower() == ".safetensors":
        raise BadInput(f"{path} is a bare safetensors file; pass the folder that holds it with its config.json.")
    raise BadInput(f"{path} is not a model this tool accepts; give {ACCEPTED}.")


def _detect_folder(folder: Path) -> str:
    config = folder / "config.json"
    has_safetensors = any((folder / n).is_file() for n in ("model.safetensors", "model.safetensors.index.json"))
    if config.is_file() and has_safetensors:  # preferred when a folder holds both formats
        _check_config(config)
        _check_custom_code(folder)
        return "transformers"
    onnx_file = _find_onnx(folder)
    if onnx_file is not None:
        if is_pickle(onnx_file):
            raise _pickle_refusal(onnx_file)
        _check_custom_code(folder)  # an exported folder's tokenizer may still ask for remote code
        return "onnx"
    files = sorted(p for p in folder.iterdir() if p.is_file())
    unsafe = [p.name for p in files if p.suffix.lower() in UNSAFE_WEIGHT_SUFFIXES]
    if config.is_file() and unsafe:
        raise BadInput(f"{folder} has only {', '.join(unsafe)} weights and no safetensors; those formats can run "
                       "code or cannot be checked, so they are refused. Convert the model to safetensors "
                       "(transformers: save_pretrained(..., safe_serialization=True)) or export it to ONNX.")
    if config.is_file() and any(p.suffix == ".safetensors" for p in files):
        raise BadInput(f"{folder} has safetensors files but no model.safetensors or model.safetensors.index.json; "
                       "re-save the model with save_pretrained(..., safe_serialization=True).")
    if has_safetensors:
        raise BadInput(f"{folder} has safetensors weights but no config.json; add the model's config.json.")
    for candidate in files:  # a renamed pickle gets the pickle sentence, not "unknown"
        if candidate.suffix.lower() in PICKLE_SUFFIXES or is_pickle(candidate):
            raise _pickle_refusal(candidate)
    raise BadInput(f"{folder} holds no model this tool accepts; give {ACCEPTED}.")


def _find_onnx(folder: Path) -> Path | None:
    if (folder / "model.onnx").is_file():
        return folder / "model.onnx"
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".onnx" and p.is_file())
    if len(found) > 1:
        raise BadInput(f"{folder} holds several ONNX files ({', '.join(p.name for p in found)}) and no "
                       "model.onnx; pass the one to audit as a file.")
    if found:
        return found[0]
    if (folder / "onnx" / "model.onnx").is_file():  # the layout Optimum exports write
        return folder / "onnx" / "model.onnx"
    return None


def onnx_file_in(folder: Path) -> Path:
    """The ONNX file a folder stands for: model.onnx, its only *.onnx file, or onnx/model.onnx."""
    found = _find_onnx(Path(folder))
    if found is None:
        raise BadInput(f"{folder} holds no ONNX file (model.onnx or onnx/model.onnx); give {ACCEPTED}.")
    return found


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path} is not valid JSON ({exc}); re-save it with save_pretrained(...).") from exc


def _check_config(config: Path) -> None:
    data = _read_json(config)
    if not isinstance(data, dict) or not isinstance(data.get("model_type"), str) or not data["model_type"]:
        raise BadInput(f"{config} has no model_type; re-save the model with save_pretrained(...).")


def _check_custom_code(folder: Path) -> None:
    """Refuse anything that would need trust_remote_code: auto_map, or configs naming the folder's *.py."""
    py_stems = sorted(p.stem for p in folder.glob("*.py"))
    for name in _CODE_CONFIGS:
        path = folder / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue  # config.json was parsed already; other files fail in their own loader
        named = [f"{stem}.py" for stem in py_stems if f'"{stem}.' in text or f"--{stem}." in text]
        if (isinstance(data, dict) and "auto_map" in data) or named:
            reason = "auto_map" if not named else f"auto_map or {', '.join(named)}"
            raise BadInput(f"{path} needs custom code ({reason}); remote code is never run, so it is refused. "
                           "Use an architecture built into transformers, or export the model to ONNX.")


def _inside(folder: Path, relative: str, referrer: Path, what: str) -> Path:
    """folder/relative, provided it stays inside folder (no absolute path, '..' or escaping link)."""
    posix, windows = PurePosixPath(relative), PureWindowsPath(relative)
    escapes = (not relative or posix.is_absolute() or windows.is_absolute() or bool(windows.drive)
               or ".." in posix.parts or ".." in windows.parts)
    target = folder / relative
    if not escapes:
        real_folder = folder.resolve()
        escapes = real_folder not in target.resolve().parents
    if escapes:
        raise BadInput(f"{referrer} refers to {what} outside its folder ({relative}); refused, "
                       "keep every file the model needs inside its folder.")
    return target


def validate_safetensors(folder: Path) -> list[Path]:
    """The weight files (model.safetensors, or the shards its index lists), each header checked."""
    folder = Path(folder)
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.is_file():  # transformers prefers the single file when both exist
        shards = [_inside(folder, single.name, single, "a weight file")]
        weight_map: dict[str, str] = {}
    elif index.is_file():
        data = _read_json(index)
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not weight_map or \
                not all(isinstance(v, str) for v in weight_map.values()):
            raise BadInput(f"{index} has no weight_map of tensor names to shard files; re-save the model.")
        shards = []
        for name in sorted(set(weight_map.values())):
            shard = _inside(folder, name, index, "a shard")
            if not shard.is_file():
                raise BadInput(f"{index} lists shard {name}, which is missing from {folder}; copy every shard there.")
            shards.append(shard)
    else:
        raise BadInput(f"{folder} has no model.safetensors or model.safetensors.index.json; "
                       "save the model with save_pretrained(..., safe_serialization=True).")
    headers = {shard: read_safetensors_header(shard) for shard in shards}
    for tensor, name in weight_map.items():
        if tensor not in headers[folder / name]:
            raise BadInput(f"{index} places tensor '{tensor}' in {name}, but that shard does not hold it; "
                           "the shards do not match their index, so re-save the model.")
    return shards


def read_safetensors_header(path: Path) -> dict[str, dict[str, Any]]:
    """The tensor entries of a safetensors header ('__metadata__' left out), without reading tensors."""
    path = Path(path)

    def corrupt(detail: str) -> BadInput:  # a renamed torch.save file deserves the pickle sentence
        return _pickle_refusal(path) if is_pickle(path) else \
            BadInput(f"{path} is truncated or corrupt: {detail}; download or save it again.")

    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise corrupt(f"it has {size} bytes, fewer than the 8-byte header length")
        header_len = int.from_bytes(head, "little")
        if header_len > _MAX_HEADER:
            raise corrupt(f"it declares a {header_len}-byte header, more than the 100 MB limit")
        if 8 + header_len > size:
            raise corrupt(f"it declares a {header_len}-byte header but the file has {size} bytes")
        raw = handle.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise corrupt("its header is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.pop("__metadata__", {}), dict):
        raise corrupt("its header is not a JSON object of tensors")
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        if not isinstance(info, dict) or info.get("dtype") not in SAFETENSORS_DTYPE_BITS:
            raise corrupt(f"tensor '{name}' has no valid safetensors dtype")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if not _ints(shape) or not _ints(offsets) or len(offsets) != 2 or not 0 <= offsets[0] <= offsets[1]:
            raise corrupt(f"tensor '{name}' has an invalid shape or data_offsets")
        bits = math.prod(shape) * SAFETENSORS_DTYPE_BITS[info["dtype"]]
        if bits % 8 or bits // 8 != offsets[1] - offsets[0]:
            raise corrupt(f"tensor '{name}' has shape {shape} of {info['dtype']} but its offsets span "
                          f"{offsets[1] - offsets[0]} bytes")
        spans.append((offsets[0], offsets[1], name))
    data_bytes, position = size - 8 - header_len, 0
    for begin, end, name in sorted(spans):
        if begin != position:  # the format forbids overlaps and holes between tensors
            raise corrupt(f"tensor '{name}' {'overlaps the tensor before it' if begin < position else 'follows a gap'}")
        if end > data_bytes:
            raise corrupt(f"tensor '{name}' ends at byte {8 + header_len + end} but the file has {size} bytes")
        position = end
    if position != data_bytes:
        raise corrupt(f"it has {data_bytes - position} bytes after its last tensor")
    return header


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)


def onnx_tensors(model: Any) -> Iterator[Any]:
    """Every TensorProto in an onnx ModelProto: initializers, Constant values, subgraphs, functions."""
    def from_nodes(nodes: Any) -> Iterator[Any]:
        for attribute in (a for node in nodes for a in node.attribute):
            yield from [attribute.t] if attribute.HasField("t") else []
            yield from attribute.tensors
            if attribute.HasField("sparse_tensor"):
                yield from (attribute.sparse_tensor.values, attribute.sparse_tensor.indices)
            for graph in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                yield from from_graph(graph)

    def from_graph(graph: Any) -> Iterator[Any]:
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield from (sparse.values, sparse.indices)
        yield from from_nodes(graph.node)

    yield from from_graph(model.graph)
    for function in model.functions:
        yield from from_nodes(function.node)


def validate_onnx(path: Path) -> None:
    """Parse an ONNX file (or a folder's ONNX file) without its weights and check external data paths."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    path = Path(path)
    if path.is_dir():
        path = onnx_file_in(path)
    if not path.is_file():
        raise BadInput(f"no such file or folder: {path}")
    if is_pickle(path):
        raise _pickle_refusal(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # DecodeError and friends: any parse failure means "not ONNX"
        model = None
    if model is None or model.ir_version <= 0:  # random bytes can also decode as an empty message
        raise BadInput(f"{path} is not an ONNX model (it could not be parsed); export the model to ONNX again.")
    if not model.graph.node:
        raise BadInput(f"{path} is an ONNX model with no graph nodes; export the complete model again.")
    for tensor in onnx_tensors(model):
        if not uses_external_data(tensor):
            continue
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        target = _inside(path.parent, location, path, "external data")
        if not target.is_file():
            raise BadInput(f"{path} refers to external data {location}, which is missing; copy it next to the model.")
        try:
            end = int(info.get("offset") or 0) + int(info.get("length") or 0)
        except ValueError:
            raise BadInput(f"{path} has an invalid offset or length for external data {location}; export it again.") from None
        if end > target.stat().st_size:
            raise BadInput(f"{path} needs bytes up to {end} of {location} for tensor '{tensor.name}', but that file "
                           f"has {target.stat().st_size} bytes; copy the complete external data file.")


def check_artifact(path: Path) -> str:
    """detect_format plus the structural checks of that format; returns the format."""
    fmt = detect_format(Path(path))
    if fmt == "transformers":
        validate_safetensors(Path(path))
    else:
        validate_onnx(Path(path))
    return fmt
