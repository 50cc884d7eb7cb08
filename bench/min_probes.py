"""How many probes a template needs before its verdict stops depending on the sample.

Audits the MiniLM (or --model) with each template at several probe counts (`--limit N` of
builtin:text) and several seeds, then prints the verdict (and every check's status) per N and
seed, and the smallest N from which every larger N tested gives one verdict across all seeds.
That N is what a template's `min_probes` should be at least (issue 13).

    python -m bench.min_probes [--templates standard,quick] [--sizes 32,48,64,96,128]
                               [--seeds 0,1,2,3,4] [--out results.json] [--budget-min 35]
    python -m bench.min_probes --report results.json     # tables from a saved run only

The templates' own `min_probes` is removed from a temporary copy, so small N can be measured.
Each finished audit is appended to --out at once, so an interrupted run keeps what it measured
and `--resume` continues it. The machine's load changes the time, not the verdicts.

Measured 2026-12-01 (MiniLM, builtin:text has 330 probes, seeds 0-4; the full default grid takes
about 2 h on a busy 2-core machine, minutes on an idle one):
  standard: 64 warn x5 | 96 warn/warn/pass/warn/pass | 128 pass x5 | 192 pass/warn/pass/pass/pass |
            256 pass x5 | 330 pass x5  -> stable from 256
  quick:    64 warn/pass x4 | 96, 128 pass x5 | 192 pass/warn/pass/pass/pass | 256, 330 pass x5
            -> stable from 256 (96 and 128 were unanimous, 192 was not)
  eu-ai-act-high-risk: warn x5 at every N from 64 to 330 (its pde_r2 bar of 0.15 is above
            MiniLM's 0.09-0.13, which hides the same bottleneck flip at 64 and 192)
What flips: flow.pde's pde_r2 (0.088-0.092 at 64, 0.106-0.118 at 128; warn below 0.10) and
bottleneck's estimator_trend_agreement (warn below 0; its range over seeds is -0.93..0.61 at 64,
-0.07..0.79 at 192, 0.32..0.96 at 256): it does not narrow steadily with N.
"""
from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_SIZES = (32, 48, 64, 96, 128, 192)
DEFAULT_SEEDS = (0, 1, 2, 3, 4)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def template_without_minimum(name: str, folder: Path) -> str:
    """A copy of template `name` (built-in name or path) without `min_probes` (same name, checks)."""
    from auditor.templates import builtin_dir

    path = builtin_dir() / f"{name}.yaml"
    path = path if path.is_file() else Path(name)
    text = re.sub(r"(?m)^min_probes:.*\n", "", path.read_text(encoding="utf-8"))
    copy = folder / f"{path.stem}.yaml"
    copy.write_text(text, encoding="utf-8")
    return str(copy)


def run_one(model: str, template: str, size: int, seed: int, db: str) -> dict[str, Any]:
    """One audit: its verdict, every check's status and the findings above pass."""
    from auditor import api
    from auditor.errors import AuditorError

    began = time.perf_counter()
    request = api.AuditRequest(model=model, probes="builtin:text", template=template, db=db,
                               limit=size, seed=seed)
    try:
        audit_id = api.run_audit(request)
    except AuditorError as exc:
        return {"verdict": f"error: {exc}", "checks": {}, "raised": [],
                "seconds": round(time.perf_counter() - began, 1)}
    shown = api.show_audit(audit_id, db=db)
    raised = sorted({f"{f['key']}={f['severity']}" for f in shown["findings"]
                     if f.get("severity") in ("warn", "fail")})
    values = {f"{f['key']}:{f.get('metric')}": f.get("value") for f in shown["findings"]
              if isinstance(f.get("value"), (int, float))}
    return {"verdict": shown["verdict"], "checks": {c["id"]: c["status"] for c in shown["checks"]},
            "raised": raised, "values": values, "probes": shown["probes"]["count"],
            "seconds": round(time.perf_counter() - began, 1)}


def stable_from(by_size: dict[int, list[str]], seeds: int) -> int | None:
    """Smallest N from which every larger N tested has one value across all `seeds` seeds."""
    answer: int | None = None
    for size in sorted(by_size, reverse=True):
        values = by_size[size]
        if len(values) < seeds:
            continue  # not every seed was run at this N (a cut-short run): no evidence either way
        if len(set(values)) != 1:
            break
        answer = size
    return answer


def report(rows: list[dict[str, Any]]) -> None:
    """Print the verdict table, per-check stability and the recommended minimum per template."""
    for template in dict.fromkeys(r["template"] for r in rows):
        mine = [r for r in rows if r["template"] == template]
        sizes = sorted({r["size"] for r in mine})
        seeds = sorted({r["seed"] for r in mine})
        cell = {(r["size"], r["seed"]): r for r in mine}
        print(f"\n== template {template}: verdict per N (rows) and seed (columns)")
        print("N     " + " ".join(f"s{s:<5}" for s in seeds) + "  seconds")
        for size in sizes:
            got = [cell.get((size, s)) for s in seeds]
            verdicts = " ".join(f"{(g['verdict'][:6] if g else '-'):<6}" for g in got)
            secs = [g["seconds"] for g in got if g]
            print(f"{size:<5} {verdicts}  {sum(secs) / max(len(secs), 1):.0f}")
        by_verdict = {n: [cell[(n, s)]["verdict"] for s in seeds if (n, s) in cell] for n in sizes}
        overall = stable_from(by_verdict, len(seeds))
        checks = sorted({c for r in mine for c in r["checks"]})
        print("check statuses that differ between seeds at some N (N: statuses over seeds):")
        for check in checks:
            by_status = {n: [cell[(n, s)]["checks"].get(check, "-") for s in seeds if (n, s) in cell]
                         for n in sizes}
            if all(len(set(v)) == 1 for v in by_status.values()):
                continue
            spread = "; ".join(f"{n}: {'/'.join(v)}" for n, v in by_status.items() if len(set(v)) > 1)
            print(f"  {check:<32} stable from N={stable_from(by_status, len(seeds))}  ({spread})")
        flips = _flipping_findings(mine, sizes, seeds)
        if flips:
            print("findings raised by some seeds but not all, at the largest N where that happens "
                  "(the metric's range over the seeds at each N):")
            for key, (size, count) in sorted(flips.items()):
                print(f"  {key:<48} N={size}: {count} of {len(seeds)} seeds")
                spread = _value_spread(mine, key.split("=")[0], sizes)
                if spread:
                    print(f"    {spread}")
        stable = f"N={overall}" if overall else "none of the sizes tested"
        print(f"verdict stable across {len(seeds)} seeds from {stable}"
              + (f" (verdict there: {sorted(set(by_verdict[overall]))[0]})" if overall else ""))


def _value_spread(rows: list[dict[str, Any]], key: str, sizes: list[int]) -> str:
    """'metric: N=48 0.12..0.19; N=64 ...' for the finding `key` (from rows that stored values)."""
    parts = []
    metric = ""
    for size in sizes:
        found = [v for r in rows if r["size"] == size for k, v in r.get("values", {}).items()
                 if k.split(":")[0] == key]
        metric = metric or next((k.split(":")[1] for r in rows for k in r.get("values", {})
                                 if k.split(":")[0] == key), "")
        if found:
            parts.append(f"N={size} {min(found):.4g}..{max(found):.4g}")
    return f"{metric}: " + "; ".join(parts) if parts else ""


def _flipping_findings(rows: list[dict[str, Any]], sizes: list[int], seeds: list[int]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for size in sizes:
        here = [r for r in rows if r["size"] == size]
        if len(here) < len(seeds):
            continue
        keys = {k for r in here for k in r["raised"]}
        for key in keys:
            count = sum(key in r["raised"] for r in here)
            if count < len(here):
                out[key] = (size, count)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.min_probes")
    parser.add_argument("--model", default=None, help="model folder (default: the MiniLM)")
    parser.add_argument("--templates", default="standard,quick")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="probe counts; one list for all, or per template as standard=32,64;quick=16,32")
    parser.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)))
    parser.add_argument("--out", default="min_probes_results.json", help="results file (JSON lines)")
    parser.add_argument("--resume", action="store_true", help="keep the audits already in --out")
    parser.add_argument("--budget-min", type=float, default=None, help="start no audit after this many minutes")
    parser.add_argument("--report", default=None, help="only print the tables of a saved results file")
    args = parser.parse_args(argv)
    if args.report:
        report(_read(Path(args.report)))
        return

    from auditor import api

    model = args.model or str(api.demo_model_path())
    out = Path(args.out)
    rows = _read(out) if args.resume and out.exists() else []
    if not args.resume:
        out.write_text("", encoding="utf-8")
    done = {(r["template"], r["size"], r["seed"]) for r in rows}
    seeds = _ints(args.seeds)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="min_probes_") as tmp:
        folder = Path(tmp)
        for name in [t.strip() for t in args.templates.split(",") if t.strip()]:
            template = template_without_minimum(name, folder)
            for size in _sizes_for(args.sizes, name):
                for seed in seeds:
                    if (name, size, seed) in done:
                        continue
                    if args.budget_min and time.perf_counter() - began > args.budget_min * 60:
                        print(f"time budget of {args.budget_min} min spent; stopping", flush=True)
                        report(rows)
                        return
                    row = {"template": name, "size": size, "seed": seed,
                           **run_one(model, template, size, seed, str(folder / "audits.db"))}
                    rows.append(row)
                    with out.open("a", encoding="utf-8") as handle:
                        handle.write(json.dumps(row) + "\n")
                    print(f"{name} N={size} seed={seed}: {row['verdict']} ({row['seconds']} s) "
                          f"{' '.join(row['raised'])}", flush=True)
    report(rows)


def _sizes_for(spec: str, template: str) -> list[int]:
    if "=" not in spec:
        return _ints(spec)
    for part in spec.split(";"):
        name, _, sizes = part.partition("=")
        if name.strip() == template:
            return _ints(sizes)
    return list(DEFAULT_SIZES)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


if __name__ == "__main__":
    main()
