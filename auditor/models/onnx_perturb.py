"""Input-level perturbed copies through an ONNX model, stacked into one larger run.

An ONNX graph takes no hooks, so there is no embedding noise; the per-layer amplification comes
from the exposed layer outputs of the copies that keep every token in place (masking,
substitution, pixel noise, occlusion).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.models.base import ModelBatch
from auditor.models.perturb import (
    ALIGNED_KINDS,
    PerturbationPlan,
    PerturbedRun,
    TokenInfo,
    input_copies,
    last_valid,
    stack,
    token_info_of,
)
from auditor.trace import pool


def token_info(adapter: Any) -> TokenInfo | None:
    tokenizer = getattr(adapter, "_tokenizer", None)
    return token_info_of(tokenizer, adapter.config.get("vocab_size")) if tokenizer is not None else None


def run_perturbed(adapter: Any, batch: ModelBatch, plan: PerturbationPlan) -> PerturbedRun:
    tokens = token_info(adapter) if adapter.modality == "text" else None
    copies = input_copies(batch, plan, tokens, image_key=adapter._image_input or "pixel_values")
    result = PerturbedRun()
    if not copies:
        return result
    per_pass = max(1, plan.max_rows // max(batch.size, 1))
    for start in range(0, len(copies), per_pass):
        _run_group(adapter, copies[start:start + per_pass], result)
    return result


def _run_group(adapter: Any, group: list[tuple[str, ModelBatch]], result: PerturbedRun) -> None:
    big = stack([copy for _, copy in group])
    if adapter.modality == "text":
        big = adapter._pad(big)
    size = group[0][1].size
    boundaries = list(adapter.discovery.boundaries)
    names = boundaries + ([adapter._logits] if adapter._logits else [])
    if not names:
        names = [adapter._outputs[0]]
    got = _run_in_chunks(adapter, names, big)
    mask = big.mask
    if boundaries:
        from auditor.models.onnx_adapter import _tokens

        hidden = [_tokens(got[n], big.size) for n in boundaries]
        tokens = hidden[0].shape[1]
        full_mask = mask if mask is not None else np.ones((big.size, tokens), dtype=bool)
        pooled = pool(hidden[-1], full_mask, adapter.identity.pooling)
    else:
        hidden = []
        out = got[names[0]]
        full_mask = mask
        pooled = pool(out, mask if mask is not None else np.ones(out.shape[:2], bool), adapter.identity.pooling) \
            if out.ndim == 3 else out.reshape(out.shape[0], -1)
    logits = got.get(adapter._logits) if adapter._logits else None
    if logits is not None:
        logits = last_valid(logits, full_mask)
    for position, (key, _copy) in enumerate(group):
        rows = slice(position * size, (position + 1) * size)
        if hidden and key.split("@")[0] in ALIGNED_KINDS:
            result.hidden[key] = [h[rows] for h in hidden]
        result.pooled[key] = pooled[rows]
        if logits is not None:
            result.logits[key] = logits[rows]


def _run_in_chunks(adapter: Any, names: list[str], big: ModelBatch) -> dict[str, np.ndarray]:
    """One session run, or several where the graph has a fixed batch size."""
    fixed = [shape[0] for _elem, shape in adapter._inputs.values() if shape and isinstance(shape[0], int)
             and shape[0] > 0]
    step = min(fixed) if fixed else big.size
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for start in range(0, big.size, step):
        rows = slice(start, start + step)
        chunk = ModelBatch(index=big.index[rows], inputs={k: v[rows] for k, v in big.inputs.items()},
                           mask=big.mask[rows] if big.mask is not None else None)
        got = adapter._run(names, adapter._feed(chunk))
        for n in names:
            parts[n].append(got[n])
    return {n: np.concatenate(v) if len(v) > 1 else v[0] for n, v in parts.items()}
