"""The only place that registers PyTorch hooks; every hook comes off in `finally`.

What the hooks record is named by the capability it supplies (models.base.Capability, see
auditor.trace), with the layer boundary after a dot:
    hidden_states.0    the input of block 0 (the embedding output)          [B, T, d]
    hidden_states.{l}  the output of block l-1, for l = 1..L                [B, T, d]
`head_gates` records nothing: it multiplies each head's output by a mask xi [B, H].
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from auditor.models.base import Capability

Edit = Callable[[torch.Tensor], torch.Tensor]

# the hooks' older names, "blocks.{l}.out", still read (tests and callers outside the engine use them)
_OLD_NAME = re.compile(r"blocks\.(\d+)\.out")


def boundary_name(layer: int) -> str:
    """The name of the hidden states at layer boundary `layer` (0 = the embedding output)."""
    return f"{Capability.HIDDEN_STATES.value}.{layer}"


class BoundaryStates(dict[str, torch.Tensor]):
    """The hidden states one forward pass recorded, by boundary name (`boundary_name`)."""

    def __getitem__(self, name: str) -> torch.Tensor:
        return super().__getitem__(_OLD_NAME.sub(lambda m: boundary_name(int(m.group(1))), name))

    def states(self) -> list[torch.Tensor]:
        """The L+1 boundaries in order, l = 0..L."""
        return [self[boundary_name(layer)] for layer in range(len(self))]

    def last(self) -> torch.Tensor:
        """The last boundary, the output of the final block."""
        return self[boundary_name(len(self) - 1)]


def _hidden_of(value: Any) -> torch.Tensor:
    """A block's hidden states, whether it returns a tensor or a tuple (transformers 4 and 5)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    raise TypeError(f"cannot find hidden states in a block output of type {type(value).__name__}")


@contextmanager
def block_boundaries(blocks: Sequence[nn.Module], *, keep_graph: bool = False,
                     edit_input: Edit | None = None) -> Iterator[BoundaryStates]:
    """Record the hidden states at every layer boundary l = 0..L during one forward pass.

    `edit_input` replaces block 0's input by edit_input(input) (embedding noise; a leaf tensor
    for gradients). With `keep_graph` the recorded tensors stay in the autograd graph and keep
    their .grad after a backward pass (retain_grad); otherwise they are detached.
    """
    seen = BoundaryStates()

    def keep(name: str, tensor: torch.Tensor) -> None:
        if keep_graph and tensor.requires_grad and not tensor.is_leaf:
            tensor.retain_grad()
        seen[name] = tensor if keep_graph else tensor.detach()

    def before_first(_module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        positional = bool(args)
        hidden = _hidden_of(args[0] if positional else kwargs["hidden_states"])
        if edit_input is None:
            keep(boundary_name(0), hidden)
            return None
        hidden = edit_input(hidden)
        keep(boundary_name(0), hidden)
        if positional:
            return (hidden, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": hidden}

    def after(index: int):
        def hook(_module: nn.Module, _args: tuple, output: Any) -> None:
            keep(boundary_name(index + 1), _hidden_of(output))
        return hook

    handles = [blocks[0].register_forward_pre_hook(before_first, with_kwargs=True)]
    try:
        handles += [block.register_forward_hook(after(i)) for i, block in enumerate(blocks)]
        yield seen
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def head_gates(projections: Sequence[nn.Module], gates: Sequence[torch.Tensor], heads: int) -> Iterator[None]:
    """Multiply each head's output by gates[l][:, h] where it enters the attention output projection.

    The projection's input is the heads' outputs side by side ([B, T, H * d_head]); scaling head
    h's slice by xi_h is the mask of Michel et al. (2019), which transformers 5 no longer takes
    as a `head_mask` argument. With xi = 1 the forward pass is unchanged, and dLoss/dxi_h is the
    head's importance.
    """
    def gate_of(gate: torch.Tensor):
        def hook(_module: nn.Module, args: tuple) -> tuple:
            x = args[0]
            shape = x.shape
            split = x.reshape(*shape[:-1], heads, shape[-1] // heads)
            scale = gate.to(x.dtype).reshape(gate.shape[0], *([1] * (x.dim() - 2)), heads, 1)
            return (split * scale).reshape(shape), *args[1:]
        return hook

    handles = []
    try:
        handles += [proj.register_forward_pre_hook(gate_of(gate)) for proj, gate in zip(projections, gates,
                                                                                         strict=True)]
        yield
    finally:
        for handle in handles:
            handle.remove()
