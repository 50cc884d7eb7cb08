"""Probe sets: built-in text/image sets and CSV/JSONL/image-folder/npz readers.

`load_probes(spec)` turns what the user typed after `--probes` into a ProbeSet; every unusable
input raises `auditor.errors.BadInput` with one sentence.
"""
from __future__ import annotations

from pathlib import Path

from auditor.errors import BadInput
from auditor.probes.builtin import BUILTIN_SETS, load_builtin
from auditor.probes.common import ACCEPTED_FORMS
from auditor.probes.images import read_image_folder
from auditor.probes.npz import read_npz
from auditor.probes.sampling import apply_limit, check_limit
from auditor.probes.text_files import read_text_file
from auditor.probes.types import ProbeSet

__all__ = ["ACCEPTED_FORMS", "BUILTIN_SETS", "ProbeSet", "load_probes"]


def load_probes(spec: str, *, limit: int | None = None, seed: int = 0, skip_bad: bool = False) -> ProbeSet:
    """Read the probe set `spec` and, with `limit`, take a seeded label-stratified sample.

    spec: `builtin:text`, `builtin:images`, a .csv/.jsonl file, a folder of images in class
    subfolders, or a .npz file. skip_bad: skip unreadable entries (recorded in `skipped`)
    instead of refusing the file.
    """
    limit, seed = check_limit(limit, seed)
    return apply_limit(_read(spec, skip_bad), limit, seed)


def _read(spec: str, skip_bad: bool) -> ProbeSet:
    if not isinstance(spec, str) or not spec.strip():
        raise BadInput(f"No probe set was given; pass --probes with {ACCEPTED_FORMS}.")
    if spec.strip().lower().startswith("builtin:"):
        return load_builtin(spec.strip())
    path = Path(spec).expanduser()
    try:
        exists, is_dir, is_file = path.exists(), path.is_dir(), path.is_file()
    except OSError as exc:
        raise BadInput(f"Probe set {spec} cannot be accessed ({exc.strerror or exc}); give {ACCEPTED_FORMS}.") from exc
    if not exists:
        raise BadInput(f"Probe set {spec} does not exist; give {ACCEPTED_FORMS}.")
    if is_dir:
        return read_image_folder(path, spec, skip_bad)
    suffix = path.suffix.lower()
    if not is_file:
        raise BadInput(f"Probe set {spec} is not a regular file or folder; give {ACCEPTED_FORMS}.")
    if suffix in (".csv", ".jsonl"):
        return read_text_file(path, spec, skip_bad)
    if suffix == ".npz":
        return read_npz(path, spec, skip_bad)
    raise BadInput(f"Probe set {spec} has an unsupported extension '{suffix or '(none)'}'; give {ACCEPTED_FORMS}.")
