"""What the audit ran on: versions, platform, device; stored for reproducibility."""
from __future__ import annotations

import platform
import sqlite3
import sys
from importlib import metadata
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def auditor_version() -> str:
    return _version("transformer-auditor") or "0+unknown"


def describe(device: str) -> dict[str, Any]:
    versions = {"auditor": auditor_version(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for dist in ("torch", "transformers", "onnxruntime-gpu", "onnxruntime", "onnx", "numpy", "tokenizers"):
        if (v := _version(dist)) is not None:
            versions[dist] = v
    env: dict[str, Any] = {"device": device, "versions": versions, "os": platform.platform(),
                           "machine": platform.machine(), "executable": sys.executable}
    if device == "cuda":
        try:
            import torch

            env["gpu"] = torch.cuda.get_device_name(0)
        except Exception:  # a missing or broken CUDA stack only loses the GPU's name
            env["gpu"] = None
    return env
