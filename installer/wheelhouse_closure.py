"""Is the wheelhouse complete for its target? Requires-Dist walked with the target's markers.

`pip download --platform ...` evaluates environment markers for the machine it runs on, not for
the target (a Windows wheelhouse built on Linux lacks colorama, which tqdm needs on Windows).
This walk evaluates every marker for the target and lists what is missing or of a wrong version,
so the build can fetch it (one project at a time, without pip's resolver) or stop with a clear
message.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from wheelhouse_meta import WheelInfo, canonical_name

try:  # pip vendors packaging, so a bare interpreter with pip has it
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.version import Version
except ImportError:  # pragma: no cover - depends on the builder's interpreter
    from pip._vendor.packaging.markers import default_environment  # type: ignore[no-redef]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.version import Version  # type: ignore[no-redef]


@dataclass(frozen=True)
class Problem:
    """One unmet requirement: `needed_by` asks for `requirement`; `found` is the version present."""

    name: str
    requirement: str
    needed_by: str
    found: str | None

    def describe(self) -> str:
        have = f"the wheelhouse has {self.found}" if self.found else "it is missing"
        return f"{self.needed_by} needs {self.requirement}, {have}"


def target_environment(platforms: list[str], python_version: str | None) -> dict[str, str]:
    """Marker variables for the target: the host's, with platform and Python replaced."""
    env = dict(default_environment())
    if python_version:
        env["python_version"] = python_version
        if not env["python_full_version"].startswith(python_version + "."):
            env["python_full_version"] = f"{python_version}.0"
    if platforms:
        env.update(_platform_variables(platforms[0]))
    return env


def _platform_variables(tag: str) -> dict[str, str]:
    tag = tag.lower()
    machine = "x86_64"
    for arch in ("x86_64", "aarch64", "arm64", "amd64", "i686", "win32"):
        if tag.endswith(arch):
            machine = arch
    if tag.startswith("win"):
        return {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
                "platform_machine": "ARM64" if machine == "arm64" else "AMD64"}
    if tag.startswith("macosx"):
        return {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
                "platform_machine": "arm64" if machine == "arm64" else "x86_64"}
    return {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "platform_machine": machine}


def is_foreign(env: dict[str, str]) -> bool:
    """True when pip, which evaluates markers for this machine, would get the target's markers wrong."""
    host = default_environment()
    return any(env[key] != host[key] for key in ("sys_platform", "platform_system", "platform_machine",
                                                  "python_version"))


def problems(wheels: list[WheelInfo], roots: list[str], env: dict[str, str]) -> list[Problem]:
    """Every requirement reachable from `roots` that the wheels do not satisfy."""
    found: dict[str, Problem] = {}
    for requirement, parent, wheel in _edges(wheels, roots, env):
        if not _satisfies(wheel, requirement):
            problem = Problem(canonical_name(requirement.name), str(requirement), parent,
                              wheel.version if wheel else None)
            found.setdefault(problem.describe(), problem)
    return list(found.values())


def merged_requests(wheels: list[WheelInfo], roots: list[str], env: dict[str, str], names: set[str]) -> list[str]:
    """One request per project in `names`, combining every specifier that asks for it (no extras)."""
    specs: dict[str, set[str]] = {name: set() for name in names}
    for requirement, _parent, _wheel in _edges(wheels, roots, env):
        key = canonical_name(requirement.name)
        if key in specs:
            specs[key].update(str(s) for s in requirement.specifier)
    return [name + ",".join(sorted(parts)) for name, parts in sorted(specs.items())]


def applicable(wheel: WheelInfo, extras: frozenset[str], env: dict[str, str]) -> list[str]:
    """The Requires-Dist entries of `wheel` that apply on the target with these extras."""
    needed = []
    for text in wheel.requires:
        marker = Requirement(text).marker
        if marker is None or any(marker.evaluate({**env, "extra": extra}) for extra in ("", *extras)):
            needed.append(text.split(";", 1)[0].strip())
    return needed


def _satisfies(wheel: WheelInfo | None, requirement: Requirement) -> bool:
    return wheel is not None and requirement.specifier.contains(Version(wheel.version), prereleases=True)


def _edges(wheels: list[WheelInfo], roots: list[str], env: dict[str, str]) \
        -> Iterator[tuple[Requirement, str, WheelInfo | None]]:
    """(requirement, who asks, the wheel present for it) for every edge reachable from `roots`."""
    present = {canonical_name(w.name): w for w in wheels}
    seen: set[tuple[str, frozenset[str]]] = set()
    queue: list[tuple[str, str]] = [(root, "the request") for root in roots]
    while queue:
        text, parent = queue.pop()
        requirement = Requirement(text)
        key = canonical_name(requirement.name)
        wheel = present.get(key)
        yield requirement, parent, wheel
        extras = frozenset(requirement.extras)
        if wheel is None or not _satisfies(wheel, requirement) or (key, extras) in seen:
            continue
        seen.add((key, extras))
        queue.extend((dep, f"{wheel.name} {wheel.version}") for dep in applicable(wheel, extras, env))
