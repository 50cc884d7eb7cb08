"""The counterfactual pairs' share of the one capture pass (perturbation.counterfactual).

Each distinct text of the pairs (a frame's text_a is shared by its pairs, so it runs once) goes
through the model in batches alongside the probe batches: after each probe batch the pass runs
enough pair texts to keep pace with the probes, so the last probe batch finishes the pairs and no
second pass over the model is needed. Kept per text: the pooled state at every layer boundary
[L+1, d], the output row (the model's own logits, where it has a head) and the token ids the
model received (to find pairs whose members the tokenizer makes identical).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from auditor.checks._tasks import StreamingProbeHead
from auditor.checks.base import AuditContext
from auditor.models.base import Capability
from auditor.models.encoding import PAIRS
from auditor.models.perturb import last_valid
from auditor.probes.pairs import PairSet
from auditor.probes.types import ProbeSet
from auditor.trace import TraceBatch, pool

_SAMPLE_STREAM = 0xCF02   # the sample's own seeded stream, apart from the estimator's


def sample_pairs(pairs: PairSet, limit: int, seed: int) -> PairSet:
    """About `limit` pairs, taken as whole frames (pairs that share text_a stay together), seeded.

    The frames of each (language, domain) stratum are shuffled and the strata take turns, so a sample
    keeps both languages and every domain; the last frame may take the count a few pairs past `limit`.
    `limit` <= 0, or a set no larger, gives the set itself.
    """
    if limit <= 0 or pairs.count <= limit:
        return pairs
    frames: dict[str, list[int]] = {}
    for i, text in enumerate(pairs.texts_a):
        frames.setdefault(text, []).append(i)
    strata: dict[tuple[str, str], list[list[int]]] = {}
    for members in frames.values():
        first = members[0]
        strata.setdefault((pairs.langs[first] or "", pairs.domains[first] or ""), []).append(members)
    rng = np.random.default_rng([seed & 0xFFFFFFFF, _SAMPLE_STREAM])
    queues = [[group[int(j)] for j in rng.permutation(len(group))] for _, group in sorted(strata.items())]
    chosen: list[int] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen += queue.pop(0)
    keep = sorted(chosen)
    return PairSet(texts_a=tuple(pairs.texts_a[i] for i in keep), texts_b=tuple(pairs.texts_b[i] for i in keep),
                   attributes=tuple(pairs.attributes[i] for i in keep), domains=tuple(pairs.domains[i] for i in keep),
                   langs=tuple(pairs.langs[i] for i in keep), sha256=pairs.sha256, spec=pairs.spec,
                   skipped=pairs.skipped, notes=pairs.notes)


class PairStats:
    """Pooled states, outputs and token ids of every distinct pair text, gathered during the capture pass."""

    def __init__(self, ctx: AuditContext, pairs: PairSet, probe_head: StreamingProbeHead | None) -> None:
        self.adapter = ctx.adapter
        self.pooling = ctx.identity.pooling
        self.pairs = pairs
        self.probe_head = probe_head
        # texts of similar length batch together (less padding: about a quarter of the pairs' cost on MiniLM)
        self.texts = sorted(dict.fromkeys((*pairs.texts_a, *pairs.texts_b)), key=len)
        self.slot = {text: i for i, text in enumerate(self.texts)}
        self.points = frozenset({Capability.HIDDEN_STATES} | (
            {Capability.LOGITS} if Capability.LOGITS in ctx.capabilities else set()))
        self.total_probes = max(int(getattr(ctx.probes, "count", 0)), 1)
        self.seen = 0
        self.done = 0
        self.pooled: list[np.ndarray | None] = [None] * len(self.texts)    # [L+1, d] float32 per text
        self.outputs: list[np.ndarray | None] = [None] * len(self.texts)   # [C] logits per text
        self.tokens: list[tuple[int, ...] | None] = [None] * len(self.texts)
        self.batch_size = 16

    def update(self, batch: TraceBatch) -> None:
        if not batch.hidden:
            return
        if self.probe_head is not None:   # the shared head learns from whichever check sees the batch first
            self.probe_head.observe(batch.index, pool(batch.hidden[-1], batch.mask, self.pooling))
        self.batch_size = max(int(batch.size), 1)
        self.seen += int(batch.size)
        # keep pace with the probes: after a share s of them, a share s of the pair texts has run
        target = min(len(self.texts), math.ceil(len(self.texts) * self.seen / self.total_probes))
        self.run_texts(target)

    def finish(self) -> None:
        """Run whatever the pass left (only when it saw fewer probes than the set holds)."""
        self.run_texts(len(self.texts))

    def run_texts(self, target: int) -> None:
        if target <= self.done:
            return
        start = self.done
        view = ProbeSet(spec=PAIRS, kind="text", sha256=self.pairs.sha256, texts=self.texts[start:target])
        for model_batch in self.adapter.batches(view, self.batch_size):
            traced = self.adapter.capture(model_batch, self.points)
            mask = traced.mask
            layers = np.stack([pool(h, mask, self.pooling) for h in traced.hidden], axis=1).astype(np.float32)
            logits = last_valid(traced.logits, mask) if traced.logits is not None else None
            ids = model_batch.inputs.get("input_ids")
            for row, local in enumerate(np.asarray(model_batch.index)):
                slot = start + int(local)
                self.pooled[slot] = layers[row]
                if logits is not None:
                    self.outputs[slot] = np.asarray(logits[row], dtype=np.float32)
                if ids is not None:
                    valid = mask[row].astype(bool) if mask is not None else slice(None)
                    self.tokens[slot] = tuple(int(t) for t in np.asarray(ids[row])[valid])
        self.done = target

    def indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Slot of each pair's a-member and b-member."""
        a = np.array([self.slot[t] for t in self.pairs.texts_a], dtype=np.int64)
        b = np.array([self.slot[t] for t in self.pairs.texts_b], dtype=np.int64)
        return a, b

    def token_identical(self) -> np.ndarray:
        """[pairs] True where both members reached the model as the same token ids (e.g. both [UNK])."""
        a, b = self.indices()
        return np.array([self.tokens[i] is not None and self.tokens[i] == self.tokens[j] for i, j in zip(a, b, strict=True)],
                        dtype=bool)

    def token_count_differs(self) -> np.ndarray:
        a, b = self.indices()
        return np.array([self.tokens[i] is not None and self.tokens[j] is not None
                         and len(self.tokens[i]) != len(self.tokens[j]) for i, j in zip(a, b, strict=True)], dtype=bool)

    def states(self, slots: np.ndarray) -> np.ndarray:
        """[L+1, len(slots), d] pooled states of the texts at `slots`."""
        return np.stack([self.pooled[int(s)] for s in slots], axis=1)  # type: ignore[misc]

    def model_outputs(self, slots: np.ndarray) -> np.ndarray | None:
        rows = [self.outputs[int(s)] for s in slots]
        return None if not rows or any(r is None for r in rows) else np.stack(rows)  # type: ignore[arg-type]

    def describe_pairs(self, rows: np.ndarray) -> list[dict[str, Any]]:
        p = self.pairs
        return [{"pair": int(i), "attribute": p.attributes[i], "domain": p.domains[i], "lang": p.langs[i],
                 "text_a": p.texts_a[i], "text_b": p.texts_b[i]} for i in rows]
