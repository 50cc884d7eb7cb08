"""Metric values <-> the long-form `metrics` table (audit_id, check_id, name, layer, head, variant, value).

Shapes: a scalar is one row with layer/head/variant NULL; a per-layer list one row per layer
(layer = list index); a per-layer-per-head list one row per (layer, head); a dict keyed by
variant adds `variant` to the rows of each value. A value that could not be computed is a
row whose value is NULL. Empty lists have no rows.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Row = dict[str, Any]


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


def to_rows(audit_id: str, check_id: str, metrics: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for name, value in metrics.items():
        variants = value.items() if isinstance(value, Mapping) else [(None, value)]
        for variant, inner in variants:
            for layer, head, var, number in _rows_of(inner, variant):
                rows.append({"audit_id": audit_id, "check_id": check_id, "name": name, "layer": layer,
                             "head": head, "variant": var, "value": number})
    return rows


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
    """{check_id: {name: value}} rebuilt from long-form rows."""
    grouped: dict[tuple[str, str], dict[str | None, list[Row]]] = {}
    for row in rows:
        grouped.setdefault((row["check_id"], row["name"]), {}).setdefault(row["variant"], []).append(row)
    result: dict[str, dict[str, Any]] = {}
    for (check_id, name), variants in grouped.items():
        if list(variants) == [None]:
            value = _shape(variants[None])
        else:
            value = {variant: _shape(vrows) for variant, vrows in variants.items()}
        result.setdefault(check_id, {})[name] = value
    return result
