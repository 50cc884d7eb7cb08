"""ONNX models run with onnxruntime, with layer boundaries exposed as extra graph outputs.

The user's file is never changed: discovery (models.onnx_graph) works on an in-memory copy,
which gains the boundary and attention tensors as outputs and is handed to onnxruntime as
bytes, or, when its weights live in external files, saved to a temporary folder that links
to those files.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from auditor.errors import BadInput
from auditor.messages import Message, render
from auditor.models import onnx_binding, onnx_folder, onnx_graph, onnx_inputs, onnx_weights
from auditor.models.base import Capability, ModelBatch, ModelIdentity, capture_points, count_fed, fed_note
from auditor.models.encoding import ImageEncoder, TextEncoder, has_tokenizer, text_max_length
from auditor.models.identity import manifest
from auditor.models.onnx_folder import first_line
from auditor.probes.types import ProbeSet
from auditor.trace import TraceBatch

_NUMPY = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64, 9: np.bool_}


class OnnxAdapter:
    """An ONNX model file (or a folder holding model.onnx beside its tokenizer and config)."""

    def __init__(self, path: Path, *, tokenizer: Path | None = None, layer_outputs: list[str] | None = None,
                 device: str = "auto", io_binding: bool | None = None) -> None:
        """`io_binding` None binds the runs' inputs and outputs on CUDA only; True binds them on the
        CPU provider too (the same calls, so the bound path is testable without a GPU)."""
        path = Path(path)
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
            raise BadInput(f"--device {device} is not one of auto, cpu, cuda")
        self.file = _onnx_file(path)
        self.folder = path if path.is_dir() else self.file.parent
        self._notes: list[str] = []
        self._tmp: Path | None = None
        self.probes_fed = 0   # probes encoded for the graph so far (models.base.count_fed)
        model = onnx_graph.load_model(self.file)
        index = onnx_graph.GraphIndex(model)
        unfed = self._read_graph(model, index, layer_outputs)
        facts = _graph_facts(model, self.file)
        onnx_graph.add_outputs(model, self._exposed(), index.types)
        self.session, self.device = self._start(model, device, io_binding)
        del model, index   # the session holds its own copy of the weights
        self._tokenizer = onnx_folder.find_tokenizer(self.file, self.folder, tokenizer) \
            if self.modality == "text" else None
        self._encoder: TextEncoder | ImageEncoder | None = None
        self.identity = self._identify(path, facts)
        self._explain_missing(unfed)

    # -- loading -------------------------------------------------------------------------------
    def _read_graph(self, model: Any, index: onnx_graph.GraphIndex, layer_outputs: list[str] | None) -> Message | None:
        """Boundaries, inputs, outputs and modality of the graph; the reason nothing can be fed, or None."""
        self.discovery = onnx_graph.discover(model, layer_outputs, index)
        self.config = onnx_folder.read_config(self.file, self.folder)
        self._inputs = {v.name: _tensor_type(v) for v in model.graph.input if v.name in index.inputs}
        self._outputs = [v.name for v in model.graph.output]
        ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in model.graph.output}
        self._logits = next((n for n in self._outputs if "logits" in n.lower()),
                            next((n for n in self._outputs if ranks[n] == 2), None))
        self._image_input = self._find_image_input()
        self.modality = "text" if "input_ids" in self._inputs else ("image" if self._image_input else "tensor")
        # refused here, before any audit row exists, when probes could reach the graph only in part
        unfed = onnx_inputs.refuse_unfeedable(self.file.name, self._inputs, self.modality, self._image_input,
                                              layer_outputs)
        if unfed:
            # found layers cannot be captured either: nothing reaches them
            self.discovery.boundaries, self.discovery.attentions = [], None
            self.discovery.notes, self.discovery.reasons = [], []
            self.discovery.note(unfed)
        self._notes += self.discovery.notes
        self._patch = onnx_inputs.patch_size(index, self._image_input)
        return unfed

    def _identify(self, path: Path, facts: dict[str, Any]) -> ModelIdentity:
        """The model's identity: graph facts, config.json where there is one, else a trial run's shapes."""
        probe = self._probe_shapes()
        pooling, pooling_source = onnx_folder.pooling(self.file, self.folder, self.config, self.modality,
                                                      probe.get("prefix", 0))
        # a model that comes with tokenizer, config or weight files is identified by all of them
        folder_style = path.is_dir() or facts["external"] or has_tokenizer(self.folder) \
            or (self.folder / "config.json").is_file()
        digest, files = manifest(self.folder if folder_style else self.file)
        cfg = self.config
        return ModelIdentity(
            format="onnx", architecture=str((cfg.get("architectures") or [f"onnx:{facts['graph_name']}"])[0]),
            model_type=str(cfg.get("model_type") or "onnx"), parameters=facts["parameters"],
            layers=self.discovery.layers, dtype=facts["dtype"], sha256=digest, files=files, path=str(path),
            modality=self.modality, pooling=pooling, pooling_source=pooling_source,
            hidden_size=cfg.get("hidden_size") or cfg.get("n_embd") or probe.get("hidden_size"),
            heads=cfg.get("num_attention_heads") or cfg.get("n_head") or probe.get("heads"),
            max_length=self._max_length(),
            details={"opset": facts["opset"], "layer_output_names": list(self.discovery.boundaries),
                     "attention_output_names": list(self.discovery.attentions or []),
                     "discovery": self.discovery.method, "block_style": self.discovery.style,
                     "providers": list(self.session.get_providers()),
                     "io_binding": self._bound is not None,
                     **({"provider_fallback": dict(self.fallback)} if self.fallback else {}),
                     "inputs": list(self._inputs), "outputs": list(self._outputs),
                     "input_signature": onnx_inputs.signature(self._inputs),
                     "constant_parameters": facts["constant_parameters"]},
        )

    def _explain_missing(self, unfed: Message | None) -> None:
        """Capabilities the graph gives, and why the others are missing (catalogue sentences, their English)."""
        self.unavailable_messages = onnx_inputs.unavailable_reasons(self.discovery, unfed)
        self.unavailable = {k: render(m, "en") for k, m in self.unavailable_messages.items()}
        if self.unavailable:
            self.identity.details["unavailable"] = dict(self.unavailable)
            self.identity.details["unavailable_messages"] = {k: m.to_json()
                                                             for k, m in self.unavailable_messages.items()}
        caps = set() if unfed else {Capability.PERTURBATIONS}
        if self.discovery.boundaries:
            caps.add(Capability.HIDDEN_STATES)
        if self.discovery.attentions:
            caps.add(Capability.ATTENTIONS)
        if self._logits and not unfed:
            caps.add(Capability.LOGITS)
        self.capabilities = frozenset(caps)

    def _find_image_input(self) -> str | None:
        floats = [n for n, (elem, shape) in self._inputs.items() if elem in (1, 10, 11) and len(shape) == 4]
        return floats[0] if len(floats) == 1 else None

    def _exposed(self) -> list[str]:
        return [*self.discovery.boundaries, *(self.discovery.attentions or [])]

    def _start(self, model: Any, device: str, io_binding: bool | None) -> tuple[Any, str]:
        """An InferenceSession on CUDA when one really starts there (auto/cuda), else on the CPU.

        On CUDA the runs go through IOBinding (models.onnx_binding); a CPU session after CUDA was
        asked for keeps the reason in `self.fallback` (identity details, provider_fallback)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        cpu = ["CPUExecutionProvider"]
        providers: list[Any] = cpu
        device_id = int(device.partition(":")[2] or 0)
        available = list(ort.get_available_providers())
        if device != "cpu" and onnx_binding.CUDA in available:
            providers = [(onnx_binding.CUDA, {"device_id": device_id}), *cpu]
        payload = self._payload(model)
        # Trying CUDA where its libraries or GPU are missing logs at ERROR level from the default
        # logger; that is expected on 'auto', so only fatal messages pass while the session starts.
        ort.set_default_logger_severity(4 if providers is not cpu else 3)
        error = None
        try:
            session = ort.InferenceSession(payload, options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own types for invalid or unsupported graphs
            if providers is cpu:
                raise BadInput(f"onnxruntime cannot load {self.file.name}: {first_line(exc)}") from None
            error = first_line(exc)
            session = ort.InferenceSession(payload, options, providers=cpu)
        finally:
            ort.set_default_logger_severity(3)
        active = "cuda" if session.get_providers()[0] == onnx_binding.CUDA else "cpu"
        self.fallback: dict[str, str] | None = None
        if device != "cpu" and active != "cuda":
            reason = onnx_binding.why_not_cuda(available, error)
            if device.startswith("cuda"):
                raise BadInput(f"--device cuda was asked for but onnxruntime could not start a CUDA session "
                               f"({reason}); use --device auto or cpu")
            self.fallback = {"requested": device, "ran": "CPUExecutionProvider", "reason": reason}
        # captured outputs stay on the GPU until one copy per batch; the CPU runs session.run as before
        bind = active == "cuda" if io_binding is None else io_binding
        self._bound = onnx_binding.BoundRunner(session, active, device_id) if bind else None
        return session, active

    def _payload(self, model: Any) -> bytes | str:
        """The modified graph as bytes, or a temporary folder copy when weights are external."""
        if not onnx_weights.external_locations(model):
            return model.SerializeToString()
        self._tmp = Path(tempfile.mkdtemp(prefix="auditor-onnx-"))
        self._notes.append("the model's weights are external; its modified graph runs from a temporary "
                           "folder linking to them")
        return onnx_weights.save_linked(model, self.file, self._tmp)

    def _max_length(self) -> int | None:
        if self.modality != "text":
            return None
        config_max = self.config.get("max_position_embeddings") or self.config.get("n_positions")
        static = self._inputs["input_ids"][1][1] if len(self._inputs["input_ids"][1]) > 1 else None
        limits = [n for n in (static, config_max) if isinstance(n, int) and n > 0]
        if self._tokenizer is not None:
            return min([text_max_length(self._tokenizer, config_max), *limits])
        return min(limits) if limits else None

    def _probe_shapes(self) -> dict[str, int]:
        """Heads, width and class tokens read off one tiny run where config.json does not say."""
        known = (self.config.get("num_attention_heads") or self.config.get("n_head")) and self.modality != "image"
        if not self.discovery.boundaries or known or self.modality == "tensor":
            return {}
        feed = {}
        for name, (elem, shape) in self._inputs.items():
            dims = [d if isinstance(d, int) and d > 0 else (1 if i == 0 else 2) for i, d in enumerate(shape)]
            if name == self._image_input:
                dims[2:] = [d if isinstance(d, int) and d > 0 else self._image_size() for d in shape[2:]]
            fill = 1 if name == "attention_mask" else 0
            feed[name] = np.full(dims, fill, dtype=_NUMPY.get(elem, np.float32))
        names = [self.discovery.boundaries[0], *(self.discovery.attentions or [])[:1]]
        fetch = [n for n in names if n not in feed]   # an empty list would make onnxruntime return every output
        try:
            outs = self.session.run(fetch, feed) if fetch else []
        except Exception as exc:  # an unusual input signature: the figures stay unknown
            self._notes.append(f"could not read hidden size and heads from a trial run ({first_line(exc)})")
            return {}
        found = dict(zip(fetch, outs, strict=True))
        hidden = np.asarray(found.get(names[0], feed.get(names[0])))
        result = {"hidden_size": int(hidden.shape[-1]), "tokens": int(hidden.shape[1]) if hidden.ndim == 3 else 0}
        if len(names) > 1 and np.asarray(found[names[1]]).ndim == 4:
            result["heads"] = int(np.asarray(found[names[1]]).shape[1])
        grid = self._grid()
        if grid and result["tokens"] >= grid[0] * grid[1]:
            result["prefix"] = result["tokens"] - grid[0] * grid[1]
        return result

    def _image_size(self) -> int:
        shape = self._inputs[self._image_input][1] if self._image_input else []
        static = shape[2] if len(shape) == 4 and isinstance(shape[2], int) and shape[2] > 0 else None
        return int(static or self.config.get("image_size") or 224)

    def _grid(self) -> tuple[int, int] | None:
        if not self._image_input or not self._patch:
            return None
        side = self._image_size() // self._patch
        return (side, side) if side > 0 else None

    # -- running -------------------------------------------------------------------------------
    def batches(self, probes: ProbeSet, batch_size: int) -> Iterator[ModelBatch]:
        """Encode a ProbeSet into this graph's inputs, in probe order (refusals are raised at once)."""
        if self.modality == "text":
            if self._tokenizer is None:
                raise BadInput(f"{self.file.name} is a text model but no tokenizer was found beside it; "
                               "pass --tokenizer PATH")
            self._encoder = TextEncoder(self._tokenizer, self._max_length() or 512, set(self._inputs))
            return count_fed(self, (self._pad(b) for b in self._encoder.batches(probes, batch_size)))
        if self.modality == "image":
            channels = self._inputs[self._image_input][1][1]
            self._encoder = ImageEncoder(self.folder, self._image_size(),
                                         channels if isinstance(channels, int) and channels in (1, 3) else 3)
            return count_fed(self, (ModelBatch(index=b.index, inputs={self._image_input: b.inputs["pixel_values"]},
                                               mask=None) for b in self._encoder.batches(probes, batch_size)))
        raise BadInput(f"{self.file.name} takes inputs ({', '.join(self._inputs)}) that are neither "
                       "token ids nor images; the audit cannot build them from probes")

    def notes(self) -> list[str]:
        # a graph nothing could be fed to has said why already, in its own note
        fed = [] if self.modality == "tensor" else fed_note(self)
        return [*self._notes, *(self._encoder.notes() if self._encoder else []), *fed]

    def capture(self, batch: ModelBatch, points: frozenset[str], task: object = None) -> TraceBatch:
        """Run one batch; hidden states, attention maps and logits as float32 numpy arrays.

        A gradient `task` is ignored: onnxruntime runs inference only."""
        d = self.discovery
        points = capture_points(points)
        want = list(d.boundaries) if Capability.HIDDEN_STATES in points else []
        if Capability.ATTENTIONS in points and d.attentions:
            want += d.attentions
        if Capability.LOGITS in points and self._logits:
            want.append(self._logits)
        feed = self._feed(batch)
        got = self._run(want, feed)
        b = batch.size
        hidden = [_tokens(got[n], b) for n in d.boundaries] if Capability.HIDDEN_STATES in points else []
        tokens = hidden[0].shape[1] if hidden else (batch.mask.shape[1] if batch.mask is not None else 1)
        attentions = None
        if Capability.ATTENTIONS in points and d.attentions:
            attentions = [_heads(got[n], b) for n in d.attentions]
        mask = batch.mask if batch.mask is not None else np.ones((b, tokens), dtype=bool)
        grid = self._grid() if hidden and self.modality == "image" else None
        prefix = tokens - grid[0] * grid[1] if grid and tokens >= grid[0] * grid[1] else 0
        special = batch.special
        if special is None and prefix:
            special = np.zeros_like(mask)
            special[:, :prefix] = True
        return TraceBatch(index=batch.index, mask=mask, hidden=hidden, attentions=attentions,
                          logits=got.get(self._logits) if self._logits in want else None, special=special,
                          grid=grid, prefix_tokens=prefix)

    def perturb(self, batch: ModelBatch, plan: Any) -> Any:
        """Input-level perturbed copies of a batch (no embedding noise: the graph takes no hooks)."""
        from auditor.models.onnx_perturb import run_perturbed

        return run_perturbed(self, batch, plan)

    def forward(self, batch: ModelBatch) -> np.ndarray | None:
        """The model's own outputs only: logits where it has a head, else its first output."""
        name = self._logits or self._outputs[0]
        return self._run([name], self._feed(batch))[name]

    def close(self) -> None:
        self.session = self._bound = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _feed(self, batch: ModelBatch) -> dict[str, np.ndarray]:
        """The batch's arrays under the graph's input names and types, filling what tokenizers omit."""
        feed = {}
        for name, (elem, _shape) in self._inputs.items():
            arr = batch.inputs.get(name)
            if arr is None and name == "token_type_ids" and "input_ids" in batch.inputs:
                arr = np.zeros_like(batch.inputs["input_ids"])
            elif arr is None and name == "position_ids" and batch.mask is not None:
                arr = np.maximum(np.cumsum(batch.mask, axis=1) - 1, 0)
            if arr is None:
                raise BadInput(f"{self.file.name} needs the input '{name}', which cannot be built from probes "
                               "(export the model without it, e.g. without past key values)")
            feed[name] = np.ascontiguousarray(arr, dtype=_NUMPY.get(elem, arr.dtype))
        return feed

    def _run(self, names: list[str], feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        fetch = [n for n in dict.fromkeys(names) if n not in feed]
        run = self._bound.run if self._bound is not None else self.session.run
        outs = run(fetch, feed) if fetch else []
        got = {n: feed[n] for n in names if n in feed}
        got.update(zip(fetch, outs, strict=True))
        return {n: np.asarray(v, dtype=np.float32) if np.asarray(v).dtype.kind == "f" else np.asarray(v)
                for n, v in got.items()}

    def _pad(self, batch: ModelBatch) -> ModelBatch:
        """Pad token inputs to the graph's fixed sequence length, if it has one."""
        shape = self._inputs["input_ids"][1]
        fixed = shape[1] if len(shape) > 1 and isinstance(shape[1], int) and shape[1] > 0 else None
        width = batch.inputs["input_ids"].shape[1]
        if fixed is None or width >= fixed:
            return batch
        pad_id = int(getattr(self._tokenizer, "pad_token_id", 0) or 0)
        extra = fixed - width

        def grow(arr: np.ndarray, value: int) -> np.ndarray:
            return np.pad(arr, ((0, 0), (0, extra)), constant_values=value)

        inputs = {k: grow(v, pad_id if k == "input_ids" else 0) for k, v in batch.inputs.items()}
        return ModelBatch(index=batch.index, inputs=inputs,
                          mask=grow(batch.mask, 0).astype(bool) if batch.mask is not None else None,
                          special=grow(batch.special, 0).astype(bool) if batch.special is not None else None)


def _onnx_file(path: Path) -> Path:
    if not path.exists():
        raise BadInput(f"no such file or folder: {path}")
    if path.is_file():
        return path
    from auditor.models.safety import onnx_file_in

    return onnx_file_in(path)


def _graph_facts(model: Any, file: Path) -> dict[str, Any]:
    """What the graph itself says about the model, read before its outputs are extended."""
    parameters, dtype = onnx_weights.initializer_summary(model)
    return {"parameters": parameters, "dtype": dtype,
            # weights some graphs keep in Constant nodes
            "constant_parameters": onnx_weights.constant_parameters(model),
            "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
            "graph_name": model.graph.name or file.stem,
            "external": bool(onnx_weights.external_locations(model))}


def _tensor_type(value: Any) -> tuple[int, list[int | str]]:
    tt = value.type.tensor_type
    return tt.elem_type, [d.dim_value if d.HasField("dim_value") else d.dim_param for d in tt.shape.dim]


def _tokens(arr: np.ndarray, batch: int) -> np.ndarray:
    """Hidden states as [B, T, d] (some optimised graphs flatten batch and tokens)."""
    return arr.reshape(batch, -1, arr.shape[-1]) if arr.ndim == 2 else arr


def _heads(arr: np.ndarray, batch: int) -> np.ndarray:
    """Attention as [B, H, T, T] (some graphs fold heads into the batch axis)."""
    return arr.reshape(batch, -1, arr.shape[-2], arr.shape[-1]) if arr.ndim == 3 else arr
