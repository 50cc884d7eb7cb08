"""perturbation.counterfactual through the real runner and capture pass, on tiny torch models with a known answer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from auditor.checks.base import AuditContext
from auditor.checks.counterfactual import PAIRS_KEY, PerturbationCounterfactual
from auditor.messages import render, validate
from auditor.runner import run_checks
from auditor.trace import Trace
from tests.fixtures import counterfactual_models as cm


def _run(moved: int | None, *, unknown: int = 0, threshold: float = 0.5, batch_size: int = 8):
    adapter = cm.WordAdapter(cm.WordModel(moved))
    probes = cm.probes()
    pairs = cm.pairs(unknown=unknown)
    ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(), probes=probes,
                       model_path=Path("."), adapter=adapter, shared={PAIRS_KEY: pairs})
    result = run_checks([PerturbationCounterfactual(threshold=threshold)], ctx, batch_size=batch_size)[0]
    return result, adapter, probes, pairs


@pytest.mark.parametrize("k", [1, 3])
def test_one_attribute_moved_from_layer_k_is_found_there_and_nowhere_else(k):
    result, _adapter, _probes, _pairs = _run(k)
    assert result.outcome == "ok", result.summary
    shift, ci = result.metrics["counterfactual_shift"], result.intervals["counterfactual_shift"]
    assert set(shift) == {"overall", "gender", "age", "religion"}
    gender = np.array(shift["gender"])
    assert np.all(gender[:k] == 0.0) and np.all(gender[k:] > 0.5)
    assert ci["gender"]["ci_low"][k] > 0.5            # the whole interval above the threshold at layer k
    for other in ("age", "religion"):                 # the model gives these swaps the same input
        assert shift[other] == [0.0] * (cm.LAYERS + 1)
        assert ci[other]["ci_low"][-1] <= 0.0 <= ci[other]["ci_high"][-1]
    assert result.evidence["first_divergence"] == {"attribute": "gender", "layer": k}
    assert f"at layer {k}" in result.summary and "gender is the first" in result.summary
    # the output moves for gender only (the model's own head)
    cos, flips = result.metrics["counterfactual_output_cos"], result.metrics["counterfactual_flip_rate"]
    assert cos["age"] == pytest.approx(1.0) and flips["age"] == 0.0 and cos["gender"] < 1.0
    assert result.evidence["outputs"] == "model_head"
    assert result.evidence["largest_output_moves"][0]["attribute"] == "gender"


def test_a_model_that_ignores_the_attribute_gives_zero_shift_with_an_interval_containing_zero():
    result, *_ = _run(None)
    shift, ci = result.metrics["counterfactual_shift"], result.intervals["counterfactual_shift"]
    for key, values in shift.items():
        assert values == pytest.approx([0.0] * (cm.LAYERS + 1), abs=1e-6), key
        assert all(lo <= 0.0 <= hi for lo, hi in zip(ci[key]["ci_low"], ci[key]["ci_high"], strict=True))
    assert result.evidence["first_divergence"] is None
    assert result.metrics["counterfactual_flip_rate"]["overall"] == 0.0
    assert result.metrics["counterfactual_output_kl"]["overall"] == pytest.approx(0.0, abs=1e-9)
    assert "no attribute moves the representation beyond 0.50" in result.summary


def test_token_identical_pairs_are_left_out_and_counted():
    result, *_ = _run(2, unknown=5)
    ev = result.evidence
    assert ev["excluded_token_identical"] == 5 and len(ev["excluded_pairs"]) == 5
    assert ev["pairs_used"] == ev["pairs"]["count"] - 5 == 48
    assert ev["pairs_by_attribute"]["gender"] == 16   # the excluded [UNK] pairs are not among gender's figures
    assert "48 of 53 pairs compared (5 left out" in result.summary
    # the figures equal those without the unknown pairs: they measure nothing for this model
    clean, *_ = _run(2)
    assert result.metrics["counterfactual_output_cos"] == clean.metrics["counterfactual_output_cos"]


def test_pairs_run_inside_the_capture_pass_each_distinct_text_once():
    result, adapter, probes, pairs = _run(2, batch_size=8)
    distinct = len(set(pairs.texts_a) | set(pairs.texts_b))
    assert result.evidence["texts_run"] == distinct
    # one pass: every probe once and every distinct pair text once, nothing run again after the pass
    assert adapter.captured == probes.count + distinct
    kinds = [spec for spec, _rows in adapter.log]
    assert sum(rows for spec, rows in adapter.log if spec == "pairs") == distinct
    # the pair batches keep pace with the probe batches: they start after the first probe batch and
    # the last of them runs right after the last probe batch, not in a pass of their own afterwards
    probe_batches = [i for i, spec in enumerate(kinds) if spec == "test"]
    assert kinds[probe_batches[0] + 1] == "pairs" and kinds.index("pairs") < probe_batches[-1]
    assert set(kinds[probe_batches[-1] + 1:]) == {"pairs"}


def test_all_pairs_token_identical_is_a_skip_with_the_reason():
    adapter = cm.WordAdapter(cm.WordModel(2))
    pairs = cm.pairs(frames=0, unknown=4)
    ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(),
                       probes=cm.probes(), model_path=Path("."), adapter=adapter, shared={PAIRS_KEY: pairs})
    result = run_checks([PerturbationCounterfactual()], ctx)[0]
    assert result.outcome == "skipped"
    assert "all 4 pairs reach the model as the same tokens" in result.summary


def test_image_models_are_skipped_with_the_reason():
    adapter = cm.WordAdapter(cm.WordModel(2))
    adapter.identity.modality = "image"
    ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(),
                       probes=cm.probes(), model_path=Path("."), adapter=adapter)
    result = run_checks([PerturbationCounterfactual()], ctx)[0]
    assert result.outcome == "skipped" and "image pairs are out of scope" in result.summary
    said = render(result.sentences, "ja")
    assert "画像のペアは対象外" in said and "入力は画像です" in said and "image" not in said   # words, not the code
    assert adapter.captured == 0


def test_sentences_render_in_both_languages():
    result, *_ = _run(1)
    assert validate() == []
    ja = render(result.sentences, "ja")
    assert "性別" in ja and "第1層" in ja and ja.endswith("。")


def test_a_sample_takes_whole_frames_from_every_language_and_domain_seeded():
    from auditor.checks._counterfactual_pass import sample_pairs
    from auditor.probes.pairs import builtin_pairs

    full = builtin_pairs()
    sample = sample_pairs(full, 150, seed=0)
    assert 150 <= sample.count < 160
    assert set(sample.langs) == set(full.langs) and set(sample.domains) == set(full.domains)
    frames = set(sample.texts_a)   # a frame is in the sample with all its pairs, or not at all
    assert sum(a in frames for a in full.texts_a) == sample.count
    assert sample_pairs(full, 150, seed=0) == sample and sample_pairs(full, 150, seed=1) != sample
    assert sample_pairs(full, 0, seed=0) is full and sample_pairs(full, 1000, seed=0) is full
