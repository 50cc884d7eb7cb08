"""The ONNX adapter on real exports: boundaries found by name and by structure match PyTorch."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from auditor.errors import BadInput
from auditor.models.base import Capability, ModelAdapter
from auditor.models.identity import manifest
from auditor.models.onnx_adapter import OnnxAdapter
from auditor.probes.types import ProbeSet
from tests.fixtures import onnx_models as om

TEXTS = ["The river bank was flooded after the storm.", "She took out a loan from the bank.",
         "Audit the model", "Attention maps show which tokens each layer reads, and how far apart they are."]
TINY_TEXTS = ["the bank of the river", "a loan is risk", "the model audit report is data for the test",
              "fish in water"]
ALL_POINTS = frozenset({"hidden", "attentions", "logits"})


def text_probes(texts: list[str]) -> ProbeSet:
    return ProbeSet(spec="test:text", kind="text", sha256="0" * 64, texts=texts)


def image_probes(count: int = 3) -> ProbeSet:
    return ProbeSet(spec="test:images", kind="image", sha256="0" * 64, images=om.random_images(count))


def first_batch(adapter: OnnxAdapter, probes: ProbeSet, size: int = 4):
    return next(iter(adapter.batches(probes, size)))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- exports, shared by the whole module (the lead may move them to a conftest) ------------------
@pytest.fixture(scope="session")
def minilm_stripped(onnx_root: Path, minilm_bare: Path) -> Path:
    return om.strip_names(minilm_bare, onnx_root / "minilm_stripped" / "minilm.onnx")


@pytest.fixture(scope="session")
def gpt2_file(onnx_root: Path) -> Path:
    return om.export_tiny_gpt2(onnx_root / "gpt2")


@pytest.fixture(scope="session")
def vit_file(onnx_root: Path) -> Path:
    return om.export_tiny_vit(onnx_root / "vit")


@pytest.fixture(scope="session")
def minilm(minilm_bare: Path):
    adapter = OnnxAdapter(minilm_bare, tokenizer=om.MINILM_DIR, device="cpu")
    yield adapter
    adapter.close()


@pytest.fixture(scope="session")
def minilm_torch() -> torch.nn.Module:
    return om.load_minilm()


def torch_inputs(batch) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in batch.inputs.items()}


# -- MiniLM -------------------------------------------------------------------------------------
def test_minilm_boundaries_by_name_match_pytorch(minilm: OnnxAdapter, minilm_torch: torch.nn.Module) -> None:
    assert isinstance(minilm, ModelAdapter)
    ident = minilm.identity
    assert (ident.format, ident.layers, ident.hidden_size, ident.heads, ident.modality) == ("onnx", 6, 384, 12, "text")
    assert ident.details["discovery"] == "names" and ident.details["block_style"] == "post-ln"
    assert {Capability.HIDDEN_STATES, Capability.ATTENTIONS} <= minilm.capabilities
    assert Capability.GRADIENTS not in minilm.capabilities and Capability.LOGITS not in minilm.capabilities
    batch = first_batch(minilm, text_probes(TEXTS))
    trace = minilm.capture(batch, ALL_POINTS)
    b, t = batch.inputs["input_ids"].shape
    assert len(trace.hidden) == 7 and all(h.shape == (b, t, 384) and h.dtype == np.float32 for h in trace.hidden)
    assert trace.attentions is not None and len(trace.attentions) == 6
    assert all(a.shape == (b, 12, t, t) for a in trace.attentions)
    keys = batch.mask[:, None, None, :]
    for att in trace.attentions:
        rows = np.where(keys, att, 0.0).sum(axis=-1)[batch.mask[:, None, :].repeat(12, axis=1)]
        np.testing.assert_allclose(rows, 1.0, atol=1e-5)
    with torch.no_grad():
        ref = minilm_torch(**torch_inputs(batch), output_hidden_states=True, output_attentions=True)
    for mine, theirs in zip(trace.hidden, ref.hidden_states, strict=True):
        np.testing.assert_allclose(mine, theirs.numpy(), atol=1e-4)
    for mine, theirs in zip(trace.attentions, ref.attentions, strict=True):
        np.testing.assert_allclose(mine, theirs.numpy(), atol=1e-5)
    np.testing.assert_array_equal(trace.hidden[-1], minilm.forward(batch))   # boundary L = last_hidden_state
    assert trace.special is not None and trace.special[:, 0].all() and trace.mask.dtype == bool


def test_name_stripped_copy_is_found_by_structure(minilm: OnnxAdapter, minilm_stripped: Path) -> None:
    stripped = OnnxAdapter(minilm_stripped, tokenizer=om.MINILM_DIR, device="cpu")
    try:
        assert stripped.identity.details["discovery"] == "structure"
        assert stripped.identity.layers == 6
        batch = first_batch(minilm, text_probes(TEXTS))
        named, found = minilm.capture(batch, ALL_POINTS), stripped.capture(batch, ALL_POINTS)
        for a, b in zip(named.hidden, found.hidden, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)
        for a, b in zip(named.attentions or [], found.attentions or [], strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)
    finally:
        stripped.close()


def test_folder_style_model_finds_its_tokenizer_and_hashes_the_folder(minilm_folder: Path) -> None:
    for path in (minilm_folder, minilm_folder / "model.onnx"):
        adapter = OnnxAdapter(path)
        try:
            ident = adapter.identity
            assert ident.sha256 == manifest(minilm_folder)[0]
            assert {f.path for f in ident.files} >= {"model.onnx", "tokenizer.json", "1_Pooling/config.json"}
            assert (ident.architecture, ident.model_type, ident.max_length) == ("BertModel", "bert", 512)
            assert ident.pooling == "mean" and ident.pooling_source.startswith("1_Pooling")
            assert first_batch(adapter, text_probes(TEXTS[:2])).inputs["input_ids"].shape[0] == 2
        finally:
            adapter.close()


def test_bare_text_model_without_tokenizer_is_refused(minilm_bare: Path) -> None:
    adapter = OnnxAdapter(minilm_bare, device="cpu")
    try:
        assert adapter.identity.sha256 == sha256(minilm_bare)   # a bare file hashes as sha256sum does
        assert adapter.identity.architecture == "onnx:main_graph"   # no config.json beside it
        with pytest.raises(BadInput, match="--tokenizer"):
            adapter.batches(text_probes(TEXTS), 4)
    finally:
        adapter.close()


def test_layer_outputs_override(minilm: OnnxAdapter, minilm_bare: Path) -> None:
    with pytest.raises(BadInput, match="no/such/tensor"):
        OnnxAdapter(minilm_bare, tokenizer=om.MINILM_DIR, layer_outputs=["no/such/tensor"], device="cpu")
    names = minilm.identity.details["layer_output_names"][:4]
    adapter = OnnxAdapter(minilm_bare, tokenizer=om.MINILM_DIR, layer_outputs=names, device="cpu")
    try:
        assert adapter.identity.details["discovery"] == "override" and adapter.identity.layers == 3
        batch = first_batch(adapter, text_probes(TEXTS[:2]))
        trace = adapter.capture(batch, ALL_POINTS)
        reference = minilm.capture(batch, frozenset({"hidden"}))
        assert len(trace.hidden) == 4 and trace.attentions is not None and len(trace.attentions) == 3
        np.testing.assert_array_equal(trace.hidden[3], reference.hidden[3])
    finally:
        adapter.close()


def test_device_auto_starts_on_cuda_only_when_a_session_really_runs_there(minilm_bare: Path,
                                                                          capfd: pytest.CaptureFixture) -> None:
    import onnxruntime as ort

    adapter = OnnxAdapter(minilm_bare, tokenizer=om.MINILM_DIR, device="auto")
    try:
        really = adapter.session.get_providers()[0] == "CUDAExecutionProvider"
        assert adapter.device == ("cuda" if really else "cpu")
        if not torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers():
            assert adapter.device == "cpu"    # listed is not running
    finally:
        adapter.close()
    assert "onnxruntime" not in capfd.readouterr().err   # the failed CUDA attempt stays quiet
    assert minilm_bare.exists()


# -- other architectures ------------------------------------------------------------------------
def test_tiny_gpt2_pre_ln_boundaries_match_block_outputs(gpt2_file: Path) -> None:
    adapter = OnnxAdapter(gpt2_file, device="cpu")
    model, _ = om.tiny_gpt2()
    try:
        ident = adapter.identity
        assert (ident.layers, ident.pooling, ident.architecture) == (2, "last", "GPT2LMHeadModel")
        assert ident.details["block_style"] == "pre-ln" and Capability.LOGITS in adapter.capabilities
        batch = first_batch(adapter, text_probes(TINY_TEXTS))
        assert not batch.mask.all()   # right padding is part of the comparison
        trace = adapter.capture(batch, ALL_POINTS)
        seen: list[torch.Tensor] = []
        blocks = model.transformer.h
        hooks = [blocks[0].register_forward_pre_hook(
            lambda _m, args, kwargs: seen.append(args[0] if args else kwargs["hidden_states"]), with_kwargs=True)]
        hooks += [b.register_forward_hook(lambda _m, _i, out: seen.append(out[0] if isinstance(out, tuple) else out))
                  for b in blocks]
        try:
            with torch.no_grad():
                logits = model(**torch_inputs(batch)).logits
        finally:
            for hook in hooks:
                hook.remove()
        assert len(trace.hidden) == 3
        for mine, theirs in zip(trace.hidden, seen, strict=True):
            np.testing.assert_allclose(mine, theirs.numpy(), atol=1e-5)
        np.testing.assert_allclose(trace.logits, logits.numpy(), atol=1e-5)
        np.testing.assert_allclose(adapter.forward(batch), logits.numpy(), atol=1e-5)
    finally:
        adapter.close()


def test_tiny_vit_is_an_image_model_with_a_class_token(vit_file: Path) -> None:
    adapter = OnnxAdapter(vit_file, device="cpu")
    try:
        ident = adapter.identity
        assert (ident.modality, ident.pooling, ident.layers, ident.heads, ident.hidden_size) == ("image", "cls", 2, 2, 32)
        batch = first_batch(adapter, image_probes())
        trace = adapter.capture(batch, ALL_POINTS)
        assert trace.grid == (4, 4) and trace.prefix_tokens == 1
        assert trace.hidden[0].shape == (3, 17, 32) and trace.mask.shape == (3, 17) and trace.mask.all()
        assert trace.special is not None and trace.special[:, 0].all() and not trace.special[:, 1:].any()
        with torch.no_grad():
            ref = om.tiny_vit()(pixel_values=torch.from_numpy(batch.inputs["pixel_values"]),
                                output_hidden_states=True)
        for mine, theirs in zip(trace.hidden, ref.hidden_states, strict=True):
            np.testing.assert_allclose(mine, theirs.numpy(), atol=1e-5)
        np.testing.assert_allclose(trace.logits, ref.logits.numpy(), atol=1e-5)
    finally:
        adapter.close()


def test_tiny_cnn_has_no_layers_but_still_runs(cnn_file: Path) -> None:
    adapter = OnnxAdapter(cnn_file, device="cpu")
    try:
        assert adapter.identity.layers is None and adapter.identity.modality == "image"
        assert Capability.HIDDEN_STATES not in adapter.capabilities and Capability.LOGITS in adapter.capabilities
        batch = first_batch(adapter, image_probes(5), size=8)
        assert adapter.forward(batch).shape == (5, 4)
        trace = adapter.capture(batch, ALL_POINTS)
        assert trace.hidden == [] and trace.attentions is None and trace.logits.shape == (5, 4)
    finally:
        adapter.close()


def test_opset14_decomposed_layernorm_found_by_name_and_structure(onnx_root: Path) -> None:
    path = om.export_tiny_bert(onnx_root / "bert14", opset=14)
    stripped = om.strip_names(path, onnx_root / "bert14_stripped" / "bert.onnx")
    named = OnnxAdapter(path, device="cpu")
    bare = OnnxAdapter(stripped, tokenizer=path.parent, device="cpu")
    try:
        assert named.identity.details["opset"] == 14
        assert [a.identity.details["discovery"] for a in (named, bare)] == ["names", "structure"]
        batch = first_batch(named, text_probes(TINY_TEXTS))
        with torch.no_grad():
            ref = om.tiny_bert()(**torch_inputs(batch), output_hidden_states=True).hidden_states
        for adapter in (named, bare):
            trace = adapter.capture(batch, frozenset({"hidden"}))
            for mine, theirs in zip(trace.hidden, ref, strict=True):
                np.testing.assert_allclose(mine, theirs.numpy(), atol=1e-5)
    finally:
        named.close()
        bare.close()


def test_external_weights_run_from_a_temporary_copy(onnx_root: Path, gpt2_file: Path) -> None:
    folder = onnx_root / "gpt2_external"
    path = om.with_external_data(gpt2_file, folder / "model.onnx")
    before = {p.name: sha256(p) for p in folder.iterdir()}
    inline, external = OnnxAdapter(gpt2_file, tokenizer=gpt2_file.parent, device="cpu"), None
    try:
        external = OnnxAdapter(path, tokenizer=gpt2_file.parent, device="cpu")
        assert external.identity.sha256 == manifest(folder)[0]
        assert external.identity.details["discovery"] == "names"
        batch = first_batch(inline, text_probes(TINY_TEXTS))
        for a, b in zip(inline.capture(batch, ALL_POINTS).hidden, external.capture(batch, ALL_POINTS).hidden,
                        strict=True):
            np.testing.assert_array_equal(a, b)
        temporary = external._tmp
        assert temporary is not None and temporary.is_dir()
    finally:
        inline.close()
        if external is not None:
            external.close()
    assert not temporary.exists()
    assert {p.name: sha256(p) for p in folder.iterdir()} == before   # nothing written beside the model
