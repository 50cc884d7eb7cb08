"""Models the audit cannot read as a transformer are named as such (issue 13, cases 2 and 6).

A 1-D CNN over byte histograms and a voice-activity graph with a recurrent state take no text
and no images; the VAD keeps its weights in Constant nodes. T5 and BART are encoder-decoder
models: their encoder is audited and the record says the decoder was not. An encoder-decoder
ONNX graph is refused before any audit row exists.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from auditor.models.base import Capability
from tests.conftest import run_cli
from tests.fixtures import odd_models as om
from tests.fixtures.templates import no_minimum


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("odd")


@pytest.fixture(scope="module")
def vad(odd: Path) -> Path:
    return om.make_vad(odd / "vad.onnx")


@pytest.fixture(scope="module")
def filetype_cnn(odd: Path) -> Path:
    return om.make_filetype_cnn(odd / "filetype.onnx")


@pytest.fixture(scope="module")
def t5(odd: Path) -> Path:
    return om.make_tiny_t5(odd / "t5-tiny")


def _audit_rows(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM audits").fetchone()[0]


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_weights_in_constant_nodes_count_as_parameters(vad: Path) -> None:
    from auditor.models.inspect import inspect_artifact
    from auditor.models.onnx_adapter import OnnxAdapter

    adapter = OnnxAdapter(vad, device="cpu")
    try:
        assert adapter.identity.parameters == om.VAD_PARAMETERS == 3953
        assert adapter.identity.dtype == "float32"
        assert adapter.identity.details["constant_parameters"] == om.VAD_PARAMETERS
    finally:
        adapter.close()
    facts = inspect_artifact(vad)
    assert facts["parameters"] == om.VAD_PARAMETERS and facts["dtypes"] == {"float32": 5}


def test_exported_graphs_gain_no_parameters_from_shape_constants(tmp_path: Path) -> None:
    """An exporter's Constant nodes are axes, shapes and scalars (1/sqrt(d), eps): they are no weights."""
    import math

    import onnx

    from auditor.models.inspect import inspect_artifact
    from tests.fixtures.onnx_models import export_tiny_bert

    graph = export_tiny_bert(tmp_path / "bert", opset=14)
    model = onnx.load(str(graph))
    assert sum(n.op_type == "Constant" for n in model.graph.node) > 50
    initializers = sum(math.prod(t.dims) for t in model.graph.initializer)
    assert inspect_artifact(graph)["parameters"] == initializers


@pytest.mark.parametrize("name", ["filetype_cnn", "vad"])
def test_a_graph_that_reads_no_text_or_images_claims_nothing(name: str, request) -> None:
    from auditor.models.onnx_adapter import OnnxAdapter

    path: Path = request.getfixturevalue(name)
    adapter = OnnxAdapter(path, device="cpu")
    try:
        assert adapter.capabilities == frozenset()   # no hidden states, attentions or logits to give
        assert adapter.identity.modality == "tensor" and adapter.identity.layers is None
        assert "no tokens" in adapter.identity.pooling_source
        reason = adapter.unavailable[Capability.HIDDEN_STATES.value]
        assert f"{path.name} takes no text or images (inputs: " in reason and "float32[batch," in reason
        assert set(adapter.unavailable) == {"hidden_states", "attentions", "logits"}
        assert adapter.identity.details["unavailable"] == adapter.unavailable
        assert adapter.probes_fed == 0 and adapter.notes() == [reason]
    finally:
        adapter.close()


def test_vad_audit_is_inconclusive_with_its_parameters_and_reason(vad: Path, tmp_path: Path) -> None:
    db = tmp_path / "audits.db"
    result = run_cli("audit", str(vad), "--probes", "builtin:text", "--template", "quick", "--fail-on", "warn",
                     "--json", "--progress", "none", db=db)
    assert result.returncode == 1, result.stderr   # --fail-on warn never passes what was not measured
    data = json.loads(result.stdout)
    assert data["status"] == "completed" and data["verdict"] == "inconclusive"
    assert data["model"]["parameters"] == om.VAD_PARAMETERS
    assert any("vad.onnx takes no text or images" in n for n in data["environment"]["input_notes"])
    assert {c["id"]: c["status"] for c in data["checks"]}["artifact.integrity"] == "pass"


@pytest.mark.parametrize(("name", "outputs"), [("filetype_cnn", "bytes,r1,r2"), ("vad", "input,h_last")])
def test_layer_outputs_on_a_graph_probes_cannot_reach_is_refused_before_the_audit_row(
        name: str, outputs: str, request, tmp_path: Path) -> None:
    path: Path = request.getfixturevalue(name)
    db = tmp_path / "audits.db"
    result = run_cli("audit", str(path), "--layer-outputs", outputs, "--progress", "none", db=db)
    assert result.returncode == 2, result.stderr
    line = _one_line(result.stderr)
    assert line.startswith(f"auditor: --layer-outputs cannot help here: {path.name} takes no text or images")
    assert line.endswith("so no probe can reach its layers (this version audits text and image models)")
    assert _audit_rows(db) == 0


def test_t5_audits_its_encoder_and_says_the_decoder_was_not(t5: Path, tmp_path: Path) -> None:
    db = tmp_path / "audits.db"
    result = run_cli("audit", str(t5), "--probes", "builtin:text", "--template", no_minimum("quick"), "--limit", "40",
                     "--json", "--progress", "none", db=db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "completed" and data["verdict"] != "pass"
    model = data["model"]
    assert model["architecture"] == "T5ForConditionalGeneration" and model["layers"] == 2
    details = model["details"]
    assert details["audited_part"] == "encoder" and details["not_audited"] == ["decoder", "output head"]
    assert 0 < details["audited_parameters"] < model["parameters"]
    assert details["audit_scope"]["en"] == ("T5 is an encoder-decoder model: the encoder (2 blocks) was audited; "
                                            "the decoder (2 blocks) with its output head was not audited, because "
                                            "probes give no target sequence for it")
    assert "デコーダ（2ブロック）" in details["audit_scope"]["ja"]
    assert details["audit_scope"]["en"] in data["environment"]["input_notes"]
    statuses = {c["id"]: c["status"] for c in data["checks"]}
    for check in ("flow.representation", "perturbation.sensitivity", "gradients.flow", "attention.structure"):
        assert statuses[check] not in ("skipped", "error", "not_applicable"), (check, statuses)


def test_bart_blocks_and_attentions_are_the_encoders(odd: Path) -> None:
    """Before, BartModel ran whole and its hooks sat on the decoder's blocks (more parameters)."""
    import numpy as np

    from auditor.models.base import ModelBatch
    from auditor.models.torch_adapter import TorchAdapter

    adapter = TorchAdapter(om.make_tiny_bart(odd / "bart-tiny"), device="cpu")
    try:
        encoder_layers = list(adapter.model.layers)
        assert type(adapter.model).__name__ == "BartEncoder" and adapter.blocks == encoder_layers
        assert Capability.ATTENTIONS in adapter.capabilities and Capability.LOGITS not in adapter.capabilities
        assert adapter.identity.details["not_audited"] == ["decoder"]
        ids = np.array([[2, 5, 6, 7, 2]], dtype=np.int64)
        batch = ModelBatch(index=np.arange(1), inputs={"input_ids": ids, "attention_mask": np.ones_like(ids)},
                           mask=np.ones_like(ids, dtype=bool))
        trace = adapter.capture(batch, frozenset({"hidden", "attentions"}))
        assert len(trace.hidden) == 3 and trace.attentions is not None and len(trace.attentions) == 2
        random = adapter.randomized(seed=1)
        assert type(random.model).__name__ == "BartEncoder" and len(random.blocks) == 2
    finally:
        adapter.close()


def test_an_encoder_decoder_onnx_graph_is_refused_before_the_audit_row(t5: Path, odd: Path,
                                                                        tmp_path: Path) -> None:
    graph = om.export_t5_onnx(t5, odd / "t5-onnx")
    db = tmp_path / "audits.db"
    result = run_cli("audit", str(graph.parent), "--progress", "none", db=db)
    assert result.returncode == 2, result.stderr
    assert _one_line(result.stderr) == (
        "auditor: model.onnx is an encoder-decoder graph (it needs the input decoder_input_ids); this version "
        "audits encoder-only and decoder-only models: export the encoder alone (e.g. optimum's "
        "encoder_model.onnx) and audit that")
    assert _audit_rows(db) == 0
