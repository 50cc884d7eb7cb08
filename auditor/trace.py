"""The activation cache one capture pass fills (docs/ARCHITECTURE.md, Trace).

A pass is asked for capture points, which are Capability values (models.base); each fills a
field of TraceBatch with a stable shape:
    hidden_states  -> hidden      states at layer boundary l = 0..L (0 = embeddings)  L+1 x [B, T, d]
    attentions     -> attentions  attention probabilities of block l = 0..L-1        L x [B, H, T, T]
    logits         -> logits      the model's output head, where it has one          [B, C] or [B, T, V]
    gradients      -> grad_*, head_grad, loss: one backward pass of the task loss, per-sample
                      grad norms per boundary [B, L+1] and per head [B, L, H]
Reading hidden, attentions or logits gives float32 numpy on the CPU, so checks work alike for
PyTorch and ONNX models. A PyTorch pass hands over device tensors and the numpy copy of each is
made only when a check reads it; the heavy per-batch statistics read `device_hidden`,
`device_attentions`, `device_logits` instead and stay on the model's device (estimators.device_ops).
The pooled representation z_l [N, d] per boundary is kept by Trace for every pass.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from auditor.estimators import device_ops as ops

# device rows wait for the host until this many bytes are pending: one copy per many batches
FLUSH_BYTES = 64 * 2**20
# a head wider than this (a causal LM's vocabulary) keeps only its predictions: N x V logits grow too fast
LOGIT_COLUMNS = 1024


class HostLayers(Sequence):
    """numpy float32 host copies of per-layer device tensors, each made on first read and kept."""

    def __init__(self, layers: Sequence[Any]) -> None:
        self.layers = list(layers)
        self._host: list[np.ndarray | None] = [None] * len(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i) + (len(self) if int(i) < 0 else 0)
        if self._host[i] is None:
            self._host[i] = to_host(self.layers[i])
        return self._host[i]


def to_host(tensor: Any) -> np.ndarray:
    """The numpy float32 copy of a captured tensor (the one device-to-host transfer of a lazy field)."""
    out = ops.host(tensor)
    return out.astype(np.float32, copy=False) if out.dtype.kind == "f" else out


def _on_device(value: Any) -> bool:
    return ops.is_tensor(value) or (isinstance(value, (list, tuple)) and bool(value) and ops.is_tensor(value[0]))


class _Captured:
    """A TraceBatch field that may hold device tensors: reading it gives numpy host copies, made once."""

    def __init__(self, required: bool = False) -> None:
        self.required = required

    def __set_name__(self, owner: type, name: str) -> None:
        self.raw, self.cached = f"_raw_{name}", f"_host_{name}"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:   # the dataclass asks for the default
            if self.required:
                raise AttributeError(self.raw)
            return None
        if self.cached in obj.__dict__:
            return obj.__dict__[self.cached]
        raw = obj.__dict__.get(self.raw)
        if not _on_device(raw):
            return raw
        host = HostLayers(raw) if isinstance(raw, (list, tuple)) else to_host(raw)
        obj.__dict__[self.cached] = host
        return host

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.raw] = value
        obj.__dict__.pop(self.cached, None)


@dataclass
class TraceBatch:
    """What one batch of probes produced in the capture pass."""

    index: np.ndarray                     # [B] probe indices into the probe set
    mask: np.ndarray                      # [B, T] bool, True for valid (non-padding) tokens
    hidden: Sequence[np.ndarray] = _Captured(required=True)     # L+1 x [B, T, d]
    attentions: Sequence[np.ndarray] | None = _Captured()       # L x [B, H, T, T], None where unavailable
    logits: np.ndarray | None = _Captured()                     # [B, C] (classifier) or [B, T, V] (causal LM)
    special: np.ndarray | None = None     # [B, T] bool, True for special tokens (CLS, SEP, ...)
    grid: tuple[int, int] | None = None   # (rows, cols) of the patch grid for vision models
    prefix_tokens: int = 0                # tokens before the patch grid (class/distillation)
    # optional, filled by the capture pass or the gradient pass (None where not asked for)
    inputs: Any = None                    # the encoded ModelBatch, for checks that re-run the model
    grad_rows: np.ndarray | None = None   # [B] bool, rows whose task loss was back-propagated
    grad_hidden: np.ndarray | None = None  # [B, L+1] per-sample ||dLoss_b/dH_l||_F (0 where not grad_rows)
    head_grad: np.ndarray | None = None   # [B, L, H] per-sample |dLoss_b/dxi_h| for a head-output mask xi
    loss: np.ndarray | None = None        # [B] per-sample task loss (0 where not grad_rows)

    @property
    def size(self) -> int:
        return int(self.index.shape[0])

    @property
    def num_layers(self) -> int:
        """Number of blocks L (hidden holds L+1 boundaries)."""
        return len(self.__dict__.get("_raw_hidden") or ()) - 1

    # -- the captures as the model produced them: device tensors (PyTorch) or the numpy arrays (ONNX) --
    @property
    def device_hidden(self) -> Sequence[Any]:
        return self.__dict__.get("_raw_hidden") or []

    @property
    def device_attentions(self) -> Sequence[Any] | None:
        return self.__dict__.get("_raw_attentions")

    @property
    def device_logits(self) -> Any:
        return self.__dict__.get("_raw_logits")

    @property
    def device_mask(self) -> Any:
        """The mask beside the captures: on their device where they are tensors (copied there once)."""
        return self._beside("mask")

    @property
    def device_special(self) -> Any:
        return self._beside("special")

    def _beside(self, name: str) -> Any:
        key = f"_device_{name}"
        if key not in self.__dict__:
            ref = next((t for t in (*self.device_hidden, *(self.device_attentions or ()), self.device_logits)
                        if ops.is_tensor(t)), None)
            self.__dict__[key] = ops.like(getattr(self, name), ref)
        return self.__dict__[key]

    def on_host(self) -> TraceBatch:
        """A copy whose captures are the host arrays only (shared with this batch), for a check that keeps
        batches past the pass (a reservoir must not hold device memory); this batch keeps its tensors."""
        from dataclasses import fields

        copy = TraceBatch(**{f.name: getattr(self, f.name) for f in fields(self)})
        copy.to_host()
        return copy

    def to_host(self) -> None:
        """Replace device tensors by their host copies (a batch kept past its pass must not hold device memory)."""
        for name in ("hidden", "attentions", "logits"):
            value = getattr(self, name)
            setattr(self, name, list(value) if isinstance(value, HostLayers) else value)
        self.__dict__.pop("_device_mask", None)
        self.__dict__.pop("_device_special", None)


class RowStore:
    """Per-probe rows [N, ...] on the host, placed by probe index into one array allocated for the
    expected count; device rows wait in a queue and cross to the host FLUSH_BYTES at a time."""

    def __init__(self, capacity: int = 0, dtype: Any = np.float32) -> None:
        self.capacity, self.dtype = int(capacity), dtype
        self.data: np.ndarray | None = None
        self.filled = np.zeros(0, dtype=bool)
        self._pending: list[tuple[np.ndarray, Any]] = []
        self._pending_bytes = 0

    def add(self, index: np.ndarray, values: Any) -> None:
        index = np.asarray(index, dtype=np.int64)
        if ops.is_tensor(values):
            self._pending.append((index, values))
            self._pending_bytes += values.numel() * values.element_size()
            if self._pending_bytes >= FLUSH_BYTES:
                self.flush()
        else:
            self._write(index, np.asarray(values))

    def flush(self) -> None:
        if self._pending:
            index = np.concatenate([i for i, _ in self._pending])
            values = ops.host(ops.concat([v for _, v in self._pending]))
            self._pending, self._pending_bytes = [], 0
            self._write(index, values)

    def _write(self, index: np.ndarray, values: np.ndarray) -> None:
        if not index.size:
            return
        need = int(index.max()) + 1
        if self.data is None:
            self.data = np.zeros((max(self.capacity, need), *values.shape[1:]), dtype=self.dtype)
            self.filled = np.zeros(len(self.data), dtype=bool)
        elif need > len(self.data):   # more probes than expected: grow geometrically
            grown = np.zeros((max(need, 2 * len(self.data)), *self.data.shape[1:]), dtype=self.dtype)
            grown[:len(self.data)] = self.data
            self.data, self.filled = grown, np.concatenate([self.filled, np.zeros(len(grown) - len(self.filled), bool)])
        self.data[index] = values
        self.filled[index] = True

    def values(self) -> np.ndarray | None:
        """The rows in probe order (probes never seen left out); a read-only view when they are probes 0..N-1."""
        self.flush()
        if self.data is None:
            return None
        seen = int(self.filled.sum())
        if self.filled[:seen].all():   # probes 0..N-1, as a pass gives them: no copy
            view = self.data[:seen]
            view.setflags(write=False)
            return view
        return self.data[self.filled]


@dataclass
class Trace:
    """All batches of a capture pass, kept in memory when `retained` (small probe sets).

    Checks that must scale to large probe sets read per-batch statistics gathered by their
    accumulators during the pass (see checks.base.Check.accumulator) instead of `batches`.
    """

    batches: list[TraceBatch] = field(default_factory=list)
    retained: bool = True
    count: int = 0
    num_layers: int = 0
    pooling: str = "mean"
    accumulator_seconds: dict[str, float] = field(default_factory=dict)   # per check, during the pass
    # ||dLoss/dW||_F per block for the summed loss of every grad row (gradient pass only)
    grad_norm_params: list[float] | None = None
    capacity: int = 0     # probes the pass expects: per-probe rows are allocated once for them
    _pooled: list[RowStore] = field(default_factory=list, repr=False)
    _logits: RowStore | None = field(default=None, repr=False)
    _predictions: RowStore | None = field(default=None, repr=False)

    def add(self, batch: TraceBatch) -> None:
        """Keep the batch (when retained) and always its pooled states z_l and predictions, which are small."""
        self.count += batch.size
        self.num_layers = batch.num_layers
        hidden, mask = batch.device_hidden, batch.device_mask
        if not self._pooled:
            self._pooled = [RowStore(self.capacity) for _ in hidden]
        for store, states in zip(self._pooled, hidden, strict=True):
            store.add(batch.index, ops.pool(states, mask, self.pooling))
        logits = batch.device_logits
        if logits is not None and logits.ndim == 3:
            # a causal LM's [B, T, V] logits are large; its prediction is at the last valid token
            logits = ops.last_valid(logits, mask)
            batch.logits = logits
        if logits is not None:
            if self._predictions is None:
                self._predictions = RowStore(self.capacity, np.int64)
                self._logits = RowStore(self.capacity) if logits.shape[-1] <= LOGIT_COLUMNS else None
            self._predictions.add(batch.index, logits.argmax(-1))
            if self._logits is not None:
                self._logits.add(batch.index, logits)
        if self.retained:
            batch.to_host()
            self.batches.append(batch)

    @property
    def pooled(self) -> list[np.ndarray]:
        """z_l [N, d] per layer boundary l = 0..L, in probe order (read-only)."""
        return [store.values() for store in self._pooled]

    @property
    def logits(self) -> np.ndarray | None:
        """[N, C] output logits (a causal LM's at the last valid token) in probe order, where there is a head
        of at most LOGIT_COLUMNS outputs (a wider one keeps `predictions` only)."""
        return self._logits.values() if self._logits is not None else None

    @property
    def predictions(self) -> np.ndarray | None:
        """[N] the class (or next token) the model's head predicts, in probe order, where there is a head."""
        return self._predictions.values() if self._predictions is not None else None

    def __iter__(self) -> Iterator[TraceBatch]:
        return iter(self.batches)

    def has_attentions(self) -> bool:
        return bool(self.batches) and self.batches[0].attentions is not None


def pool(hidden: np.ndarray, mask: np.ndarray, pooling: str) -> np.ndarray:
    """z = pooled representation [B, d] of hidden [B, T, d] under the model's convention.

    mean: mean over valid tokens; cls: the first token; last: the last valid token.
    """
    if pooling == "cls":
        return hidden[:, 0, :]
    if pooling == "last":
        last = np.maximum(mask.sum(axis=1) - 1, 0)
        return hidden[np.arange(hidden.shape[0]), last, :]
    weights = mask.astype(hidden.dtype)[:, :, None]
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
