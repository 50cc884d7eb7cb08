"""The ModelAdapter contract shared by every model format (docs/ARCHITECTURE.md, Core contracts).

What a model can supply is a `Capability`; the same values name what a check captures in the
one capture pass (`Check.captures`) and what an adapter's `capture` is asked for. The methods
beyond the four every adapter has are small protocols, each tied to the capability it gives
(`PROTOCOLS`): the runner trusts a declared capability only when the adapter implements it.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from auditor.messages import Message
from auditor.trace import TraceBatch


class Capability(str, enum.Enum):
    """What a loaded model can supply to checks; the capture points are the first four of these."""

    HIDDEN_STATES = "hidden_states"    # layer-boundary states (the hooks name them hidden_states.{l})
    ATTENTIONS = "attentions"          # attention probabilities per block
    GRADIENTS = "gradients"            # backward passes (PyTorch only): GradientCapable
    LOGITS = "logits"                  # an output head with predictions
    INTERVENTIONS = "interventions"    # hooks that change activations (PyTorch only): Occludable
    PERTURBATIONS = "perturbations"    # perturbed copies of a batch run together: Perturbable
    REINITIALISATION = "reinitialisation"   # a copy with freshly initialised weights: Reinitialisable


# the capture points' older spelling, still accepted from callers outside the engine
_POINT_ALIASES = {"hidden": Capability.HIDDEN_STATES}


def capture_points(points: Iterable[str]) -> frozenset[Capability]:
    """Capture points as capabilities ("hidden" is read as hidden_states); ValueError for an unknown one."""
    return frozenset(_POINT_ALIASES.get(str(p)) or Capability(p) for p in points)


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
    probes_fed: int                   # probes encoded for the model so far (count_fed)

    def batches(self, probes: Any, batch_size: int) -> Iterator[ModelBatch]:
        """Encode a ProbeSet into model inputs, in probe order."""

    def capture(self, batch: ModelBatch, points: frozenset[str]) -> TraceBatch:
        """Run one batch and return the requested capture points (Capability values: hidden_states,
        attentions, logits; gradients with a task, for a GradientCapable adapter)."""

    def forward(self, batch: ModelBatch) -> np.ndarray | None:
        """Plain forward pass: the pooled output [B, d] (or logits where there is a head)."""

    def close(self) -> None:
        """Release runtime resources (GPU memory, sessions)."""

    def notes(self) -> list[str]:
        """What the audit should know about how probes were encoded for this model (English)."""


@runtime_checkable
class GradientCapable(Protocol):
    """Capability.GRADIENTS: a backward pass of a task loss inside the capture pass."""

    @property
    def loss_kind(self) -> str:
        """'causal_lm', 'head' (an output head of its own) or 'headless'."""

    def capture(self, batch: ModelBatch, points: frozenset[str], task: Any = None) -> TraceBatch:
        """As ModelAdapter.capture; with a task and the gradients point, also the backward pass."""

    def parameter_gradient_norms(self) -> list[float]:
        """Per block, the norm of the gradient of the mean loss over the rows back-propagated so far."""


@runtime_checkable
class Perturbable(Protocol):
    """Capability.PERTURBATIONS: perturbed copies of a batch, run together (models.perturb)."""

    def perturb(self, batch: ModelBatch, plan: Any) -> Any:
        """A PerturbedRun: per copy key, layer states, pooled outputs and logits."""


@runtime_checkable
class Occludable(Protocol):
    """Capability.INTERVENTIONS: activations can be edited (token occlusion, embedding noise)."""

    def token_occlusion(self, batch: ModelBatch, rows: np.ndarray) -> np.ndarray | None:
        """[R, T] drop in pooled-output cosine when each token's input embedding is zeroed."""


@runtime_checkable
class HeadMaskable(Protocol):
    """Chosen attention heads can be silenced (models.head_mask): their outputs zeroed before the output
    projection. Tied to Capability.INTERVENTIONS in spirit, checked by the check itself (not in PROTOCOLS)."""

    def head_mask_problem(self) -> Message | None:
        """Why heads cannot be masked in this model (its projections were not recognised); None: they can."""

    def mask_heads(self, batch: ModelBatch, heads: Any) -> Any:
        """A MaskedOutput (pooled final states, last-position logits) with heads [(layer, head), ...] zeroed."""


@runtime_checkable
class Reinitialisable(Protocol):
    """Capability.REINITIALISATION: the same architecture with freshly initialised weights."""

    def randomized(self, seed: int) -> Any:
        """A new adapter (close it after use) whose weights are re-initialised with `seed`."""


@runtime_checkable
class ExplainsMissing(Protocol):
    """An adapter that says, per capability value it lacks, why (naming this model's way out)."""

    unavailable_messages: Mapping[str, Message]


PROTOCOLS: dict[Capability, type] = {
    Capability.GRADIENTS: GradientCapable,
    Capability.PERTURBATIONS: Perturbable,
    Capability.INTERVENTIONS: Occludable,
    Capability.REINITIALISATION: Reinitialisable,
}


def supported(adapter: Any, declared: Iterable[Capability] | None = None) -> frozenset[Capability]:
    """The declared capabilities (default: the adapter's own) that the adapter really implements."""
    claimed = frozenset(adapter.capabilities if declared is None else declared)
    return frozenset(c for c in claimed if c not in PROTOCOLS or isinstance(adapter, PROTOCOLS[c]))


def missing_reasons(adapter: Any) -> dict[Capability, Message]:
    """The adapter's own reasons for capabilities it lacks (empty when it gives none)."""
    if not isinstance(adapter, ExplainsMissing):
        return {}
    return {Capability(k): m for k, m in adapter.unavailable_messages.items() if isinstance(m, Message)}


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
