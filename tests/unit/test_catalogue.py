"""Every catalogue sentence renders in English and Japanese (templates/sentences/, auditor.messages)."""
from __future__ import annotations

import string

from auditor import messages
from auditor.messages import Message, render


def _sample(spec: str) -> object:
    """A parameter value its format spec accepts: a list for clauses/list, a number for any other spec
    (an int formats under d, ',', .3f, .0% and .4g alike), text without one."""
    if spec in ("clauses", "list"):
        return [Message("value.unknown"), "b"]
    return 3 if spec else "x"


def _params(template: str) -> dict[str, object]:
    return {name: _sample(spec or "") for _, name, spec, _ in string.Formatter().parse(template) if name}


def test_the_catalogue_is_valid():
    assert messages.validate() == []


def test_every_key_renders_in_english_and_japanese_with_sample_parameters():
    rendered = 0
    for key, entry in messages.catalogue().items():
        if key.startswith("join."):
            continue
        params = _params(entry["en"])
        for lang in messages.LANGS:
            text = render(Message(key, params), lang)
            assert text.strip() and "{" not in text, (key, lang, text)
            rendered += 1
    assert rendered > 200


def test_a_broken_entry_is_reported():
    """validate() must catch a language that uses other parameters (the check this file relies on)."""
    entries = messages.catalogue()
    entries["test.broken"] = {"en": "{a} and {b}", "ja": "{a}"}
    try:
        assert any(p.startswith("test.broken:") for p in messages.validate())
    finally:
        del entries["test.broken"]
