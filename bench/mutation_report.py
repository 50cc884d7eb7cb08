"""Summary of a `make mutation` run: the score and every surviving mutant with its diff.

Reads mutmut's per-file results (mutants/**/*.py.meta, written by `mutmut run`) and asks `mutmut show`
for each survivor's diff. Run from the repository root after `mutmut run`:
    .venv/bin/python -m bench.mutation_report [--diffs] [--min-score 85]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path


def _verdict(code: int | None) -> str:
    """mutmut's own reading of a mutant's exit code (killed, survived, no tests, timeout, ...)."""
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[code]


def collect(root: Path = Path("mutants")) -> dict[str, str]:
    """Mutant name -> verdict, over every mutated file."""
    out: dict[str, str] = {}
    for meta in sorted(root.rglob("*.py.meta")):
        data = json.loads(meta.read_text(encoding="utf-8"))
        for name, code in data.get("exit_code_by_key", {}).items():
            out[name] = _verdict(code)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diffs", action="store_true", help="print each survivor's diff (mutmut show)")
    parser.add_argument("--min-score", type=float, default=0.0, help="exit 1 below this score, in percent")
    args = parser.parse_args(argv)
    verdicts = collect()
    if not verdicts:
        print("mutation: no results under mutants/ (run `make mutation` first)", file=sys.stderr)
        return 2
    counts = Counter(verdicts.values())
    # as mutmut scores: a timeout counts as killed; mutants no selected test reaches count as survivors
    killed = counts["killed"] + counts["timeout"] + counts["segfault"]
    tested = killed + counts["survived"] + counts["no tests"]
    score = killed / tested if tested else 0.0
    print(f"mutants: {len(verdicts)}  " + "  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print(f"score (killed / tested): {score:.1%}")
    by_module = Counter(name.rsplit(".", 1)[0].split(".x")[0] for name, v in verdicts.items()
                        if v in ("survived", "no tests"))
    for module, count in sorted(by_module.items()):
        print(f"  survivors in {module}: {count}")
    survivors = sorted(name for name, v in verdicts.items() if v in ("survived", "no tests"))
    for name in survivors:
        print(f"{verdicts[name]}: {name}")
        if args.diffs:
            shown = subprocess.run([str(Path(sys.executable).with_name("mutmut")), "show", name],
                                   capture_output=True, text=True, check=False)
            diff = [line for line in shown.stdout.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
            print("\n".join("    " + line for line in diff))
    if 100 * score < args.min_score:
        print(f"mutation: score {score:.1%} is below the target {args.min_score:g}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
