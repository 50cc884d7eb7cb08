"""Metric values <-> the long-form `metrics` table (audit_id, check_id, name, layer, head, variant, value).

Shapes: a scalar is one row with layer/head/variant NULL; a per-layer list one row per layer
(layer = list index); a per-layer-per-head list one row per (layer, head); a dict keyed by
variant adds `variant` to the rows of each value. A value that could not be computed is a
row whose value is NULL. Empty lists have no rows.

Intervals (CheckResult.intervals, docs/METHODS.md Uncertainty) share the table: the bounds of a
metric are the variants `ci_low` and `ci_high` of the same (check, name, layer, head), and of a
variant metric's variant V the variants `V:ci_low` and `V:ci_high`. `from_rows` leaves them out,
so the metrics read back keep their shape; `intervals_from_rows` reads them.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Row = dict[str, Any]
BOUNDS = ("ci_low", "ci_high")


def _rows_of(value: Any, variant: str | None) -> Iterator[tuple[int | None, int | None, str | None, float | None]]:
    if isinstance(value, list):
        for layer, item in enumerate(value):
            if isinstance(item, list):
                for head, number in enumerate(item):
                    yield layer, head, variant, number
            else:
                yield layer, None, variant, item
    else:
        yield None, None, variant, value


def to_rows(audit_id: str, check_id: str, metrics: Mapping[str, Any],
            intervals: Mapping[str, Any] | None = None) -> list[Row]:
    rows: list[Row] = []
    for name, value in metrics.items():
        variants = value.items() if isinstance(value, Mapping) else [(None, value)]
        for variant, inner in variants:
            for layer, head, var, number in _rows_of(inner, variant):
                rows.append({"audit_id": audit_id, "check_id": check_id, "name": name, "layer": layer,
                             "head": head, "variant": var, "value": number})
    for name, bounds in (intervals or {}).items():
        for prefix, pair in _interval_pairs(bounds):
            for bound in BOUNDS:
                if bound in pair:
                    for layer, head, var, number in _rows_of(pair[bound], prefix + bound):
                        rows.append({"audit_id": audit_id, "check_id": check_id, "name": name, "layer": layer,
                                     "head": head, "variant": var, "value": number})
    return rows


def _interval_pairs(bounds: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """('', {ci_low, ci_high}) for a plain metric, ('V:', {…}) per variant V of a variant metric."""
    if not isinstance(bounds, Mapping):
        return []
    if any(b in bounds for b in BOUNDS):
        return [("", bounds)]
    return [(f"{variant}:", pair) for variant, pair in bounds.items() if isinstance(pair, Mapping)]


def _bound_of(variant: str | None) -> tuple[str | None, str] | None:
    """(metric variant or None, bound) for an interval row's variant; None for a metric's own row."""
    if variant is None:
        return None
    if variant in BOUNDS:
        return None, variant
    head, _, tail = variant.rpartition(":")
    return (head, tail) if head and tail in BOUNDS else None


def _shape(rows: list[Row]) -> Any:
    if len(rows) == 1 and rows[0]["layer"] is None:
        return rows[0]["value"]
    layers: dict[int, list[Row]] = {}
    for row in rows:
        layers.setdefault(int(row["layer"]), []).append(row)
    out: list[Any] = []
    for layer in range(max(layers) + 1):
        items = layers.get(layer, [])
        if items and items[0]["head"] is not None:
            out.append([r["value"] for r in sorted(items, key=lambda r: r["head"])])
        else:
            out.append(items[0]["value"] if items else None)
    return out


def from_rows(rows: list[Row]) -> dict[str, dict[str, Any]]:
    """{check_id: {name: value}} rebuilt from long-form rows (interval rows left out)."""
    grouped: dict[tuple[str, str], dict[str | None, list[Row]]] = {}
    for row in rows:
        if _bound_of(row["variant"]) is not None:
            continue
        grouped.setdefault((row["check_id"], row["name"]), {}).setdefault(row["variant"], []).append(row)
    result: dict[str, dict[str, Any]] = {}
    for (check_id, name), variants in grouped.items():
        if list(variants) == [None]:
            value = _shape(variants[None])
        else:
            value = {variant: _shape(vrows) for variant, vrows in variants.items()}
        result.setdefault(check_id, {})[name] = value
    return result


def intervals_from_rows(rows: list[Row]) -> dict[str, dict[str, Any]]:
    """{check_id: {name: {ci_low, ci_high}}} (per variant for a variant metric) from the interval rows."""
    grouped: dict[tuple[str, str, str | None, str], list[Row]] = {}
    for row in rows:
        bound = _bound_of(row["variant"])
        if bound is not None:
            grouped.setdefault((row["check_id"], row["name"], bound[0], bound[1]), []).append(row)
    result: dict[str, dict[str, Any]] = {}
    for (check_id, name, variant, bound), brows in grouped.items():
        entry = result.setdefault(check_id, {}).setdefault(name, {})
        target = entry if variant is None else entry.setdefault(variant, {})
        target[bound] = _shape(brows)
    return result
