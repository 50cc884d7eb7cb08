"""Helpers every reader shares: the bad-entry rule and label indexing."""
from __future__ import annotations

import re

from auditor.errors import BadInput

ACCEPTED_FORMS = (
    "builtin:text, builtin:images, a .csv/.jsonl file, a folder of images in class subfolders, "
    "or a .npz file"
)
SKIP_FLAG = "--skip-bad-probes"
_SHOWN = 5
_INT = re.compile(r"-?\d+")


def summarize(bad: list[str], shown: int = _SHOWN) -> str:
    """'line 4: not JSON; line 9: empty text; and 3 more' (the first `shown` entries)."""
    head = "; ".join(bad[:shown])
    return head if len(bad) <= shown else f"{head}; and {len(bad) - shown} more"


def settle_bad_entries(name: str, bad: list[str], usable: int, skip_bad: bool) -> list[str]:
    """Apply the bad-entry rule and return what was skipped.

    Any bad entry is refused unless `skip_bad`; a source with no usable entry is refused
    even with `skip_bad`.
    """
    if usable == 0:
        if bad:
            raise BadInput(
                f"{name} has no usable entries (all {len(bad)} are unreadable: {summarize(bad)}); "
                "fix the file."
            )
        raise BadInput(f"{name} has no entries; give at least one probe.")
    if bad and not skip_bad:
        noun = "entry" if len(bad) == 1 else "entries"
        raise BadInput(
            f"{name} has {len(bad)} unreadable {noun} ({summarize(bad)}); "
            f"fix {'it' if len(bad) == 1 else 'them'} or pass {SKIP_FLAG}."
        )
    return list(bad)


def skipped_note(skipped: list[str]) -> list[str]:
    """The note recorded when bad entries were skipped."""
    if not skipped:
        return []
    noun = "entry" if len(skipped) == 1 else "entries"
    return [f"skipped {len(skipped)} unreadable {noun} ({SKIP_FLAG})"]


def one_label_note(label: str, what: str) -> str:
    """The note for a set whose every entry has the same label: read as unlabelled.

    One class separates nothing, so the label-based checks would fall back to the model's
    predictions anyway; the record says the set is unlabelled rather than labelled in name only.
    """
    return f"all probes have the {what} '{label}': one class only, so the set is read as unlabelled"


def label_order(names: set[str]) -> list[str]:
    """Sorted label names: numerically when every label is an integer, else as strings."""
    if names and all(_INT.fullmatch(n) for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    return sorted(names)


def index_labels(raw: list[str]) -> tuple[list[int], list[str]]:
    """Label strings -> (indices into label_names, label_names)."""
    names = label_order(set(raw))
    position = {n: i for i, n in enumerate(names)}
    return [position[r] for r in raw], names
