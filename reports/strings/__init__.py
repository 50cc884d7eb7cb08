"""Words for the reports, in English and Japanese, kept out of the layout code.

`text(lang)` returns a dict; a key missing in Japanese falls back to English, so a new check or
label never breaks a Japanese report (it shows English until translated).
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


def check_text(t: dict[str, Any], check_id: str) -> dict[str, str]:
    """Title, why and meaning of a check; a generic line for a check the strings do not know yet."""
    known = t["checks"].get(check_id)
    if known:
        return known
    return {"title": check_id, "why": t["generic_check_why"], "meaning": t["generic_check_meaning"]}
