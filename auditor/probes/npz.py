"""`.npz` probe archives: `images` (required) and `labels` (optional). Pickle is never allowed."""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from auditor.errors import BadInput
from auditor.models.identity import sha256_file
from auditor.probes.common import index_labels, one_label_note, settle_bad_entries, skipped_note
from auditor.probes.types import ProbeSet

_SAVE_HINT = "save it with numpy.savez(path, images=..., labels=...) using numeric (or, for labels, string) arrays"
# names people give labels: with no 'labels' array, one of these means the labels would be lost
_LABEL_LIKE = ("label", "y", "target", "targets", "class", "classes", "class_ids", "label_ids")


def read_npz(path: Path, name: str, skip_bad: bool) -> ProbeSet:
    """Read an .npz archive with np.load(allow_pickle=False); object arrays are refused."""
    arrays, others = _load(path, name)
    if "images" not in arrays:
        found = ", ".join(repr(k) for k in [*arrays, *others]) or "no arrays"
        raise BadInput(f"{name} has no 'images' array (found {found}); {_SAVE_HINT}.")
    like = [k for k in others if k.lower() in _LABEL_LIKE]
    if "labels" not in arrays and like:
        raise BadInput(f"{name} has no 'labels' array but has '{like[0]}'; name the label array 'labels' "
                       "(or remove it for an unlabelled set).")
    images, notes = to_nhwc(arrays["images"], name)
    if others:
        notes.append(f"ignored array{'s' if len(others) != 1 else ''} {', '.join(repr(k) for k in others)} "
                     "(only 'images' and 'labels' are read)")
    raw_labels = _labels(arrays["labels"], len(images), name) if "labels" in arrays else None
    bad: list[str] = []
    keep: list[int] = []
    for i in range(len(images)):
        if not np.isfinite(images[i]).all():
            bad.append(f"images[{i}]: contains NaN or Inf")
        elif raw_labels is not None and not raw_labels[i]:
            bad.append(f"images[{i}]: empty label")
        else:
            keep.append(i)
    skipped = settle_bad_entries(name, bad, len(keep), skip_bad)
    scaled, scale_note = scale_pixels(images[keep])
    labels: list[int] | None = None
    label_names: list[str] = []
    kept = [raw_labels[i] for i in keep] if raw_labels is not None else []
    if len(set(kept)) == 1:
        notes.append(one_label_note(kept[0], "label"))  # one class is no labels: say so
    elif kept:
        labels, label_names = index_labels(kept)
    return ProbeSet(
        spec=name, kind="image", sha256=sha256_file(path), images=list(scaled), labels=labels,
        label_names=label_names, skipped=skipped, notes=notes + [scale_note] + skipped_note(skipped),
    )


def _load(path: Path, name: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """The 'images' and 'labels' arrays, loaded without pickle, and the names of the others."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except OSError as exc:
        raise BadInput(f"{name} cannot be read ({exc.strerror or exc}); check its permissions.") from exc
    if magic == b"\x93NUMPY":
        raise BadInput(f"{name} holds a single .npy array, not an .npz archive; {_SAVE_HINT}.")
    if not magic.startswith(b"PK"):
        raise BadInput(f"{name} is not an .npz archive (it is not a ZIP file, and pickled data is never loaded); {_SAVE_HINT}.")
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise BadInput(f"{name} holds pickled data, which is refused for safety; {_SAVE_HINT}.") from exc
        raise BadInput(f"{name} cannot be read as an .npz archive ({exc}); {_SAVE_HINT}.") from exc
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise BadInput(f"{name} cannot be read as an .npz archive ({exc}); {_SAVE_HINT}.") from exc
    if isinstance(archive, np.ndarray):
        raise BadInput(f"{name} holds a single .npy array, not an .npz archive; {_SAVE_HINT}.")
    out: dict[str, np.ndarray] = {}
    others: list[str] = []
    with archive:
        for key in archive.files:
            if key not in ("images", "labels"):
                others.append(key)
                continue
            try:
                out[key] = archive[key]
            except ValueError as exc:
                if "pickle" in str(exc).lower() or "object" in str(exc).lower():
                    raise BadInput(
                        f"{name}: the '{key}' array is a pickled object array, which is refused for safety; {_SAVE_HINT}."
                    ) from exc
                raise BadInput(f"{name}: the '{key}' array cannot be read ({exc}); {_SAVE_HINT}.") from exc
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise BadInput(f"{name}: the '{key}' array cannot be read ({exc}); {_SAVE_HINT}.") from exc
    return out, others


def to_nhwc(images: np.ndarray, name: str) -> tuple[np.ndarray, list[str]]:
    """[N,H,W], [N,H,W,C] (C in 1/3/4) or [N,C,H,W] (C in 1/3) -> [N,H,W,C] with C in 1/3."""
    if images.dtype.kind not in "biuf":
        raise BadInput(f"{name}: 'images' has dtype {images.dtype}, not numbers; {_SAVE_HINT}.")
    shape = images.shape
    notes: list[str] = []
    if images.ndim == 3 and shape[2] in (3, 4) and shape[1] != shape[2]:
        # [H, W, C] of one colour image, or N greyscale images 3 or 4 pixels wide: never guess
        raise BadInput(f"{name}: 'images' has shape {list(shape)}, which reads as {shape[0]} greyscale images "
                       f"{shape[2]} pixels wide; for colour images give [N, H, W, C] (one image: add a leading axis).")
    if images.ndim == 3:
        images = images[..., None]
    elif images.ndim == 4:
        last, second = shape[3] in (1, 3, 4), shape[1] in (1, 3)
        if second and not last:
            images = np.transpose(images, (0, 2, 3, 1))
            notes.append("images read as [N, C, H, W]")
        elif last and second:
            notes.append(f"images of shape {list(shape)} read as [N, H, W, C] (channels last)")
        elif not last:
            raise BadInput(f"{name}: 'images' has shape {list(shape)}, with no channel axis of size 1, 3 or 4; give [N, H, W], [N, H, W, C] or [N, C, H, W].")
    else:
        raise BadInput(f"{name}: 'images' has shape {list(shape)}; give [N, H, W], [N, H, W, C] or [N, C, H, W].")
    if images.shape[0] == 0 or images.shape[1] == 0 or images.shape[2] == 0:
        raise BadInput(f"{name}: 'images' has shape {list(shape)}, which holds no pixels; give at least one image.")
    if images.shape[3] == 4:
        images = images[..., :3]
        notes.append("alpha channel dropped")
    return images, notes


def scale_pixels(images: np.ndarray) -> tuple[np.ndarray, str]:
    """Bring pixel values to float32 in [0, 1]; the note says how."""
    if images.dtype.kind == "b":
        return images.astype(np.float32), "boolean pixels read as 0 and 1"
    values = images.astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    if images.dtype.kind in "iu" and lo >= 0 and hi <= 1:
        # masks saved as integers: / 255 would make them black
        return images.astype(np.float32), "integer pixels of only 0 and 1 read as 0 and 1 (not / 255)"
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0), "pixels scaled to [0, 1] (uint8 / 255)"
    if images.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        return images.astype(np.float32), "pixels already in [0, 1]; kept as they are"
    if images.dtype.kind == "f" and lo >= 0.0 and hi <= 255.0:
        # float copies of 8-bit images: / 255 keeps their contrast; min-max scaling would stretch it
        return (values / 255.0).astype(np.float32), "float pixels in 0..255 scaled to [0, 1] (/ 255)"
    if images.dtype.kind in "iu" and lo >= 0 and hi <= 255:
        return (values / 255.0).astype(np.float32), "integer pixels in 0..255 scaled to [0, 1] (/ 255)"
    if images.dtype == np.uint16:
        return (values / 65535.0).astype(np.float32), "pixels scaled to [0, 1] (uint16 / 65535)"
    span = hi - lo
    scaled = (values - lo) / span if span > 0 else np.zeros_like(values)
    return scaled.astype(np.float32), f"pixels outside [0, 1] (min {lo:g}, max {hi:g}) min-max scaled to [0, 1] over the whole set"


def _labels(labels: np.ndarray, count: int, name: str) -> list[str]:
    """`labels` as strings, one per image."""
    if labels.ndim != 1 or len(labels) != count:
        raise BadInput(f"{name}: 'labels' has shape {list(labels.shape)} but there are {count} images; give one label per image as a 1-D array.")
    kind = labels.dtype.kind
    if kind in "iub":
        return [str(int(v)) for v in labels]
    if kind == "f":
        if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
            raise BadInput(f"{name}: 'labels' holds fractional or non-finite numbers; give class labels as integers or strings.")
        return [str(int(v)) for v in labels]
    if kind == "U":
        return [str(v).strip() for v in labels]
    if kind == "S":
        try:
            return [bytes(v).decode("utf-8").strip() for v in labels]
        except UnicodeDecodeError as exc:
            raise BadInput(f"{name}: 'labels' holds bytes that are not UTF-8; save the labels as a str or int array.") from exc
    raise BadInput(f"{name}: 'labels' has dtype {labels.dtype}; give class labels as integers or strings.")
