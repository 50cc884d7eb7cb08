"""Perturbed copies of a batch, built from encoded inputs the same way for PyTorch and ONNX models.

Every copy is seeded by (seed, probe index, kind, size), so a probe gets the same perturbation
whatever batch or order it runs in. Text copies change only valid, non-special tokens; an image
copy changes pixels. All copies of a batch are stacked into one larger batch (docs/METHODS.md,
perturbation.sensitivity: "all perturbed copies of a batch go through the model together").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from auditor.models.base import ModelBatch

# the standard budget: 3 embedding-noise sizes + 5 input-level perturbations = 8 copies per input
EMBEDDING_EPS = (0.01, 0.05, 0.10)
TEXT_PERTURBATIONS = (("mask", 0.05), ("mask", 0.10), ("mask", 0.20), ("substitute", 0.10), ("delete", 0.10))
IMAGE_PERTURBATIONS = (("noise", 0.05), ("noise", 0.10), ("occlude", 0.10), ("occlude", 0.20), ("occlude", 0.30))
# kinds that keep every token in place, so layer states can be compared position by position
ALIGNED_KINDS = frozenset({"mask", "substitute", "noise", "occlude"})
_KIND_CODE = {"embedding": 1, "mask": 2, "substitute": 3, "delete": 4, "noise": 5, "occlude": 6}


def key_of(kind: str, size: float) -> str:
    """The variant key a copy's figures are stored under, e.g. 'mask@0.10'."""
    return f"{kind}@{size:.2f}"


def row_rng(seed: int, probe: int, kind: str, size: float) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, int(probe), _KIND_CODE[kind], int(round(size * 1000))])


@dataclass(frozen=True)
class TokenInfo:
    """What text perturbations need from the tokenizer."""

    mask_id: int                 # the mask token, or the unknown token where there is none
    vocab_size: int
    special_ids: frozenset[int] = frozenset()
    mask_source: str = "mask token"


def token_info_of(tokenizer: object, vocab_size: int | None) -> TokenInfo:
    """TokenInfo from a transformers tokenizer: its mask token, else its unknown or padding token."""
    mask_id, source = getattr(tokenizer, "mask_token_id", None), "mask token"
    if mask_id is None:
        mask_id, source = getattr(tokenizer, "unk_token_id", None), "unknown token (the tokenizer has no mask token)"
    if mask_id is None:
        mask_id, source = getattr(tokenizer, "pad_token_id", None) or 0, "padding token (no mask or unknown token)"
    size = len(tokenizer)  # type: ignore[arg-type]
    return TokenInfo(mask_id=int(mask_id), vocab_size=min(int(vocab_size or size), size),
                     special_ids=frozenset(int(i) for i in getattr(tokenizer, "all_special_ids", [])),
                     mask_source=source)


@dataclass(frozen=True)
class PerturbationPlan:
    """Which copies to make: embedding-noise sizes (PyTorch only) and input-level perturbations."""

    seed: int = 0
    eps: tuple[float, ...] = EMBEDDING_EPS
    inputs: tuple[tuple[str, float], ...] = ()
    max_rows: int = 512          # rows per forward pass; more copies are split into several passes

    def input_keys(self) -> list[str]:
        return [key_of(kind, size) for kind, size in self.inputs]


@dataclass
class PerturbedRun:
    """What the copies of one batch produced, per copy key ('embedding@0.05', 'mask@0.10', ...)."""

    hidden: dict[str, list[np.ndarray]] = field(default_factory=dict)   # aligned copies: L+1 x [B, T, d]
    pooled: dict[str, np.ndarray] = field(default_factory=dict)         # [B, d] final-layer pooled output
    logits: dict[str, np.ndarray] = field(default_factory=dict)         # [B, C] (causal LM: last valid token)


def perturb_text(batch: ModelBatch, kind: str, rate: float, seed: int, tokens: TokenInfo) -> ModelBatch:
    """A copy of a text batch with round(rate * n) content tokens masked, substituted or deleted (at least one)."""
    ids = batch.inputs["input_ids"]
    mask = batch.mask if batch.mask is not None else np.ones(ids.shape, dtype=bool)
    special = batch.special if batch.special is not None else np.isin(ids, list(tokens.special_ids))
    content = mask & ~special
    inputs = {k: v.copy() for k, v in batch.inputs.items()}
    new_ids = inputs["input_ids"]
    keep = np.ones(ids.shape, dtype=bool)
    for row, probe in enumerate(batch.index):
        positions = np.flatnonzero(content[row])
        if positions.size == 0:
            continue
        rng = row_rng(seed, int(probe), kind, rate)
        count = max(1, int(round(rate * positions.size)))
        if kind == "delete":
            count = min(count, positions.size - 1)   # keep one content token: an empty text is another input
        chosen = rng.choice(positions, size=count, replace=False) if count else positions[:0]
        if kind == "mask":
            new_ids[row, chosen] = tokens.mask_id
        elif kind == "substitute":
            new_ids[row, chosen] = _random_tokens(rng, count, tokens)
        elif kind == "delete":
            keep[row, chosen] = False
        else:
            raise ValueError(f"unknown text perturbation {kind!r}")
    if kind != "delete":
        return ModelBatch(index=batch.index, inputs=inputs, mask=mask.copy(), special=special.copy())
    return _delete(batch.index, inputs, mask, special, keep)


def _random_tokens(rng: np.random.Generator, count: int, tokens: TokenInfo) -> np.ndarray:
    out = rng.integers(0, tokens.vocab_size, size=count)
    for i in range(count):   # redraw special tokens: a substitution puts in an ordinary token
        while int(out[i]) in tokens.special_ids:
            out[i] = rng.integers(0, tokens.vocab_size)
    return out


def _delete(index: np.ndarray, inputs: dict[str, np.ndarray], mask: np.ndarray, special: np.ndarray,
            keep: np.ndarray) -> ModelBatch:
    """Drop the tokens not kept and shift the rest left; padding fills the end (right padding)."""
    keep = keep & mask                      # padding goes too; the batch narrows to its widest text
    width = max(int(keep.sum(axis=1).max()), 1)
    out = {name: np.zeros((arr.shape[0], width), dtype=arr.dtype) for name, arr in inputs.items()}
    pad_id = _pad_id(inputs["input_ids"], mask)
    out["input_ids"][:] = pad_id
    new_mask = np.zeros((mask.shape[0], width), dtype=bool)
    new_special = np.zeros_like(new_mask)
    for row in range(mask.shape[0]):
        kept = np.flatnonzero(keep[row])
        n = kept.size
        for name, arr in inputs.items():
            out[name][row, :n] = arr[row, kept]
        new_mask[row, :n] = mask[row, kept]
        new_special[row, :n] = special[row, kept]
    if "position_ids" in out:   # positions restart from the kept tokens' order
        out["position_ids"] = np.maximum(np.cumsum(new_mask, axis=1) - 1, 0).astype(out["position_ids"].dtype)
    return ModelBatch(index=index, inputs=out, mask=new_mask, special=new_special)


def _pad_id(ids: np.ndarray, mask: np.ndarray) -> int:
    pads = ids[~mask]
    return int(pads[0]) if pads.size else 0


def perturb_image(batch: ModelBatch, kind: str, size: float, seed: int, key: str = "pixel_values") -> ModelBatch:
    """Pixel noise (std = size x the image's value range) or a square occlusion (side = size x image side)."""
    pixels = batch.inputs[key]
    out = pixels.copy()
    for row, probe in enumerate(batch.index):
        rng = row_rng(seed, int(probe), kind, size)
        image = out[row]                                        # [C, H, W]
        if kind == "noise":
            spread = float(image.max() - image.min()) or 1.0
            image += rng.standard_normal(image.shape).astype(image.dtype) * (size * spread)
        elif kind == "occlude":
            height, width = image.shape[-2:]
            side = max(1, int(round(size * min(height, width))))
            top = int(rng.integers(0, height - side + 1))
            left = int(rng.integers(0, width - side + 1))
            fill = image.reshape(image.shape[0], -1).mean(axis=1)   # the image's own mean colour
            image[:, top:top + side, left:left + side] = fill[:, None, None]
        else:
            raise ValueError(f"unknown image perturbation {kind!r}")
    return ModelBatch(index=batch.index, inputs={**batch.inputs, key: out}, mask=batch.mask, special=batch.special)


def stack(batches: list[ModelBatch]) -> ModelBatch:
    """One batch holding every copy, padded on the right to the widest copy."""
    first = batches[0]
    if first.mask is None:
        inputs = {k: np.concatenate([b.inputs[k] for b in batches]) for k in first.inputs}
        return ModelBatch(index=np.concatenate([b.index for b in batches]), inputs=inputs, mask=None)
    width = max(b.mask.shape[1] for b in batches)
    pad_id = _pad_id(first.inputs["input_ids"], first.mask) if "input_ids" in first.inputs else 0

    def grow(arr: np.ndarray, value: int) -> np.ndarray:
        return np.pad(arr, ((0, 0), (0, width - arr.shape[1])), constant_values=value)

    inputs = {k: np.concatenate([grow(b.inputs[k], pad_id if k == "input_ids" else 0) for b in batches])
              for k in first.inputs}
    mask = np.concatenate([grow(b.mask, 0) for b in batches]).astype(bool)
    special = None
    if all(b.special is not None for b in batches):
        special = np.concatenate([grow(b.special, 0) for b in batches]).astype(bool)
    return ModelBatch(index=np.concatenate([b.index for b in batches]), inputs=inputs, mask=mask, special=special)


def input_copies(batch: ModelBatch, plan: PerturbationPlan, tokens: TokenInfo | None,
                 image_key: str = "pixel_values") -> list[tuple[str, ModelBatch]]:
    """(key, copy) for every input-level perturbation of the plan."""
    copies = []
    for kind, size in plan.inputs:
        if image_key in batch.inputs and kind in ("noise", "occlude"):
            copy = perturb_image(batch, kind, size, plan.seed, image_key)
        elif tokens is not None and "input_ids" in batch.inputs:
            copy = perturb_text(batch, kind, size, plan.seed, tokens)
        else:
            continue
        copies.append((key_of(kind, size), copy))
    return copies


def last_valid(logits: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """[B, C] logits: a causal LM's [B, T, V] at each row's last valid token."""
    if logits.ndim != 3:
        return logits
    last = np.maximum(mask.sum(axis=1) - 1, 0) if mask is not None else np.full(logits.shape[0], -1)
    return logits[np.arange(logits.shape[0]), last]
