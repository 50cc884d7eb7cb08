"""gradients.flow pieces: boundary gradients on a linear stack, losses, the probe head, the shared task."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from auditor.checks._tasks import ProbeTask, StreamingProbeHead
from auditor.estimators.probe_head import fit_softmax, predict
from auditor.models.hooks import block_boundaries
from auditor.models.torch_grad import block_parameters_only, per_sample_loss, torch_pool


def _stack(d=4, layers=3):
    torch.manual_seed(0)
    return nn.Sequential(*[nn.Linear(d, d, bias=False) for _ in range(layers)])


def test_boundary_gradients_match_the_chain_rule_and_hooks_come_off():
    model = _stack()
    blocks = list(model)
    x = torch.randn(2, 5, 4)
    c = torch.randn(2, 5, 4)
    with block_boundaries(blocks, keep_graph=True, edit_input=lambda h: h.detach().requires_grad_(True)) as seen:
        model(x)
        (seen["blocks.3.out"] * c).sum().backward()
    expected = c
    for layer in (3, 2, 1, 0):
        assert torch.allclose(seen[f"blocks.{layer}.out"].grad, expected, atol=1e-6)
        if layer:
            expected = expected @ blocks[layer - 1].weight          # y = x W^T  =>  dL/dx = dL/dy W
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in blocks)


def test_only_block_parameters_take_gradients_and_flags_come_back():
    model = nn.Sequential(nn.Embedding(10, 4), _stack())
    blocks = list(model[1])
    model[0].weight.requires_grad_(True)
    with block_parameters_only(model, blocks):
        assert not model[0].weight.requires_grad and all(p.requires_grad for b in blocks for p in b.parameters())
    assert model[0].weight.requires_grad


def test_causal_lm_loss_of_uniform_logits_is_log_vocabulary():
    vocab = 7
    out = SimpleNamespace(logits=torch.zeros(2, 4, vocab))
    ids = torch.randint(0, vocab, (2, 4))
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    task = ProbeTask("causal_lm", np.ones(2, bool), None)
    loss = per_sample_loss(task, out, None, {"input_ids": ids}, mask, np.arange(2))
    assert loss.tolist() == pytest.approx([np.log(vocab)] * 2, rel=1e-6)


def test_head_loss_uses_labels_or_the_model_s_own_prediction():
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0]])
    task = ProbeTask("head", np.ones(2, bool), np.array([1, -1]))
    loss = per_sample_loss(task, SimpleNamespace(logits=logits), None, {}, torch.ones(2, 1, dtype=torch.bool),
                           np.arange(2))
    assert loss[0] > 3.0 and loss[1] < 0.1                       # label 1 is wrong for row 0; row 1 uses its own


def test_probe_head_separates_separable_classes():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 4
    y = np.repeat(np.arange(3), 20)
    x = centres[y] + rng.normal(size=(60, 16))
    head = fit_softmax(x, y, 3)
    assert (predict(x, head).argmax(axis=1) == y).mean() == 1.0
    again = fit_softmax(x, y, 3)
    assert np.array_equal(head[0], again[0])                      # deterministic


def test_streaming_head_does_not_depend_on_batching():
    rng = np.random.default_rng(1)
    labels = np.array([0, 1] * 10)
    states = rng.normal(size=(20, 8)) + labels[:, None]
    fit = np.arange(14)

    def fitted(chunks):
        head = StreamingProbeHead(fit, labels, 2)
        for rows in chunks:
            head.observe(rows, states[rows])
        assert head.ready
        return head.head()

    one = fitted([np.arange(20)])
    many = fitted([np.array([13, 2, 5]), np.arange(0, 20, 2), np.arange(1, 20, 2)])
    assert np.allclose(one[0], many[0]) and np.allclose(one[1], many[1])


def test_torch_pool_matches_the_trace_pooling():
    from auditor.trace import pool

    hidden = np.random.default_rng(2).normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    for pooling in ("mean", "cls", "last"):
        ours = torch_pool(torch.from_numpy(hidden), torch.from_numpy(mask), pooling).numpy()
        assert ours == pytest.approx(pool(hidden, mask, pooling), abs=1e-6)
