"""Words for the reports, in English and Japanese, kept out of the layout code.

Only report chrome lives here: titles, headings, table heads, footers, the board's fixed lines.
Everything said about a check, a finding, a chart or a threshold is a catalogue sentence
(templates/sentences/, auditor.messages). `text(lang)` returns a dict; a test checks that the
Japanese table has every key the English one has. Its "verdict", "dimensions" and "dimension_hint" tables
are built from the catalogue (status.*, dimension.*; auditor.presentation), not kept here.
"""
from __future__ import annotations

from typing import Any

from reports.strings import en, ja

LANGS = ("en", "ja")


def text(lang: str) -> dict[str, Any]:
    if lang not in LANGS:
        from auditor.errors import BadInput

        raise BadInput(f"--lang {lang}: choose one of {', '.join(LANGS)}")
    merged = dict(en.TEXT)
    if lang != "en":
        for key, value in ja.TEXT.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return {**merged, **_catalogue_words(lang)}


def _catalogue_words(lang: str) -> dict[str, dict[str, str]]:
    """Status words and dimension names and hints in `lang`, as tables keyed by code (mark() takes one)."""
    from auditor.presentation import dimension_hint, dimension_label, status_label
    from auditor.status import Status
    from auditor.views import DIMENSIONS

    return {"verdict": {**{s.value: status_label(s, lang) for s in Status}, "none": status_label(None, lang)},
            "dimensions": {d: dimension_label(d, lang) for d in DIMENSIONS},
            "dimension_hint": {d: dimension_hint(d, lang) for d in DIMENSIONS}}

