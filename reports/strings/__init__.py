"""Words for the reports, in English and Japanese, kept out of the layout code.

Only report chrome lives here: titles, headings, table heads, footers, the board's fixed lines.
Everything said about a check, a finding, a chart or a threshold is a catalogue sentence
(templates/sentences/, auditor.messages). `text(lang)` returns a dict; a test checks that the
Japanese table has every key the English one has.
"""
from __future__ import annotations

from typing import Any

from reports.strings import en, ja

LANGS = ("en", "ja")


def text(lang: str) -> dict[str, Any]:
    if lang not in LANGS:
        from auditor.errors import BadInput

        raise BadInput(f"--lang {lang}: choose one of {', '.join(LANGS)}")
    if lang == "en":
        return en.TEXT
    merged = dict(en.TEXT)
    for key, value in ja.TEXT.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged

