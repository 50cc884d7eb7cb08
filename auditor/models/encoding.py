"""Turning a ProbeSet into model inputs, the same way for PyTorch and ONNX models.

Text goes through the model's own tokenizer (tokenizer.json / vocab files read by transformers,
never code); images are resized and normalised as the model's preprocessor_config.json says,
or only scaled to [0, 1] when there is none (recorded in the notes).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from auditor.errors import BadInput
from auditor.models.base import ModelBatch
from auditor.probes.types import ProbeSet

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model",
                   "sentencepiece.bpe.model")
# transformers uses 1e30 as "no limit"; real position tables are far smaller
_NO_LIMIT = 1_000_000
PAIRS = "pairs"     # the spec of the counterfactual pairs' texts fed in the capture pass (its own truncation note)


def has_tokenizer(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).is_file() for name in TOKENIZER_FILES)


def load_tokenizer(folder: Path) -> Any:
    """The model's tokenizer from local files only; remote code is never run."""
    if not has_tokenizer(folder):
        raise BadInput(f"no tokenizer files in {folder} (looked for {', '.join(TOKENIZER_FILES)}); "
                       "pass --tokenizer with the model's tokenizer folder")
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    except Exception as exc:  # transformers raises many types for unreadable tokenizer files
        raise BadInput(f"the tokenizer in {folder} could not be loaded: {_first_line(exc)}") from None
    if tokenizer.pad_token is None:
        # causal LMs such as GPT-2 ship without a pad token; padding is masked out anyway
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    tokenizer.padding_side = "right"   # 'last' pooling and the masks assume right padding
    return tokenizer


def text_max_length(tokenizer: Any, config_max: int | None) -> int:
    limits = [n for n in (getattr(tokenizer, "model_max_length", None), config_max) if n and n < _NO_LIMIT]
    return int(min(limits)) if limits else 512


class TextEncoder:
    """Tokenises probe texts batch by batch and counts truncations."""

    def __init__(self, tokenizer: Any, max_length: int, input_names: set[str] | None = None) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.input_names = input_names   # ONNX graphs accept only some of the tokenizer's outputs
        # the texts longer than max_length, per kind of input ("pairs": the counterfactual pairs, which run in
        # the same pass; else the probes): sets, because a pass feeds a set in chunks and checks feed subsets
        # again, and each text counts once
        self._long: dict[str, set[str]] = {}

    @property
    def truncated(self) -> int:
        """How many distinct probe texts were truncated."""
        return len(set().union(*(t for kind, t in self._long.items() if kind != PAIRS)))

    def batches(self, probes: ProbeSet, batch_size: int) -> Iterator[ModelBatch]:
        if probes.texts is None:
            raise BadInput(f"the model reads text but the probe set {probes.spec} holds {probes.kind}; "
                           "use builtin:text or a CSV/JSONL file")
        texts = probes.texts
        # a thousand texts at a time: the tokenizer's per-text encodings of 10 000 probes held ~40 MiB at once
        lengths = [len(ids) for start in range(0, len(texts), 1024)
                   for ids in self.tokenizer(texts[start:start + 1024], add_special_tokens=True)["input_ids"]]
        self._long.setdefault(PAIRS if probes.spec == PAIRS else "probes", set()).update(
            t for t, n in zip(texts, lengths, strict=True) if n > self.max_length)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                 return_special_tokens_mask=True, return_tensors="np")
            special = enc.pop("special_tokens_mask").astype(bool)
            inputs = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items()
                      if self.input_names is None or k in self.input_names}
            mask = np.asarray(enc["attention_mask"], dtype=bool)
            yield ModelBatch(index=np.arange(start, start + len(chunk)), inputs=inputs, mask=mask,
                             special=special & mask)

    def notes(self) -> list[str]:
        said = [f"{self.truncated} probe text(s) longer than {self.max_length} tokens were truncated"] \
            if self.truncated else []
        pairs = len(self._long.get(PAIRS, ()))
        if pairs:
            said.append(f"{pairs} counterfactual pair text(s) longer than {self.max_length} tokens were truncated")
        return said


class ImageEncoder:
    """Resizes and normalises probe images to what the model expects."""

    def __init__(self, folder: Path | None, image_size: int, channels: int = 3) -> None:
        self.image_size = image_size
        self.channels = channels
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.rescaled_only = True
        prep = folder / "preprocessor_config.json" if folder else None
        if prep is not None and prep.is_file():
            cfg = _read_json(prep)
            size = cfg.get("size")
            if isinstance(size, dict):
                size = size.get("height") or size.get("shortest_edge")
            if isinstance(size, int) and cfg.get("do_resize", True):
                self.image_size = size
            if cfg.get("do_normalize", True) and "image_mean" in cfg:
                self.mean = np.asarray(cfg["image_mean"], dtype=np.float32).reshape(-1, 1, 1)
                self.std = np.asarray(cfg.get("image_std", [1.0]), dtype=np.float32).reshape(-1, 1, 1)
                self.rescaled_only = False

    def batches(self, probes: ProbeSet, batch_size: int) -> Iterator[ModelBatch]:
        if probes.images is None:
            raise BadInput(f"the model reads images but the probe set {probes.spec} holds {probes.kind}; "
                           "use builtin:images, an image folder or an .npz file")
        images = probes.images
        for start in range(0, len(images), batch_size):
            chunk = [self._prepare(img) for img in images[start:start + batch_size]]
            pixels = np.stack(chunk).astype(np.float32)
            yield ModelBatch(index=np.arange(start, start + len(chunk)), inputs={"pixel_values": pixels},
                             mask=None)

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        from PIL import Image

        arr = np.clip(image, 0.0, 1.0)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.shape[2] == 1 and self.channels == 3:
            arr = np.repeat(arr, 3, axis=2)
        elif arr.shape[2] >= 3 and self.channels == 1:
            arr = arr[:, :, :3].mean(axis=2, keepdims=True)
        elif arr.shape[2] == 4:
            arr = arr[:, :, :3]
        if arr.shape[0] != self.image_size or arr.shape[1] != self.image_size:
            channels = [Image.fromarray(arr[:, :, c].astype(np.float32), mode="F")
                        .resize((self.image_size, self.image_size), Image.BILINEAR) for c in range(arr.shape[2])]
            arr = np.stack([np.asarray(ch, dtype=np.float32) for ch in channels], axis=2)
        chw = arr.transpose(2, 0, 1)
        if self.mean is not None and self.std is not None:
            chw = (chw - self.mean) / self.std
        return chw

    def notes(self) -> list[str]:
        if self.rescaled_only:
            return [f"images resized to {self.image_size}x{self.image_size} and scaled to [0, 1]; "
                    "no preprocessor_config.json, so no normalisation"]
        return [f"images resized to {self.image_size}x{self.image_size} and normalised as "
                "preprocessor_config.json says"]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path.name} in {path.parent} is not valid JSON ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path.name} in {path.parent} is not a JSON object")
    return data


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


logging.getLogger("transformers").setLevel(logging.ERROR)
