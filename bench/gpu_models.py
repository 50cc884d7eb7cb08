"""Random-weight models for bench/gpu_check.py, built from configs on the machine (nothing is fetched).

A BERT-base (the bert-base-uncased configuration, float32 checkpoint) and a Llama-architecture model
of about 1.1 B parameters (the TinyLlama-1.1B configuration, bfloat16 checkpoint), each saved as a
safetensors folder with an offline WordLevel tokenizer whose words are the built-in probes' and
pairs' words, so probe texts become real, distinct token ids. `tiny=True` builds the same two
architectures at a few thousand parameters for the CPU run inside `make test`. What is measured is
cost and agreement between devices, not what the weights mean, so random weights are enough.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from auditor.probes import builtin

DATA = Path(builtin.__file__).parent / "data"
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LLAMA_SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]


def probe_words(limit: int) -> list[str]:
    """The lower-cased words of the built-in probes and pairs, most frequent first, at most `limit`."""
    counts: dict[str, int] = {}
    for file in sorted(DATA.glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            for word in re.findall(r"[^\W\d_]+|\d+", line.lower()):
                counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))[:limit]


def save_tokenizer(folder: Path, *, bert_style: bool, vocab_limit: int, max_length: int) -> int:
    """A lower-casing WordLevel tokenizer in the transformers layout; returns its vocabulary size."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = BERT_SPECIALS if bert_style else LLAMA_SPECIALS
    vocab = {tok: i for i, tok in enumerate(specials)}
    for word in probe_words(vocab_limit - len(specials)):
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=specials[1]))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if bert_style:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                       sep_token="[SEP]", mask_token="[MASK]", model_max_length=max_length)
    else:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                                       eos_token="</s>", model_max_length=max_length)
    fast.save_pretrained(str(folder))
    return len(vocab)


def bert_config(tiny: bool, vocab: int) -> Any:
    from transformers import BertConfig

    if tiny:
        return BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=64, max_position_embeddings=128)
    return BertConfig(vocab_size=30522)   # the defaults are bert-base: 12 layers, d 768, 12 heads, 3072


def llama_config(tiny: bool, vocab: int) -> Any:
    from transformers import LlamaConfig

    if tiny:
        return LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                           pad_token_id=0, bos_token_id=2, eos_token_id=3)
    # TinyLlama-1.1B: 22 layers, d 2048, 32 heads sharing 4 key/value heads, SwiGLU 5632
    return LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                       num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
                       rms_norm_eps=1e-5, tie_word_embeddings=False, pad_token_id=0, bos_token_id=2, eos_token_id=3)


def build(folder: Path, kind: str, *, tiny: bool, device: str = "cpu") -> dict[str, Any]:
    """Build and save one model ('bert' or 'llama'); returns its facts (parameters, dtype, weight bytes)."""
    import torch
    from transformers import BertModel, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    bert_style = kind == "bert"
    vocab = save_tokenizer(folder, bert_style=bert_style, vocab_limit=30522 if bert_style else 32000,
                           max_length=128 if tiny else 512)
    config = (bert_config if bert_style else llama_config)(tiny, vocab)
    dtype = torch.float32 if bert_style else torch.bfloat16
    torch.manual_seed(0)
    # random initialisation of 1 B parameters takes seconds on a GPU and minutes on a few CPU cores
    with torch.device(device):
        model = (BertModel if bert_style else LlamaForCausalLM)(config)
    model = model.to(dtype).eval()
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(str(folder), safe_serialization=True, max_shard_size="5GB")
    parameters = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"kind": kind, "path": str(folder), "parameters": parameters, "dtype": str(dtype).replace("torch.", ""),
            "weight_bytes": weight_bytes, "vocab": vocab}
