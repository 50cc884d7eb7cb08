"""The task loss and probe head that several checks share in one audit (kept in ctx.shared).

gradients.flow, attention.structure (head importance) and sanity.randomization all need the
same gradient pass, and perturbation.sensitivity needs predictions from a headless encoder: one
GradientSetup and one StreamingProbeHead per audit serve them all, so the capture pass runs one
backward per batch however many checks read it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.checks.base import AuditContext
from auditor.estimators.probe_head import fit_softmax
from auditor.messages import Message
from auditor.models.base import Capability, GradientCapable

FIT_CAP = 4096   # a probe head learns enough from this many rows; more only costs time
# evidence["label_source"] of a label-dependent check: where its Y came from. With MODEL_PREDICTIONS
# the figures measure agreement with the model's own output, which is circular (findings.py says so)
PROBE_LABELS = "probe_labels"
MODEL_PREDICTIONS = "model_predictions"


class StreamingProbeHead:
    """A linear probe head on the final layer, fitted on the fit split as the capture pass delivers it.

    The pass runs every fit probe before any scored probe, so the head is complete before the
    first scored row needs it. Rows are kept by probe index, so the fit does not depend on batching.
    """

    def __init__(self, fit_rows: np.ndarray, labels: np.ndarray, classes: int) -> None:
        self.wanted = set(int(i) for i in np.sort(fit_rows)[:FIT_CAP])
        self.labels = labels
        self.classes = classes
        self.rows: dict[int, np.ndarray] = {}
        self._head: tuple[np.ndarray, np.ndarray] | None = None
        self._fitted_on = 0

    def observe(self, index: np.ndarray, pooled: np.ndarray) -> None:
        for row, probe in enumerate(np.asarray(index)):
            probe = int(probe)
            if probe in self.wanted and probe not in self.rows:
                self.rows[probe] = np.asarray(pooled[row], dtype=np.float32)

    @property
    def ready(self) -> bool:
        return len(self.rows) == len(self.wanted)

    def head(self) -> tuple[np.ndarray, np.ndarray] | None:
        if not self.rows:
            return None
        if self._head is None or self._fitted_on != len(self.rows):
            order = sorted(self.rows)
            x = np.stack([self.rows[i] for i in order])
            self._head = fit_softmax(x, self.labels[order], self.classes)
            self._fitted_on = len(self.rows)
        return self._head


@dataclass
class ProbeTask:
    """The gradient task (models.torch_grad.GradientTask): which loss, which rows, which targets."""

    kind: str                          # "head" | "causal_lm" | "probe_head"
    scored: np.ndarray                 # [N] bool: probes whose loss is back-propagated
    target_of: np.ndarray | None       # [N] class targets (-1: the model's own prediction)
    probe_head: StreamingProbeHead | None = None
    parameter_gradients: bool = True   # ||dLoss/dW|| per block; without them the backward is cheaper

    def rows(self, index: np.ndarray) -> np.ndarray:
        return self.scored[np.asarray(index)]

    def observe(self, index: np.ndarray, pooled: np.ndarray) -> None:
        if self.probe_head is not None:
            self.probe_head.observe(index, pooled)

    def targets(self, index: np.ndarray) -> np.ndarray | None:
        return None if self.target_of is None else self.target_of[np.asarray(index)]

    def head(self) -> tuple[np.ndarray, np.ndarray] | None:
        return self.probe_head.head() if self.probe_head is not None else None


@dataclass
class GradientSetup:
    task: ProbeTask | None
    reason: Message | None             # why there is no task (None when there is one)
    description: str                   # which loss, in words, for the report
    # PROBE_LABELS | MODEL_PREDICTIONS for a classification loss; None for next-token loss (no labels)
    label_source: str | None = None


def labels_of(ctx: AuditContext) -> np.ndarray | None:
    labels = getattr(ctx.probes, "labels", None)
    if labels is None or len(set(labels)) < 2:
        return None
    return np.asarray(labels, dtype=np.int64)


def shared_probe_head(ctx: AuditContext) -> StreamingProbeHead | None:
    """The audit's probe head on the final layer (None when the probes have fewer than two labels)."""
    if "probe_head" not in ctx.shared:
        labels = labels_of(ctx)
        head = None
        if labels is not None:
            fit, _score = ctx.fit_score_split()
            head = StreamingProbeHead(fit, labels, int(labels.max()) + 1) if len(fit) else None
        ctx.shared["probe_head"] = head
    return ctx.shared["probe_head"]


def gradient_setup(ctx: AuditContext) -> GradientSetup:
    """The audit's gradient task, built once and shared."""
    if "gradients" not in ctx.shared:
        ctx.shared["gradients"] = _build(ctx)
    return ctx.shared["gradients"]


def _build(ctx: AuditContext) -> GradientSetup:
    if Capability.GRADIENTS not in ctx.capabilities or not isinstance(ctx.adapter, GradientCapable):
        return GradientSetup(None, Message("capability.missing.gradients"), "")
    count = int(ctx.probes.count)
    kind = ctx.adapter.loss_kind
    if kind == "causal_lm":
        return GradientSetup(ProbeTask("causal_lm", np.ones(count, bool), None), None,
                             f"language-modelling loss (next-token cross-entropy) on all {count} probes")
    if kind == "head":
        targets, how, source = _head_targets(ctx, count)
        return GradientSetup(ProbeTask("head", np.ones(count, bool), targets), None,
                             f"the model's own head, cross-entropy against {how}, on all {count} probes", source)
    head = shared_probe_head(ctx)
    if head is None:
        return GradientSetup(None, Message("task.no_loss"), "")
    _fit, score = ctx.fit_score_split()
    scored = np.zeros(count, bool)
    scored[score] = True
    return GradientSetup(ProbeTask("probe_head", scored, labels_of(ctx), head), None,
                         f"a linear probe head fitted on the final layer with the probe labels "
                         f"({len(head.wanted)} fit probes); loss on the {int(scored.sum())} held-out probes",
                         PROBE_LABELS)


def _head_targets(ctx: AuditContext, count: int) -> tuple[np.ndarray, str, str]:
    """Probe labels mapped onto the model's classes by name, or the model's own predictions (-1):
    the targets, in words, and the label source."""
    own = np.full(count, -1, dtype=np.int64)
    labels = getattr(ctx.probes, "labels", None)
    names = [str(n).lower() for n in getattr(ctx.probes, "label_names", [])]
    id2label = getattr(getattr(ctx.adapter, "config", None), "id2label", None) or {}
    classes = {str(v).lower(): int(k) for k, v in id2label.items()}
    if labels is None or not names or not all(n in classes for n in names):
        why = "the probe labels are not the model's classes" if labels is not None and names else \
            "the probe set has no labels"
        return own, f"the model's own predictions ({why})", MODEL_PREDICTIONS
    mapping = np.array([classes[n] for n in names], dtype=np.int64)
    return mapping[np.asarray(labels)], "the probe labels (matched to the model's classes by name)", PROBE_LABELS
