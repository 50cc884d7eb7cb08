"""Perturbed copies of a batch through a PyTorch model, all in one larger batch.

Embedding-noise copies repeat the clean inputs and get Gaussian noise of relative size eps added
to the embedding output (block 0's input) by a scoped hook: for each row,
||noise||_F = eps * ||H_0||_F over its valid tokens, so the relative perturbation at layer 0 is
exactly eps. Input-level copies (auditor.models.perturb) are ordinary inputs.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.estimators.device_ops import last_valid
from auditor.models.base import ModelBatch
from auditor.models.perturb import (
    PerturbationPlan,
    PerturbedRun,
    TokenInfo,
    input_copies,
    key_of,
    stack,
)
from auditor.models.precision_noise import add_relative_noise, split_eps
from auditor.models.torch_grad import torch_pool


def run_perturbed(adapter: Any, batch: ModelBatch, plan: PerturbationPlan, tokens: TokenInfo | None) -> PerturbedRun:
    """Every copy the plan asks for; hidden states are kept for the embedding-noise copies (device tensors
    when the adapter is `resident`, numpy otherwise)."""
    # noise sizes the model's dtype cannot resolve through its blocks are not run (models.precision_noise);
    # checks.perturbation reports them as not measurable, with the reason
    eps, _not_measurable = split_eps(plan.eps, getattr(adapter, "compute_dtype", "float32"), len(adapter.blocks or []))
    copies: list[tuple[str, ModelBatch, float | None]] = [(key_of("embedding", e), batch, e) for e in eps]
    copies += [(key, copy, None) for key, copy in input_copies(batch, plan, tokens)]
    result = PerturbedRun()
    per_pass = max(1, plan.max_rows // max(batch.size, 1))
    for start in range(0, len(copies), per_pass):
        _run_group(adapter, copies[start:start + per_pass], plan.seed, result)
    return result


def _run_group(adapter: Any, group: list[tuple[str, ModelBatch, float | None]], seed: int,
               result: PerturbedRun) -> None:
    import torch

    from auditor.models.hooks import block_boundaries

    big = stack([copy for _, copy, _ in group])
    size = group[0][1].size
    eps_rows = np.concatenate([np.full(size, e if e is not None else 0.0) for _, _, e in group])
    mask = big.mask if big.mask is not None else None

    noisy = np.flatnonzero(eps_rows > 0)

    def add_noise(hidden: Any) -> Any:
        """H_0 + eps * ||H_0||_F * u on the noise copies' rows only (u: unit Frobenius norm)."""
        if not noisy.size:
            return hidden
        rows = torch.from_numpy(noisy).to(hidden.device)
        part = hidden[rows]
        direction = _noise(part.shape, big.index[noisy], mask[noisy] if mask is not None else None, seed,
                           eps_rows[noisy]).to(hidden.device)   # float32: added once, then rounded
        valid = (torch.from_numpy(mask[noisy]).to(hidden.device).unsqueeze(-1) if mask is not None
                 else torch.ones_like(part[..., :1], dtype=torch.bool))
        # ||H_0||_F per row in float32: a half-precision sum of squares overflows
        scale = (part.float() * valid).flatten(1).norm(dim=1)
        eps = torch.from_numpy(eps_rows[noisy]).to(device=hidden.device, dtype=torch.float32)
        out = hidden.clone()
        out[rows] = add_relative_noise(part, direction, eps, scale)
        return out

    # resident (TorchAdapter.resident): the copies' figures stay tensors on the device, where
    # checks.perturbation reduces them (estimators.device_ops); else numpy as before
    keep = (lambda t: t) if getattr(adapter, "resident", False) else _np
    with torch.inference_mode(), block_boundaries(adapter.blocks, edit_input=add_noise) as seen:
        out = adapter.model(**adapter._inputs(big), return_dict=True)
        layers = seen.states()
        tokens = layers[0].shape[1]
        full_mask = torch.from_numpy(mask if mask is not None else np.ones((big.size, tokens), dtype=bool))
        pooled = keep(torch_pool(layers[-1], full_mask.to(layers[-1].device), adapter.pooling))
        logits = getattr(out, "logits", None)
        logits = keep(last_valid(logits, full_mask.to(logits.device))) if logits is not None else None
        for position, (key, copy, eps) in enumerate(group):
            rows = slice(position * size, (position + 1) * size)
            if eps is not None:   # only the noise copies' layer states are compared layer by layer
                width = copy.mask.shape[1] if copy.mask is not None else tokens
                result.hidden[key] = [keep(h[rows, :width]) for h in layers]
            result.pooled[key] = pooled[rows]
            if logits is not None:
                result.logits[key] = logits[rows]


def _np(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def _noise(shape: tuple[int, ...], index: np.ndarray, mask: np.ndarray | None, seed: int,
           eps: np.ndarray) -> Any:
    """Unit-Frobenius Gaussian directions [R, T, d], one per row, on its valid tokens (zero elsewhere).

    Each row's draw comes from its own CPU generator seeded by (seed, probe, eps), so a probe gets
    the same noise in any batch, order or device.
    """
    import torch

    rows, tokens, width = shape
    noise = torch.zeros((rows, tokens, width), dtype=torch.float32)
    generator = torch.Generator()
    for row in range(rows):
        valid = int(mask[row].sum()) if mask is not None else tokens   # right padding: the first `valid`
        generator.manual_seed(_row_seed(seed, int(index[row]), float(eps[row])))
        draw = torch.randn(valid, width, generator=generator)
        noise[row, :valid] = draw / draw.norm().clamp(min=1e-12)
    return noise


def _row_seed(seed: int, probe: int, eps: float) -> int:
    """A 63-bit seed mixing the audit seed, the probe and the noise size (splitmix64 finaliser)."""
    z = (seed * 0x9E3779B97F4A7C15 + probe * 0xBF58476D1CE4E5B9 + int(round(eps * 1000)) + 1) & (2**64 - 1)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
    return (z ^ (z >> 31)) & (2**63 - 1)
