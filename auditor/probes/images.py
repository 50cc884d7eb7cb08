"""A folder of images in class subfolders: root/<class>/*.png|jpg|jpeg|bmp|gif|webp."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from auditor.errors import BadInput
from auditor.models.identity import manifest
from auditor.probes.common import ACCEPTED_FORMS, one_label_note, settle_bad_entries, skipped_note
from auditor.probes.types import ProbeSet

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# images in formats we do not decode: a bad entry each, never silently left out of their class
_OTHER_IMAGES = (".tif", ".tiff", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".jfif", ".ppm", ".pgm",
                 ".pbm", ".ico", ".svg", ".dng", ".raw", ".cr2", ".nef")
_FORMATS = ["PNG", "JPEG", "BMP", "GIF", "WEBP"]  # the decoders Pillow may use: no exotic parsers
_WIDE_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")  # 16-bit greyscale


def read_image_folder(root: Path, name: str, skip_bad: bool) -> ProbeSet:
    """Read every image below each class subfolder; labels are the sorted class names."""
    _check_links(root, name)
    classes, stray = _listing(root, name)
    if not classes:
        layout = f"{name}/<class>/*.png (or .jpg, .jpeg, .bmp, .gif, .webp)"
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in stray):
            raise BadInput(f"{name} has images at its top level but no class subfolders; move each class's images into a subfolder named after the class, as in {layout}.")
        raise BadInput(f"{name} is a folder without class subfolders of images; give a folder laid out as {layout}, or one of: {ACCEPTED_FORMS}.")
    images: list[np.ndarray] = []
    raw: list[str] = []
    bad: list[str] = []
    for label in sorted(classes):
        for file in classes[label]:
            result = _unsupported(file) or load_image(file)
            if isinstance(result, str):
                bad.append(f"{file.relative_to(root).as_posix()}: {result}")
            else:
                images.append(result)
                raw.append(label)
    skipped = settle_bad_entries(name, bad, len(images), skip_bad)
    notes = ["pixels scaled to [0, 1]"]
    if stray:
        notes.append(f"ignored {len(stray)} file{'s' if len(stray) != 1 else ''} that are not images in class subfolders")
    # classes are those with a usable image (a class whose every image was skipped is gone)
    label_names = sorted(set(raw))
    labels: list[int] | None = [label_names.index(r) for r in raw]
    if len(label_names) == 1:
        notes.append(one_label_note(label_names[0], "class"))  # one class is no labels: say so
        labels, label_names = None, []
    return ProbeSet(
        spec=name, kind="image", sha256=manifest(root)[0], images=images, labels=labels,
        label_names=label_names, skipped=skipped, notes=notes + skipped_note(skipped),
    )


def _unsupported(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in _OTHER_IMAGES:
        return f"a {suffix} image; only PNG, JPEG, BMP, GIF and WebP are read (convert it to PNG)"
    return None


def load_image(path: Path) -> np.ndarray | str:
    """One image as float32 [H, W, 3] in [0, 1], or the reason it cannot be used."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=_FORMATS) as img:
                img.load()
                return _to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "too many pixels to decode safely (decompression-bomb protection)"
    except UnidentifiedImageError:
        return "not an image Pillow can read as PNG, JPEG, BMP, GIF or WebP"
    except MemoryError:
        return "too large to decode in memory"
    except Exception as exc:  # any decoder failure is a bad entry, never a crash
        detail = str(exc).strip().splitlines()[0][:80] if str(exc).strip() else type(exc).__name__
        return f"cannot be decoded ({detail})"


def _to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in _WIDE_MODES:
        grey = np.clip(np.asarray(img, dtype=np.float64) / 65535.0, 0.0, 1.0).astype(np.float32)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(img.convert("RGB"), dtype=np.float32) / np.float32(255.0)


def _listing(root: Path, name: str) -> tuple[dict[str, list[Path]], list[Path]]:
    """({class: sorted image files}, files that are not images in a class subfolder)."""
    classes: dict[str, list[Path]] = {}
    stray: list[Path] = []
    try:
        top = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        raise BadInput(f"{name} cannot be listed ({exc.strerror or exc}); check its permissions.") from exc
    for entry in top:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            files = [f for f in _walk_files(Path(entry.path), name) if not _hidden(f, root)]
            readable = IMAGE_SUFFIXES + _OTHER_IMAGES
            found = [f for f in files if f.suffix.lower() in readable]
            stray += [f for f in files if f.suffix.lower() not in readable]
            if found:
                classes[entry.name] = found
        elif entry.is_file():
            stray.append(Path(entry.path))
    return classes, stray


def _walk_files(folder: Path, name: str) -> list[Path]:
    """Regular files (and links to files) below folder, sorted; links to folders are not followed."""
    out: list[Path] = []

    def fail(exc: OSError) -> None:
        raise BadInput(f"{exc.filename} in {name} cannot be listed ({exc.strerror or exc}); check its permissions.")

    for dirpath, dirnames, filenames in os.walk(folder, onerror=fail, followlinks=False):
        dirnames.sort()
        out += [Path(dirpath) / f for f in filenames if (Path(dirpath) / f).is_file()]
    return sorted(out, key=lambda p: p.as_posix())


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _check_links(root: Path, name: str) -> None:
    """Refuse symbolic links that leave the folder or are broken (the manifest hash needs this)."""
    real_root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for entry in dirnames + filenames:
            link = Path(dirpath) / entry
            if not link.is_symlink():
                continue
            rel = link.relative_to(root).as_posix()
            try:
                target = link.resolve(strict=True)
            except (OSError, RuntimeError) as exc:
                raise BadInput(f"{rel} in {name} is a broken symbolic link; remove it or copy the real file there.") from exc
            if target != real_root and real_root not in target.parents:
                raise BadInput(f"{rel} in {name} is a symbolic link that points outside the probe folder; copy the file into the folder instead.")
