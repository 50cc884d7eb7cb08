"""The only place that registers PyTorch hooks; every hook comes off in `finally`.

Capture points have stable names (see auditor.trace):
    blocks.0.out      the input of block 0 (the embedding output)          [B, T, d]
    blocks.{l}.out    the output of block l-1, for l = 1..L                [B, T, d]
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


def _hidden_of(value: Any) -> torch.Tensor:
    """A block's hidden states, whether it returns a tensor or a tuple (transformers 4 and 5)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    raise TypeError(f"cannot find hidden states in a block output of type {type(value).__name__}")


@contextmanager
def block_boundaries(blocks: Sequence[nn.Module]) -> Iterator[dict[str, torch.Tensor]]:
    """Record `blocks.{l}.out` for l = 0..L during one forward pass."""
    seen: dict[str, torch.Tensor] = {}

    def before_first(_module: nn.Module, args: tuple, kwargs: dict) -> None:
        seen["blocks.0.out"] = _hidden_of(args[0] if args else kwargs["hidden_states"]).detach()

    def after(index: int):
        def hook(_module: nn.Module, _args: tuple, output: Any) -> None:
            seen[f"blocks.{index + 1}.out"] = _hidden_of(output).detach()
        return hook

    handles = [blocks[0].register_forward_pre_hook(before_first, with_kwargs=True)]
    try:
        handles += [block.register_forward_hook(after(i)) for i, block in enumerate(blocks)]
        yield seen
    finally:
        for handle in handles:
            handle.remove()
