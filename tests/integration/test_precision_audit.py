"""A bfloat16 audit against the float32 audit of the same small model and probes, on the CPU (which runs
bfloat16 matmuls): every figure within its documented tolerance (auditor.figure_tolerance), the
environment record names the dtype that ran, and the model did run in bfloat16 (its figures differ)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor import figure_tolerance as ft
from auditor.figure_tolerance import Tolerance, compare_audits


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[dict, dict]:
    from bench.precision import build_small, run_pair
    from tests.fixtures.templates import no_minimum

    folder = tmp_path_factory.mktemp("precision")
    # the standard rules on 64 probes and 60 of the built-in pairs: every check, about 15 s per audit
    text = re.sub(r"(?m)^(\s+)max_pairs: 0$", r"\1max_pairs: 60", Path(no_minimum("standard")).read_text("utf-8"))
    template = folder / "standard-small.yaml"
    template.write_text(text, encoding="utf-8")
    model = build_small(folder / "small-bert", "bert")
    a, b, _seconds = run_pair(str(model), dtype="bfloat16", template=str(template), limit=64,
                              db=str(folder / "audits.db"))
    return a, b


def test_every_figure_of_the_bfloat16_audit_is_within_its_tolerance(pair):
    a, b = pair
    assert a["status"] == b["status"] == "completed"
    assert [c["id"] for c in a["checks"]] == [c["id"] for c in b["checks"]]
    ran = [c["id"] for c in b["checks"] if c["outcome"] == "ok"]
    assert len(ran) >= 10, ran                                   # every check but parity (no reference)
    differences = compare_audits(a, b)
    assert len(differences) > 200
    outside = [f"{d.figure} ({d.tolerance.family}): {d.max_abs} > {d.allowed} {d.note or ''}"
               for d in differences if not d.within]
    assert not outside, "\n".join(outside)
    assert not [d for d in differences if d.tolerance.family == "unclassified"]   # every metric has a family


def test_the_environment_says_which_dtype_ran_and_the_model_ran_in_it(pair):
    a, b = pair
    assert (a["environment"]["dtype"], a["environment"]["dtype_requested"]) == ("float32", "float32")
    assert (b["environment"]["dtype"], b["environment"]["dtype_requested"]) == ("bfloat16", "bfloat16")
    assert a["environment"]["compute_dtype"] == "float32"
    assert b["environment"]["compute_dtype"] == "bfloat16"        # the loaded model's own dtype
    # a bfloat16 forward rounds every block output: figures move in every family computed from states
    moved = {d.tolerance.family for d in compare_audits(a, b) if d.max_abs}
    assert {"cosine", "flow", "attention", "gradient", "information"} <= moved, moved


def test_noise_below_bfloat16s_resolution_is_named_not_compared(pair):
    a, b = pair
    smallest = next(d for d in compare_audits(a, b)
                    if d.metric == "amplification_by_eps" and d.variant == "0.01")
    assert smallest.within and "not measurable in bfloat16" in (smallest.note or "")
    assert smallest.max_abs is None or smallest.max_abs > smallest.tolerance.allowed(1.0)   # it did move that much


def test_a_tolerance_tighter_than_the_measured_difference_fails(pair, monkeypatch):
    a, b = pair
    compared = [d for d in compare_audits(a, b) if d.max_abs and d.note is None and d.allowed
                and d.tolerance.family != "rate"]           # a rate may also use its interval (not scaled here)
    worst = max(compared, key=lambda d: d.share_of_tolerance or 0.0)
    family = worst.tolerance.family
    # shrink that family's tolerance until the figure nearest its limit sits at 1.05 times it
    factor = worst.share_of_tolerance / 1.05
    tol = ft.FAMILIES[family]
    monkeypatch.setitem(ft.FAMILIES, family, Tolerance(tol.abs * factor, tol.rel * factor, family))
    failing = [d for d in compare_audits(a, b) if not d.within]
    assert worst.figure in {d.figure for d in failing}
    assert all(d.tolerance.family == family for d in failing)
