"""The ModelAdapter contract shared by every model format (ARCHITECTURE.md, Core contracts)."""
from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from auditor.trace import TraceBatch


class Capability(str, enum.Enum):
    """What a loaded model can supply to checks."""

    HIDDEN_STATES = "hidden_states"    # layer-boundary states blocks.{l}.out
    ATTENTIONS = "attentions"          # attention probabilities per block
    GRADIENTS = "gradients"            # backward passes (PyTorch only)
    INTERVENTIONS = "interventions"    # hooks that change activations (PyTorch only)
    LOGITS = "logits"                  # an output head with predictions


@dataclass
class FileDigest:
    path: str          # relative to the model root ('.' style, forward slashes)
    sha256: str
    size: int


@dataclass
class ModelIdentity:
    """Who the model is; stored with every audit and printed in reports."""

    format: str                       # "transformers" | "onnx"
    architecture: str                 # e.g. "BertModel", "GPT2LMHeadModel", "onnx:graph-name"
    model_type: str                   # config.model_type or "onnx"
    parameters: int
    layers: int | None                # number of blocks L; None when not a layered transformer
    dtype: str                        # "float32", "float16", "bfloat16", "mixed"
    sha256: str                       # the manifest hash (see models.identity)
    files: list[FileDigest] = field(default_factory=list)
    path: str = ""
    modality: str = "text"            # "text" | "image" | "tensor"
    pooling: str = "mean"             # "mean" | "cls" | "last"
    pooling_source: str = ""          # why this pooling (e.g. "1_Pooling/config.json")
    hidden_size: int | None = None
    heads: int | None = None
    max_length: int | None = None
    details: dict[str, Any] = field(default_factory=dict)   # format-specific facts (opset, ...)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModelBatch:
    """One batch of model inputs, ready for the adapter's runtime."""

    index: np.ndarray                 # [B] probe indices
    inputs: dict[str, np.ndarray]     # e.g. input_ids, attention_mask, pixel_values
    mask: np.ndarray | None          # [B, T] valid tokens; None for images (all positions valid)
    special: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.index.shape[0])


@runtime_checkable
class ModelAdapter(Protocol):
    """A loaded model, whatever its format."""

    identity: ModelIdentity
    capabilities: frozenset[Capability]
    device: str

    def batches(self, probes: Any, batch_size: int) -> Iterator[ModelBatch]:
        """Encode a ProbeSet into model inputs, in probe order."""

    def capture(self, batch: ModelBatch, points: frozenset[str]) -> TraceBatch:
        """Run one batch and return the requested capture points ("hidden", "attentions", "logits")."""

    def forward(self, batch: ModelBatch) -> np.ndarray | None:
        """Plain forward pass: the pooled output [B, d] (or logits where there is a head)."""

    def close(self) -> None:
        """Release runtime resources (GPU memory, sessions)."""


def count_fed(adapter: Any, batches: Iterator[ModelBatch]) -> Iterator[ModelBatch]:
    """`batches`, counting on `adapter.probes_fed` the probes encoded for the model as they go out.

    The count says whether any probe reached the model at all (0: the audit measured only the
    file); probes encoded again by a later pass (perturbations, parity) count again.
    """
    adapter.probes_fed = getattr(adapter, "probes_fed", 0)
    for batch in batches:
        adapter.probes_fed += batch.size
        yield batch


def fed_note(adapter: Any) -> list[str]:
    """The input note for an audit in which no probe was encoded for the model."""
    if getattr(adapter, "probes_fed", 0):
        return []
    return ["no probe was fed to the model: nothing about its behaviour was measured"]
