"""Streaming at scale: peak memory and time per probe of the same audit at 1 000 and 10 000 probes.

Generates N distinct probe texts (a JSONL probe file, labelled by topic), runs the audit at each
size in its own subprocess (so each peak RSS is its own: resource.getrusage in the child) and prints
    peak memory 10k/1k: X (goal <= 1.1)
    time per probe 10k/1k: Y (linear: ~1.0)
Time is the audit's own (api.run_audit, model load included), not the interpreter's start-up; the
capture pass alone (the streaming part) and its CPU time are printed beside it, as the wall clock of a
shared machine moves with other people's work.
The default template, 'streaming', holds the checks whose statistics the capture pass gathers, with their
default parameters: the pairwise information estimators sample 1000 probes at 1k and their cap, 2000, at
10k, and hold a few 512 KiB blocks of distances either way (auditor.estimators.blocked), not N x N
matrices. --pairwise-sample N samples N probes at both sizes instead (like with like; off by default).
The same checks run at both sizes (runner.RETAIN_LIMIT skips only checks that need whole batches, and
none of these does). --template standard (or another built-in name, or a path) runs that template.
    .venv/bin/python -m bench.streaming [--model PATH] [--template NAME|PATH] [--sizes 1000,10000]
                                        [--pairwise-sample N]
Without --model a tiny random BERT (tests.fixtures.torch_models) is built in a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# the checks whose statistics are gathered inside the capture pass (docs/ARCHITECTURE.md, Trace)
STREAMING_CHECKS = ("flow.representation", "flow.smoothing", "bottleneck.information_plane",
                    "perturbation.sensitivity", "gradients.flow", "attention.structure")
TOPICS = {
    "credit": "loan credit account payment debt income score bank card approve deny".split(),
    "insurance": "claim policy insurance premium cover accident report fraud risk".split(),
    "health": "patient doctor nurse triage urgent report review risk".split(),
    "hiring": "hire job applicant review score approve deny income".split(),
}
FILLER = "the a an of to in for on with is was are be".split()


def probe_file(path: Path, count: int, seed: int = 0) -> Path:
    """`count` distinct texts of 6 to 20 words, each from one topic's words and filler, as JSONL."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = sorted(TOPICS)
    seen: set[str] = set()
    with path.open("w", encoding="utf-8") as out:
        while len(seen) < count:
            topic = names[int(rng.integers(len(names)))]
            words = TOPICS[topic] + FILLER
            text = " ".join(words[int(i)] for i in rng.integers(0, len(words), int(rng.integers(6, 21))))
            if text in seen:
                continue
            seen.add(text)
            out.write(json.dumps({"text": text, "label": topic}) + "\n")
    return path


def streaming_template(folder: Path, pairwise_sample: int | None = None) -> Path:
    """The streaming checks with no conditions and no probe minimum, at their default parameters; with
    `pairwise_sample`, the pairwise information estimators sample that many probes at every size."""
    params = {} if pairwise_sample is None else \
        {"bottleneck.information_plane": f"    params: {{max_samples: {pairwise_sample}}}\n"}
    path = folder / "streaming.yaml"
    path.write_text("name: streaming\nversion: 1\nmin_probes: 0\nchecks:\n"
                    + "".join(f"  - id: {c}\n{params.get(c, '')}" for c in STREAMING_CHECKS), encoding="utf-8")
    return path


def template_path(name: str, folder: Path, pairwise_sample: int | None = None) -> str:
    """A path as given; 'streaming' (the default); else a built-in template's copy without its probe minimum."""
    if name == "streaming":
        return str(streaming_template(folder, pairwise_sample))
    if Path(name).is_file():
        return name
    import re

    from auditor.templates import builtin_dir

    text = (builtin_dir() / f"{name}.yaml").read_text(encoding="utf-8")
    copy = folder / f"{name}.yaml"
    copy.write_text(re.sub(r"(?m)^min_probes: \d+$", "min_probes: 0", text), encoding="utf-8")
    return str(copy)


def child(model: str, probes: str, template: str, db: str, batch_size: int) -> dict[str, float]:
    """One audit in this process: its seconds and peak RSS (bytes), the same for its capture pass alone
    (the streaming part), and the RSS before the audit (the interpreter with torch and transformers)."""
    import torch  # noqa: F401  (imported before `before`: the runtime is not the audit's memory)
    import transformers  # noqa: F401

    from auditor import api, runner

    capture = runner.capture_pass
    seen: dict[str, float] = {}

    def timed_capture(*args: object, **kwargs: object) -> object:
        began, cpu = time.perf_counter(), time.process_time()
        trace = capture(*args, **kwargs)
        # CPU time as well: on a shared machine it moves less than the wall clock with other people's work
        seen.update(capture_seconds=time.perf_counter() - began, capture_cpu=time.process_time() - cpu,
                    capture_peak=_peak())
        return trace

    runner.capture_pass = timed_capture   # type: ignore[assignment]
    before = _rss()
    began = time.perf_counter()
    api.run_audit(api.AuditRequest(model=model, probes=probes, template=template, db=db, device="cpu",
                                   batch_size=batch_size))
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "peak": _peak(), "before": float(before), **seen}


def _peak() -> float:
    import resource

    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)   # kilobytes on Linux


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(model: str, count: int, template: str, folder: Path, batch_size: int,
            threads: int | None = None) -> dict[str, float]:
    """The audit of `count` probes in a fresh interpreter (with `threads` CPU threads for the runtimes)."""
    probes = probe_file(folder / f"probes-{count}.jsonl", count)
    db = folder / f"audits-{count}.db"
    code = ("import json, sys; from bench.streaming import child; "
            "print(json.dumps(child(*sys.argv[1:5], int(sys.argv[5]))))")
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    done = subprocess.run([sys.executable, "-c", code, model, str(probes), template, str(db), str(batch_size)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, env=env)
    if done.returncode != 0:
        raise SystemExit(f"the audit of {count} probes failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ratios(small: dict[str, float], large: dict[str, float], sizes: tuple[int, int],
           part: str = "") -> tuple[float, float]:
    """(peak RSS large / small, time per probe large / small) of the whole audit, or with part='capture_'
    of its capture pass alone."""
    per_probe = (large[f"{part}seconds"] / sizes[1]) / (small[f"{part}seconds"] / sizes[0])
    return large[f"{part}peak"] / small[f"{part}peak"], per_probe


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model folder (default: a tiny random BERT)")
    parser.add_argument("--template", default="streaming",
                        help="'streaming' (the checks gathered in the capture pass), a built-in name or a path")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the runtimes (default: theirs)")
    parser.add_argument("--pairwise-sample", type=int, default=None,
                        help="with the streaming template: the information estimators' sample at every size "
                             "(default: their own cap, 2000)")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-streaming-") as tmp:
        folder = Path(tmp)
        model = args.model
        if model is None:
            from tests.fixtures.torch_models import make_tiny_bert

            model = str(make_tiny_bert(folder / "tiny-bert"))
        template = template_path(args.template, folder, args.pairwise_sample)
        sample = "" if args.pairwise_sample is None else f" (pairwise sample {args.pairwise_sample})"
        print(f"model {model}; template {args.template}{sample}; sizes {sizes[0]} and {sizes[1]}", flush=True)
        runs = []
        for count in sizes:
            run = measure(model, count, template, folder, args.batch_size, args.threads)
            runs.append(run)
            print(f"  {count} probes: {run['seconds']:.1f} s ({1000 * run['seconds'] / count:.2f} ms/probe), "
                  f"peak RSS {run['peak'] / 2**20:.0f} MiB; capture pass {run['capture_seconds']:.1f} s, "
                  f"peak RSS {run['capture_peak'] / 2**20:.0f} MiB; before the audit "
                  f"{run['before'] / 2**20:.0f} MiB", flush=True)
    label = f"{sizes[1] // 1000}k/{sizes[0] // 1000}k" if sizes[0] % 1000 == 0 else f"{sizes[1]}/{sizes[0]}"
    memory, per_probe = ratios(runs[0], runs[1], sizes)
    print(f"peak memory {label}: {memory:.3f} (goal <= 1.1)")
    print(f"time per probe {label}: {per_probe:.3f} (linear: ~1.0)")
    memory, per_probe = ratios(runs[0], runs[1], sizes, "capture_")
    cpu = (runs[1]["capture_cpu"] / sizes[1]) / (runs[0]["capture_cpu"] / sizes[0])
    print(f"  the capture pass alone: peak memory {memory:.3f}, time per probe {per_probe:.3f} "
          f"(CPU time {cpu:.3f})")


if __name__ == "__main__":
    main()
