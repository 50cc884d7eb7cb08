"""gradients.flow: can the training signal reach every layer? (docs/METHODS.md)"""
from __future__ import annotations

from typing import Any

import numpy as np

from auditor.checks._tasks import ProbeTask, gradient_setup
from auditor.checks.base import AuditContext, Chart, Check, CheckResult
from auditor.checks.registry import register
from auditor.estimators import bootstrap
from auditor.messages import Message
from auditor.models.base import Capability
from auditor.trace import TraceBatch

_EPS = 1e-30


class GradientStats:
    """Sums of per-sample gradient norms over the rows the task back-propagated."""

    def __init__(self, task: ProbeTask | None) -> None:
        self.gradient_task = task          # asks the capture pass for the gradient pass
        self.grad_sum: np.ndarray | None = None
        self.per_row: list[np.ndarray] = []      # [rows, L+1] per probe, for the intervals
        self.loss_sum = 0.0
        self.rows = 0

    def update(self, batch: TraceBatch) -> None:
        if batch.grad_rows is None or batch.grad_hidden is None:
            return
        rows = batch.grad_rows
        if not rows.any():
            return
        per_row = np.nan_to_num(batch.grad_hidden[rows].astype(np.float64))
        self.per_row.append(per_row)
        grads = per_row.sum(axis=0)
        self.grad_sum = grads if self.grad_sum is None else self.grad_sum + grads
        self.loss_sum += float(batch.loss[rows].sum()) if batch.loss is not None else 0.0
        self.rows += int(rows.sum())


@register
class GradientFlow(Check):
    """Per-layer gradient norms of the task loss for hidden states and block parameters."""

    id = "gradients.flow"
    dimension = "trainability"
    charts = (Chart("signal", ("grad_norm_hidden",), "line", "norm"),
              Chart("parameters", ("grad_norm_params",), "line", "norm"))
    requires = frozenset({Capability.GRADIENTS, Capability.HIDDEN_STATES})
    captures = frozenset({Capability.HIDDEN_STATES, Capability.GRADIENTS})
    metric_names = frozenset({"grad_norm_hidden", "grad_norm_params", "grad_ratio", "grad_attenuation",
                              "param_grad_ratio"})
    step_metrics = frozenset({"grad_norm_params"})

    def skip_reason(self, ctx: AuditContext) -> Message | None:
        setup = gradient_setup(ctx)
        return setup.reason if setup.task is None else None

    def accumulator(self, ctx: AuditContext) -> GradientStats:
        return GradientStats(gradient_setup(ctx).task)

    def run(self, ctx: AuditContext) -> CheckResult:
        stats: GradientStats = ctx.accumulators[self.id]  # type: ignore[assignment]
        setup = gradient_setup(ctx)
        if not stats.rows or stats.grad_sum is None:
            return CheckResult.skipped(self.id, Message("check.gradients.flow.skip.no_backprop"))
        hidden = stats.grad_sum / stats.rows                                     # [L+1] mean ||dLoss_b/dH_l||
        params = (np.asarray(ctx.trace.grad_norm_params, dtype=np.float64) / stats.rows
                  if ctx.trace.grad_norm_params else None)                       # [L] ||d mean loss / dW||_F
        metrics: dict[str, Any] = {
            "grad_norm_hidden": hidden,
            "grad_norm_params": params,
            "grad_ratio": float(hidden.max() / max(hidden.min(), _EPS)),
            # < 1: the signal fades on its way to the input (vanishing); > 1: it grows (exploding)
            "grad_attenuation": float(hidden[0] / max(hidden[-1], _EPS)),
            "param_grad_ratio": float(params.max() / max(params.min(), _EPS)) if params is not None else None,
        }
        said = Message("check.gradients.flow.norms", {
            "last": float(hidden[-1]), "first": float(hidden[0]), "attenuation": metrics["grad_attenuation"],
            "ratio": metrics["grad_ratio"], "weakest_layer": int(np.argmin(hidden))})
        evidence = {"loss": setup.description, "loss_kind": setup.task.kind if setup.task else None,
                    "label_source": setup.label_source,
                    "mean_loss": stats.loss_sum / stats.rows, "rows": stats.rows,
                    "parameter_gradients": "norm of the gradient of the mean loss over these rows, per block"}
        return CheckResult(check_id=self.id, outcome="ok", sentences=(said,), metrics=metrics, evidence=evidence,
                           intervals=gradient_intervals(np.concatenate(stats.per_row), ctx.seed))


def _ratios(r: dict[str, np.ndarray]) -> np.ndarray:
    """grad_norm_hidden [L+1], grad_ratio and grad_attenuation from per-probe norms [rows, L+1]."""
    hidden = r["g"].mean(axis=0)
    return np.concatenate([hidden, [hidden.max() / max(hidden.min(), _EPS), hidden[0] / max(hidden[-1], _EPS)]])


def gradient_intervals(per_row: np.ndarray, seed: int) -> dict[str, dict[str, Any]]:
    """95% intervals (bootstrap over the back-propagated probes) of grad_norm_hidden, grad_ratio and
    grad_attenuation."""
    if per_row.shape[0] < 2:
        return {}
    low, high = bootstrap.interval({"g": per_row}, _ratios, seed=seed)
    return {"grad_norm_hidden": {"ci_low": low[:-2].tolist(), "ci_high": high[:-2].tolist()},
            "grad_ratio": {"ci_low": float(low[-2]), "ci_high": float(high[-2])},
            "grad_attenuation": {"ci_low": float(low[-1]), "ci_high": float(high[-1])}}
