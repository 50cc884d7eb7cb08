"""Embedding noise in reduced precision: which noise sizes a dtype can measure, and adding it honestly.

perturbation.sensitivity adds Gaussian noise of relative size eps to the embedding output and reads
how the relative change grows through the blocks (amplification A_l = rel_l / rel_0). In bfloat16 or
float16 every block output is rounded to the dtype's unit roundoff u (2^-8 for bfloat16, 2^-11 for
float16), and the clean and the noisy forward round differently once the noise moves values across
rounding steps. That rounding is a perturbation of its own, independent of the noise, of relative size
c_l = FLOOR_PER_BLOCK * u * sqrt(l) at boundary l (one independent rounding per block, added in
quadrature), so the measured amplification is m_l = sqrt(A_l^2 + (c_l / eps)^2): at eps of a few u
it measures the dtype's rounding, not the model. Measured (docs/METHODS.md, Precision): m_l fits this
with FLOOR_PER_BLOCK 0.6-0.8 on a tiny BERT and 1.0-1.4 on MiniLM, at all three noise sizes.

The honest behaviour: a noise size is measured only where the floor biases the figure by at most
MAX_BIAS at every layer. Before the run, sizes that even an unamplified perturbation (A = 1) cannot
lift clear of the floor are not run (`split_eps`); after it, the measured amplification says whether
the rest were (`amplification_measurable`); a size that was not is reported as such with the reason
(`not_measurable`), never as a number. The realised noise at layer 0 is already what counts (rel_0 is
read off the recorded, rounded block input), and `add_relative_noise` adds the noise in float32 and
rounds once, so the recorded input is the nearest representable point to the intended one.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

# unit roundoff (half the spacing of numbers near 1) of each dtype a model may run in
UNIT_ROUNDOFF = {"float64": 2.0 ** -53, "float32": 2.0 ** -24, "bfloat16": 2.0 ** -8, "float16": 2.0 ** -11}
# the floor per block in units of u: measured at most 1.4 (MiniLM, bfloat16), taken as 1.5
FLOOR_PER_BLOCK = 1.5
# the largest overestimate of amplification from rounding accepted as a measurement (below the
# perturbation family's tolerance of 6% in auditor.figure_tolerance)
MAX_BIAS = 0.05


def unit_roundoff(dtype: str) -> float:
    """u of `dtype` (a name from models.precision); an unknown name counts as float32."""
    return UNIT_ROUNDOFF.get(dtype, UNIT_ROUNDOFF["float32"])


def rounding_floor(dtype: str, layers: int | np.ndarray) -> Any:
    """c_l: the relative change rounding alone makes at boundary l (0 at the embeddings, where the noise
    itself is the measured denominator)."""
    return FLOOR_PER_BLOCK * unit_roundoff(dtype) * np.sqrt(np.asarray(layers, dtype=np.float64))


def amplification_bias(amplification: Sequence[float], eps: float, dtype: str, *,
                       measured: bool = True) -> np.ndarray:
    """[L+1] relative overestimate of the amplification rounding causes at eps, per layer, under the floor
    model: from an amplification measured in `dtype` (m_l / A_l - 1 = 1 / sqrt(1 - (c_l / (m_l eps))^2) - 1;
    inf where the floor explains the whole measured change), or, with `measured` False, from a true one
    (a float32 figure: sqrt(1 + (c_l / (A_l eps))^2) - 1)."""
    m = np.maximum(np.asarray(amplification, dtype=np.float64), 0.0)
    floor = rounding_floor(dtype, np.arange(m.size))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(m > 0, floor / (m * eps), np.inf)
        if not measured:
            return np.sqrt(1.0 + share ** 2) - 1.0
        return np.where(share < 1.0, 1.0 / np.sqrt(np.maximum(1.0 - share ** 2, 1e-300)) - 1.0, np.inf)


def amplification_measurable(amplification: Sequence[float], eps: float, dtype: str,
                             max_bias: float = MAX_BIAS, *, measured: bool = True) -> bool:
    """True when rounding biases the amplification at eps by at most `max_bias` at every layer
    (`measured`: the figure was measured in `dtype`; False: it is a float32 figure of the same model)."""
    if eps <= 0:
        return False
    return bool(np.all(amplification_bias(amplification, eps, dtype, measured=measured) <= max_bias))


def rounding_bias_at(eps: float, dtype: str, layer: int, amplification: float = 1.0) -> float:
    """The overestimate rounding causes at boundary `layer` for a true amplification (1: unamplified)."""
    return math.sqrt(1.0 + (float(rounding_floor(dtype, layer)) / (amplification * eps)) ** 2) - 1.0


def min_measurable_eps(dtype: str, layers: int, max_bias: float = MAX_BIAS) -> float:
    """The smallest noise size an unamplified perturbation (A = 1) measures within `max_bias` at boundary
    `layers`; a model that shrinks perturbations needs more (amplification_measurable says after the run)."""
    return float(rounding_floor(dtype, layers)) / math.sqrt((1.0 + max_bias) ** 2 - 1.0)


def split_eps(eps: Sequence[float], dtype: str, layers: int,
              max_bias: float = MAX_BIAS) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(sizes to run, sizes `dtype` cannot measure through `layers` blocks), each in the given order.

    float32 and float64 run every size (their floor is below 1e-6)."""
    least = min_measurable_eps(dtype, max(int(layers), 1), max_bias) * (1 - 1e-9)
    return (tuple(float(e) for e in eps if float(e) >= least), tuple(float(e) for e in eps if float(e) < least))


def describe_bias(amplification: Sequence[float], eps: float, dtype: str, *, measured: bool = True) -> str:
    """One English clause: how far rounding could lift the figure, at its worst layer."""
    bias = amplification_bias(amplification, eps, dtype, measured=measured)
    worst = int(np.argmax(bias))
    if not np.isfinite(bias[worst]):
        return f"{dtype}'s rounding could account for all of the measured change at layer {worst}"
    return (f"{dtype}'s rounding could lift the figure at layer {worst} by {bias[worst]:.0%} "
            f"(more than {MAX_BIAS:.0%})")


def not_measurable(eps: Sequence[float], dtype: str, layers: int, amplification: dict[str, Any] | None = None,
                   max_bias: float = MAX_BIAS) -> dict[str, Any] | None:
    """The evidence entry for the noise sizes `dtype` cannot measure, before the run (split_eps) or after it
    (`amplification`: eps as '%g' -> measured [L+1]); None when every size was measured."""
    _kept, dropped = split_eps(eps, dtype, layers, max_bias)
    after = [float(e) for e in eps if float(e) not in dropped and amplification is not None
             and amplification.get(f"{float(e):g}") is not None
             and not amplification_measurable(amplification[f"{float(e):g}"], float(e), dtype, max_bias)]
    if not dropped and not after:
        return None
    return {"eps": sorted([*dropped, *after]), "not_run": list(dropped), "dtype": dtype,
            "unit_roundoff": unit_roundoff(dtype), "floor_per_block": FLOOR_PER_BLOCK, "max_bias": max_bias,
            "min_eps_unamplified": round(min_measurable_eps(dtype, layers, max_bias), 4),
            "reason": (f"{dtype} rounds every block output to {unit_roundoff(dtype):.2g} of its size; the two "
                       "forwards round differently, and at these noise sizes that rounding would be measured "
                       f"as growth (more than {max_bias:.0%} of the figure)")}


def not_measurable_message(entry: dict[str, Any] | None) -> Any:
    """The catalogue sentence (templates/sentences/precision.yaml) for a `not_measurable` entry."""
    from auditor.messages import Message

    if not entry:
        return None
    return Message("precision.eps_not_measurable", {"eps": [f"{e:g}" for e in entry["eps"]],
                                                     "dtype": entry["dtype"], "bias": entry["max_bias"]})


def add_relative_noise(part: Any, direction: Any, eps: Any, scale: Any) -> Any:
    """part + direction * eps * scale, computed in float32 and rounded once to part's dtype.

    part [R, T, d] block inputs (any dtype), direction [R, T, d] unit-Frobenius noise, eps and scale [R]
    (scale: ||part||_F per row). In float32 this is the sum torch_perturb computes today; in bfloat16 it
    rounds once instead of three times (the direction, the product and the sum)."""
    shape = (-1, *([1] * (part.dim() - 1)))
    noise = direction.float() * (eps.float() * scale.float()).reshape(shape)
    return (part.float() + noise).to(part.dtype)


def realised_relative(clean: Any, noisy: Any, valid: Any) -> Any:
    """[R] ||noisy - clean||_F / ||clean||_F over valid tokens, in float32: the noise actually added after
    rounding (valid [R, T, 1], bool or 0/1)."""
    valid = valid.float()
    diff = ((noisy.float() - clean.float()) * valid).flatten(1).norm(dim=1)
    return diff / (clean.float() * valid).flatten(1).norm(dim=1).clamp(min=1e-12)
