"""ONNX models run with onnxruntime, with layer boundaries exposed as extra graph outputs.

The user's file is never changed: discovery (models.onnx_graph) works on an in-memory copy,
which gains the boundary and attention tensors as outputs and is handed to onnxruntime as
bytes, or, when its weights live in external files, saved to a temporary folder that links
to those files.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from auditor.errors import BadInput
from auditor.messages import render
from auditor.models import onnx_graph, onnx_inputs, onnx_weights
from auditor.models.base import Capability, ModelBatch, ModelIdentity, capture_points, count_fed, fed_note
from auditor.models.encoding import ImageEncoder, TextEncoder, has_tokenizer, load_tokenizer, text_max_length
from auditor.models.identity import manifest
from auditor.probes.types import ProbeSet
from auditor.trace import TraceBatch

_NUMPY = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64, 9: np.bool_}
_CAUSAL_TYPES = {"gpt2", "gptj", "gpt_neo", "gpt_neox", "llama", "mistral", "mixtral", "qwen2", "qwen3",
                 "phi", "phi3", "falcon", "bloom", "opt", "gemma", "gemma2", "codegen"}


class OnnxAdapter:
    """An ONNX model file (or a folder holding model.onnx beside its tokenizer and config)."""

    def __init__(self, path: Path, *, tokenizer: Path | None = None, layer_outputs: list[str] | None = None,
                 device: str = "auto") -> None:
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
        self.discovery = onnx_graph.discover(model, layer_outputs, index)
        self.config = next((c for d in _model_dirs(self.file, self.folder) if (c := _read_json(d / "config.json"))),
                           {})
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
        params, dtype = onnx_weights.initializer_summary(model)
        constant_params = onnx_weights.constant_parameters(model)   # weights some graphs keep in Constant nodes
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        graph_name = model.graph.name or self.file.stem
        external = bool(onnx_weights.external_locations(model))
        onnx_graph.add_outputs(model, self._exposed(), index.types)
        self.session, self.device = self._start(model, device)
        del model, index   # the session holds its own copy of the weights
        self._tokenizer = self._load_tokenizer(tokenizer)
        self._encoder: TextEncoder | ImageEncoder | None = None
        probe = self._probe_shapes()
        pooling, pooling_source = self._pooling(probe.get("prefix", 0))
        # a model that comes with tokenizer, config or weight files is identified by all of them
        folder_style = path.is_dir() or external or has_tokenizer(self.folder) \
            or (self.folder / "config.json").is_file()
        digest, files = manifest(self.folder if folder_style else self.file)
        cfg = self.config
        self.identity = ModelIdentity(
            format="onnx", architecture=str((cfg.get("architectures") or [f"onnx:{graph_name}"])[0]),
            model_type=str(cfg.get("model_type") or "onnx"), parameters=params, layers=self.discovery.layers,
            dtype=dtype, sha256=digest, files=files, path=str(path), modality=self.modality,
            pooling=pooling, pooling_source=pooling_source,
            hidden_size=cfg.get("hidden_size") or cfg.get("n_embd") or probe.get("hidden"),
            heads=cfg.get("num_attention_heads") or cfg.get("n_head") or probe.get("heads"),
            max_length=self._max_length(),
            details={"opset": opset, "layer_output_names": list(self.discovery.boundaries),
                     "attention_output_names": list(self.discovery.attentions or []),
                     "discovery": self.discovery.method, "block_style": self.discovery.style,
                     "providers": list(self.session.get_providers()),
                     "inputs": list(self._inputs), "outputs": list(self._outputs),
                     "input_signature": onnx_inputs.signature(self._inputs),
                     "constant_parameters": constant_params},
        )
        # why a capability is missing: catalogue sentences, and their English for readers of strings
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

    # -- loading -------------------------------------------------------------------------------
    def _find_image_input(self) -> str | None:
        floats = [n for n, (elem, shape) in self._inputs.items() if elem in (1, 10, 11) and len(shape) == 4]
        return floats[0] if len(floats) == 1 else None

    def _exposed(self) -> list[str]:
        return [*self.discovery.boundaries, *(self.discovery.attentions or [])]

    def _start(self, model: Any, device: str) -> tuple[Any, str]:
        """An InferenceSession on CUDA when one really starts there (auto/cuda), else on the CPU."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        cpu = ["CPUExecutionProvider"]
        providers: list[Any] = cpu
        if device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers = [("CUDAExecutionProvider", {"device_id": int(device.partition(":")[2] or 0)}), *cpu]
        payload = self._payload(model)
        # Trying CUDA where its libraries or GPU are missing logs at ERROR level from the default
        # logger; that is expected on 'auto', so only fatal messages pass while the session starts.
        ort.set_default_logger_severity(4 if providers is not cpu else 3)
        try:
            session = ort.InferenceSession(payload, options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own types for invalid or unsupported graphs
            if providers is cpu:
                raise BadInput(f"onnxruntime cannot load {self.file.name}: {_first_line(exc)}") from None
            session = ort.InferenceSession(payload, options, providers=cpu)
        finally:
            ort.set_default_logger_severity(3)
        active = "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        if device.startswith("cuda") and active != "cuda":
            raise BadInput("--device cuda was asked for but onnxruntime could not start a CUDA session "
                           "(GPU, CUDA or cuDNN libraries missing); use --device auto or cpu")
        return session, active

    def _payload(self, model: Any) -> bytes | str:
        """The modified graph as bytes, or a temporary folder copy when weights are external."""
        if not onnx_weights.external_locations(model):
            return model.SerializeToString()
        self._tmp = Path(tempfile.mkdtemp(prefix="auditor-onnx-"))
        self._notes.append("the model's weights are external; its modified graph runs from a temporary "
                           "folder linking to them")
        return onnx_weights.save_linked(model, self.file, self._tmp)

    def _load_tokenizer(self, tokenizer: Path | None) -> Any:
        if self.modality != "text":
            return None
        if tokenizer is not None:
            tokenizer = Path(tokenizer)
            return load_tokenizer(tokenizer if tokenizer.is_dir() else tokenizer.parent)
        found = next((d for d in _model_dirs(self.file, self.folder) if has_tokenizer(d)), None)
        return load_tokenizer(found) if found else None

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
            self._notes.append(f"could not read hidden size and heads from a trial run ({_first_line(exc)})")
            return {}
        found = dict(zip(fetch, outs, strict=True))
        hidden = np.asarray(found.get(names[0], feed.get(names[0])))
        result = {"hidden": int(hidden.shape[-1]), "tokens": int(hidden.shape[1]) if hidden.ndim == 3 else 0}
        if len(names) > 1 and np.asarray(found[names[1]]).ndim == 4:
            result["heads"] = int(np.asarray(found[names[1]]).shape[1])
        grid = self._grid()
        if grid and result["tokens"] >= grid[0] * grid[1]:
            result["prefix"] = result["tokens"] - grid[0] * grid[1]
        return result

    def _pooling(self, prefix: int) -> tuple[str, str]:
        if self.modality == "tensor":
            return "mean", "not applicable: the model reads no tokens or images"
        for folder in _model_dirs(self.file, self.folder):
            cfg = _read_json(folder / "1_Pooling" / "config.json")
            if cfg.get("pooling_mode_cls_token"):
                return "cls", "1_Pooling/config.json (CLS token)"
            if cfg.get("pooling_mode_lasttoken"):
                return "last", "1_Pooling/config.json (last token)"
            if cfg.get("pooling_mode_mean_tokens"):
                return "mean", "1_Pooling/config.json (mean over tokens)"
        if self.modality == "image" and prefix > 0:
            return "cls", "vision transformer: class token"
        arch = str((self.config.get("architectures") or [""])[0])
        if self.config.get("is_decoder") or arch.endswith("LMHeadModel") or "CausalLM" in arch \
                or self.config.get("model_type") in _CAUSAL_TYPES:
            return "last", "causal language model: last valid token"
        return "mean", "default: mean over valid tokens"

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
        self.session = None
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
        outs = self.session.run(fetch, feed) if fetch else []
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


def _model_dirs(file: Path, folder: Path) -> list[Path]:
    """Where the model's own tokenizer, config and pooling files sit (also above an onnx/ folder).

    A --tokenizer folder is not searched for config.json: it may belong to another model.
    """
    dirs = [folder, file.parent, *([file.parent.parent] if file.parent.name == "onnx" else [])]
    return list(dict.fromkeys(dirs))


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path.name} in {path.parent} is not valid JSON ({_first_line(exc)})") from None
    return data if isinstance(data, dict) else {}


def _tensor_type(value: Any) -> tuple[int, list[int | str]]:
    tt = value.type.tensor_type
    return tt.elem_type, [d.dim_value if d.HasField("dim_value") else d.dim_param for d in tt.shape.dim]


def _tokens(arr: np.ndarray, batch: int) -> np.ndarray:
    """Hidden states as [B, T, d] (some optimised graphs flatten batch and tokens)."""
    return arr.reshape(batch, -1, arr.shape[-1]) if arr.ndim == 2 else arr


def _heads(arr: np.ndarray, batch: int) -> np.ndarray:
    """Attention as [B, H, T, T] (some graphs fold heads into the batch axis)."""
    return arr.reshape(batch, -1, arr.shape[-2], arr.shape[-1]) if arr.ndim == 3 else arr


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
