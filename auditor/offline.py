"""The one place that keeps every process of ours offline and out of the user's home folder.

`auditor/__init__.py` calls `enforce_offline()`, so any import of the engine (the CLI, the GUI and
its worker process, the tests, the installer's self-check, a future server) sets these variables
before onnxruntime, transformers or torch are imported: onnxruntime reads ORT_DISABLE_TELEMETRY once,
at import (set later, it is ignored), and its Linux telemetry then resolves an outside host about
10 s into the process and writes ~/.cache/Microsoft/. Nothing here imports a heavy library.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

APP_NAME = "transformer-auditor"      # the platformdirs name of our data folder (as auditor.store.db)

# Forced whatever the caller's environment says: the product never opens a connection, so a
# HF_HUB_OFFLINE=0 or an empty ORT_DISABLE_TELEMETRY left in a shell must not turn it back on.
FORCED = {
    "ORT_DISABLE_TELEMETRY": "1",       # onnxruntime telemetry (DNS + TLS, ~/.cache/Microsoft)
    "HF_HUB_OFFLINE": "1",              # huggingface_hub: no requests at all
    "TRANSFORMERS_OFFLINE": "1",        # transformers: local files only
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",                # the cross-tool convention several libraries honour
}

# Defaults a user may override: no fork warnings from the tokenizer.
DEFAULTS = {"TOKENIZERS_PARALLELISM": "false"}

# Caches the libraries would write under HOME (~/.cache/huggingface, ~/.cache/torch, ~/.nv,
# ~/.triton, ~/.config/matplotlib, ~/.cache/fontconfig, ...) go inside our data folder instead,
# unless the user chose a place. XDG_CACHE_HOME covers the XDG-aware rest (fontconfig, mesa).
CACHE_DIRS = {
    "XDG_CACHE_HOME": "",
    "HF_HOME": "huggingface",
    "TORCH_HOME": "torch",
    "MPLCONFIGDIR": "matplotlib",
    "CUDA_CACHE_PATH": "nv",
    "TRITON_CACHE_DIR": "triton",
}

# a library that read its variable at import, before we could set it
_READ_AT_IMPORT = {"onnxruntime": "ORT_DISABLE_TELEMETRY", "huggingface_hub": "HF_HUB_OFFLINE"}


def data_dir() -> Path:
    """Our own data folder (platformdirs user_data_dir): the database and the caches live here."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def cache_root() -> Path:
    return data_dir() / "cache"


def enforce_offline() -> dict[str, str]:
    """Set the offline variables in os.environ (idempotent); returns what is now in force."""
    late = [module for module, name in _READ_AT_IMPORT.items()
            if module in sys.modules and os.environ.get(name) != FORCED[name]]
    os.environ.update(FORCED)
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    root = cache_root()
    for name, sub in CACHE_DIRS.items():
        if not os.environ.get(name):
            os.environ[name] = str(root / sub) if sub else str(root)
    if late:
        # a warning, not an error: the host program (a notebook, a server) chose the import order
        warnings.warn(f"{', '.join(late)} was imported before auditor without its offline setting; "
                      "import auditor first (or set ORT_DISABLE_TELEMETRY=1 and HF_HUB_OFFLINE=1)",
                      RuntimeWarning, stacklevel=2)
    return {name: os.environ[name] for name in (*FORCED, *DEFAULTS, *CACHE_DIRS)}
