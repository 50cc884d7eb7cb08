"""How long an audit will take, said before it runs: one figure per phase, from measured costs.

Phases, in the order an audit runs them: `start` (the worker process and its imports), `load` (the
model), `capture` (the forward pass the checks share), one per check, then `store` (the results).

Where the seconds come from, first that applies:

1. Earlier completed audits in the same database: `check_results.duration_s` per check (a streaming
   check's share of the capture pass is already counted in it, auditor.runner), and the audit's
   environment timings (`load_s`; `checks_s` minus the checks' durations is the shared capture pass).
   Samples of the same model (manifest hash) come first, then the same template, then any; the
   median of the MATCHES most recent is taken, each scaled to the planned run (below). A check that
   was skipped for the same model counts as 0 s; skipped or failed checks of other models are left out.
2. DEFAULTS: seconds measured for all-MiniLM-L6-v2 (REFERENCE: 22,713,216 parameters, the 330
   built-in text probes, CPU) on the project's 2-core development machine, 2025-12-01: the median per
   phase over the completed `standard` audits of MiniLM found in the databases the test suites had left
   there (the newest 60 of each; `python -m auditor.estimate DB...` prints these medians for any databases). `start`
   (process start and imports before the first event, and the final write) is not stored with an audit;
   2.5 s is the gap between wall time and load_s + checks_s of such runs. A run measured the same day
   under a load average of 9 took ten times as long (420 s): the pace correction in gui/estimate.py
   exists for exactly that.

Scaling to the planned run: seconds × (probes / probes_then) ** a × (parameters / parameters_then) ** b,
with (a, b) from SCALING: checks that run the model again (perturbation, randomisation, gradients,
parity) and the capture pass grow with both; statistics on captured states grow with the probes and
roughly with the hidden width (b = 0.5); hashing grows with the weights only; loading is mostly
imports (b = 0.3). Parameters unknown: no parameter scaling. This is a planning figure, not a promise;
the progress panel corrects it with the time each phase really takes.
"""
from __future__ import annotations

import json
import math
import sqlite3
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE = {"probes": 330, "parameters": 22_713_216}
# seconds per phase for REFERENCE on the development machine (see the module docstring)
DEFAULTS: dict[str, float] = {
    "start": 2.5, "load": 8.0, "capture": 3.7, "store": 0.5,
    "artifact.integrity": 0.12, "flow.representation": 0.32, "flow.smoothing": 0.06, "flow.pde": 1.5,
    "bottleneck.information_plane": 0.99, "perturbation.sensitivity": 14.3, "gradients.flow": 0.01,
    "attention.structure": 0.36, "sanity.randomization": 2.3,
    # the standard template's 100 counterfactual pairs beside the probes: about 0.7 F (bench/counterfactual_cost.py)
    "perturbation.counterfactual": 2.2,
    # parity runs only with --reference, which the desktop client never passes (a run with one is in history)
    "artifact.parity": 0.0,
}
UNKNOWN_CHECK = 2.0          # a check this version has no figure for (a plug-in)
# (probes exponent, parameters exponent)
SCALING: dict[str, tuple[float, float]] = {
    "start": (0.0, 0.0), "store": (0.0, 0.0), "load": (0.0, 0.3), "capture": (1.0, 1.0), "artifact.integrity": (0.0, 1.0),
    "perturbation.sensitivity": (1.0, 1.0), "sanity.randomization": (1.0, 1.0), "gradients.flow": (1.0, 1.0),
    "artifact.parity": (1.0, 1.0),
    # a fixed number of pairs (the template's max_pairs), whatever the probe count
    "perturbation.counterfactual": (0.0, 1.0),
}
STATISTICS = (1.0, 0.5)      # every other check: statistics on captured states
MATCHES = 5                  # most recent samples a phase's median is taken over
RECENT_AUDITS = 60           # how far back the database is read


@dataclass(frozen=True)
class Plan:
    """What is about to run: the template's check ids, how many probes, how large a model."""

    checks: tuple[str, ...]
    probes: int
    parameters: int | None = None
    template: str = ""
    model_sha256: str | None = None
    device: str = "auto"


@dataclass(frozen=True)
class Sample:
    """One earlier completed audit's measured costs."""

    template: str
    model_sha256: str | None
    parameters: int | None
    probes: int
    device: str
    phases: dict[str, float]                         # start/load/capture and check id -> seconds
    skipped: frozenset[str] = frozenset()            # checks that did not run (skipped, error)


@dataclass(frozen=True)
class Phase:
    key: str            # "start", "load", "capture" or a check id
    seconds: float
    source: str         # "history" or "default"


@dataclass(frozen=True)
class Estimate:
    phases: tuple[Phase, ...]
    probes: int
    parameters: int | None
    samples: int = 0    # earlier audits the figures rest on (0: the defaults only)

    @property
    def total(self) -> float:
        return sum(p.seconds for p in self.phases)

    def seconds(self, key: str) -> float:
        return next((p.seconds for p in self.phases if p.key == key), 0.0)


def estimate(plan: Plan, history: list[Sample] | tuple[Sample, ...] = ()) -> Estimate:
    """Seconds per phase for `plan`, from `history` where it has the phase, else from DEFAULTS."""
    usable = _same_device(list(history), plan.device)
    phases = []
    used: set[int] = set()
    for key in ("start", "load", "capture", *plan.checks, "store"):
        picked = _samples_for(key, plan, usable)
        if picked:
            used.update(id(s) for s in picked)
            value = statistics.median(_scaled(s.phases[key], key, plan, s.probes, s.parameters) for s in picked)
            phases.append(Phase(key, value, "history"))
        else:
            base = DEFAULTS.get(key, UNKNOWN_CHECK)
            phases.append(Phase(key, _scaled(base, key, plan, REFERENCE["probes"], REFERENCE["parameters"]),
                                "default"))
    return Estimate(tuple(phases), plan.probes, plan.parameters, samples=len(used))


def _same_device(history: list[Sample], device: str) -> list[Sample]:
    """Samples measured on the planned device when there are any ("auto": all of them)."""
    if device in ("cpu", "cuda"):
        same = [s for s in history if s.device.startswith(device)]
        return same or history
    return history


def _samples_for(key: str, plan: Plan, history: list[Sample]) -> list[Sample]:
    """The most recent samples that measured `key`: the same model first, then the same template, then any."""
    with_key = [s for s in history if key in s.phases]
    same_model = [s for s in with_key if plan.model_sha256 and s.model_sha256 == plan.model_sha256]
    if same_model:   # a check skipped for this very model will be skipped again: 0 s is right
        return same_model[:MATCHES]
    ran = [s for s in with_key if key not in s.skipped]
    same_template = [s for s in ran if plan.template and s.template == plan.template]
    return (same_template or ran)[:MATCHES]


def _scaled(seconds: float, key: str, plan: Plan, probes: int, parameters: int | None) -> float:
    a, b = SCALING.get(key, STATISTICS)
    factor = 1.0
    if probes > 0 and plan.probes > 0:
        factor *= (plan.probes / probes) ** a
    if parameters and plan.parameters:
        factor *= (plan.parameters / parameters) ** b
    return max(0.0, seconds * factor)


def history(db: str | Path | None) -> list[Sample]:
    """The measured costs of the most recent completed audits in `db`, newest first ([] without a readable
    audit database)."""
    from auditor.api import db_path
    from auditor.errors import AuditorError
    from auditor.store.db import open_db

    path = db_path(str(db) if db else None)
    if not path.exists():
        return []
    try:
        handle = open_db(path, read_only=True)
    except (AuditorError, sqlite3.Error):   # not an audit database: the estimate falls back to DEFAULTS
        return []
    try:
        rows = handle.execute(
            """SELECT a.id, a.template_name, m.sha256, m.parameters, p.count, a.device, a.environment_json
               FROM audits a JOIN models m ON m.id = a.model_id JOIN probe_sets p ON p.id = a.probe_set_id
               WHERE a.status = 'completed' ORDER BY a.started_at DESC, a.rowid DESC LIMIT ?""",
            [RECENT_AUDITS]).fetchall()
        return [_sample(handle, row) for row in rows]
    finally:
        handle.conn.close()


def _sample(handle: Any, row: tuple[Any, ...]) -> Sample:
    audit_id, template, sha, parameters, probes, device, environment = row
    checks = handle.execute("SELECT check_id, duration_s, outcome FROM check_results WHERE audit_id = ?",
                            [audit_id]).fetchall()
    phases = {check: float(seconds or 0.0) for check, seconds, _outcome in checks}
    skipped = frozenset(check for check, _s, outcome in checks if outcome in ("skipped", "error"))
    try:
        timings = (json.loads(environment or "{}") or {}).get("timings") or {}
    except ValueError:
        timings = {}
    if isinstance(timings.get("load_s"), (int, float)):
        phases["load"] = float(timings["load_s"])
    if isinstance(timings.get("checks_s"), (int, float)):
        # what the checks' own durations do not account for is the forward pass they share
        phases["capture"] = max(0.0, float(timings["checks_s"]) - sum(v for k, v in phases.items() if k != "load"))
    return Sample(template=str(template or ""), model_sha256=sha, parameters=int(parameters) if parameters else None,
                  probes=int(probes or 0), device=str(device or ""), phases=phases, skipped=skipped)


def parameters_in(path: str | Path) -> int | None:
    """The number of weights in a model, read from safetensors headers without loading any tensor; for
    other weight files their size over 4 bytes (float32). None when no weights are found."""
    from auditor.models.safety import read_safetensors_header

    target = Path(path)
    folder = target if target.is_dir() else target.parent
    shards = _safetensors_shards(folder) if target.is_dir() else []
    if shards:
        try:
            return sum(math.prod(info["shape"]) for shard in shards
                       for info in read_safetensors_header(shard).values())
        except Exception:  # a corrupt header is the preview's problem to report; the estimate falls back
            pass
    weights = [target] if target.is_file() else [p for p in folder.rglob("*")
                                                  if p.is_file() and p.suffix.lower() in (".onnx", ".safetensors",
                                                                                           ".data", ".onnx_data")]
    size = sum(p.stat().st_size for p in weights)
    return size // 4 if size else None


def _safetensors_shards(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            names = sorted(set((json.loads(index.read_text(encoding="utf-8")).get("weight_map") or {}).values()))
            return [folder / n for n in names if (folder / n).is_file()]
        except (ValueError, OSError, AttributeError):
            return []
    single = folder / "model.safetensors"
    return [single] if single.is_file() else []


def measured_defaults(dbs: list[str]) -> dict[str, float]:
    """Median seconds per phase over the completed REFERENCE-sized audits in `dbs`: how DEFAULTS were made."""
    seen: dict[str, list[float]] = {}
    for db in dbs:
        for sample in history(db):
            if sample.parameters and abs(sample.parameters / REFERENCE["parameters"] - 1) < 0.01 \
                    and sample.probes == REFERENCE["probes"] and sample.template == "standard":
                for key, seconds in sample.phases.items():
                    seen.setdefault(key, []).append(seconds)
    return {key: round(statistics.median(values), 3) for key, values in sorted(seen.items())}


if __name__ == "__main__":
    import sys

    for phase, median in measured_defaults(sys.argv[1:]).items():
        print(f"{phase:32} {median:8.3f}")
