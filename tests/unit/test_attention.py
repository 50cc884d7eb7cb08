"""attention.structure maths: known answers for entropy, distance, sinks, rollout and ranks; head masks."""
import numpy as np
import pytest
import torch
from torch import nn

from auditor.estimators.attention import head_stats, input_relevance, is_causal, rollout, spearman
from auditor.models.hooks import head_gates


def _mask(lengths, tokens):
    return np.arange(tokens)[None, :] < np.asarray(lengths)[:, None]


def _uniform(mask, heads=2, causal=False):
    allowed = mask[:, None, :, None] & mask[:, None, None, :]
    if causal:
        allowed = allowed & np.tril(np.ones((mask.shape[1],) * 2, dtype=bool))
    attn = np.broadcast_to(allowed, (mask.shape[0], heads, *allowed.shape[2:])).astype(float)
    return attn / np.maximum(attn.sum(axis=-1, keepdims=True), 1)


def test_uniform_attention_has_entropy_one_and_one_hot_zero():
    mask = _mask([5, 3], 5)
    assert head_stats(_uniform(mask), mask).entropy == pytest.approx(np.ones((2, 2)))
    one_hot = np.zeros((2, 2, 5, 5))
    one_hot[..., 1] = 1.0
    assert head_stats(one_hot, mask).entropy == pytest.approx(np.zeros((2, 2)))


def test_causal_uniform_attention_is_recognised_and_has_entropy_one():
    mask = _mask([6, 4], 6)
    attn = _uniform(mask, causal=True)
    assert is_causal(attn, mask) and not is_causal(_uniform(mask), mask)
    assert head_stats(attn, mask).entropy == pytest.approx(np.ones((2, 2)))


def test_previous_token_head_has_distance_one_and_first_token_sink():
    tokens = 6
    mask = _mask([6], tokens)
    previous = np.zeros((1, 2, tokens, tokens))
    for i in range(tokens):
        previous[0, 0, i, max(i - 1, 0)] = 1.0
    previous[0, 1, :, 0] = 1.0                                         # head 1 looks only at the first token
    stats = head_stats(previous, mask, causal=True)
    assert stats.distance[0, 0] == pytest.approx(5 / 6)              # rows 1..5 look one back, row 0 at itself
    assert stats.sink[0, 1] == pytest.approx(1.0)
    assert stats.sink[0, 0] == pytest.approx(2 / 6)


def test_patch_distance_on_the_grid():
    """A class token plus a 2 x 2 grid: each patch attends to the patch to its right or left (distance 1)."""
    tokens = 5
    attn = np.zeros((1, 1, tokens, tokens))
    attn[0, 0, 0, 0] = 1.0
    for patch, partner in ((0, 1), (1, 0), (2, 3), (3, 2)):
        attn[0, 0, 1 + patch, 1 + partner] = 1.0
    stats = head_stats(attn, np.ones((1, tokens), bool), grid=(2, 2), prefix=1)
    assert stats.distance[0, 0] == pytest.approx(1.0)


def test_rollout_of_identity_attention_keeps_each_token_to_itself():
    mask = _mask([4], 4)
    eye = np.broadcast_to(np.eye(4), (1, 2, 4, 4))
    rolled = rollout([eye, eye], mask)
    assert rolled[0] == pytest.approx(np.eye(4))
    assert input_relevance(rolled, mask, "cls")[0] == pytest.approx([1, 0, 0, 0])
    uniform = rollout([_uniform(mask)] * 3, mask)
    assert uniform.sum(axis=2) == pytest.approx(np.ones((1, 4)))


def test_spearman():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_head_gates_scale_each_head_slice():
    """xi = 1 changes nothing; xi_h = 0 removes exactly head h's slice of the projection input."""
    torch.manual_seed(0)
    proj = nn.Linear(8, 3)
    x = torch.randn(2, 5, 8)
    ones = torch.ones(2, 4)
    with head_gates([proj], [ones], heads=4):
        same = proj(x)
    assert torch.allclose(same, proj(x))
    gate = torch.ones(2, 4)
    gate[:, 1] = 0.0
    with head_gates([proj], [gate], heads=4):
        gated = proj(x)
    removed = x.clone()
    removed[..., 2:4] = 0.0
    assert torch.allclose(gated, proj(removed))
    assert not proj._forward_pre_hooks                                 # the hook came off
