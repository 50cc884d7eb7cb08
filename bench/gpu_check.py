"""The GPU check (issue 20): cost, memory and device agreement of the standard audit on one GPU.

Run through bench/gpu_check.sh (its header budgets the H200 run). Builds a random BERT-base and a
random ~1.1 B Llama (bench/gpu_models.py), then prints one labelled line per figure:
F on the GPU, the standard audit / F, the 1 B model's standard audit time for 256 probes, peak GPU
memory / weight bytes, and the largest GPU-vs-CPU figure difference per metric family beside its
tolerance. F and the audit's cost are defined and timed as in bench/audit_overhead.py (its code).
`--device cpu --tiny` runs the same steps with tiny models (tests/integration/test_gpu_check.py);
GPU-only figures then read "n/a (no GPU)" and the goals are not judged. `--strict` exits 1 when a
judged goal is missed; the figures are always printed.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import inspect
import math
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import auditor  # noqa: F401  (first: the offline settings precede torch, transformers, onnxruntime)
from bench import gpu_models
from bench.audit_overhead import _sync, _timed_audit
from bench.timing import prepared_forward

GOAL_RATIO = 8.0         # standard audit <= 8 F on the GPU
GOAL_LLAMA_S = 300.0     # the 1 B model's standard audit of 256 probes in under 5 minutes
NO_GPU = "n/a (no GPU)"
GIB = 1024 ** 3


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: --device cuda was asked for but torch sees no CUDA GPU; use --device cpu --tiny",
              file=sys.stderr)
        return 2
    plan = _Plan.of(args)
    name = torch.cuda.get_device_name(0) if plan.gpu else "cpu"
    say("gpu_check", f"device {args.device} ({name}), torch {torch.__version__}, models {plan.size}, "
                     f"{plan.probes} probes, batch {plan.batch}, work folder {plan.work}")
    bert = _built(plan.work / "bert", "bert", args)
    audit = _bert_figures(plan, bert)
    llama = _built(plan.work / "llama", "llama", args)
    run = _llama_figures(plan, llama)
    if plan.gpu:
        parts = [f"{kind} {r['peak'] / r['weights']:.2f} ({_size(r['peak'])} / {_size(r['weights'])})"
                 for kind, r in (("BERT-base", audit), ("1 B Llama", run)) if r.get("peak")]
        say("peak GPU memory ÷ weight bytes", "; ".join(parts) or "n/a (no audit finished)")
    else:
        say("peak GPU memory ÷ weight bytes", NO_GPU)
    _device_agreement(plan, bert)
    verdict = "all judged goals met" if not plan.missed else "missed: " + ", ".join(plan.missed)
    unjudged = " (GPU goals not judged: no GPU or tiny models)" if not plan.gpu or args.tiny else ""
    say("goals", f"{verdict}{unjudged}; total {time.perf_counter() - plan.began:.0f} s")
    return 1 if args.strict and plan.missed else 0


@dataclass
class _Plan:
    """What the run measures with, and the goals it missed so far."""

    args: argparse.Namespace
    gpu: bool
    size: str
    probes: int
    batch: int
    compare_n: int
    work: Path
    small: Path          # the standard checks deciding on fewer probes and pairs
    template: str        # the template of the timed audits
    began: float = field(default_factory=time.perf_counter)
    missed: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, args: argparse.Namespace) -> _Plan:
        probes = args.probes or (32 if args.tiny else 256)
        compare_n = args.compare_probes or (32 if args.tiny else 64)
        work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="gpu-check-"))
        work.mkdir(parents=True, exist_ok=True)
        # the tiny run and the comparison use the standard checks with fewer probes and pairs (below
        # 256 probes the standard template itself refuses to run)
        small = _small_template(work, min_probes=min(compare_n, probes), pairs=8 if args.tiny else 64)
        return cls(args=args, gpu=args.device.startswith("cuda"), size="tiny" if args.tiny else "full",
                   probes=probes, batch=args.batch_size or (16 if args.tiny else 64), compare_n=compare_n,
                   work=work, small=small, template=str(small) if args.tiny else "standard")

    def left(self) -> float:
        """Seconds left of the script's budget."""
        return self.args.budget_s - (time.perf_counter() - self.began)


def _bert_figures(plan: _Plan, bert: dict[str, Any]) -> dict[str, Any]:
    """F and the standard audit / F on the device (BERT-base); the audit's timings and peak memory."""
    args, probes, batch = plan.args, plan.probes, plan.batch
    deadline = max(30.0, min(args.bert_s, plan.left() - 2 * args.reserve_s))
    f, audit = _forward_and_audit(bert, args.device, probes, batch, plan.template, plan.work / "bert.db", deadline)
    label = "standard audit ÷ F on the GPU"
    if audit["cost_s"] is None:
        figure = f"stopped after {audit['wall_s']:.1f} s (the script's time budget)"
    else:
        figure = f"{audit['cost_s'] / f:.2f} F (audit {audit['cost_s']:.2f} s, first capture batch to last stored row)"
    if plan.gpu:
        say("F on the GPU", f"{f:.3f} s ({'tiny BERT' if args.tiny else 'BERT-base'}, {probes} probes, batch {batch})")
        ok = audit["cost_s"] is not None and audit["cost_s"] / f <= GOAL_RATIO
        plan.missed += [] if ok or args.tiny else ["audit/F"]
        say(label, f"{figure}; goal <= {GOAL_RATIO:g} F: {_judged(ok, args.tiny)}")
    else:
        say("F on the GPU", f"{NO_GPU}; on {args.device}: {f:.3f} s ({plan.size} BERT, {probes} probes, batch {batch})")
        say(label, f"{NO_GPU}; on {args.device}: {figure}; goal <= {GOAL_RATIO:g} F on the GPU: not judged")
    return audit


def _llama_figures(plan: _Plan, llama: dict[str, Any]) -> dict[str, Any]:
    """The ~1 B Llama's standard audit of 256 probes, stopped when it would eat the comparison's time."""
    args = plan.args
    deadline = max(30.0, min(GOAL_LLAMA_S * 1.1, plan.left() - args.reserve_s))
    dtype = "bfloat16" if plan.gpu else "auto"
    run = _audit(llama, args.device, dtype, plan.probes, plan.batch, plan.template, plan.work / "llama.db", deadline)
    label = "1 B model standard audit, 256 probes"
    if run["cancelled"]:
        figure = f"stopped after {run['wall_s']:.1f} s (the script's time budget)"
    else:
        figure = (f"{run['wall_s']:.1f} s (loading {run['load_s']:.1f} s, checks {run['checks_s']:.1f} s; "
                  f"ran in {run['dtype']} on {run['device']})")
    if args.tiny:
        say(label, f"n/a (tiny model); tiny Llama, {plan.probes} probes on {args.device}: {figure}")
    else:
        ok = not run["cancelled"] and run["wall_s"] < GOAL_LLAMA_S
        plan.missed += [] if ok else ["1 B audit time"]
        say(label, f"{figure}; goal < {GOAL_LLAMA_S:g} s: {_judged(ok, False)}")
    return run


def _device_agreement(plan: _Plan, bert: dict[str, Any]) -> None:
    """The same BERT audited on the device and on the CPU: the largest difference per metric family."""
    args, n, template, db = plan.args, plan.compare_n, str(plan.small), plan.work / "compare.db"
    on_device = _audit(bert, args.device, "float32", n, plan.batch, template, db, plan.left())
    on_cpu = _audit(bert, "cpu", "float32", n, plan.batch, template, db, plan.left())
    label = "GPU vs CPU figures, largest difference per metric family"
    what = f"BERT, {n} probes, standard checks with fewer pairs"
    if on_device["cancelled"] or on_cpu["cancelled"]:
        say(label, f"not measured: the script's time budget ran out ({what})")
        plan.missed.append("GPU vs CPU")
        return
    families = compare_figures(on_device["shown"], on_cpu["shown"])
    within = all(row["within"] for row in families.values())
    plan.missed += [] if within else ["GPU vs CPU tolerance"]
    say(label, (what if plan.gpu else f"{NO_GPU}; {args.device} vs cpu, {what}")
        + f": {'all within' if within else 'OUTSIDE'} the documented tolerance")
    for family, row in sorted(families.items()):
        where = f"at {row['where']}" if row["where"] else "(identical)"
        there = f", {row['allowed']:.3g} allowed there" if row["where"] and row["allowed"] is not None else ""
        print(f"  {family}: {row['diff']:.3g} {where} (tolerance abs {row['abs']:g} + rel {row['rel']:g} x scale"
              f"{there}; {row['count']} figures): {'within' if row['within'] else 'OUTSIDE'}", flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench/gpu_check.sh")
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--tiny", action="store_true", help="tiny models and probe counts (the CPU run in make test)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a judged goal is missed")
    p.add_argument("--work", default=None, help="folder for the built models and audit databases (default: temp)")
    p.add_argument("--probes", type=int, default=None, help="probes per audit (default 256; tiny 32)")
    p.add_argument("--compare-probes", type=int, default=None, help="probes of the GPU-vs-CPU audits (64; tiny 32)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (default 64; tiny 16)")
    p.add_argument("--budget-s", type=float, default=450.0, help="wall-time budget of the whole check")
    p.add_argument("--reserve-s", type=float, default=120.0, help="kept back from the 1 B audit for the comparison")
    p.add_argument("--bert-s", type=float, default=150.0, help="at most this long for BERT-base's timed audit")
    return p


def say(label: str, text: str) -> None:
    print(f"{label}: {text}", flush=True)


def _size(n: float) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB / 4 else f"{n / 2 ** 20:.2f} MiB"


def _judged(ok: bool, tiny: bool) -> str:
    return "not judged (tiny models)" if tiny else ("met" if ok else "MISSED")


def _built(folder: Path, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    facts = gpu_models.build(folder, kind, tiny=args.tiny, device=args.device)
    say(f"model {kind}", f"{facts['parameters'] / 1e6:.1f} M parameters, {facts['dtype']} checkpoint, "
                         f"{_size(facts['weight_bytes'])} of weights, built in {time.perf_counter() - began:.1f} s")
    return facts


def _small_template(work: Path, *, min_probes: int, pairs: int) -> Path:
    """A copy of the standard template (every check, same conditions) deciding on fewer probes and pairs."""
    from auditor.templates import builtin_dir

    text = (builtin_dir() / "standard.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^name: standard\s*$", "name: standard-gpu-check", text)
    text = re.sub(r"(?m)^min_probes: \d+", f"min_probes: {min_probes}", text)
    text = re.sub(r"(?m)^(\s+max_pairs:) 0\b", rf"\1 {pairs}", text)
    out = work / "standard-gpu-check.yaml"
    out.write_text(text, encoding="utf-8")
    return out


def _request(api: Any, **fields: Any) -> Any:
    """An AuditRequest; `dtype` only where the request has that field (the precision policy)."""
    names = {f.name for f in dataclasses.fields(api.AuditRequest)}
    return api.AuditRequest(**{k: v for k, v in fields.items() if k in names or k != "dtype"})


def _forward_and_audit(facts: dict[str, Any], device: str, probes: int, batch: int, template: str,
                       db: Path, deadline_s: float) -> tuple[float, dict[str, Any]]:
    """F (best of four plain forward passes, two before and two after) and the timed audit, as in
    bench/audit_overhead.py, stopped after `deadline_s` (cost None); its peak device memory above what
    F's adapter holds."""
    from auditor import api
    from auditor.errors import Cancelled
    from auditor.models.load import load_model
    from auditor.probes import load_probes

    kwargs = {"dtype": "float32"} if "dtype" in inspect.signature(load_model).parameters else {}
    adapter = load_model(Path(facts["path"]), device=device, **kwargs)
    _, plain = prepared_forward(adapter, load_probes("builtin:text", limit=probes), batch)

    def forward() -> float:
        start = time.perf_counter()
        plain()
        _sync(adapter.device)
        return time.perf_counter() - start

    times = [forward(), forward()]
    began = time.perf_counter()

    def run_audit(request: Any, progress: Any = None) -> str:
        return api.run_audit(request, progress=progress, should_stop=lambda: time.perf_counter() - began > deadline_s)

    proxy = SimpleNamespace(AuditRequest=lambda **kw: _request(api, dtype="float32", **kw),
                            run_audit=run_audit, show_audit=api.show_audit)
    args = SimpleNamespace(probes="builtin:text", limit=probes, device=device, batch_size=batch, template=template)
    with _peak(device) as peak:
        try:
            audit = _timed_audit(proxy, Path(facts["path"]), args, db)
        except Cancelled:
            audit = {"cost_s": None, "wall_s": time.perf_counter() - began}
    times += [forward(), forward()]
    adapter.close()
    audit["peak"], audit["weights"] = peak.get("bytes"), facts["parameters"] * 4
    _release(device)
    return min(times), audit


def _audit(facts: dict[str, Any], device: str, dtype: str, probes: int, batch: int, template: str, db: Path,
           deadline_s: float) -> dict[str, Any]:
    """One audit stopped (recorded cancelled) after `deadline_s`; its wall time, timings and figures."""
    from auditor import api
    from auditor.errors import Cancelled
    from auditor.models.precision import BYTES

    began = time.perf_counter()
    request = _request(api, model=facts["path"], probes="builtin:text", template=template, db=str(db), device=device,
                       dtype=dtype, limit=probes, batch_size=batch)
    result: dict[str, Any] = {"cancelled": False}
    with _peak(device) as peak:
        try:
            audit_id = api.run_audit(request, should_stop=lambda: time.perf_counter() - began > deadline_s)
        except Cancelled:
            result["cancelled"] = True
    result["wall_s"] = time.perf_counter() - began
    _release(device)
    if result["cancelled"]:
        return result
    shown = api.show_audit(audit_id, str(db))
    env = shown.get("environment") or {}
    timings = env.get("timings") or {}
    ran = env.get("dtype") or env.get("compute_dtype") or ("float32" if device == "cpu" else facts["dtype"])
    result.update(shown=shown, load_s=timings.get("load_s", 0.0), checks_s=timings.get("checks_s", 0.0),
                  dtype=ran, device=env.get("device", device), peak=peak.get("bytes"),
                  weights=facts["parameters"] * BYTES.get(ran, 4))
    return result


class _peak:
    """Peak CUDA memory allocated inside the block above what was allocated when it began ({} on the CPU)."""

    def __init__(self, device: str) -> None:
        self.device, self.found = device, {}

    def __enter__(self) -> dict[str, int]:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        return self.found

    def __exit__(self, *_exc: object) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            self.found["bytes"] = torch.cuda.max_memory_allocated() - self.base


def _release(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


# -- comparing the figures of two audits ----------------------------------------------------------
def compare_figures(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per metric family (auditor.figure_tolerance): the largest |a - b| over its figures, which figure, what
    the tolerance allows there, how many figures, and whether every one is within its tolerance."""
    from auditor.figure_tolerance import compare_audits

    families: dict[str, dict[str, Any]] = {}
    for d in compare_audits(a, b):
        tol = d.tolerance
        row = families.setdefault(tol.family, {"diff": 0.0, "where": None, "allowed": None, "abs": tol.abs,
                                               "rel": tol.rel, "within": True, "count": 0})
        row["count"] += 1
        row["within"] = row["within"] and d.within
        # a figure on one side only, or of another shape, has no difference to give: it counts as infinite
        diff = d.max_abs if d.max_abs is not None else (0.0 if d.within else math.inf)
        if diff > row["diff"] or (row["where"] is None and not d.within):
            row.update(diff=diff, where=d.figure + (f" ({d.note})" if d.note and not d.within else ""),
                       allowed=d.allowed)
    return families


if __name__ == "__main__":
    sys.exit(main())
