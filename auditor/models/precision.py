"""The precision policy: which dtype a model runs in (`--dtype auto|float32|bfloat16|float16`).

auto runs the checkpoint's own dtype on CUDA and float32 on the CPU, where half-precision kernels
are slow or missing. An explicit dtype is honoured on both (the CPU runs bfloat16 matmuls, which is
how the tolerance tests compare a bfloat16 audit with a float32 one). Estimators accumulate in
float32/float64 whatever the model runs in (docs/METHODS.md, Precision).
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

from auditor.errors import BadInput

DTYPES = ("float32", "bfloat16", "float16")
CHOICES = ("auto", *DTYPES)
BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "float64": 8}
# safetensors header names of floating dtypes
_SAFETENSORS = {"F32": "float32", "BF16": "bfloat16", "F16": "float16", "F64": "float64"}


def resolve_dtype(requested: str, device: str, checkpoint: str | None) -> str:
    """The dtype the model will run in on `device` (resolved: cpu, cuda or cuda:N)."""
    if requested not in CHOICES:
        raise BadInput(f"--dtype {requested} is not one of {', '.join(CHOICES)}")
    if requested != "auto":
        return requested
    if device.startswith("cuda") and checkpoint in DTYPES:
        return checkpoint
    return "float32"   # the CPU, or a checkpoint stored in float64 or mixed dtypes


def checkpoint_dtype(folder: Path) -> str | None:
    """The floating dtype the checkpoint is stored in: config.json's (torch_)dtype, else the first
    safetensors header's; None when neither says (never reads the weights themselves)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    for key in ("dtype", "torch_dtype"):
        value = config.get(key) if isinstance(config, dict) else None
        if isinstance(value, str) and value.replace("torch.", "") in BYTES:
            return value.replace("torch.", "")
    for file in sorted(folder.glob("*.safetensors")):
        found = _safetensors_dtype(file)
        if found:
            return found
    return None


def _safetensors_dtype(file: Path) -> str | None:
    """The most common floating dtype in a safetensors header (8-byte length, then JSON)."""
    try:
        with file.open("rb") as f:
            size = struct.unpack("<Q", f.read(8))[0]
            if not 0 < size <= 100_000_000:
                return None
            header = json.loads(f.read(size))
    except (OSError, ValueError, struct.error):
        return None
    counts: dict[str, int] = {}
    for name, entry in header.items():
        if name != "__metadata__" and isinstance(entry, dict) and entry.get("dtype") in _SAFETENSORS:
            found = _SAFETENSORS[entry["dtype"]]
            counts[found] = counts.get(found, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None


def torch_dtype(name: str) -> object:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
