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


def test_every_metric_a_check_declares_has_a_display_name_in_both_languages():
    from auditor.checks import registry

    checks = registry.load_all()
    assert checks
    missing = [(check_id, f"metric.{name}", lang) for check_id, cls in sorted(checks.items())
               for name in sorted(cls.metric_names) for lang in messages.LANGS
               if not messages.catalogue().get(f"metric.{name}", {}).get(lang)]
    assert missing == []


def test_every_status_and_dimension_has_its_words():
    from auditor.presentation import dimension_hint, dimension_label, status_label
    from auditor.status import Status
    from auditor.views import DIMENSIONS

    for lang in messages.LANGS:
        for status in [*Status, None]:
            key = f"status.{status.value}" if status else "status.none"
            assert messages.has(key) and status_label(status, lang) == render(Message(key), lang)
        for dim in DIMENSIONS:
            assert messages.has(f"dimension.{dim}") and messages.has(f"dimension.{dim}.hint")
            assert dimension_label(dim, lang) != dim and dimension_hint(dim, lang)
    assert status_label("warn", "ja") == "注意" and status_label("inconclusive", "en") == "Inconclusive"


def test_perturbation_variants_read_as_words():
    from auditor.models.perturb import EMBEDDING_EPS, IMAGE_PERTURBATIONS, TEXT_PERTURBATIONS, key_of
    from auditor.presentation import variant_label

    keys = [key_of(kind, size) for kind, size in (*TEXT_PERTURBATIONS, *IMAGE_PERTURBATIONS)]
    keys += [key_of("embedding", eps) for eps in EMBEDDING_EPS]
    for key in keys:
        for lang in messages.LANGS:
            label = variant_label(key, lang)
            assert "@" not in label and "%" in label, (key, lang, label)
    assert variant_label("mask@0.10", "en") == "masked tokens 10%"
    assert variant_label("mask@0.10", "ja") == "マスクしたトークン 10%"
    # keys that are not perturbations: a metric name in words, anything else as stored
    assert variant_label("entropy", "en") == render(Message("metric.entropy"), "en")
    assert variant_label("0.01", "en") == "0.01" and variant_label("mask@x", "en") == "mask@x"
