"""artifact.parity: does the model agree with the same model in another format? (docs/METHODS.md)"""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators.perturbation import row_cosine
from auditor.messages import Message
from auditor.models.base import Capability
from auditor.models.perturb import last_valid
from auditor.trace import TraceBatch, pool

_POINTS = frozenset({Capability.HIDDEN_STATES, Capability.LOGITS})


class _Outputs:
    """What one side produced for a batch: pooled output, full final states, logits, layer states."""

    def __init__(self, adapter: Any, batch: Any, trace: TraceBatch, pooling: str) -> None:
        if trace.hidden:
            self.final = trace.hidden[-1]
            self.layers = trace.hidden
        else:   # no layer states (e.g. a graph whose blocks were not found): the model's own output
            out = adapter.forward(batch)
            self.final = out if out is not None and out.ndim == 3 else None
            self.layers = []
            if out is not None and out.ndim != 3:
                trace.logits = out if trace.logits is None else trace.logits
        self.mask = trace.mask
        self.pooled = pool(self.final, self.mask[:, :self.final.shape[1]], pooling) if self.final is not None else None
        self.logits = last_valid(trace.logits, trace.mask) if trace.logits is not None else None
        self.token_logits = trace.logits


@register
class ArtifactParity(Check):
    """The main model against its --reference (e.g. PyTorch against its ONNX export), over the probes."""

    id = "artifact.parity"
    dimension = "integrity"
    charts = (Chart("layers", ("layer_max_abs_diff",), "line", "value"),)
    metric_names = frozenset({"output_cos", "max_abs_diff", "max_rel_diff", "prediction_agreement",
                              "layer_max_abs_diff"})

    @classmethod
    def parameters(cls) -> dict[str, Any]:
        return {"batch_size": 16}

    def skip_reason(self, ctx: AuditContext) -> Message | None:
        if ctx.reference is None:
            return Message("check.artifact.parity.skip.no_reference")
        return None

    def run(self, ctx: AuditContext) -> CheckResult:
        main, ref = ctx.adapter, ctx.reference
        pooling = ctx.identity.pooling
        size = int(self.params["batch_size"])
        cos: list[np.ndarray] = []
        agree: list[np.ndarray] = []
        max_abs = scale = 0.0
        layer_diff: np.ndarray | None = None
        done = 0
        for batch_a, batch_b in zip(main.batches(ctx.probes, size), ref.batches(ctx.probes, size), strict=True):
            if ctx.should_stop():
                from auditor.errors import Cancelled

                raise Cancelled(self.id)
            a = _Outputs(main, batch_a, main.capture(batch_a, _POINTS), pooling)
            b = _Outputs(ref, batch_b, ref.capture(batch_b, _POINTS), pooling)
            _same_shapes(a, b, ref.identity.path)
            if a.pooled is not None and b.pooled is not None:
                cos.append(row_cosine(a.pooled, b.pooled))
                diff, top = _masked_diff(a.final, b.final, a.mask)
                max_abs, scale = max(max_abs, diff), max(scale, top)
            if a.logits is not None and b.logits is not None:
                if a.pooled is None or b.pooled is None:
                    cos.append(row_cosine(a.logits, b.logits))
                diff, top = _masked_diff(a.token_logits, b.token_logits, a.mask)
                max_abs, scale = max(max_abs, diff), max(scale, top)
                agree.append((a.logits.argmax(axis=-1) == b.logits.argmax(axis=-1)).astype(np.float64))
            if a.layers and len(a.layers) == len(b.layers):
                per_layer = np.array([_masked_diff(x, y, a.mask)[0] for x, y in zip(a.layers, b.layers, strict=True)])
                layer_diff = per_layer if layer_diff is None else np.maximum(layer_diff, per_layer)
            done += batch_a.size
            ctx.progress(done / max(int(ctx.probes.count), 1), Message("progress.parity.compared", {"done": done}))
        if not cos:
            return CheckResult.skipped(self.id, Message("check.artifact.parity.skip.nothing_comparable"))
        cosines = np.concatenate(cos)
        metrics = {"output_cos": float(cosines.min()), "max_abs_diff": max_abs,
                   "max_rel_diff": max_abs / scale if scale > 0 else None,
                   "prediction_agreement": float(np.concatenate(agree).mean()) if agree else None,
                   "layer_max_abs_diff": layer_diff}
        ident = ref.identity
        evidence = {"reference": {"path": ident.path, "format": ident.format, "sha256": ident.sha256,
                                  "architecture": ident.architecture, "layers": ident.layers},
                    "mean_output_cos": float(cosines.mean()), "probes": int(cosines.size),
                    "compared": "final-layer states pooled as the model pools them" +
                                (", and the output logits" if agree else "")}
        facts: dict[str, Any] = {"cos": metrics["output_cos"], "difference": float(max_abs), "format": ident.format}
        if agree:
            facts["agreement"] = metrics["prediction_agreement"]
        said = Message("check.artifact.parity.agreement" + ("_predictions" if agree else ""), facts)
        return CheckResult(check_id=self.id, outcome="ok", sentences=(said,), metrics=metrics, evidence=evidence)


def _same_shapes(a: _Outputs, b: _Outputs, where: str) -> None:
    """Refuse to compare outputs of different widths: the reference is then another model."""
    for name, x, y in (("final-layer states", a.pooled, b.pooled), ("logits", a.logits, b.logits)):
        if x is not None and y is not None and x.shape[-1] != y.shape[-1]:
            raise ValueError(f"the reference {where} gives {name} of width {y.shape[-1]}, the model "
                             f"{x.shape[-1]}: it is not the same model in another format")


def _masked_diff(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(max |a - b|, max |b|) over valid tokens (rows for [B, C] outputs); widths may differ by padding."""
    if a.ndim == 2:
        return float(np.abs(a - b).max()), float(np.abs(b).max())
    tokens = min(a.shape[1], b.shape[1], mask.shape[1])
    valid = mask[:, :tokens]
    x, y = a[:, :tokens][valid], b[:, :tokens][valid]
    return float(np.abs(x - y).max()) if x.size else 0.0, float(np.abs(y).max()) if y.size else 0.0
