"""Five checks state facts and the catalogue speaks (issue 15): artifact.integrity, flow.representation,
flow.smoothing, flow.pde and bottleneck.information_plane on a real tiny BERT, rendered in English and
Japanese from their messages; every skip reason renders in both languages."""
from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from auditor import messages
from auditor.checks.base import AuditContext, CheckResult
from auditor.checks.bottleneck import InformationPlaneCheck
from auditor.checks.integrity import ArtifactIntegrity, notes
from auditor.checks.pde import FlowPDE
from auditor.checks.representation import RepresentationFlow
from auditor.checks.smoothing import FlowSmoothing
from auditor.messages import Message, render
from auditor.models.base import Capability, ModelIdentity
from auditor.probes.types import ProbeSet
from auditor.trace import Trace, TraceBatch

CHECKS = (ArtifactIntegrity, RepresentationFlow, FlowSmoothing, FlowPDE, InformationPlaneCheck)
CATALOGUE = Path(__file__).resolve().parents[2] / "templates" / "sentences" / "checks_flow.yaml"
# names that stay as they are in Japanese text: formats, libraries, operators, units, estimators
KEPT = {"transformers", "safetensors", "onnx", "onnxruntime", "contrib", "pickle", "opset", "LayerNormalization",
        "bytes", "float", "KDE", "Rényi", "PCA", "log2"}
ENGLISH_WORD = re.compile(r"[A-Za-z]{4,}")


def english_words(text: str) -> list[str]:
    """ASCII words of four letters or more that are not names kept in Japanese (dtype names included)."""
    return [w for w in ENGLISH_WORD.findall(text) if w not in KEPT and not w.startswith(("float", "bfloat"))]


def _japanese(sentences: tuple[Message, ...] | Message, names: tuple[str, ...] = ()) -> str:
    """The Japanese rendering, checked: no English word outside `names` (file and operator names) and KEPT."""
    text = render(sentences, "ja")
    assert not english_words(re.sub("|".join(map(re.escape, names)) or "$^", "", text)), text
    assert text.endswith("。"), text
    return text


# ---- the catalogue file itself ------------------------------------------------------------------------------

def test_every_key_of_the_file_has_japanese_without_english_words():
    from auditor.safe_yaml import load_yaml

    entries = load_yaml(CATALOGUE.read_text(encoding="utf-8"))
    assert messages.validate() == []
    for key, entry in entries.items():
        assert entry.get("en") and entry.get("ja"), key
        words = english_words(re.sub(r"\{[^}]*\}", "", entry["ja"]))
        assert not words, f"{key}: {words}"
        if key.startswith("check.") and not key.endswith((".title", ".meaning", ".why")) and ".size." not in key \
                and ".parameters." not in key and ".dtype_tensors." not in key and not key.endswith(".notes"):
            assert entry["ja"].endswith("。"), key       # a Japanese sentence ends with 。


@pytest.mark.parametrize("check", CHECKS)
def test_each_check_declares_its_words_and_charts_in_the_catalogue(check):
    for part in ("title", "meaning", "why"):
        assert messages.has(f"check.{check.id}.{part}"), part
        assert not english_words(messages.text(f"check.{check.id}.{part}", "ja"))
    assert not hasattr(check, "title") and not hasattr(check, "meaning")
    for chart in check.charts:
        assert chart.kind in ("line", "heatmap", "plane", "bars", "shares")
        assert messages.has(f"chart.{check.id}.{chart.name}") and messages.has(f"axis.{chart.axis}")
        assert set(chart.metrics) <= check.metric_names, chart
        for metric in chart.metrics:
            assert messages.has(f"metric.{metric}"), metric
    for measured, baseline in check.baselines:
        assert {measured, baseline} <= check.metric_names
        assert messages.has(f"metric.{measured}") and messages.has(f"metric.{baseline}")


# ---- a real tiny model -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def audited(tiny_bert):
    """The five checks on the session's tiny BERT and twelve labelled probes, through the runner."""
    from auditor.models.load import load_model
    from auditor.runner import run_checks
    from tests.fixtures.torch_models import WORDS

    adapter = load_model(tiny_bert, device="cpu")
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(4, 9)))) for _ in range(12)]
    probes = ProbeSet(spec="test", kind="text", sha256="0" * 64, texts=texts, labels=[i % 2 for i in range(12)],
                      label_names=["approve", "deny"])
    ctx = AuditContext(identity=adapter.identity, capabilities=adapter.capabilities, trace=Trace(), probes=probes,
                       model_path=tiny_bert, adapter=adapter)
    results = run_checks([check() for check in CHECKS], ctx, batch_size=4)
    return {r.check_id: r for r in results}


def _only(result: CheckResult, key: str) -> Message:
    (found,) = [m for m in result.sentences if m.key == key]
    return found


def test_integrity_states_files_format_and_that_nothing_is_unusual(audited):
    result = audited["artifact.integrity"]
    assert result.outcome == "ok" and result.summary == render(result.sentences, "en")
    head, tail = result.sentences
    files = int(result.metrics["files"])          # stored metrics are floats
    assert head.params["format"] == "transformers" and head.params["files"] == files
    assert head.params["parameters"] == result.metrics["parameters"] > 0
    assert head.params["total_bytes"] == result.metrics["total_bytes"]
    assert tail.key == "check.artifact.integrity.nothing_unusual" and result.evidence["findings"] == []
    assert result.summary.startswith(f"{files} file(s), ")
    assert result.summary.endswith(" parameters, format transformers; nothing unusual found")
    ja = _japanese(result.sentences)
    assert ja.startswith(f"transformers形式のファイル{files}個（計") and ja.endswith("異常は見つかりませんでした。")


def test_representation_names_the_blocks_by_number(audited):
    result = audited["flow.representation"]
    (summary,) = result.sentences
    update, norm = np.array(result.metrics["update_ratio"]), result.metrics["norm_growth"]
    assert summary.params["biggest_block"] == int(np.argmax(update)) + 1
    assert summary.params["smallest_block"] == int(np.argmin(update)) + 1
    assert summary.params["biggest_ratio"] == pytest.approx(update.max())
    assert summary.params["final_norm_growth"] == pytest.approx(norm[-1])
    assert result.summary.startswith(f"block {summary.params['biggest_block']} changes the stream most (update ratio ")
    ja = _japanese(result.sentences)
    assert ja.startswith(f"流れを最も大きく変えるのはブロック{summary.params['biggest_block']}（更新比")


def test_smoothing_states_first_and_last_figures(audited):
    result = audited["flow.smoothing"]
    (summary,) = result.sentences
    assert summary.params["first_similarity"] == pytest.approx(result.metrics["token_similarity"][0])
    assert summary.params["last_residual"] == pytest.approx(result.metrics["rank_collapse_residual"][-1])
    assert result.summary.startswith("token similarity ") and result.summary.endswith("0 = all identical)")
    assert _japanese(result.sentences).startswith("トークン類似度は埋め込みで")


def test_pde_states_explained_share_and_kernel_match(audited):
    result = audited["flow.pde"]
    m = result.metrics
    fidelity, kernel = result.sentences
    r2 = [v for v in m["pde_r2"] if v is not None]
    assert fidelity.key == "check.flow.pde.explained" and fidelity.params["r2"] == pytest.approx(np.mean(r2))
    assert fidelity.params["steps"] == len(m["pde_cos"]) == 3
    assert fidelity.params["beats"] == sum(p > i for p, i in zip(m["pde_cos"], m["identity_cos"], strict=True))
    assert kernel.key == "check.flow.pde.kernel"   # BERT exposes attention
    assert kernel.params["kernel_cos"] == pytest.approx(np.mean(m["kernel_attention_cos"]))
    assert result.summary.startswith("on held-out probes the flow picture explains ")
    assert "; drift-diffusion kernels match attention with cosine " in result.summary
    assert _japanese(result.sentences).startswith("検証用プローブでは、フローによる描像が")


def test_bottleneck_states_labels_peak_and_trend(audited):
    result = audited["bottleneck.information_plane"]
    head, where, trend = result.sentences
    if result.metrics["probe_accuracy"][-1] is None:
        assert head.key.endswith(".probe_unfitted")
    else:
        assert head.key.endswith(".separation.labels") and head.params["classes"] == 2
        assert head.params["label_source"] == "probe_labels"
        assert head.params["accuracy"] == pytest.approx(result.metrics["probe_accuracy"][-1])
    bound = [v or 0.0 for v in result.metrics["mi_ty_probe_bound"]]
    if where.key.endswith(".peak.earlier"):
        assert where.params["layer"] == int(np.argmax(bound))
    agreement = result.metrics["estimator_trend_agreement"]
    assert trend.params["agreement"] == agreement and result.summary.endswith(".")
    assert _japanese(result.sentences)
    assert not english_words(render(Message("check.bottleneck.information_plane.limitations"), "ja"))
    assert result.evidence["limitations"].startswith("Mutual information between")


@pytest.mark.parametrize(("key", "params", "ja"), [
    ("separation.labels", {"classes": 3, "accuracy": 0.9, "chance": 1 / 3}, "最終層は3つのラベルグループを検証精度90%"),
    ("separation.predictions", {"classes": 2, "accuracy": 0.75, "chance": 0.5}, "最終層はモデルが予測する2つのクラス"),
    ("peak.earlier", {"layer": 2, "kept": 0.5}, "タスクの情報は第2層で最大となり、最終層はその50%"),
    ("trend.disagree", {"agreement": -0.5}, "推定法どうしで傾向が一致しない"),
])
def test_bottleneck_variants_render_in_japanese(key, params, ja):
    assert _japanese(Message(f"check.bottleneck.information_plane.{key}", params)).startswith(ja)


# ---- integrity notes say what the inspection says, in both languages --------------------------------------

def test_integrity_notes_match_the_inspection_in_english_and_read_in_japanese(tmp_path):
    from safetensors.numpy import save_file

    from auditor.models.inspect import _findings, inspect_artifact

    save_file({"a": np.ones((2, 3), np.float32)}, str(tmp_path / "model-1.safetensors"))
    save_file({"b": np.ones(5, np.float16), "c": np.ones(1, np.int64)}, str(tmp_path / "model-2.safetensors"))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"a": "model-1.safetensors", "b": "model-2.safetensors", "c": "model-2.safetensors"}}))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "training_args.bin").write_bytes(pickle.dumps({"lr": 1e-4}))
    facts = inspect_artifact(tmp_path)
    found = notes(facts, single_file=False, changed=["model-1.safetensors"])
    assert [render(n, "en") for n in found[:-1]] == facts["findings"]
    assert render(found[-1], "en") == "the model files changed while the audit ran (model-1.safetensors)"
    ja = _japanese(Message("check.artifact.integrity.notes", {"notes": found}),
                   names=("training_args.bin", "model-1.safetensors"))
    assert ja.count("。") == len(found) and "training_args.bin" in ja and "float16（1テンソル）" in ja
    onnx = {"format": "onnx", "files": [{"path": "model.onnx"}], "dtypes": {"float32": 4},
            "custom_operators": ["my:Op"], "contrib_operators": ["com.microsoft:A", "com.microsoft:B"],
            "external_data_files": ["weights.bin"], "opset": {"ai.onnx": 13}}
    found = notes(onnx, single_file=True, changed=[])
    (tmp_path / "single").mkdir()
    (tmp_path / "single" / "model.onnx").write_bytes(b"")     # the inspection asks whether a file was audited
    assert [render(n, "en") for n in found] == _findings(onnx, tmp_path / "single" / "model.onnx")
    assert len(found) == 5
    assert _japanese(Message("check.artifact.integrity.notes", {"notes": found}), names=("weights.bin", "my:Op", "com.microsoft:A", "com.microsoft:B"))


# ---- skip reasons ------------------------------------------------------------------------------------------

def _ctx(n: int, *, labels: list[int] | None = None, capabilities=frozenset({Capability.HIDDEN_STATES})):
    identity = ModelIdentity(format="test", architecture="hand-built", model_type="test", parameters=0, layers=2,
                             dtype="float32", sha256="0" * 64)
    probes = ProbeSet(spec="test", kind="text", sha256="0" * 64, texts=["x"] * n, labels=labels)
    return AuditContext(identity=identity, capabilities=capabilities, trace=Trace(), probes=probes,
                        model_path=Path("."))


def _add(ctx: AuditContext, n: int, logits: np.ndarray | None = None) -> None:
    rng = np.random.default_rng(0)
    ctx.trace.add(TraceBatch(index=np.arange(n), mask=np.ones((n, 3), bool),
                             hidden=[rng.normal(size=(n, 3, 4)).astype(np.float32) for _ in range(3)], logits=logits))


def _skipped_reasons() -> list[tuple[CheckResult | Message, str]]:
    """(a skipped result or a skip_reason message, today's English reason) for every skip of the five checks."""
    out: list[tuple[CheckResult | Message, str]] = []
    for check in (RepresentationFlow(), FlowSmoothing()):
        ctx = _ctx(2)
        ctx.accumulators = {check.id: check.accumulator(ctx)}
        out.append((check.run(ctx), "no hidden states were captured" if check.id == "flow.representation"
                    else "no sequence has two or more content tokens"))
    pde = FlowPDE()
    out.append((pde.skip_reason(_ctx(3)),
                "the surrogate needs at least 4 probes: some to fit it and others to score it"))
    ctx = _ctx(6)
    ctx.accumulators = {pde.id: pde.accumulator(ctx)}
    out.append((pde.run(ctx), "no held-out probes reached the surrogate"))
    plane = InformationPlaneCheck()
    out.append((plane.skip_reason(_ctx(6)), "the probe set has no labels (or only one) and the model has no output "
                "head whose predictions could stand in for them; give a probe file with a label column"))
    ctx = _ctx(1)
    _add(ctx, 1)
    out.append((plane.run(ctx), "fewer than two probes were captured"))
    ctx = _ctx(4)
    _add(ctx, 4)
    out.append((plane.run(ctx), "the probe set has no labels and the model produced no predictions"))
    ctx = _ctx(4)
    _add(ctx, 4, logits=np.tile([[0.0, 1.0]], (4, 1)))
    out.append((plane.run(ctx), "the probe set has no labels and the model predicts the same class for every "
                "probe, so there is no task information to trace; give a probe file with a label column"))
    return out


def test_every_skip_reason_renders_in_both_languages_with_todays_english():
    cases = _skipped_reasons()
    assert len(cases) == 8
    for found, english in cases:
        if isinstance(found, Message):
            assert render(found, "en") == english
            found = CheckResult.skipped("x", found)
        assert found.outcome == "skipped" and found.summary == f"skipped: {english}"
        assert _japanese(found.sentences).startswith("対象外：")


def test_skip_reasons_are_none_when_the_check_can_run():
    assert FlowPDE().skip_reason(_ctx(4)) is None
    assert InformationPlaneCheck().skip_reason(_ctx(4, labels=[0, 1, 0, 1])) is None
    logits = frozenset({Capability.HIDDEN_STATES, Capability.LOGITS})
    assert InformationPlaneCheck().skip_reason(_ctx(4, capabilities=logits)) is None
