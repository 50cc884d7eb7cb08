"""Which charts each check gets, built from its stored metrics and its findings' thresholds."""
from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget

from gui.widgets.charts import ChartSpec, HeatMap, LineChart, Series

# check id -> [(title en, title ja, metrics, y label)]; "plane" is the information plane (an x-y path)
CHARTS: dict[str, list[tuple[str, str, list[str], str]]] = {
    "flow.representation": [("How much each block changes the stream", "各ブロックによる変化量", ["update_ratio"], "ratio"),
                            ("Effective rank of the representation", "表現の実効ランク", ["effective_rank"], "rank")],
    "flow.smoothing": [("Token similarity and rank-collapse residual", "トークン類似度とランク崩壊残差",
                        ["token_similarity", "rank_collapse_residual"], "")],
    "flow.pde": [("Flow (PDE) fidelity against baselines", "流れ (PDE) モデルの忠実度と基準線",
                  ["pde_cos", "pointwise_cos", "identity_cos", "kernel_attention_cos", "uniform_attention_cos"],
                  "cosine"),
                 ("Share of layer change explained (R²)", "説明できた層変化の割合 (R²)", ["pde_r2", "pointwise_r2"], "R²"),
                 ("Diffusion, attention and reaction shares", "拡散・注意・反応の割合",
                  ["share_diffusion", "share_attention", "share_reaction"], "share")],
    "bottleneck.information_plane": [("Information plane", "情報平面", ["plane"], "I(T;Y)"),
                                     ("Task information per layer", "層ごとのタスク情報量",
                                      ["mi_ty_kde", "mi_ty_kde_shuffled"], "nats"),
                                     ("Linear probe accuracy", "線形プローブの正解率", ["probe_accuracy"], "accuracy")],
    "perturbation.sensitivity": [("Amplification of a small push", "小さな摂動の増幅率", ["amplification"], "× input"),
                                 ("Gain per layer", "層ごとの増幅率", ["layer_gain"], "×")],
    "gradients.flow": [("Gradient norms through the layers", "層ごとの勾配ノルム",
                        ["grad_norm_hidden", "grad_norm_params"], "norm")],
    "attention.structure": [("Attention entropy per head", "ヘッドごとの注意エントロピー", ["entropy"], ""),
                            ("Head importance", "ヘッドの重要度", ["head_importance"], "")],
}


def _is_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, (int, float)) or x is None for x in v)


def _is_grid(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(_is_list(r) for r in v)


def _thresholds(findings: list[dict[str, Any]], metrics: list[str], lang: str = "en") -> list[tuple[str, float, str]]:
    out = []
    for f in findings:
        cond = f.get("condition") or {}
        if not isinstance(cond, dict) or cond.get("metric") not in metrics:
            continue
        for level in ("warn", "fail"):
            value = cond.get(level)
            if not isinstance(value, (int, float)):
                continue
            if lang == "ja":
                side = "未満" if cond.get("condition") == "below" else "超"
                label = f"{'注意' if level == 'warn' else '不合格'}：{value:g}{side}"
            else:
                label = f"{level} {cond.get('condition', '')} {value:g}"
            out.append((label, float(value), level))
    return out


def _step_metrics(check_id: str) -> frozenset[str]:
    """Metrics indexed by block (step l -> l+1), plotted over blocks 1..L rather than boundaries 0..L."""
    from auditor.checks import registry

    try:
        return registry.get(check_id).step_metrics
    except KeyError:
        return frozenset()


def charts_for(check: dict[str, Any], findings: list[dict[str, Any]], lang: str) -> list[QWidget]:
    metrics = check.get("metrics") or {}
    steps = _step_metrics(check["id"])
    widgets: list[QWidget] = []
    specs = CHARTS.get(check["id"])
    if specs is None:   # any other check: one chart per per-layer list, a heat map per grid
        specs = [(n, n, [n], "") for n, v in metrics.items() if _is_list(v) or _is_grid(v)]
    for title_en, title_ja, names, y_label in specs:
        title = title_ja if lang == "ja" else title_en
        x_label = "層" if lang == "ja" else "layer"
        if names == ["plane"]:
            xs, ys = metrics.get("mi_xt_kde"), metrics.get("mi_ty_kde")
            if _is_list(xs) and _is_list(ys):
                widgets.append(LineChart(ChartSpec(title, [Series("layers 0..L", ys, xs)], x_label="I(X;T)",
                                                   y_label=y_label, path=True)))
            continue
        if len(names) == 1 and _is_grid(metrics.get(names[0])):
            widgets.append(HeatMap(title, metrics[names[0]], x_label="ヘッド" if lang == "ja" else "head",
                                   y_label=x_label))
            continue
        if names and all(n in steps for n in names):
            x_label = "ブロック" if lang == "ja" else "block"
            series = [Series(n, metrics[n], list(range(1, len(metrics[n]) + 1)))
                      for n in names if _is_list(metrics.get(n))]
        else:
            series = [Series(n, metrics[n]) for n in names if _is_list(metrics.get(n))]
        if series:
            widgets.append(LineChart(ChartSpec(title, series, x_label=x_label, y_label=y_label,
                                               thresholds=_thresholds(findings, names, lang))))
    return widgets
