"""How far two audits of the same model and probes may differ, figure by figure (docs/METHODS.md, Precision).

A bfloat16 audit and a float32 audit (or a GPU and a CPU audit) of one model never give the same
bits: every block output is rounded differently. Each metric belongs to a family whose tolerance was
set from measured differences (bench/precision.py) with a margin; `compare_audits` lists every figure
of two `auditor show --json` objects with its largest difference and whether it is within tolerance.

A value is within tolerance when |a - b| <= abs + rel * scale, where scale is the largest magnitude
of the figure (over its layers, heads or variants, on either side): per-head and per-layer arrays mix
large and near-zero entries, and a near-zero entry's relative difference says nothing.

Some figures a reduced-precision dtype cannot measure at all (models.precision_noise): embedding noise
within a few rounding steps of the dtype's resolution, and update fits at layers whose update is
within a few rounding steps of the state. Those are listed with the reason, not compared.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditor.models import precision_noise


@dataclass(frozen=True)
class Tolerance:
    """|a - b| <= abs + rel * (the figure's largest magnitude), for every value of a figure."""

    abs: float
    rel: float
    family: str

    def allowed(self, scale: float) -> float:
        return self.abs + self.rel * scale


# per family: at least about twice the largest float32-vs-bfloat16 difference measured on MiniLM, a small
# BERT and a small GPT-2 (bench/precision.py; the figures and margins are in docs/METHODS.md, Precision)
FAMILIES: dict[str, Tolerance] = {t.family: t for t in (
    Tolerance(0.0, 0.0, "exact"),                   # counts and sizes read off the artifact or the config
    Tolerance(0.0, 0.0, "unclassified"),            # a metric no family names yet: compared exactly
    Tolerance(3e-3, 0.0, "cosine"),                 # cosines between states or outputs (near 1)
    Tolerance(3e-3, 1e-2, "flow"),                  # representation, smoothing and counterfactual-shift ratios
    Tolerance(1e-2, 1e-2, "attention"),             # entropy, distance, sink share from half-precision softmax
    Tolerance(5e-3, 0.0, "update_fit"),             # R^2 and shares of the layer-update fits (flow.pde)
    Tolerance(5e-3, 2e-3, "information"),           # mutual information estimates, in bits
    Tolerance(8e-2, 0.0, "probe"),                  # held-out accuracy of fitted probes (a few probes flip)
    Tolerance(0.0, 6e-2, "perturbation"),           # amplification and per-block gain (ratios)
    Tolerance(6e-2, 0.0, "lyapunov"),               # mean log gain: log(1.06)
    Tolerance(1e-3, 5e-2, "divergence"),            # KL divergences in nats
    Tolerance(2e-2, 0.0, "rate"),                   # flip rates, agreement; or half their interval's width
    Tolerance(1e-6, 3e-2, "gradient"),              # gradient norms, their ratios, head importance
    Tolerance(1.5e-1, 0.0, "rank"),                 # Spearman correlations over few, often near-tied items
    Tolerance(0.0, 0.0, "decision"),                # counts of heads/metrics past a threshold
    Tolerance(math.inf, math.inf, "precision_residual"),   # parity gaps: they measure the dtype itself
)}

_METRICS: dict[str, tuple[str, ...]] = {
    "exact": ("files", "total_bytes", "parameters", "custom_operator_count", "contrib_operator_count",
              "external_data_files", "dtype_count", "basis_size"),
    "cosine": ("consecutive_cos", "identity_cos", "pointwise_cos", "pde_cos", "rollout_cos",
               "kernel_attention_cos", "uniform_attention_cos", "output_cos", "output_cos_by_kind",
               "output_cos_ci", "counterfactual_output_cos", "ablation_output_cos"),
    "flow": ("effective_rank", "norm_growth", "update_ratio", "dirichlet_energy", "rank_collapse_residual",
             "token_similarity", "compression", "counterfactual_shift", "randomization_delta"),
    "attention": ("entropy", "distance", "sink_share", "mean_entropy", "rollout_special_share"),
    "update_fit": ("pde_r2", "pointwise_r2", "r2_drop_attention", "r2_drop_diffusion", "r2_drop_reaction",
                   "share_attention", "share_diffusion", "share_reaction", "diffusion"),
    "information": ("mi_xt_kde", "mi_ty_kde", "mi_xt_renyi", "mi_ty_renyi", "mi_ty_kde_shuffled",
                    "mi_ty_renyi_shuffled"),
    "probe": ("probe_accuracy", "probe_accuracy_over_chance", "mi_ty_probe_bound", "task_information_drop"),
    "perturbation": ("amplification", "amplification_by_eps", "layer_gain"),
    "lyapunov": ("lyapunov",),
    "divergence": ("output_kl", "output_kl_by_kind", "counterfactual_output_kl"),
    "rate": ("flip_rate", "flip_rate_by_kind", "flip_rate_ci", "counterfactual_flip_rate", "ablation_flip_rate",
             "prediction_agreement"),
    "gradient": ("grad_norm_hidden", "grad_norm_params", "grad_ratio", "grad_attenuation", "param_grad_ratio",
                 "head_importance"),
    "rank": ("rank_correlation", "estimator_trend_agreement"),
    "decision": ("redundant_heads", "prunable_attention_share", "low_effect_attention_share",
                 "uninformative_metrics", "informative_share"),
    "precision_residual": ("max_abs_diff", "max_rel_diff", "layer_max_abs_diff"),
}
_FAMILY_OF = {metric: family for family, metrics in _METRICS.items() for metric in metrics}
# the same metric name in another check where it means something else
_BY_CHECK: dict[tuple[str, str], str] = {("artifact.parity", "output_cos"): "cosine"}

# a rate may also differ by this share of its 95% interval's width (the wider of the two audits')
RATE_INTERVAL_SHARE = 0.5
# flow.pde's fits regress the layer update h_{l+1} - h_l; a bfloat16 state rounded to u carries an update
# error of about u / update_ratio, and R^2 moves by its square: measurable where update_ratio >= this * u
UPDATE_MIN_ROUNDOFFS = 20.0


def tolerance_for(check_id: str, metric: str) -> Tolerance:
    """The tolerance of `metric` as `check_id` reports it (a metric no family names: 'unclassified', exact)."""
    family = _BY_CHECK.get((check_id, metric)) or _FAMILY_OF.get(metric, "unclassified")
    return FAMILIES[family]


@dataclass(frozen=True)
class Difference:
    """One figure of two audits: its largest differences, its tolerance and whether it is within it."""

    check_id: str
    metric: str
    variant: str | None             # path inside a dict-valued metric or interval ('0.05', 'overall/ci_low')
    max_abs: float | None           # largest |a - b| over the figure's values (None: not compared)
    max_rel: float | None           # max_abs / the figure's largest magnitude
    tolerance: Tolerance
    within: bool
    only_in: str | None = None      # 'a' or 'b': the figure exists in that audit only
    note: str | None = None         # why it was not compared, or what differs in its shape
    allowed: float | None = None    # the largest |a - b| the tolerance allows for this figure's scale

    @property
    def figure(self) -> str:
        return f"{self.check_id} {self.metric}" + (f"[{self.variant}]" if self.variant else "")

    @property
    def share_of_tolerance(self) -> float | None:
        """max_abs / allowed (1.0: at the limit); None when not compared."""
        if self.max_abs is None or self.allowed is None:
            return None
        if self.allowed > 0:
            return self.max_abs / self.allowed
        return 0.0 if self.max_abs == 0 else math.inf


def compare_audits(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Difference]:
    """Every figure (metrics and their intervals) of two `auditor show --json` objects, check by check."""
    dtype = _coarser(_dtype_of(a), _dtype_of(b))
    coarse_is_b = precision_noise.unit_roundoff(_dtype_of(b)) >= precision_noise.unit_roundoff(_dtype_of(a))
    checks_a = {c["id"]: c for c in a.get("checks") or []}
    checks_b = {c["id"]: c for c in b.get("checks") or []}
    out: list[Difference] = []
    for check_id in [*checks_a, *(c for c in checks_b if c not in checks_a)]:
        ca, cb = checks_a.get(check_id), checks_b.get(check_id)
        if ca is None or cb is None:
            side = "a" if cb is None else "b"
            out.append(Difference(check_id, "*", None, None, None, FAMILIES["exact"], False, only_in=side,
                                  note=f"the check is in audit {side} only"))
            continue
        context = _Context(check_id, dtype, checks_a, checks_b, coarse_is_b)
        leaves_a = dict(_leaves(ca.get("metrics") or {}, ca.get("intervals") or {}))
        leaves_b = dict(_leaves(cb.get("metrics") or {}, cb.get("intervals") or {}))
        for key in [*leaves_a, *(k for k in leaves_b if k not in leaves_a)]:
            out.append(_compare(context, key, leaves_a.get(key), leaves_b.get(key)))
    return out


@dataclass(frozen=True)
class _Context:
    check_id: str
    dtype: str                       # the coarser of the two audits' dtypes
    checks_a: Mapping[str, Any]
    checks_b: Mapping[str, Any]
    coarse_is_b: bool = True         # audit b ran in the coarser dtype


def _compare(ctx: _Context, key: tuple[str, str | None], va: Any, vb: Any) -> Difference:
    metric, variant = key
    tol = tolerance_for(ctx.check_id, metric)
    why_not = _not_measurable(ctx, metric, variant)
    if va is None and vb is None:
        return Difference(ctx.check_id, metric, variant, 0.0, 0.0, tol, True, note="no value in either audit")
    if va is None or vb is None:
        side = "a" if vb is None else "b"
        return Difference(ctx.check_id, metric, variant, None, None, tol, why_not is not None, only_in=side,
                          note=why_not or f"a value in audit {side} only")
    x, y = np.asarray(va, dtype=np.float64), np.asarray(vb, dtype=np.float64)
    if x.shape != y.shape:
        return Difference(ctx.check_id, metric, variant, None, None, tol, False,
                          note=f"shapes differ: {list(x.shape)} and {list(y.shape)}")
    both_nan = np.isnan(x) & np.isnan(y)
    diff = np.where(both_nan, 0.0, np.abs(x - y))
    diff = np.where(np.isnan(diff), np.inf, diff)           # NaN on one side only
    skip = _unresolved_layers(ctx, metric, x.shape)
    if skip is not None:
        diff = np.where(skip, 0.0, diff)
    finite = np.concatenate([np.abs(x[np.isfinite(x)]), np.abs(y[np.isfinite(y)]), [0.0]])
    scale = float(finite.max())
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
    allowed = tol.allowed(scale)
    if tol.family == "rate":   # decisions at near-ties: within half the figure's own 95% interval is no change
        allowed = max(allowed, RATE_INTERVAL_SHARE * _interval_width(ctx, metric, variant))
    within = why_not is not None or max_abs <= allowed
    note = why_not
    if skip is not None and skip.any() and why_not is None:
        note = (f"not compared at layer(s) {_layers(skip)}: the update there is under "
                f"{UPDATE_MIN_ROUNDOFFS:g}x {ctx.dtype}'s rounding")
    return Difference(ctx.check_id, metric, variant, max_abs, max_rel, tol, bool(within), note=note,
                      allowed=allowed)


def _interval_width(ctx: _Context, metric: str, variant: str | None) -> float:
    """The wider of the two audits' 95% interval widths of a rate (0 when neither stored one)."""
    parts = [p for p in (variant or "").split("/") if p and p not in ("ci_low", "ci_high")]
    widths = [0.0]
    for checks in (ctx.checks_a, ctx.checks_b):
        check = checks.get(ctx.check_id) or {}
        entry: Any = (check.get("intervals") or {}).get(metric)
        for part in parts:
            entry = entry.get(part) if isinstance(entry, Mapping) else None
        if isinstance(entry, Mapping) and isinstance(entry.get("ci_low"), (int, float)) \
                and isinstance(entry.get("ci_high"), (int, float)):
            widths.append(float(entry["ci_high"]) - float(entry["ci_low"]))
        pair = (check.get("metrics") or {}).get(metric) if metric.endswith("_ci") else None
        if isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, (int, float)) for v in pair):
            widths.append(float(pair[1]) - float(pair[0]))
    return max(widths)


def _leaves(metrics: Mapping[str, Any], intervals: Mapping[str, Any]) -> Iterator[tuple[tuple[str, str | None], Any]]:
    """((metric, variant path), value) for every number or array; intervals under 'ci_low'/'ci_high' paths."""
    for name, value in metrics.items():
        for path, v in _paths(value, None):
            yield (name, path), v
    for name, value in intervals.items():
        for path, v in _paths(value, None):
            yield (name, path), v


def _paths(value: Any, prefix: str | None) -> Iterator[tuple[str | None, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _paths(v, str(k) if prefix is None else f"{prefix}/{k}")
        return
    if isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
        for i, v in enumerate(value):
            yield from _paths(v, str(i) if prefix is None else f"{prefix}/{i}")
        return
    if isinstance(value, list):
        yield prefix, None if _all_none(value) else _numbers(value)
        return
    yield prefix, value if value is None or isinstance(value, (int, float)) else None


def _numbers(value: list[Any]) -> Any:
    """A (nested) list with None as NaN, for numpy."""
    return [_numbers(v) if isinstance(v, list) else (math.nan if v is None else v) for v in value]


def _all_none(value: list[Any]) -> bool:
    return all(_all_none(v) if isinstance(v, list) else v is None for v in value)


def _dtype_of(audit: Mapping[str, Any]) -> str:
    env = audit.get("environment") or {}
    return str(env.get("dtype") or env.get("compute_dtype") or "float32")


def _coarser(first: str, second: str) -> str:
    return max((first, second), key=precision_noise.unit_roundoff)


def _not_measurable(ctx: _Context, metric: str, variant: str | None) -> str | None:
    """Why a perturbation figure cannot be measured in the coarser dtype (models.precision_noise), or None."""
    if ctx.check_id != "perturbation.sensitivity" or ctx.dtype not in ("bfloat16", "float16"):
        return None
    if metric not in ("amplification", "amplification_by_eps", "layer_gain", "lyapunov"):
        return None
    eps = _eps_of(ctx, metric, variant)
    if eps is None:
        return None
    # judged as the reduced-precision audit judges its own figure; where it left the figure out, from the
    # other audit's (a float32 figure is the true amplification, not one lifted by the floor)
    coarse, fine = (ctx.checks_b, ctx.checks_a) if ctx.coarse_is_b else (ctx.checks_a, ctx.checks_b)
    for checks, measured in ((coarse, True), (fine, False)):
        amp = (_check_metrics(checks, ctx.check_id).get("amplification_by_eps") or {}).get(f"{eps:g}")
        if amp:
            if precision_noise.amplification_measurable(amp, eps, ctx.dtype, measured=measured):
                return None
            return (f"embedding noise {eps:g} is not measurable in {ctx.dtype}: "
                    f"{precision_noise.describe_bias(amp, eps, ctx.dtype, measured=measured)}")
    return None


def _eps_of(ctx: _Context, metric: str, variant: str | None) -> float | None:
    """The noise size a figure comes from: the variant of amplification_by_eps, else the headline's source
    (the amplification_by_eps entry equal to the headline amplification, in the coarser audit first)."""
    if metric == "amplification_by_eps":
        head = (variant or "").split("/")[0]
        try:
            return float(head)
        except ValueError:
            return None
    coarse_first = (ctx.checks_b, ctx.checks_a) if ctx.coarse_is_b else (ctx.checks_a, ctx.checks_b)
    for checks in coarse_first:
        metrics = _check_metrics(checks, ctx.check_id)
        headline = metrics.get("amplification")
        for key, values in (metrics.get("amplification_by_eps") or {}).items():
            if headline is not None and values == headline:
                return float(key)
    return None


def _check_metrics(checks: Mapping[str, Any], check_id: str) -> Mapping[str, Any]:
    return (checks.get(check_id) or {}).get("metrics") or {}


def _unresolved_layers(ctx: _Context, metric: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """[L] True at flow.pde steps whose layer update the coarser dtype cannot resolve (None: all resolved)."""
    if ctx.check_id != "flow.pde" or _FAMILY_OF.get(metric) != "update_fit" or ctx.dtype == "float32":
        return None
    ratios = [_check_metrics(c, "flow.representation").get("update_ratio") for c in (ctx.checks_a, ctx.checks_b)]
    ratios = [np.asarray(r, dtype=np.float64) for r in ratios if r]
    if not ratios or len(shape) != 1 or any(r.shape != shape for r in ratios):
        return None
    smallest = np.min(np.stack(ratios), axis=0)
    return smallest < UPDATE_MIN_ROUNDOFFS * precision_noise.unit_roundoff(ctx.dtype)


def _layers(mask: np.ndarray) -> str:
    return ", ".join(str(int(i) + 1) for i in np.flatnonzero(mask))
