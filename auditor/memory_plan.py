"""The memory an audit will need, planned before the model is loaded (docs/ARCHITECTURE.md, Memory plan).

The plan reads the model's config and tokenizer, the probes and the template, never a weight. Weights are
the parameters (counted on the meta device, auditor.memory_sizes) times the bytes of the dtype they run in;
the passes the template's checks run are traced on the meta device at the planned batch size and the
longest probe's length. Parts that hold memory at the same time make a phase:

    capture       weights + gradients + held + the capture forward + its backward
    perturbation  weights + gradients + held + the captured batch + a perturbation pass
    randomization weights + held + a freshly initialised copy and its own gradient pass (sanity.randomization)

where `held` is what stays on the host until the checks have run (every probe's pooled states, flow.pde's
statistics, retained batches).

On a GPU the plan is the largest phase. On the CPU the capture and perturbation phases count together,
with the runtime's first-use memory (CPU_RUNTIME): see CPU_RUNTIME and docs/ARCHITECTURE.md, Memory plan.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import BadInput
from auditor.memory_sizes import MetaModel, TorchSizes, dtype_bytes, onnx_weights
from auditor.messages import Message, render

GIB = 1024 ** 3
MIB = 1024 ** 2
# --batch-size auto fills at most this share of the available memory: the rest is for what the plan does not
# count (CUDA kernels' workspaces and the caching allocator's rounding, Python objects, other programs)
AUTO_SHARE = 0.8
# on the CPU a batch above 32 rows runs no faster (the matrix kernels are busy at a few hundred tokens per
# forward), so it only costs memory; a GPU keeps gaining from larger batches, but from 64 rows the
# perturbation pass (max_rows 512, 8 copies) already runs its copies one at a time, and 128 leaves it at that
BATCH_CAP = {"cpu": 32, "cuda": 128}
DEFAULT_BATCH = 16    # what an audit runs with when the plan cannot size its passes (AuditRequest's default)
# On the CPU the first audit of a process adds memory whatever the model: the runtime's first-use caches
# (oneDNN, the autograd engine, BLAS), modules the checks and the signing import on first use, the store.
# Measured (tests/integration/test_memory_peak.py's harness, 2-core Linux, glibc): a 30k-parameter BERT's
# quick audit (32 probes, batch 16) raised the peak RSS of a process that had just planned it by 44-48 MiB, of
# which its passes were planned at 10 MiB: the rest, 34-38 MiB, is this term.
CPU_RUNTIME = 36 * MIB
HALF = ("bfloat16", "float16")


class MemoryRefused(BadInput):
    """The weights alone do not fit in the memory there is: exit 2 before loading; `message` renders in en or ja."""

    def __init__(self, message: Message) -> None:
        self.message = message
        super().__init__(render(message, "en"))


@dataclass(frozen=True)
class MemoryPlan:
    device: str                 # "cpu" or "cuda" / "cuda:N" (resolved)
    dtype: str                  # what the model will run in: "float32" | "bfloat16" | "float16"
    parameters: int             # counted from the config alone (meta device, no weights read)
    weights_bytes: int          # parameters x bytes of dtype (ONNX: the initializers' bytes)
    batch_size: int             # the batch size the audit will use (chosen by the plan when auto)
    auto: bool                  # True when the plan chose the batch size (--batch-size auto)
    tokens: int                 # sequence length planned for (the longest probe, capped by the model's max length)
    parts: dict[str, int]       # bytes per part at that batch size (which ones add up: the module docstring)
    total_bytes: int
    available_bytes: int | None  # free GPU memory or available RAM now
    phases: dict[str, int] = field(default_factory=dict)   # bytes per phase; total_bytes is the largest
    notes: tuple[Message, ...] = ()                          # what was not planned, or chosen for want of room

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, stored in the audit's environment record as "memory_plan"."""
        return {"device": self.device, "dtype": self.dtype, "parameters": self.parameters,
                "weights_bytes": self.weights_bytes, "batch_size": self.batch_size, "auto": self.auto,
                "tokens": self.tokens, "parts": dict(self.parts), "phases": dict(self.phases),
                "total_bytes": self.total_bytes, "available_bytes": self.available_bytes,
                "notes": [render(n, "en") for n in self.notes], "summary": self.summary()}

    def sentences(self) -> tuple[Message, ...]:
        key = "memory.plan.summary" if self.available_bytes is not None else "memory.plan.summary_unknown"
        head = Message(key, {"total": size(self.total_bytes), "weights": size(self.weights_bytes),
                             "dtype": self.dtype, "batch": self.batch_size, "tokens": self.tokens,
                             "available": size(self.available_bytes or 0),
                             "how": Message("memory.batch.auto" if self.auto else "memory.batch.given",
                                            {"batch": self.batch_size})})
        return (head, *self.notes)

    def summary(self, lang: str = "en") -> str:
        """One line for people, e.g. 'planned 1.8 GiB (weights 0.4 GiB in float32, batch 16 of 42 tokens);
        11.2 GiB available', with the notes after it."""
        return render(self.sentences(), lang)


def size(nbytes: int) -> Message:
    """A byte count as people read it: GiB with one decimal from 1 GiB, whole MiB from 1 MiB, else whole KiB
    (a tiny model's weights are not "0 MiB")."""
    if nbytes >= GIB:
        return Message("memory.size.gib", {"gib": nbytes / GIB})
    if nbytes < MIB:
        return Message("memory.size.kib", {"kib": nbytes / 1024})
    return Message("memory.size.mib", {"mib": nbytes / MIB})


def plan_audit(model_path: Path, *, template: Any, probes: Any, device: str, dtype: str,
               batch_size: int | None) -> MemoryPlan:
    """The audit's memory plan; batch_size None = auto. Raises MemoryRefused (BadInput, exit 2) before any
    weight is read when the weights alone do not fit in the memory available."""
    from auditor.models import safety

    path = Path(model_path).expanduser()
    device = resolve(device)
    if safety.detect_format(path) == "onnx":
        return _onnx_plan(safety.onnx_file_in(path) if path.is_dir() else path, probes, device, batch_size)
    tokens, image_size, notes = _inputs(path, probes)
    loss = _loss_kind(path, probes)
    work = _Work.of(template, probes, loss)
    meta: MetaModel | None = None
    try:
        meta = MetaModel(path, dtype)
    except Exception as exc:  # an architecture transformers cannot build here: weights from the file headers
        notes.append(Message("memory.note.no_config", {"detail": _first_line(exc)}))
    parameters = meta.parameters if meta is not None else _header_parameters(path)
    weights = parameters * dtype_bytes(dtype)
    available = available_memory(device)
    _refuse_if_weights_do_not_fit(weights, parameters, dtype, device, available, other_dtypes=True)
    sizes = meta.sizes(tokens, attentions=work.attentions, gradients=work.gradients, perturbation=work.copies > 0,
                       loss_kind=loss, image_size=image_size) if meta is not None else None
    if sizes is not None and sizes.problem:
        notes.append(Message("memory.note.not_traced", {"detail": sizes.problem}))

    def at(batch: int) -> tuple[dict[str, int], dict[str, int]]:
        return _parts(sizes, work, weights, dtype, device, batch, tokens)

    planned = sizes is not None and sizes.capture is not None
    batch, more = _batch(batch_size, at, available, device, int(probes.count), planned)
    parts, phases = at(batch)
    total = max(phases.values())
    if batch_size is not None and available is not None and total > available:
        more.append(Message("memory.note.over", {"available": size(available)}))
    return MemoryPlan(device=device, dtype=dtype, parameters=parameters, weights_bytes=weights, batch_size=batch,
                      auto=batch_size is None, tokens=tokens, parts=parts, total_bytes=total,
                      available_bytes=available, phases=phases, notes=tuple(notes + more))


def resolve(device: str) -> str:
    """"auto" as the adapters resolve it (a CUDA GPU when torch sees one); others as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def available_memory(device: str) -> int | None:
    """Free memory on the GPU (torch.cuda.mem_get_info), or the RAM available (MemAvailable); None if unknown."""
    if device.startswith("cuda"):
        try:
            import torch

            free, _total = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        except Exception:  # no CUDA runtime, or not that GPU: nothing to plan against
            return None
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil cannot read the system's memory figures here
        return None


@dataclass(frozen=True)
class _Work:
    """What the template's checks will run (as auditor.runner, the checks and models.torch_* decide it)."""

    count: int = 0             # probes
    gradients: bool = False    # the gradient pass: one backward per capture batch
    attentions: bool = False   # attention maps captured
    copies: int = 0            # perturbation.sensitivity's copies per probe (0: it does not run)
    max_rows: int = 512        # rows per perturbation forward
    randomization: int = 0     # sanity.randomization's batch size (0: it does not run)
    max_parameters: int = 0    # above this many parameters sanity.randomization skips itself
    pde: bool = False          # flow.pde keeps statistics through the pass (checks.pde_stats)
    retained: bool = False     # a check reads whole batches, so the capture pass keeps every batch

    @classmethod
    def of(cls, template: Any, probes: Any, loss: str | None) -> _Work:
        from auditor.checks.registry import get
        from auditor.models.base import Capability
        from auditor.runner import RETAIN_LIMIT

        checks = [get(spec.id)(**spec.params) for spec in template.checks]
        captures = set().union(*(c.captures for c in checks)) if checks else set()
        count = int(probes.count)
        work: dict[str, Any] = {"count": count, "attentions": Capability.ATTENTIONS in captures,
                                "gradients": Capability.GRADIENTS in captures and loss is not None,
                                "retained": any(c.needs_batches for c in checks) and count <= RETAIN_LIMIT,
                                "pde": any(c.id == "flow.pde" for c in checks)}
        for check in checks:
            if check.id == "perturbation.sensitivity":
                spec = check.params["images"] if probes.texts is None else check.params["text"]
                work.update(copies=len(check.params["eps"]) + len(spec), max_rows=int(check.params["max_rows"]))
            elif check.id == "sanity.randomization":
                work.update(randomization=int(check.params["batch_size"]),
                            max_parameters=int(check.params["max_parameters"]))
        return cls(**work)


def _parts(sizes: TorchSizes | None, work: _Work, weights: int, dtype: str, device: str, batch: int,
           tokens: int) -> tuple[dict[str, int], dict[str, int]]:
    """(parts, phases) in bytes at `batch`; parts that are 0 are left out."""
    if sizes is None or sizes.capture is None:
        return {"weights": weights}, {"weights": weights}
    gpu = device.startswith("cuda")
    parts = {"weights": weights, "gradients": sizes.block_parameters * dtype_bytes(dtype) if work.gradients else 0,
             "capture": sizes.capture.at(batch)}
    parts["backward"] = max(0, sizes.gradient.at(batch) - parts["capture"]) if sizes.gradient else 0
    # the captured batch while the checks' accumulators (the perturbation pass among them) read it: on a GPU its
    # tensors stay on the device in the model's dtype (auditor.trace); on the CPU in float32 they are the
    # capture forward's own tensors, so they are counted once, here
    kept = _kept_bytes(sizes, work, batch, tokens)
    parts["captured_batch"] = kept * dtype_bytes(dtype) // 4 if gpu else kept
    rows = min(work.copies, max(1, work.max_rows // batch)) * batch if work.copies else 0
    parts["perturbation"] = sizes.perturbation.at(rows) if sizes.perturbation and rows else 0
    host = 0 if gpu else 1    # retained batches, pooled rows and the checks' statistics live on the host
    parts["retained"] = host * _kept_bytes(sizes, work, work.count, tokens) if work.retained else 0
    parts["statistics"] = host * _pde_statistics(sizes, work, tokens) if work.pde else 0
    # the pooled state of every probe at every boundary, and a head's outputs, are kept for the whole audit
    heads_out = sizes.logits_per_row if sizes.logits_per_row <= 1024 else 0
    parts["pooled"] = host * 4 * work.count * ((sizes.layers + 1) * sizes.hidden + heads_out)
    if work.randomization and sizes.parameters <= work.max_parameters:
        # the fresh copy is built in float32 on the CPU, then cast to the model's dtype (TorchAdapter.randomized)
        built = weights if gpu or dtype == "float32" else sizes.parameters * 4 + weights
        traced = sizes.gradient or sizes.capture
        parts["randomization"] = built + traced.at(min(work.randomization, max(work.count, 1)))
    held = parts["retained"] + parts["statistics"] + parts["pooled"]    # held until the checks have run
    shared = weights + parts["gradients"] + held
    capture = parts["capture"] + parts["backward"]
    perturb = parts["captured_batch"] + parts["perturbation"]
    if gpu:
        phases = {"capture": shared + capture, "perturbation": shared + perturb}
    else:
        # glibc keeps most of what the backward frees for later small allocations, so the perturbation pass
        # gets little of it back: measured RSS peaks matched capture + perturbation, not the larger of them
        parts["runtime"] = CPU_RUNTIME
        phases = {"capture_pass": CPU_RUNTIME + shared + capture + perturb}
    if "randomization" in parts:
        phases["randomization"] = parts.get("runtime", 0) + weights + held + parts["randomization"]
    return {k: v for k, v in parts.items() if v}, phases


def _kept_bytes(sizes: TorchSizes, work: _Work, rows: int, tokens: int) -> int:
    """float32 bytes of captured rows: block states, attention maps, logits (auditor.trace)."""
    states = (sizes.layers + 1) * rows * tokens * sizes.hidden
    maps = sizes.layers * rows * sizes.heads * tokens * tokens if work.attentions else 0
    return 4 * (states + maps + rows * sizes.logits_per_row)


def _pde_statistics(sizes: TorchSizes, work: _Work, tokens: int) -> int:
    """flow.pde's statistics at most: its basis reservoir, the scatter of every boundary, the fit statistics
    (each bounded as checks.pde_stats bounds it)."""
    from auditor.checks.pde_stats import _RESERVOIR_BYTES, _STATS_BYTES, FOLDS, basis_candidates

    fit_rows = (work.count + 1) // 2
    reservoir = min(_RESERVOIR_BYTES, _kept_bytes(sizes, work, fit_rows, tokens))
    scatter = (sizes.layers + 1) * sizes.hidden ** 2 * 8
    k = basis_candidates(max(1, sizes.hidden), max(sizes.layers, 1), work.attentions, fit_rows * tokens)[-1]
    p = (2 if work.attentions else 1) * k + 1
    return int(reservoir + scatter + min(_STATS_BYTES, 8 * p * (p + 2 * k) * FOLDS * sizes.layers))


def _batch(requested: int | None, at: Callable[[int], tuple[dict[str, int], dict[str, int]]],
           available: int | None, device: str, count: int, planned: bool) -> tuple[int, list[Message]]:
    """The batch size and what to say about it: the given one, or the largest whose plan fits AUTO_SHARE."""
    if requested is not None:
        return requested, []
    cap = max(1, min(BATCH_CAP["cuda" if device.startswith("cuda") else "cpu"], count))
    if not planned or available is None:
        chosen = min(DEFAULT_BATCH, cap)
        return chosen, [Message("memory.note.auto_unplanned" if not planned else "memory.note.auto_unknown",
                                {"batch": chosen})]
    budget = AUTO_SHARE * available
    fits = [b for b in range(1, cap + 1) if max(at(b)[1].values()) <= budget]
    if fits:
        return max(fits), []
    return 1, [Message("memory.note.batch_one", {"share": AUTO_SHARE})]


def _refuse_if_weights_do_not_fit(weights: int, parameters: int, dtype: str, device: str,
                                  available: int | None, *, other_dtypes: bool) -> None:
    if available is None or weights <= available:
        return
    smaller = next((d for d in HALF if other_dtypes and dtype_bytes(d) < dtype_bytes(dtype)
                    and parameters * dtype_bytes(d) <= available), None)
    where = "gpu" if device.startswith("cuda") else "cpu"
    advice = Message(f"memory.advice.{where}_dtype", {"dtype": smaller}) if smaller else \
        Message(f"memory.advice.{where}")
    raise MemoryRefused(Message(f"memory.refused.{where}", {"needed": size(weights), "dtype": dtype,
                                                            "available": size(available), "advice": advice}))


def _onnx_plan(file: Path, probes: Any, device: str, batch_size: int | None) -> MemoryPlan:
    """Weights from the initializers; onnxruntime sizes its own activations, so those are not planned."""
    parameters, weights, dtype = onnx_weights(file)
    available = available_memory(device)
    _refuse_if_weights_do_not_fit(weights, parameters, dtype, device, available, other_dtypes=False)
    tokens, _size, _notes = _inputs(file.parent, probes, quiet=True)
    batch = batch_size if batch_size is not None else max(1, min(DEFAULT_BATCH, int(probes.count)))
    notes = [Message("memory.note.onnx")]
    if batch_size is None:
        notes.append(Message("memory.note.auto_unplanned", {"batch": batch}))
    return MemoryPlan(device=device, dtype=dtype, parameters=parameters, weights_bytes=weights, batch_size=batch,
                      auto=batch_size is None, tokens=tokens, parts={"weights": weights}, total_bytes=weights,
                      available_bytes=available, phases={"weights": weights}, notes=tuple(notes))


def _inputs(folder: Path, probes: Any, *, quiet: bool = False) -> tuple[int, int | None, list[Message]]:
    """(tokens, image side or None, notes): the longest probe after tokenising, capped by the model's
    maximum length (batches are padded to their own longest probe); an image model's patches + class token."""
    from auditor.models.encoding import ImageEncoder, has_tokenizer, load_tokenizer, text_max_length

    config = _config(folder)
    if probes.texts is None:
        side = ImageEncoder(folder, int(config.get("image_size") or 224)).image_size
        return (side // int(config.get("patch_size") or 16)) ** 2 + 1, side, []
    limit = text_max_length(None, config.get("max_position_embeddings") or config.get("n_positions"))
    if not has_tokenizer(folder):
        return (0, None, []) if quiet else (limit, None, [Message("memory.note.no_tokenizer", {"tokens": limit})])
    tokenizer = load_tokenizer(folder)
    limit = text_max_length(tokenizer, config.get("max_position_embeddings") or config.get("n_positions"))
    lengths = tokenizer(list(probes.texts), add_special_tokens=True)["input_ids"] if probes.texts else []
    return max(1, min(limit, max((len(ids) for ids in lengths), default=1))), None, []


def _loss_kind(folder: Path, probes: Any) -> str | None:
    """The gradient task's loss as TorchAdapter.loss_kind and checks._tasks pick it; None: no gradient pass."""
    names = _config(folder).get("architectures") or [""]
    name = str(names[0])
    if "CausalLM" in name or name.endswith("LMHeadModel"):
        return "causal_lm"
    if "For" in name:
        return "head"
    labels = getattr(probes, "labels", None)
    return "probe_head" if labels is not None and len(set(labels)) >= 2 else None


def _config(folder: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _header_parameters(path: Path) -> int:
    from auditor.estimate import parameters_in

    return int(parameters_in(path) or 0)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
