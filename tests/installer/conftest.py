"""Fixtures for the offline installer: one small wheelhouse per session, installed once offline.

The wheelhouse holds the app's own wheel plus two small dependencies (platformdirs, pyyaml) and
is built by installer/build_wheelhouse.py --app-only, so the tests download well under 2 MB. Only
that build needs the package registry: where pip's index does not answer (an air-gapped machine),
every test that uses the wheelhouse skips with "package registry unreachable: <host>"; the
builder's offline pieces (test_wheelhouse_meta.py) run everywhere.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.installer.helpers import INSTALLER, SMALL_DEPS, install, registry_skip_reason, run


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """A small wheelhouse built by the real script (the registry is needed for the two dependencies)."""
    reason = registry_skip_reason()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("wheelhouse") / "wh"
    extras = [arg for dep in SMALL_DEPS for arg in ("--extra", f"{dep}=={metadata.version(dep)}")]
    result = run([sys.executable, str(INSTALLER / "build_wheelhouse.py"), "--out", str(out), "--app-only", *extras])
    assert result.returncode == 0, f"building the test wheelhouse failed (is PyPI reachable?):\n" \
                                   f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return out


@pytest.fixture(scope="session")
def installed(wheelhouse: Path, tmp_path_factory) -> dict[str, Path | subprocess.CompletedProcess]:
    """The small wheelhouse installed offline into a fresh prefix."""
    tmp = tmp_path_factory.mktemp("installed")
    prefix = tmp / "prefix with space"
    result = install(wheelhouse, prefix, tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    return {"prefix": prefix, "tmp": tmp, "result": result}


@pytest.fixture
def wheelhouse_copy(wheelhouse: Path, tmp_path: Path) -> Path:
    """A copy to tamper with."""
    return Path(shutil.copytree(wheelhouse, tmp_path / "wh"))
