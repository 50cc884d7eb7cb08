"""perturbation.sensitivity maths and copies: known answers on linear models, seeded copies, batching."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from auditor.estimators import perturbation as est
from auditor.models.base import ModelBatch
from auditor.models.perturb import PerturbationPlan, TokenInfo, perturb_image, perturb_text, stack
from auditor.models.torch_perturb import run_perturbed

SINGULAR = [2.0, 0.5, 3.0]           # the perturbation's singular value in each of three linear layers


def _linear_states(noise_scale: float = 1e-2):
    """States of a linear model H_l = H_{l-1} W_l, W_l = diag(1, s_l, ..., s_l): the clean signal lies
    along e_0 (singular value 1) and the perturbation in the other directions (singular value s_l)."""
    rng = np.random.default_rng(0)
    n, tokens, d = 5, 4, 6
    clean = np.zeros((n, tokens, d))
    clean[:, :, 0] = rng.normal(size=(n, tokens)) + 3.0
    delta = rng.normal(size=(n, tokens, d)) * noise_scale
    delta[:, :, 0] = 0.0
    states_clean, states_pert = [clean], [clean + delta]
    for s in SINGULAR:
        w = np.diag([1.0] + [s] * (d - 1))
        states_clean.append(states_clean[-1] @ w)
        states_pert.append(states_pert[-1] @ w)
    return states_clean, states_pert


def test_linear_model_amplification_is_the_product_of_singular_values():
    clean, pert = _linear_states()
    mask = np.ones(clean[0].shape[:2], dtype=bool)
    rel = np.stack([est.relative_change(c, p, mask) for c, p in zip(clean, pert, strict=True)], axis=1)
    assert est.amplification(rel) == pytest.approx(np.cumprod([1.0] + SINGULAR), rel=1e-9)
    assert est.layer_gain(rel) == pytest.approx(SINGULAR, rel=1e-9)
    assert est.lyapunov(est.layer_gain(rel)) == pytest.approx(np.mean(np.log(SINGULAR)), rel=1e-9)


class _LinearStack(nn.Module):
    """A 'transformer' whose blocks are linear maps with known singular values (no bias)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        for s in SINGULAR:
            layer = nn.Linear(d, d, bias=False)
            layer.weight.data = torch.diag(torch.tensor([1.0] + [s] * (d - 1)))
            self.blocks.append(layer)

    def forward(self, x: torch.Tensor, return_dict: bool = True) -> SimpleNamespace:
        for block in self.blocks:
            x = block(x)
        return SimpleNamespace(logits=None)


def test_embedding_noise_through_the_hooks_recovers_the_product():
    """The real noise hook on a linear stack: in 512 dimensions almost all noise misses the signal axis."""
    d, n = 512, 4
    model = _LinearStack(d).eval()
    adapter = SimpleNamespace(model=model, blocks=list(model.blocks), pooling="mean",
                              _inputs=lambda b: {"x": torch.from_numpy(b.inputs["x"])})
    x = np.zeros((n, 3, d), dtype=np.float32)
    x[:, :, 0] = 1.0 + np.arange(n)[:, None]
    batch = ModelBatch(index=np.arange(n), inputs={"x": x}, mask=None)
    run = run_perturbed(adapter, batch, PerturbationPlan(seed=1, eps=(0.05,)), tokens=None)
    states = run.hidden["embedding@0.05"]
    clean = [x]
    for s in SINGULAR:
        w = np.diag([1.0] + [s] * (d - 1)).astype(np.float32)
        clean.append(clean[-1] @ w)
    rel = np.stack([est.relative_change(c, p, None) for c, p in zip(clean, states, strict=True)], axis=1)
    assert rel[:, 0] == pytest.approx(0.05, rel=1e-4)               # relative size eps at layer 0, exactly
    assert est.amplification(rel) == pytest.approx(np.cumprod([1.0] + SINGULAR), rel=0.01)


TOKENS = TokenInfo(mask_id=4, vocab_size=50, special_ids=frozenset({0, 1, 2, 3, 4}))


def _text_batch(index=(0, 1, 2)):
    ids = np.array([[2, 10, 11, 12, 13, 14, 15, 16, 17, 3],
                    [2, 20, 21, 22, 3, 0, 0, 0, 0, 0],
                    [2, 30, 3, 0, 0, 0, 0, 0, 0, 0]], dtype=np.int64)[: len(index)]
    mask = ids != 0
    special = np.isin(ids, [2, 3]) & mask
    return ModelBatch(index=np.asarray(index), inputs={"input_ids": ids, "attention_mask": mask.astype(np.int64),
                                                       "token_type_ids": np.zeros_like(ids)},
                      mask=mask, special=special)


def test_masking_changes_only_content_tokens_at_least_one_per_text():
    batch = _text_batch()
    out = perturb_text(batch, "mask", 0.2, seed=0, tokens=TOKENS)
    changed = out.inputs["input_ids"] != batch.inputs["input_ids"]
    assert changed.sum(axis=1).tolist() == [2, 1, 1]                 # round(0.2 * 8) = 2; at least one
    assert not (changed & (batch.special | ~batch.mask)).any()
    assert (out.inputs["input_ids"][changed] == TOKENS.mask_id).all()


def test_substitution_draws_ordinary_tokens():
    out = perturb_text(_text_batch(), "substitute", 0.5, seed=3, tokens=TOKENS)
    changed = out.inputs["input_ids"] != _text_batch().inputs["input_ids"]
    assert changed.any() and not np.isin(out.inputs["input_ids"][changed], list(TOKENS.special_ids)).any()


def test_deletion_shifts_tokens_left_and_keeps_specials():
    batch = _text_batch()
    out = perturb_text(batch, "delete", 0.25, seed=0, tokens=TOKENS)
    assert out.mask.sum(axis=1).tolist() == [8, 4, 3]                 # the one-word text keeps its word
    assert out.inputs["input_ids"][0, 0] == 2 and out.inputs["input_ids"][0, 7] == 3
    assert out.mask.shape[1] == 8                                     # the batch narrows to its widest text
    row = out.inputs["input_ids"][1]
    assert row[0] == 2 and row[3] == 3 and set(row[1:3]) < {20, 21, 22} and (row[4:] == 0).all()


def test_copies_depend_on_the_probe_not_on_the_batch():
    alone = perturb_text(_text_batch(index=(7,)), "mask", 0.3, seed=5, tokens=TOKENS)
    together = perturb_text(_text_batch(index=(7, 8, 9)), "mask", 0.3, seed=5, tokens=TOKENS)
    assert (alone.inputs["input_ids"][0] == together.inputs["input_ids"][0]).all()
    other_seed = perturb_text(_text_batch(index=(7,)), "mask", 0.3, seed=6, tokens=TOKENS)
    assert not (alone.inputs["input_ids"] == other_seed.inputs["input_ids"]).all()


def test_image_occlusion_and_noise():
    pixels = np.random.default_rng(0).random((2, 3, 20, 20)).astype(np.float32)
    batch = ModelBatch(index=np.array([0, 1]), inputs={"pixel_values": pixels}, mask=None)
    occluded = perturb_image(batch, "occlude", 0.25, seed=0).inputs["pixel_values"]
    changed = (occluded != pixels).any(axis=1)
    assert 0 < changed[0].sum() <= 25                                 # a 5 x 5 square
    noisy = perturb_image(batch, "noise", 0.1, seed=0).inputs["pixel_values"]
    assert np.std(noisy - pixels) == pytest.approx(0.1 * (pixels.max() - pixels.min()), rel=0.1)


def test_stacking_pads_copies_to_the_widest():
    batch = _text_batch()
    shorter = perturb_text(batch, "delete", 0.3, seed=0, tokens=TOKENS)
    big = stack([batch, shorter])
    assert big.size == 6 and big.mask.shape[1] == 10
    assert (big.inputs["input_ids"][3:][~big.mask[3:]] == 0).all()


def test_output_agreement_figures():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    assert est.softmax_kl(logits, logits) == pytest.approx([0.0, 0.0], abs=1e-12)
    assert est.flips(logits, logits[:, ::-1]).tolist() == [1.0, 0.0]
    assert est.row_cosine(logits, 3 * logits) == pytest.approx([1.0, 1.0])
