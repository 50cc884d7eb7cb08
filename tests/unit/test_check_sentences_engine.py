"""The engine's checks state facts and the catalogue speaks: every summary, skip reason, adapter reason and
progress line of the second half of the engine renders in English and Japanese, from a run on a real model."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from auditor import messages
from auditor.checks.attention import AttentionStructure
from auditor.checks.base import AuditContext, CheckResult
from auditor.checks.gradients import GradientFlow
from auditor.checks.parity import ArtifactParity
from auditor.checks.perturbation import PerturbationSensitivity
from auditor.checks.sanity import SanityRandomization
from auditor.messages import Message, fields_of, render
from auditor.progress import Progress
from auditor.runner import run_checks
from auditor.trace import Trace

ENGINE = ("perturbation.sensitivity", "gradients.flow", "attention.structure", "sanity.randomization",
          "artifact.parity")
CATALOGUE = Path(messages.__file__).resolve().parents[1] / "templates" / "sentences" / "checks_engine.yaml"
# words that are names, not English: formats, operators, units and the CLI's own words
NAMES = {"ONNX", "onnx", "PyTorch", "Transformer", "transformers", "Softmax", "FLOPs", "KDE", "BertModel",
         "auditor", "audit", "MODEL", "OTHER_FORMAT", "NAMES", "float32", "batch"}


def english_words(text: str) -> list[str]:
    """Latin words in a Japanese sentence that are not names, codes, options or file names."""
    text = re.sub(r"--[a-z-]+|（[a-z_]+）", " ", text)              # command-line options, metric codes
    words = re.findall(r"[A-Za-z][A-Za-z0-9_.]*", text)
    return [w for w in words if w not in NAMES and "_" not in w and "." not in w and len(w) > 1]


@pytest.fixture(scope="module")
def engine_run(tiny_bert):
    """The five checks on the tiny BERT (headless: a probe head on labelled probes), itself as reference."""
    from auditor.models.load import load_model
    from auditor.probes import load_probes

    adapter = load_model(tiny_bert, device="cpu")
    reference = load_model(tiny_bert, device="cpu")
    probes = load_probes("builtin:text", limit=16)
    ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(), probes=probes,
                       model_path=tiny_bert, adapter=adapter, reference=reference)
    seen: list[tuple[float, str, Message | None]] = []
    checks = [PerturbationSensitivity(), GradientFlow(), AttentionStructure(), SanityRandomization(probes=4),
              ArtifactParity()]
    try:
        results = run_checks(checks, ctx, batch_size=16,
                             progress=Progress(lambda f, text, said: seen.append((f, text, said))))
    finally:
        adapter.close()
        reference.close()
    return {r.check_id: r for r in results}, seen


def test_the_catalogue_is_whole():
    assert messages.validate() == []


def test_each_summary_renders_in_both_languages_from_its_facts(engine_run):
    results, _ = engine_run
    assert list(results) == list(ENGINE)
    for check_id, result in results.items():
        assert result.outcome == "ok", (check_id, result.summary)
        assert result.sentences and all(s.key.startswith(f"check.{check_id}.") for s in result.sentences)
        assert result.summary == render(result.sentences, "en")
        # stored and read back, the facts render the same sentence in both languages
        stored = messages.from_json(json.loads(json.dumps(messages.to_json(result.sentences))))
        ja = render(stored, "ja")
        assert render(stored, "en") == result.summary
        assert ja.endswith("。") and not english_words(ja), (check_id, ja)


def test_summary_facts_are_params_not_words(engine_run):
    results, _ = engine_run
    m = results["attention.structure"].metrics
    low = next(s for s in results["attention.structure"].sentences if s.key.endswith(".low_importance"))
    assert low.params["relative"] == 0.1 and low.params["low"] == m["redundant_heads"]
    assert "0.1倍未満" in render(low, "ja") and "below 0.1 x the mean head" in render(low, "en")
    parity = results["artifact.parity"]
    said = parity.sentences[0]
    assert said.params["format"] == "transformers" and said.params["cos"] == parity.metrics["output_cos"]
    # a headless encoder makes no predictions: the sentence without them
    assert parity.metrics["prediction_agreement"] is None and said.key == "check.artifact.parity.agreement"
    assert parity.summary.startswith("minimum output cosine 1.000000 against the transformers reference")
    assert render(said, "ja").startswith("transformers形式の参照モデルに対する出力のコサイン類似度は最小1.000000")
    with_predictions = Message("check.artifact.parity.agreement_predictions", {**said.params, "agreement": 0.975})
    assert render(with_predictions, "en").endswith(", 97.5% equal predictions")
    assert "予測の一致率は97.5%です。" in render(with_predictions, "ja")
    gradients = results["gradients.flow"]
    weakest = int(np.argmin(gradients.metrics["grad_norm_hidden"]))
    assert gradients.sentences[0].params["weakest_layer"] == weakest
    assert gradients.summary.endswith(f"weakest at layer {weakest}")
    assert f"最も弱いのは第{weakest}層です。" in render(gradients.sentences, "ja")


def test_flagged_metrics_are_codes_and_read_as_names_in_japanese():
    said = Message("check.sanity.randomization.uninformative", {
        "metrics": [Message("check.sanity.randomization.metric.entropy"),
                    Message("check.sanity.randomization.metric.sink_share")], "codes": ["entropy", "sink_share"]})
    assert render(said, "en") == "uninformative for this model: entropy, sink_share"
    assert render(said, "ja") == ("このモデルで学習内容を反映していない指標：アテンションのエントロピー（entropy）、"
                                  "特殊トークンへのアテンションの割合（sink_share）。")


def test_progress_callbacks_get_the_message_and_old_ones_the_text(engine_run):
    _, seen = engine_run
    texts = [text for _, text, _ in seen]
    assert any(t.startswith("capture: captured ") for t in texts) and "gradients.flow: done" in texts
    assert all(isinstance(said, Message) for _, _, said in seen)
    capture = next(said for _, text, said in seen if text.startswith("capture: captured "))
    assert render(capture, "en") == "capture: " + render(capture.params["detail"], "en")
    assert re.fullmatch(r"取得：プローブ\d+件中\d+件を取得しました", render(capture, "ja"))
    done = next(said for _, text, said in seen if text == "gradients.flow: done")
    assert render(done, "ja") == "勾配の流れ：完了"
    old: list[tuple[float, str]] = []
    Progress(lambda f, m: old.append((f, m))).slice(0.5, 0.5, "capture")(0.5, Message("progress.check.done"))
    assert old == [(0.75, "capture: done")]


def test_cli_jsonl_lines_keep_their_fields_and_add_the_key(capsys):
    from auditor.cli_progress import ProgressSink

    sink = ProgressSink("jsonl")
    Progress(sink).slice(0.0, 1.0, "capture", Message("progress.capture"))(
        1.0, Message("progress.capture.probes", {"done": 3, "total": 3}))
    line = json.loads(capsys.readouterr().err.strip())
    assert line["event"] == "progress" and line["fraction"] == 1.0
    assert line["message"] == "capture: captured 3/3 probes"
    assert line["key"] == "progress.step"
    assert render(Message.from_json(line), "ja") == "取得：プローブ3件中3件を取得しました"


def _sample(name: str):
    """A value for a catalogue field, of the kind the engine passes."""
    samples = {"reasons": [Message("capability.missing.gradients"), Message("capability.missing.logits")],
               "metrics": [Message("check.sanity.randomization.metric.entropy")], "step": Message("progress.capture"),
               "detail": Message("progress.check.done"), "architecture": "BertModel", "file": "vad.onnx",
               "inputs": "x float32[batch,3]", "format": "onnx"}
    return samples.get(name, 1)


def test_every_engine_sentence_renders_in_both_languages():
    from auditor.safe_yaml import load_yaml

    keys = load_yaml(CATALOGUE.read_text(encoding="utf-8"))
    assert {f"check.{c}.{part}" for c in ENGINE for part in ("title", "meaning", "why")} <= set(keys)
    for key, entry in keys.items():
        params = {name: _sample(name) for name in fields_of(entry["en"])}
        en, ja = render(Message(key, params), "en"), render(Message(key, params), "ja")
        assert en and ja and en != ja, key
        assert not english_words(ja), (key, ja)


def test_each_check_declares_its_charts_with_catalogue_titles_and_axes():
    from auditor.checks import registry

    for check_id in ENGINE:
        check = registry.get(check_id)
        assert check.charts and not hasattr(check, "title") and not hasattr(check, "meaning")
        for chart in check.charts:
            assert messages.has(f"chart.{check_id}.{chart.name}") and messages.has(f"axis.{chart.axis}")
            assert chart.kind in ("line", "heatmap", "plane", "bars", "shares")
            assert set(chart.metrics) <= check.metric_names


def test_skip_reasons_are_messages():
    results = {r.check_id: r for r in run_checks([ArtifactParity()], _bare_context())}
    skipped = results["artifact.parity"]
    assert skipped.outcome == "skipped"
    assert skipped.summary == "skipped: no reference model was given (auditor audit MODEL --reference OTHER_FORMAT)"
    assert render(skipped.sentences, "ja") == ("対象外：比較する参照モデルが指定されていません"
                                               "（auditor audit MODEL --reference OTHER_FORMAT）。")
    big = SanityRandomization(max_parameters=10).skip_reason(_bare_context(parameters=11))
    assert render(big, "en").startswith("a re-initialised copy of 11 parameters would double")
    assert render(CheckResult.skipped("x", big).sentences, "ja").startswith("対象外：パラメータ数11のモデル")


def _bare_context(parameters: int = 0) -> AuditContext:
    from auditor.models.base import ModelIdentity
    from auditor.probes.types import ProbeSet

    identity = ModelIdentity(format="test", architecture="none", model_type="test", parameters=parameters,
                             layers=None, dtype="float32", sha256="0" * 64)
    probes = ProbeSet(spec="test", kind="text", sha256="0" * 64, texts=["a", "b"])
    return AuditContext(identity=identity, capabilities=frozenset(), trace=Trace(), probes=probes,
                        model_path=Path("."))
