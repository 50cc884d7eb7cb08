"""Which chart each check gets, built from stored figures: a small table, easy to extend.

To add a check's charts, write a function `(data, t, width) -> Drawing` and list it under the
check's id in FIGURES. A check without an entry gets no chart and its figures as a table.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reportlab.graphics.shapes import Drawing

from reports import charts, fonts
from reports.data import ReportData, layer_series

Figure = Callable[[ReportData, dict[str, Any], float], Drawing]


def _font(data: ReportData) -> str:
    return fonts.body_font(data.lang)


def _lines(data: ReportData, t: dict[str, Any], width: float, check_id: str, names: list[str], *, steps: bool,
           y_axis: str, log_y: bool = False, extra: list[tuple[str, list]] | None = None,
           thresholds: bool = True, **kw: Any) -> Drawing:
    series = [(t["series"].get(n, n), layer_series(data, check_id, n)) for n in names]
    series += extra or []
    th = threshold_lines(data, check_id, names[0]) if thresholds else []
    return charts.layer_lines(series, x_label=t["axis"]["step" if steps else "layer"], y_label=t["axis"][y_axis],
                              font=_font(data), width=width, x_start=1 if steps else 0, thresholds=th,
                              log_y=log_y, no_data_text=t["results"]["missing"], **kw)


def threshold_lines(data: ReportData, check_id: str, metric: str) -> list[tuple[float, str, str]]:
    """The template's warn/fail limits for a metric, as chart lines."""
    out = []
    for c in data.conditions:
        if c.get("check_id") == check_id and c.get("metric") == metric:
            for level in ("warn", "fail"):
                if isinstance(c.get(level), (int, float)):
                    out.append((float(c[level]), level, f"{level} {c[level]:g}"))
    return out


def river_inputs(data: ReportData) -> dict[str, Any]:
    """Share of the input's information carried per layer, task share, loss and idle marks."""
    m = data.metrics("bottleneck.information_plane")
    carried = m.get("compression") if isinstance(m.get("compression"), list) else None
    if not carried:
        rc = layer_series(data, "flow.smoothing", "rank_collapse_residual")
        carried = [v / rc[0] for v in rc] if rc and rc[0] else []
    task = []
    mi_ty = m.get("mi_ty_kde")
    entropy = data.evidence.get("bottleneck.information_plane", {}).get("label_entropy")
    if isinstance(mi_ty, list) and isinstance(entropy, (int, float)) and entropy > 0 and len(mi_ty) == len(carried):
        task = [min(1.0, (v or 0) / entropy) for v in mi_ty]
    lost = [i for i in range(1, len(carried)) if carried[i] is not None and carried[i - 1] is not None
            and carried[i - 1] - carried[i] > 0.05]
    idle = [i + 1 for i, v in enumerate(layer_series(data, "flow.representation", "update_ratio"))
            if v is not None and v < 0.05]
    return {"carried": carried, "task": task, "lost_at": lost, "blocked_at": idle}


def river(data: ReportData, t: dict[str, Any], width: float, height: float = 118) -> Drawing:
    r = river_inputs(data)
    return charts.information_river(r["carried"], task=r["task"], lost_at=r["lost_at"], blocked_at=r["blocked_at"],
                                    x_label=t["river_axis"], legend=t["river_legend"], font=_font(data),
                                    width=width, height=height, no_data_text=t["results"]["missing"])


def _repr_update(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    return _lines(data, t, w, "flow.representation", ["update_ratio", "consecutive_cos"], steps=True, y_axis="ratio")


def _repr_norm(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    return _lines(data, t, w, "flow.representation", ["norm_growth"], steps=False, y_axis="ratio")


def _smoothing(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    return _lines(data, t, w, "flow.smoothing", ["token_similarity", "rank_collapse_residual"], steps=False,
                  y_axis="ratio", thresholds=False, y_min=0, y_max=1)


def _pde_cos(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    return _lines(data, t, w, "flow.pde", ["pde_cos", "identity_cos", "pointwise_cos"], steps=True, y_axis="cos")


def _pde_shares(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    names = ["share_diffusion", "share_attention", "share_reaction"]
    return charts.stacked_shares([(t["series"][n], layer_series(data, "flow.pde", n)) for n in names],
                                 x_label=t["axis"]["step"], y_label=t["axis"]["share"], font=_font(data), width=w,
                                 no_data_text=t["results"]["missing"])


def _pde_kernel(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    return _lines(data, t, w, "flow.pde", ["kernel_attention_cos", "uniform_attention_cos"], steps=True, y_axis="cos")


def _plane(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    plane = data.evidence.get("bottleneck.information_plane", {}).get("information_plane") or {}
    paths = []
    for est, points in plane.items():
        if isinstance(points, list) and est == "kde":
            paths.append((t["series"].get(est, est), [(p.get("i_xt"), p.get("i_ty")) for p in points]))
    if not paths:
        m = data.metrics("bottleneck.information_plane")
        if isinstance(m.get("mi_xt_kde"), list) and isinstance(m.get("mi_ty_kde"), list):
            paths.append(("KDE", list(zip(m["mi_xt_kde"], m["mi_ty_kde"], strict=False))))
    return charts.information_plane(paths, x_label=t["axis"]["ixt"], y_label=t["axis"]["ity"], font=_font(data),
                                    width=w, no_data_text=t["results"]["missing"])


def _task_info(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    m = data.metrics("bottleneck.information_plane")
    chance = data.evidence.get("bottleneck.information_plane", {}).get("chance_accuracy")
    acc = layer_series(data, "bottleneck.information_plane", "probe_accuracy")
    extra = [(t["series"]["chance"], [chance] * len(acc))] if isinstance(chance, (int, float)) and acc else []
    if acc:
        return _lines(data, t, w, "bottleneck.information_plane", ["probe_accuracy"], steps=False,
                      y_axis="accuracy", extra=extra, y_min=0, y_max=1)
    return _lines(data, t, w, "bottleneck.information_plane", ["mi_ty_kde", "mi_ty_kde_shuffled"], steps=False,
                  y_axis="bits") if m else charts.no_data(w, 150, t["results"]["missing"], _font(data))


def _amplification(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    by_eps = data.metrics("perturbation.sensitivity").get("amplification_by_eps")
    series = []
    if isinstance(by_eps, dict):
        series = [(f"ε = {eps}", vals) for eps, vals in sorted(by_eps.items()) if isinstance(vals, list)]
    if not series:
        series = [(t["series"]["amplification"], layer_series(data, "perturbation.sensitivity", "amplification"))]
    return charts.layer_lines(series, x_label=t["axis"]["layer"], y_label=t["axis"]["ratio"], font=_font(data),
                              width=w, thresholds=threshold_lines(data, "perturbation.sensitivity", "amplification"),
                              no_data_text=t["results"]["missing"])


def _flips(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    m = data.metrics("perturbation.sensitivity")
    by_kind = m.get("flip_rate_by_kind") or m.get("output_cos_by_kind") or {}
    label = t["axis"]["rate"] if m.get("flip_rate_by_kind") else t["axis"]["cos"]
    items = list(by_kind.items()) if isinstance(by_kind, dict) else []
    return charts.hbars(items, value_label=label, font=_font(data), width=w, no_data_text=t["results"]["missing"])


def _gradients(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    return _lines(data, t, w, "gradients.flow", ["grad_norm_hidden"], steps=False, y_axis="norm", log_y=True,
                  thresholds=False)


def _heat(data: ReportData, t: dict[str, Any], w: float, name: str, value_axis: str) -> Drawing:
    matrix = data.metrics("attention.structure").get(name)
    return charts.heatmap(matrix if isinstance(matrix, list) else [], x_label=t["axis"]["head"],
                          y_label=t["axis"]["step"], value_label=t["axis"][value_axis], font=_font(data), width=w,
                          no_data_text=t["results"]["missing"])


def _sanity(data: ReportData, t: dict[str, Any], w: float) -> Drawing:
    delta = data.metrics("sanity.randomization").get("randomization_delta")
    items = sorted(delta.items()) if isinstance(delta, dict) else []
    return charts.hbars(items, value_label=t["axis"]["delta"], font=_font(data), width=w,
                        no_data_text=t["results"]["missing"])


FIGURES: dict[str, list[Figure]] = {
    "flow.representation": [_repr_update, _repr_norm],
    "flow.smoothing": [_smoothing],
    "flow.pde": [_pde_cos, _pde_shares, _pde_kernel],
    "bottleneck.information_plane": [_plane, _task_info],
    "perturbation.sensitivity": [_amplification, _flips],
    "gradients.flow": [_gradients],
    "attention.structure": [lambda d, t, w: _heat(d, t, w, "head_importance", "importance"),
                            lambda d, t, w: _heat(d, t, w, "entropy", "entropy")],
    "sanity.randomization": [_sanity],
}

# (measured, baseline) pairs shown side by side in each check's "baseline comparison"
BASELINES: dict[str, list[tuple[str, str]]] = {
    "flow.pde": [("pde_cos", "identity_cos"), ("pde_cos", "pointwise_cos"), ("pde_r2", "pointwise_r2"),
                 ("kernel_attention_cos", "uniform_attention_cos")],
    "bottleneck.information_plane": [("mi_ty_kde", "mi_ty_kde_shuffled"), ("mi_ty_renyi", "mi_ty_renyi_shuffled")]
}
