"""Token occlusion: how much the output moves when one token's embedding is replaced by zeros.

relevance[b, t] = f(x_b) - f(x_b with token t's input embedding set to 0), for every valid token
t, where f is a per-row score of the model's output. This is Captum's `Occlusion` with a
(1, d) window on the input embeddings and baseline 0, computed faster by batching what matters
only: each occluded copy keeps its own valid length (no padding is run and pad positions are not
occluded), and copies of equal length from all rows go through the model together in large
batches, longest first.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from auditor.models.base import ModelBatch

Target = Callable[..., Any]   # f(inputs_embeds, attention_mask, extra inputs..., reference) -> [R]


def pooled_cosine_target(adapter: Any) -> Target:
    """f = cosine between the row's pooled final-layer state and a reference vector (its clean output)."""
    import torch

    from auditor.models.hooks import block_boundaries

    model, blocks, pooling = adapter.model, adapter.blocks, adapter.pooling

    def target(inputs_embeds: Any, attention_mask: Any, token_type_ids: Any, reference: Any) -> Any:
        from auditor.models.torch_grad import torch_pool

        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        with block_boundaries(blocks) as seen:
            model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, return_dict=True, **extra)
        pooled = torch_pool(seen.last(), attention_mask.bool(), pooling)
        return torch.nn.functional.cosine_similarity(pooled.float(), reference.float(), dim=-1)

    return target


def clean_reference(adapter: Any, batch: ModelBatch) -> tuple[Any, Any, Any, Any]:
    """(inputs_embeds, attention_mask, token_type_ids, reference pooled output) of a clean batch."""
    import torch

    from auditor.models.hooks import block_boundaries
    from auditor.models.torch_grad import torch_pool

    inputs = adapter._inputs(batch)
    with torch.inference_mode():
        embeds = adapter.model.get_input_embeddings()(inputs["input_ids"])
        with block_boundaries(adapter.blocks) as seen:
            adapter.model(**inputs, return_dict=True)
        reference = torch_pool(seen.last(), inputs["attention_mask"].bool(), adapter.pooling)
    return embeds, inputs["attention_mask"], inputs.get("token_type_ids"), reference


def token_occlusion(target: Target, embeds: Any, mask: Any, token_type_ids: Any, reference: Any, *,
                    max_tokens: int = 8192) -> np.ndarray:
    """[B, T] relevance of every valid token (0 on padding); `max_tokens` bounds rows x length per run."""
    import torch

    size, tokens, _ = embeds.shape
    lengths = mask.sum(dim=1).tolist()
    relevance = np.zeros((size, tokens), dtype=np.float64)
    with torch.inference_mode():
        base = target(embeds, mask, token_type_ids, reference).double().cpu().numpy()
        by_length: dict[int, list[tuple[int, int]]] = {}
        for row, n in enumerate(lengths):
            by_length.setdefault(int(n), []).extend((row, t) for t in range(int(n)))
        for n in sorted(by_length, reverse=True):
            pairs = by_length[n]
            per_run = max(1, max_tokens // max(n, 1))
            for start in range(0, len(pairs), per_run):
                chunk = pairs[start:start + per_run]
                rows = torch.tensor([r for r, _ in chunk], device=embeds.device)
                cols = torch.tensor([t for _, t in chunk], device=embeds.device)
                x = embeds[rows, :n].clone()
                x[torch.arange(len(chunk), device=embeds.device), cols] = 0.0
                tt = token_type_ids[rows, :n] if token_type_ids is not None else None
                scores = target(x, mask[rows, :n], tt, reference[rows]).double().cpu().numpy()
                relevance[rows.cpu().numpy(), cols.cpu().numpy()] = base[rows.cpu().numpy()] - scores
    return relevance
