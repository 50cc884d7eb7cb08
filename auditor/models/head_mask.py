"""Silencing attention heads in a PyTorch model, for the ablation of attention.structure's candidate heads.

transformers 5 no longer takes a `head_mask` argument. The attention output projection's input is the
heads' outputs side by side ([B, T, H * d_head]), so a forward pre-hook on that projection that
multiplies head h's slice by 0 gives the projection exactly what it would see if the head's output
were zero (hooks.head_gates; kept heads are multiplied by 1.0, which changes no bit).

The projection is found by its name, per architecture (KNOWN_PROJECTIONS). Where no known name
matches exactly one module in every block, masking is refused with a reason: a guessed module
would give a wrong number, which is worse than none.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditor.messages import Message
from auditor.models.base import ModelBatch

# dotted-name endings of the attention output projection inside one block, and the families using them
KNOWN_PROJECTIONS: tuple[tuple[str, str], ...] = (
    ("attention.output.dense", "BERT, RoBERTa, MiniLM, ELECTRA, XLM-R, ViT"),
    ("self_attn.o_proj", "Llama, Qwen2, Mistral, Gemma"),
    ("attn.c_proj", "GPT-2"),
    ("self_attn.out_proj", "BART and OPT encoders"),
    ("SelfAttention.o", "T5 encoder"),
    ("attention.out_lin", "DistilBERT"),
    ("attention.dense", "GPT-NeoX"),
    ("self_attention.dense", "Falcon, BLOOM"),
    ("attn.out_proj", "GPT-J, GPT-Neo"),
)


@dataclass
class MaskedOutput:
    """What the model gives with the chosen heads silenced, per row of the batch."""

    pooled: np.ndarray               # [B, d] the final layer's pooled state (the adapter's pooling)
    logits: np.ndarray | None        # [B, C] the head's logits (a causal LM's at the last valid token)


def _ends_with(name: str, suffix: str) -> bool:
    """Whole dotted components: 'x.attention.dense' ends with 'attention.dense', 'x.attention.output.dense' not."""
    return name == suffix or name.endswith("." + suffix)


def find_projections(blocks: Sequence[Any] | None, heads: int | None) -> tuple[list[Any] | None, Message | None]:
    """Each block's attention output projection by a known name, or (None, why not)."""
    from auditor.models.torch_grad import _in_features

    if not blocks or not heads:
        return None, Message("check.attention.structure.ablation.no_blocks")
    for suffix, _families in KNOWN_PROJECTIONS:
        found = []
        for block in blocks:
            named = [m for n, m in block.named_modules() if _ends_with(n, suffix) and _in_features(m) is not None]
            if len(named) != 1:
                break
            found.append(named[0])
        if len(found) == len(blocks):
            width = _in_features(found[0])
            if width is None or width % heads or any(_in_features(m) != width for m in found):
                return None, Message("check.attention.structure.ablation.width", {"width": width, "heads": heads})
            return found, None
    return None, Message("check.attention.structure.ablation.unknown_projection",
                         {"architecture": type(blocks[0]).__name__})


def layer_gates(heads: Sequence[tuple[int, int]], layers: int, width: int, rows: int, device: Any) -> list[Any]:
    """[rows, width] gates per layer: 0.0 at the masked heads, 1.0 elsewhere."""
    import torch

    table = torch.ones(layers, width)
    for layer, head in heads:
        table[int(layer), int(head)] = 0.0
    return [table[i].to(device).expand(rows, width) for i in range(layers)]


def masked_outputs(adapter: Any, projections: Sequence[Any], batch: ModelBatch,
                   heads: Sequence[tuple[int, int]]) -> MaskedOutput:
    """One forward of `batch` with `heads` [(layer, head)] zeroed before their output projections."""
    import torch

    from auditor.models.hooks import block_boundaries, head_gates
    from auditor.models.perturb import last_valid
    from auditor.models.torch_grad import torch_pool

    count = int(adapter.identity.heads)
    inputs = adapter._inputs(batch)
    gates = layer_gates(heads, len(projections), count, batch.size, adapter.device)
    with torch.inference_mode(), block_boundaries(adapter.blocks) as seen, head_gates(projections, gates, count):
        out = adapter.model(**inputs, return_dict=True)
    last = seen.last()
    mask = batch.mask if batch.mask is not None else np.ones(last.shape[:2], dtype=bool)
    pooled = torch_pool(last, torch.from_numpy(mask[:, :last.shape[1]]).to(last.device), adapter.pooling)
    logits = getattr(out, "logits", None)
    return MaskedOutput(pooled=pooled.float().cpu().numpy(),
                        logits=last_valid(logits.float().cpu().numpy(), mask) if logits is not None else None)
