"""auditor.models.encoding.TextEncoder's truncation notes: each long probe text counts once however often a pass
or a check feeds it, and the counterfactual pairs fed in the same pass have their own note instead of
overwriting the probes' (a pairs pass once reset the probes' count to the pairs' own, 0, and the note vanished)."""
from __future__ import annotations

from auditor.models.encoding import PAIRS, TextEncoder
from auditor.probes.types import ProbeSet


def _tokenizer(folder):
    from transformers import PreTrainedTokenizerFast

    from tests.fixtures.torch_models import save_word_tokenizer

    save_word_tokenizer(folder, bert_style=True)
    return PreTrainedTokenizerFast.from_pretrained(str(folder))


def _set(spec: str, texts: list[str]) -> ProbeSet:
    return ProbeSet(spec=spec, kind="text", sha256="0" * 64, texts=texts)


def test_long_probes_count_once_and_pairs_have_their_own_note(tmp_path):
    encoder = TextEncoder(_tokenizer(tmp_path), max_length=8)
    long_a, long_b = " ".join(["loan"] * 20), " ".join(["claim"] * 20)
    probes = _set("builtin:text", [long_a, "a short one", long_b])
    for _ in encoder.batches(probes, 2):            # the capture pass
        pass
    for _ in encoder.batches(probes.subset([0]), 1):   # a check feeding a subset again
        pass
    for _ in encoder.batches(_set(PAIRS, ["short pair", " ".join(["bank"] * 30)]), 4):   # the pairs, same pass
        pass
    assert encoder.truncated == 2
    assert encoder.notes() == ["2 probe text(s) longer than 8 tokens were truncated",
                               "1 counterfactual pair text(s) longer than 8 tokens were truncated"]
    for _ in encoder.batches(_set(PAIRS, ["short pair"]), 4):
        pass
    assert encoder.notes()[0].startswith("2 probe text(s)")   # a later chunk of pairs changes nothing either
