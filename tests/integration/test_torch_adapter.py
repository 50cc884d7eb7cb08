"""The transformers adapter on real (tiny and pretrained) models: loading, hooks, shapes, refusals."""
import json
import shutil

import numpy as np
import pytest

from auditor.errors import BadInput
from auditor.models.base import Capability
from auditor.models.load import load_model
from auditor.probes import load_probes

POINTS = frozenset({"hidden", "attentions", "logits"})


def _first_batch(adapter, spec, n=6):
    probes = load_probes(spec, limit=n)
    return next(adapter.batches(probes, n))


def test_minilm_layers_match_transformers_hidden_states(minilm_path):
    import torch
    from transformers import BertModel

    adapter = load_model(minilm_path, device="cpu")
    assert (adapter.identity.layers, adapter.identity.heads, adapter.identity.hidden_size) == (6, 12, 384)
    assert adapter.identity.pooling == "mean" and "1_Pooling" in adapter.identity.pooling_source
    batch = _first_batch(adapter, "builtin:text")
    trace = adapter.capture(batch, POINTS)
    reference = BertModel.from_pretrained(str(minilm_path), local_files_only=True, attn_implementation="eager")
    with torch.inference_mode():
        out = reference(**{k: torch.from_numpy(v) for k, v in batch.inputs.items()}, output_hidden_states=True)
    assert len(trace.hidden) == 7 and len(trace.attentions) == 6
    for ours, theirs in zip(trace.hidden, out.hidden_states, strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-5)
    rows = trace.attentions[0].sum(axis=-1)
    np.testing.assert_allclose(rows[batch.mask[:, None, :].repeat(12, 1)], 1.0, atol=1e-5)
    assert trace.special[:, 0].all()               # [CLS] is a special token


def test_hooks_come_off_after_capture(tiny_bert):
    adapter = load_model(tiny_bert, device="cpu")

    def hooks():   # transformers 5 keeps output-recording hooks of its own; ours must come and go
        return [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in adapter.model.modules()]

    batch = _first_batch(adapter, "builtin:text")
    adapter.capture(batch, POINTS)      # transformers installs its own hooks lazily, on a first forward
    before = hooks()
    adapter.capture(batch, POINTS)
    assert hooks() == before


def test_gpt2_boundaries_are_the_raw_residual_stream(tiny_gpt2):
    import torch

    adapter = load_model(tiny_gpt2, device="cpu")
    assert adapter.identity.pooling == "last"
    assert Capability.LOGITS in adapter.capabilities
    batch = _first_batch(adapter, "builtin:text")
    trace = adapter.capture(batch, POINTS)
    with torch.inference_mode():
        out = adapter.model(**{k: torch.from_numpy(v) for k, v in batch.inputs.items()}, output_hidden_states=True)
    # transformers applies the final LayerNorm to its last hidden state; our boundary L is the block output
    for ours, theirs in zip(trace.hidden[:-1], out.hidden_states[:-1], strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-5)
    final = adapter.model.transformer.ln_f(torch.from_numpy(trace.hidden[-1])).detach().numpy()
    np.testing.assert_allclose(final, out.hidden_states[-1].numpy(), atol=1e-5)


def test_vit_patch_grid_and_class_token(tiny_vit):
    adapter = load_model(tiny_vit, device="cpu")
    assert (adapter.identity.modality, adapter.identity.pooling) == ("image", "cls")
    trace = adapter.capture(_first_batch(adapter, "builtin:images"), POINTS)
    assert trace.grid == (4, 4) and trace.prefix_tokens == 1
    assert trace.hidden[0].shape[1] == 17 and trace.logits.shape[1] == 6
    assert "normalised" in adapter.notes()[0]


def test_half_precision_and_sharded_weights_load(tmp_path):
    from tests.fixtures.torch_models import make_tiny_bert

    half = load_model(make_tiny_bert(tmp_path / "half", dtype="float16"), device="cpu")
    assert half.identity.dtype == "float16" and half.identity.details["compute_dtype"] == "float32"
    bf16 = load_model(make_tiny_bert(tmp_path / "bf16", dtype="bfloat16"), device="cpu")
    assert bf16.identity.dtype == "bfloat16"
    sharded_dir = make_tiny_bert(tmp_path / "sharded", shard=True)
    assert len(list(sharded_dir.glob("model-*.safetensors"))) > 1
    sharded = load_model(sharded_dir, device="cpu")
    assert sharded.identity.layers == 3


def test_missing_weights_are_refused_not_randomly_filled(tmp_path, tiny_bert):
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "missing"
    shutil.copytree(tiny_bert, folder)
    tensors = load_file(str(folder / "model.safetensors"))
    dropped = next(k for k in tensors if "encoder.layer.1.attention" in k)
    del tensors[dropped]
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(BadInput, match="missing") as info:
        load_model(folder, device="cpu")
    assert "random" in str(info.value)


def test_unexpected_weights_are_refused(tmp_path, tiny_bert):
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "extra"
    shutil.copytree(tiny_bert, folder)
    tensors = load_file(str(folder / "model.safetensors"))
    tensors["encoder.layer.9.output.dense.weight"] = np.zeros((2, 2), dtype=np.float32)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(BadInput, match="unexpected"):
        load_model(folder, device="cpu")


def test_remote_code_configs_are_refused(tmp_path, tiny_bert):
    folder = tmp_path / "remote"
    shutil.copytree(tiny_bert, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_evil.py").write_text("raise SystemExit('this must never run')\n")
    with pytest.raises(BadInput, match="auto_map"):
        load_model(folder, device="cpu")


def test_cuda_request_without_gpu_is_bad_input(tiny_bert):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(BadInput, match="no CUDA GPU"):
        load_model(tiny_bert, device="cuda")
