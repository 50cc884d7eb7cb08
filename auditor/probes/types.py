"""The ProbeSet every reader returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ProbeSet:
    """Inputs the audit runs the model on, with labels where the set has them.

    `sha256` identifies the source content (file bytes, folder manifest, or the built-in set's
    canonical text); `selection` says how `--limit` sampled it, so the pair is reproducible.
    """

    spec: str                                  # what the user typed: builtin:text, a path
    kind: str                                  # "text" | "image" | "tensor"
    sha256: str
    texts: list[str] | None = None
    images: list[np.ndarray] | None = None     # each [H, W, C] float32 in [0, 1], C = 1 or 3
    labels: list[int] | None = None            # indices into label_names; None when unlabelled
    label_names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # bad entries skipped (--skip-bad-probes)
    notes: list[str] = field(default_factory=list)     # e.g. "pixels scaled to [0, 1]"
    selection: dict[str, Any] = field(default_factory=dict)  # {"limit": 64, "seed": 0, "source_count": 300}

    @property
    def count(self) -> int:
        if self.texts is not None:
            return len(self.texts)
        return len(self.images or [])

    @property
    def labelled(self) -> bool:
        return self.labels is not None

    def subset(self, indices: Any) -> ProbeSet:
        """The probes at `indices`, in that order (same identity: a view for batching, not a new set)."""
        picks = [int(i) for i in indices]
        return ProbeSet(
            spec=self.spec, kind=self.kind, sha256=self.sha256,
            texts=None if self.texts is None else [self.texts[i] for i in picks],
            images=None if self.images is None else [self.images[i] for i in picks],
            labels=None if self.labels is None else [self.labels[i] for i in picks],
            label_names=list(self.label_names), skipped=list(self.skipped), notes=list(self.notes),
            selection=dict(self.selection))

    def describe(self) -> dict[str, Any]:
        """The `probes` object of the audit JSON (plus detail fields)."""
        return {
            "spec": self.spec,
            "sha256": self.sha256,
            "count": self.count,
            "kind": self.kind,
            "labelled": self.labelled,
            "label_names": list(self.label_names),
            "skipped": list(self.skipped),
            "notes": list(self.notes),
            "selection": dict(self.selection),
        }
