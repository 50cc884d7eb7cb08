"""The registry probe that decides whether the wheelhouse tests run or skip (no download involved)."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from tests.installer.helpers import PYPI, index_url, registry_problem

# the discard port on loopback: nothing listens there, so a connect is refused at once
CLOSED = "http://127.0.0.1:9/simple"


def _env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "PIP_INDEX_URL"}
    return {**env, **variables}


def test_index_url_follows_pip_configuration():
    assert index_url(_env(PIP_INDEX_URL=CLOSED)) == CLOSED
    assert index_url(_env(PIP_CONFIG_FILE=os.devnull)) == PYPI   # no configuration at all: PyPI


def test_unreachable_index_names_its_host():
    assert registry_problem(_env(PIP_INDEX_URL=CLOSED)) == "127.0.0.1:9"


def test_reachable_index_and_proxy(tmp_path: Path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        assert registry_problem(_env(PIP_INDEX_URL=f"http://127.0.0.1:{port}/simple")) is None
        # behind a proxy the proxy is what must answer, not the index host
        assert registry_problem(_env(PIP_INDEX_URL=CLOSED, https_proxy=f"127.0.0.1:{port}")) is None
    assert registry_problem(_env(PIP_INDEX_URL="https://pypi.org/simple", https_proxy="http://127.0.0.1:9")) \
        == "127.0.0.1:9"


def test_file_index_is_reachable_when_its_folder_exists(tmp_path: Path):
    assert registry_problem(_env(PIP_INDEX_URL=tmp_path.as_uri())) is None
    missing = tmp_path / "no-such-mirror"
    assert registry_problem(_env(PIP_INDEX_URL=missing.as_uri())) == str(missing)
