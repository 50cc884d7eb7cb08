"""The built-in probe sets: `builtin:text` (domain sentences) and `builtin:images` (shapes)."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources

import numpy as np

from auditor.errors import BadInput
from auditor.probes.types import ProbeSet

TEXT_LABELS = ("credit", "insurance", "hiring", "healthcare_triage", "fraud", "neutral")
IMAGE_LABELS = ("circle", "square", "triangle", "cross", "horizontal_stripes", "vertical_stripes")
BUILTIN_SETS = ("builtin:text", "builtin:images")
IMAGE_SIZE = 32
IMAGES_PER_CLASS = 40
_IMAGE_SEED = 20240611
_IMAGE_VERSION = b"auditor builtin:images v1\n"


def load_builtin(spec: str) -> ProbeSet:
    """`builtin:text` or `builtin:images`; BadInput naming the built-ins otherwise."""
    if spec == "builtin:text":
        return builtin_text()
    if spec == "builtin:images":
        return builtin_images()
    raise BadInput(f"Unknown built-in probe set '{spec}'; the built-in sets are {' and '.join(BUILTIN_SETS)}.")


def builtin_text() -> ProbeSet:
    """330 sentences written for this project, 55 per domain; sha256 of the data file's bytes."""
    data = _text_bytes()
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    position = {name: i for i, name in enumerate(TEXT_LABELS)}
    return ProbeSet(
        spec="builtin:text", kind="text", sha256=hashlib.sha256(data).hexdigest(),
        texts=[row["text"] for row in rows], labels=[position[row["label"]] for row in rows],
        label_names=list(TEXT_LABELS),
    )


def builtin_images() -> ProbeSet:
    """240 generated 32x32 RGB shapes, 40 per class, interleaved by class."""
    images, labels, sha = _generated_images()
    return ProbeSet(
        spec="builtin:images", kind="image", sha256=sha, images=[img.copy() for img in images],
        labels=list(labels), label_names=list(IMAGE_LABELS),
        notes=["generated shapes, pixels in [0, 1]"],
    )


@lru_cache(maxsize=1)
def _text_bytes() -> bytes:
    return resources.files("auditor.probes").joinpath("data", "builtin_text.jsonl").read_bytes()


@lru_cache(maxsize=1)
def _generated_images() -> tuple[tuple[np.ndarray, ...], tuple[int, ...], str]:
    """Deterministic images (uniform draws and arithmetic only, no libm), labels, and their hash."""
    rng = np.random.default_rng(_IMAGE_SEED)
    images: list[np.ndarray] = []
    labels: list[int] = []
    for i in range(IMAGES_PER_CLASS * len(IMAGE_LABELS)):
        label = i % len(IMAGE_LABELS)
        images.append(_draw(IMAGE_LABELS[label], rng))
        labels.append(label)
    digest = hashlib.sha256(_IMAGE_VERSION)
    digest.update(("\n".join(IMAGE_LABELS) + "\n").encode("ascii"))
    digest.update(np.ascontiguousarray(np.stack(images), dtype="<f4").tobytes())
    digest.update(np.asarray(labels, dtype="<i8").tobytes())
    return tuple(images), tuple(labels), digest.hexdigest()


def _draw(shape: str, rng: np.random.Generator) -> np.ndarray:
    """One float32 [32, 32, 3] image of `shape` with random colours, size, position and noise."""
    n = IMAGE_SIZE
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64) + 0.5
    dark = rng.random() < 0.5
    bg_level, fg_level = (rng.uniform(0.05, 0.3), rng.uniform(0.7, 0.95))
    if not dark:
        bg_level, fg_level = 1.0 - bg_level, 1.0 - fg_level
    background = np.clip(bg_level + rng.uniform(-0.1, 0.1, 3), 0.0, 1.0)
    foreground = np.clip(fg_level + rng.uniform(-0.25, 0.25, 3), 0.0, 1.0)
    size = rng.uniform(5.0, 10.0)
    cx, cy = rng.uniform(size + 1.0, n - size - 1.0, 2)
    dx, dy = np.abs(xx - cx), np.abs(yy - cy)
    if shape == "circle":
        mask = dx * dx + dy * dy <= size * size
    elif shape == "square":
        mask = (dx <= size * 0.8) & (dy <= size * 0.8)
    elif shape == "triangle":
        top = cy - size
        mask = (yy >= top) & (yy <= cy + size) & (dx <= (yy - top) / 2.0)
    elif shape == "cross":
        thick = rng.uniform(1.5, 3.0)
        mask = ((dx <= thick) & (dy <= size)) | ((dy <= thick) & (dx <= size))
    else:
        period = float(rng.integers(4, 9))
        phase = rng.uniform(0.0, period)
        axis = yy if shape == "horizontal_stripes" else xx
        mask = np.floor((axis + phase) / (period / 2.0)) % 2 == 0
    image = np.where(mask[:, :, None], foreground, background)
    amplitude = rng.uniform(0.02, 0.1)
    image = image + rng.uniform(-amplitude, amplitude, (n, n, 3))
    return np.clip(image, 0.0, 1.0).astype(np.float32)
