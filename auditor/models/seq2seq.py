"""Encoder-decoder models (T5, BART, ...): the encoder stack is what gets audited.

A probe is one input text, and the encoder is the part that reads it: its blocks map the
probe's tokens to the states the decoder attends to, so hidden states, attentions, gradients
and perturbations are taken there. The decoder needs a target sequence the probes do not
have; it is not run, and the identity and the input notes say so in plain words.
"""
from __future__ import annotations

from typing import Any

AUDITED_PART = "encoder"
# what a reader of a report is told, in both product languages
SCOPE = {
    "en": ("{kind} is an encoder-decoder model: the encoder ({enc} blocks) was audited; the decoder "
           "({dec} blocks){head} was not audited, because probes give no target sequence for it"),
    "ja": ("{kind}はエンコーダ・デコーダ型のモデルです。エンコーダ（{enc}ブロック）を監査しました。"
           "デコーダ（{dec}ブロック）{head}は、プローブに対象となる出力系列がないため監査していません"),
}
HEAD = {"en": " with its output head", "ja": "とその出力ヘッド"}


def is_encoder_decoder(model: Any) -> bool:
    """Whether the loaded model has both stacks and its encoder can run on its own."""
    config = getattr(model, "config", None)
    return bool(getattr(config, "is_encoder_decoder", False)) and callable(getattr(model, "get_encoder", None))


def encoder_of(model: Any) -> Any:
    """The encoder stack of an encoder-decoder model (shares the embedding with the full model)."""
    encoder = model.get_encoder()
    if encoder is None or encoder is model:
        raise ValueError(f"{type(model).__name__} does not expose a separate encoder")
    return encoder


def scope_details(full: Any, encoder: Any, config: Any) -> dict[str, Any]:
    """Identity details: which part was audited, its parameter count and the plain statement."""
    kind = str(getattr(config, "model_type", "") or type(full).__name__).upper()
    enc = _blocks(config, ("encoder_layers", "num_layers", "num_hidden_layers"))
    dec = _blocks(config, ("decoder_layers", "num_decoder_layers"))
    head = any(tag in type(full).__name__ for tag in ("For", "LMHead"))   # BartModel has none, T5For... has one
    return {
        "audited_part": AUDITED_PART,
        "not_audited": ["decoder", *(["output head"] if head else [])],
        "audited_parameters": int(sum(p.numel() for p in encoder.parameters())),
        "encoder_blocks": enc,
        "decoder_blocks": dec,
        "audit_scope": {lang: text.format(kind=kind, enc=_show(enc), dec=_show(dec), head=HEAD[lang] if head else "")
                        for lang, text in SCOPE.items()},
    }


def _blocks(config: Any, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _show(n: int | None) -> str:
    return str(n) if n is not None else "?"
