"""Transformers folders with safetensors weights, run with PyTorch (eager attention)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from auditor.errors import BadInput
from auditor.messages import Message, render
from auditor.models import seq2seq
from auditor.models.base import (
    Capability,
    ModelBatch,
    ModelIdentity,
    capture_points,
    count_fed,
    fed_note,
)
from auditor.models.encoding import ImageEncoder, TextEncoder, load_tokenizer, text_max_length
from auditor.models.identity import manifest
from auditor.probes.types import ProbeSet
from auditor.trace import TraceBatch

# config keys that hold the number of blocks, across families
_LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers")


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda was asked for but no CUDA GPU is available; use --device auto or cpu")
    return device


class TorchAdapter:
    """A transformers model loaded offline, with hooks on its blocks for the capture pass."""

    # captures stay on the model's device until a check reads them as numpy (trace.TraceBatch); False
    # hands every batch over as host numpy, as an ONNX model does (tests compare the two paths)
    resident: bool = True

    def __init__(self, folder: Path, *, device: str = "auto", dtype: str = "auto") -> None:
        import transformers
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.folder = folder
        self.device = resolve_device(device)
        from auditor.models.precision import checkpoint_dtype, resolve_dtype

        # the precision policy (models.precision): refused here, before any weights are read
        self.compute_dtype = resolve_dtype(dtype, self.device, checkpoint_dtype(folder))
        self.probes_fed = 0   # probes encoded for the model so far (models.base.count_fed)
        self.config = self._load_config(transformers)
        model = self._load_weights(self._model_class(transformers))
        total_parameters = int(sum(p.numel() for p in model.parameters()))
        self._full_class: Any = None   # set when only a part of the loaded model is audited
        self._full_config: Any = None
        scope: dict[str, Any] = {}
        if seq2seq.is_encoder_decoder(model):
            # probes are inputs without target sequences: the encoder is what reads them (models.seq2seq)
            self._full_class, self._full_config = type(model), model.config
            full, model = model, seq2seq.encoder_of(model)
            scope = seq2seq.scope_details(full, model, self.config)
        self.model = model
        self.blocks = _find_blocks(model, _num_layers(self.config))
        self.modality = "image" if "pixel_values" in _forward_params(model) else "text"
        self.pooling, pooling_source = self._pooling()
        self._encoder = self._make_encoder()
        self.identity = self._identify(total_parameters, pooling_source, scope)
        self._explain_missing()
        from auditor.models.torch_grad import output_projections

        # each block's attention output projection, where head masks go (None: not found)
        self.head_projections: list[Any] | None = output_projections(self.blocks or [], self.identity.heads)

    # -- loading -------------------------------------------------------------------------------
    def _load_weights(self, model_cls: Any) -> Any:
        """The model on its device in eval mode; BadInput when its weights do not fill the class exactly."""
        try:
            model, info = model_cls.from_pretrained(
                str(self.folder), local_files_only=True, trust_remote_code=False, attn_implementation="eager",
                output_loading_info=True, use_safetensors=True)
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise BadInput(f"the model in {self.folder} could not be loaded: {_first_line(exc)}") from None
        problems = {k: sorted(v) for k, v in info.items() if k != "error_msgs" and v}
        if problems or info.get("error_msgs"):
            raise BadInput(f"the weights in {self.folder} do not match {model_cls.__name__}: "
                           f"{_describe_mismatch(problems, info.get('error_msgs'))}; "
                           "refusing to fill the gaps with random weights")
        self.weights_dtype = _dtype_name(model)
        from auditor.models.precision import torch_dtype

        # the dtype the precision policy chose (auto: float32 on the CPU, the checkpoint's own on CUDA)
        wanted = torch_dtype(self.compute_dtype)
        if any(p.dtype != wanted for p in model.parameters() if p.is_floating_point()):
            model = model.to(wanted)
        return model.to(self.device).eval()

    def _identify(self, parameters: int, pooling_source: str, scope: dict[str, Any]) -> ModelIdentity:
        """The model's identity; `parameters` counts the whole loaded model, also where a part is audited."""
        digest, files = manifest(self.folder)
        return ModelIdentity(
            format="transformers", architecture=(self._full_class or type(self.model)).__name__,
            model_type=str(getattr(self.config, "model_type", "")),
            parameters=parameters, layers=len(self.blocks) if self.blocks is not None else None,
            dtype=self.weights_dtype, sha256=digest, files=files, path=str(self.folder), modality=self.modality,
            pooling=self.pooling, pooling_source=pooling_source,
            hidden_size=getattr(self.config, "hidden_size", None) or getattr(self.config, "n_embd", None),
            heads=getattr(self.config, "num_attention_heads", None) or getattr(self.config, "n_head", None),
            max_length=getattr(self._encoder, "max_length", None),
            details={"compute_dtype": str(self.model.dtype).replace("torch.", ""), **scope},
        )

    def _explain_missing(self) -> None:
        """Capabilities the model gives, and why the others are missing (catalogue sentences, their English)."""
        caps = {Capability.GRADIENTS, Capability.INTERVENTIONS, Capability.PERTURBATIONS,
                Capability.REINITIALISATION}
        self.unavailable_messages: dict[str, Message] = {}
        if self.blocks is not None:
            # attention maps are per block: without the blocks there is nothing to line them up with
            caps |= {Capability.HIDDEN_STATES, Capability.ATTENTIONS}
        else:
            expected = _num_layers(self.config)
            why = Message("adapter.no_blocks" if expected else "adapter.no_numbered_blocks",
                          {"layers": expected, "architecture": type(self.model).__name__})
            self.unavailable_messages = {Capability.HIDDEN_STATES.value: why, Capability.ATTENTIONS.value: why}
        self.unavailable: dict[str, str] = {k: render(m, "en") for k, m in self.unavailable_messages.items()}
        if self._has_head():
            caps.add(Capability.LOGITS)
        self.capabilities = frozenset(caps)

    def _load_config(self, transformers: Any) -> Any:
        try:
            return transformers.AutoConfig.from_pretrained(str(self.folder), local_files_only=True,
                                                           trust_remote_code=False)
        except (OSError, ValueError, KeyError) as exc:
            raise BadInput(f"config.json in {self.folder} could not be read: {_first_line(exc)}") from None

    def _model_class(self, transformers: Any) -> Any:
        """The class config.json names; only classes that ship with transformers (no remote code)."""
        for name in getattr(self.config, "architectures", None) or []:
            cls = getattr(transformers, name, None)
            if cls is not None:
                return cls
        return transformers.AutoModel

    def _pooling(self) -> tuple[str, str]:
        st_pooling = self.folder / "1_Pooling" / "config.json"
        if st_pooling.is_file():
            try:
                cfg = json.loads(st_pooling.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                cfg = {}
            if cfg.get("pooling_mode_cls_token"):
                return "cls", "1_Pooling/config.json (CLS token)"
            if cfg.get("pooling_mode_mean_tokens"):
                return "mean", "1_Pooling/config.json (mean over tokens)"
        if self.modality == "image":
            return "cls", "vision transformer: class token"
        name = type(self.model).__name__
        if getattr(self.config, "is_decoder", False) or name.endswith("LMHeadModel") or "CausalLM" in name:
            return "last", "causal language model: last valid token"
        return "mean", "default: mean over valid tokens"

    def _make_encoder(self) -> TextEncoder | ImageEncoder:
        if self.modality == "image":
            size = int(getattr(self.config, "image_size", 224) or 224)
            return ImageEncoder(self.folder, size, int(getattr(self.config, "num_channels", 3) or 3))
        tokenizer = load_tokenizer(self.folder)
        config_max = getattr(self.config, "max_position_embeddings", None) or getattr(self.config, "n_positions", None)
        return TextEncoder(tokenizer, text_max_length(tokenizer, config_max))

    def _has_head(self) -> bool:
        name = type(self.model).__name__
        return any(tag in name for tag in ("For", "LMHead"))

    # -- running -------------------------------------------------------------------------------
    def batches(self, probes: ProbeSet, batch_size: int) -> Iterator[ModelBatch]:
        return count_fed(self, self._encoder.batches(probes, batch_size))

    def notes(self) -> list[str]:
        scope = self.identity.details.get("audit_scope")
        return [*([scope["en"]] if scope else []), *self._encoder.notes(), *fed_note(self)]

    def _inputs(self, batch: ModelBatch) -> dict[str, Any]:
        import torch

        return {k: torch.from_numpy(v).to(self.device) for k, v in batch.inputs.items()}

    def capture(self, batch: ModelBatch, points: frozenset[str], task: Any = None) -> TraceBatch:
        """One batch under inference mode; with a gradient `task` and the gradients point, the
        forward keeps its graph and one backward of the task loss follows (models.torch_grad)."""
        import torch

        from auditor.models.hooks import block_boundaries

        points = capture_points(points)
        if task is not None and Capability.GRADIENTS in points and self.blocks:
            from auditor.models.torch_grad import capture_with_gradients

            return capture_with_gradients(self, batch, points, task)
        want_attn = Capability.ATTENTIONS in points
        with torch.inference_mode(), block_boundaries(self.blocks or []) as seen:
            out = self.model(**self._inputs(batch), output_attentions=want_attn, return_dict=True)
        return self._trace(batch, points, seen.states() if self.blocks else [], out)

    def _trace(self, batch: ModelBatch, points: frozenset[str], states: list[Any], out: Any) -> TraceBatch:
        """The TraceBatch of one forward: boundary tensors and the model output, left on the device
        (`resident`; the batch makes numpy copies only for checks that read them), else as numpy."""
        want_attn = Capability.ATTENTIONS in points
        keep = (lambda t: t.detach()) if self.resident else _np
        hidden = [keep(h) for h in states]
        attentions = None
        if want_attn and getattr(out, "attentions", None):
            attentions = [keep(a) for a in out.attentions]
        logits = keep(out.logits) if Capability.LOGITS in points and getattr(out, "logits", None) is not None else None
        tokens = hidden[0].shape[1] if hidden else 0
        mask = batch.mask if batch.mask is not None else np.ones((batch.size, tokens), dtype=bool)
        grid, prefix = self._grid(tokens)
        return TraceBatch(index=batch.index, mask=mask, hidden=hidden, attentions=attentions, logits=logits,
                          special=batch.special if batch.special is not None else self._image_special(mask, prefix),
                          grid=grid, prefix_tokens=prefix)

    def _grid(self, tokens: int) -> tuple[tuple[int, int] | None, int]:
        if self.modality != "image":
            return None, 0
        side = int(getattr(self.config, "image_size", 0) or 0) // int(getattr(self.config, "patch_size", 1) or 1)
        if side <= 0 or tokens < side * side:
            return None, 0
        return (side, side), tokens - side * side

    @staticmethod
    def _image_special(mask: np.ndarray, prefix: int) -> np.ndarray | None:
        if not prefix:
            return None
        special = np.zeros_like(mask)
        special[:, :prefix] = True
        return special

    # -- gradients, perturbations, randomisation ------------------------------------------------
    @property
    def loss_kind(self) -> str:
        """'causal_lm', 'head' (an output head of its own) or 'headless' (docs/METHODS.md, gradients.flow)."""
        name = type(self.model).__name__
        if self.pooling == "last" and ("LMHead" in name or "CausalLM" in name):
            return "causal_lm"
        return "head" if self._has_head() else "headless"

    def parameter_gradient_norms(self) -> list[float]:
        from auditor.models.torch_grad import parameter_gradient_norms

        return parameter_gradient_norms(self.model, self.blocks or [])

    def token_info(self) -> Any:
        """Mask, vocabulary and special ids for text perturbations (None for image models)."""
        from auditor.models.perturb import token_info_of

        tokenizer = getattr(self._encoder, "tokenizer", None)
        if tokenizer is None:
            return None
        if getattr(self, "_token_info", None) is None:
            self._token_info = token_info_of(tokenizer, getattr(self.config, "vocab_size", None))
        return self._token_info

    def perturb(self, batch: ModelBatch, plan: Any) -> Any:
        """Embedding-noise and input-level copies of a batch, run together (models.torch_perturb)."""
        from auditor.models.torch_perturb import run_perturbed

        return run_perturbed(self, batch, plan, self.token_info() if self.modality == "text" else None)

    def token_occlusion(self, batch: ModelBatch, rows: np.ndarray) -> np.ndarray | None:
        """[R, T] drop in pooled-output cosine when each token's input embedding is zeroed (text models)."""
        from auditor.models.torch_occlusion import clean_reference, pooled_cosine_target, token_occlusion

        if self.modality != "text" or not self.blocks or "input_ids" not in batch.inputs:
            return None
        part = ModelBatch(index=batch.index[rows], inputs={k: v[rows] for k, v in batch.inputs.items()},
                          mask=batch.mask[rows] if batch.mask is not None else None)
        return token_occlusion(pooled_cosine_target(self), *clean_reference(self, part))

    def head_mask_problem(self) -> Message | None:
        """Why heads cannot be masked here (output projections not recognised); None: they can."""
        return self._mask_projections()[1]

    def mask_heads(self, batch: ModelBatch, heads: Any) -> Any:
        """Pooled outputs and logits with heads [(layer, head)] zeroed before the output projection."""
        from auditor.models.head_mask import masked_outputs

        projections, problem = self._mask_projections()
        if projections is None:
            raise ValueError(render(problem, "en"))
        return masked_outputs(self, projections, batch, heads)

    def _mask_projections(self) -> tuple[Any, Message | None]:
        from auditor.models.head_mask import find_projections

        if getattr(self, "_masking", None) is None or self._masking[0] is not self.model:
            self._masking = (self.model, find_projections(self.blocks, self.identity.heads))
        return self._masking[1]

    def randomized(self, seed: int) -> TorchAdapter:
        """The same architecture with freshly initialised weights (seeded); tokenizer and identity shared.

        The copy needs as much memory as the model itself.
        """
        import copy

        import torch

        clone = copy.copy(self)
        with torch.random.fork_rng(devices=[]):
            # an offset keeps the copy apart from models that were themselves initialised with a small seed
            torch.manual_seed(seed + 0x5EED)
            if self._full_class is not None:   # the same part of a freshly initialised whole model
                model = seq2seq.encoder_of(self._full_class(self._full_config))
            else:
                model = type(self.model)(self.model.config)
        clone.model = model.to(device=self.device, dtype=self.model.dtype).eval()
        clone.blocks = _find_blocks(clone.model, _num_layers(self.config))
        from auditor.models.torch_grad import output_projections

        clone.head_projections = output_projections(clone.blocks or [], self.identity.heads)
        return clone

    def forward(self, batch: ModelBatch) -> np.ndarray | None:
        import torch

        with torch.inference_mode():
            out = self.model(**self._inputs(batch), return_dict=True)
        if getattr(out, "logits", None) is not None:
            return _np(out.logits)
        return _np(out.last_hidden_state) if getattr(out, "last_hidden_state", None) is not None else None

    def close(self) -> None:
        import torch

        self.model = None
        if self.device == "cuda":
            torch.cuda.empty_cache()


def _np(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def _num_layers(config: Any) -> int | None:
    for key in _LAYER_KEYS:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _find_blocks(model: Any, expected: int | None) -> list[Any] | None:
    """The ModuleList of transformer blocks: the largest one whose length matches the config."""
    from torch import nn

    candidates = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if expected:
        candidates = [m for m in candidates if len(m) == expected]
    if not candidates:
        return None
    best = max(candidates, key=lambda m: sum(p.numel() for p in m.parameters()))
    return list(best)


def _forward_params(model: Any) -> set[str]:
    import inspect

    return set(inspect.signature(model.forward).parameters)


def _dtype_name(model: Any) -> str:
    dtypes = {str(p.dtype).replace("torch.", "") for p in model.parameters()}
    return dtypes.pop() if len(dtypes) == 1 else "mixed"


def _describe_mismatch(problems: dict[str, list[str]], errors: Any) -> str:
    parts = []
    for kind, names in problems.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        parts.append(f"{kind.replace('_', ' ')}: {shown}")
    if errors:
        parts.append(_first_line(Exception(errors[0])))
    return "; ".join(parts)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
