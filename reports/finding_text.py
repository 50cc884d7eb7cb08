"""A finding's detail line in the reader's language, rebuilt from the finding's stored fields.

The stored `detail` is English ("pde_r2 (any_layer) = 0.1281 at block 4; warn below 0.15 (warning
threshold crossed)"). For Japanese it is rebuilt from the same stored facts (metric, reducer,
value, layer, thresholds, severity), so old audits read in Japanese too. Anything unexpected
returns the stored English line. No reportlab or Qt here: the GUI uses it as well.
"""
from __future__ import annotations

from typing import Any

from auditor.findings import LABELS_NOTE
from reports.summaries import reason

_REDUCE_JA = {"min": "最小", "max": "最大", "mean": "平均", "last": "最終層", "first": "最初の層",
              "drop_from_peak": "ピークからの低下", "any_layer": "最も厳しい層"}
_LABELS_NOTE_JA = "（ラベル：モデル自身の予測）"
_VERDICT_JA = {"pass": "閾値内", "warn": "注意の閾値を超えています", "fail": "不合格の閾値を超えています",
               "info": "効率化の機会"}


def finding_detail(finding: dict[str, Any], lang: str) -> str:
    stored = str(finding.get("detail") or "")
    if lang != "ja":
        return stored
    try:
        text = _japanese(finding)
    except Exception:   # a report never fails on wording
        return stored
    if not text:
        return stored
    # the stored fields do not hold the label source; the English line's fixed suffix does
    return text + _LABELS_NOTE_JA if stored.endswith(LABELS_NOTE) else text


def _japanese(f: dict[str, Any]) -> str | None:
    key = f.get("key") or ""
    if key == "check.skipped":
        return reason({"status": "skipped", "summary": f.get("detail") or "", "id": f.get("check_id")}, "ja")
    cond = f.get("condition") or {}
    metric = cond.get("metric") or f.get("metric")
    if not metric:
        return None
    name = metric + (f"[{cond['variant']}]" if cond.get("variant") else "")
    if key == "condition.not_applicable":
        return f"このモデルでは {name} を算出できません"
    severity = f.get("severity")
    value = f.get("value")
    if severity not in _VERDICT_JA or value is None:
        return None
    reduce = cond.get("reduce")
    label = f"{name}（{_REDUCE_JA.get(reduce, reduce)}）" if reduce else name
    where = _where(metric, f.get("layer"), f.get("check_id") or "") if reduce in ("any_layer", "min", "max") else ""
    return f"{label} = {float(value):.4g}{where}。閾値：{_thresholds(cond)}（{_VERDICT_JA[severity]}）"


def place(metric: str | None, layer: Any, check_id: str, lang: str) -> str:
    """'block 4' for per-step metrics (index 3), 'layer 2' for per-boundary ones (0 = the embeddings)."""
    if not isinstance(layer, int):
        return ""
    try:
        from auditor.checks import registry

        steps = registry.get(check_id).step_metrics
    except KeyError:
        steps = frozenset()
    if metric in steps:
        return f"ブロック{layer + 1}" if lang == "ja" else f"block {layer + 1}"
    if layer == 0:
        return "第0層（埋め込み）" if lang == "ja" else "layer 0 (embeddings)"
    return f"第{layer}層" if lang == "ja" else f"layer {layer}"


def _where(metric: str, layer: Any, check_id: str) -> str:
    text = place(metric, layer, check_id, "ja")
    return f"（{text}）" if text else ""


def _thresholds(cond: dict[str, Any]) -> str:
    side = "未満" if cond.get("condition") == "below" else "超"
    parts = []
    if cond.get("info") is not None:
        parts.append(f"{cond['info']:g}{side}で効率化の機会として記録")
    if cond.get("warn") is not None:
        parts.append(f"{cond['warn']:g}{side}で注意")
    if cond.get("fail") is not None:
        parts.append(f"{cond['fail']:g}{side}で不合格")
    return "、".join(parts)
