"""onnxruntime sessions run with IOBinding, and why a CUDA session did not start.

On CUDA a plain `session.run` copies every fetched output to the host one by one, and lets
onnxruntime stage the inputs itself. With IOBinding the inputs are uploaded once from numpy, the
captured outputs (layer boundaries, attention maps, logits) are allocated on the session's device,
and all of them come back to the host in one copy after the run (the trace needs numpy). The
runner is device-generic: on the CPU provider it runs the same binding calls, which is how the
tests on a machine without a GPU check that the bound path captures what `session.run` does.
"""
from __future__ import annotations

import ctypes
import sys
from typing import Any

import numpy as np

CUDA = "CUDAExecutionProvider"


class BoundRunner:
    """Runs one session with IOBinding on `device` ('cpu' or 'cuda') and GPU `device_id`."""

    def __init__(self, session: Any, device: str = "cpu", device_id: int = 0) -> None:
        self.session = session
        self.device = "cuda" if device.startswith("cuda") else "cpu"
        self.device_id = device_id if self.device == "cuda" else 0

    def run(self, fetch: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The fetched outputs as host numpy arrays, in `fetch` order (what session.run returns)."""
        import onnxruntime as ort

        binding = self.session.io_binding()
        # the OrtValues must outlive the run: on the CPU they share the numpy arrays' memory
        held = []
        for name, array in feed.items():
            value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), self.device, self.device_id)
            held.append(value)
            binding.bind_ortvalue_input(name, value)
        for name in fetch:
            # shapes are dynamic (batch, tokens): onnxruntime allocates each output on the device
            binding.bind_output(name, self.device, self.device_id)
        try:
            self.session.run_with_iobinding(binding)
            return list(binding.copy_outputs_to_cpu())   # one copy to the host per run
        finally:
            binding.clear_binding_inputs()
            binding.clear_binding_outputs()
            del held


def why_not_cuda(available: list[str], error: str | None = None) -> str:
    """Why onnxruntime ran on the CPU although CUDA was asked for (auto or cuda), in one clause."""
    if CUDA not in available:
        return "this onnxruntime has no CUDA provider (the CPU-only package is installed, not onnxruntime-gpu)"
    if error:
        return f"onnxruntime's CUDA provider failed to start: {error}"
    return _driver_reason()


def _driver_reason() -> str:
    """What the NVIDIA driver says, asked directly (onnxruntime falls back to the CPU silently)."""
    name = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    try:
        driver = ctypes.CDLL(name)
    except OSError:
        return "no NVIDIA driver is installed (no GPU on this machine)"
    try:
        if driver.cuInit(0) != 0:
            return "the NVIDIA driver found no usable GPU"
        count = ctypes.c_int(0)
        if driver.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
            return "the NVIDIA driver found no GPU"
    except AttributeError:   # not the CUDA driver library after all
        return "the NVIDIA driver could not be queried"
    return "a GPU is present but the CUDA or cuDNN libraries onnxruntime-gpu needs are missing or do not match"
