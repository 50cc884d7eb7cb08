# Quick start on a fresh, connected machine:  make demo   (set-up plus the demo audit)
#                                             make test   (set-up plus the tests)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-stamp
# The offline variables (HF_HUB_OFFLINE, ORT_DISABLE_TELEMETRY, ...) are set by the engine itself on
# import (auditor/offline.py), for every process of ours; nothing here is needed for them.
export TOKENIZERS_PARALLELISM := false

.PHONY: setup system-packages demo test test-fast lint gui bench mutation clean

# The tests read PDFs with poppler (pdffonts, pdftotext, pdftoppm); screenshots run Qt's xcb
# platform under Xvfb, which needs the xcb libraries below; the offline test traces connect() with
# strace (tests/integration/test_offline.py).
SYSTEM_PACKAGES := poppler-utils xvfb strace libxcb-icccm4 libxcb-cursor0 libxcb-keysyms1 libxcb-image0 \
  libxcb-render-util0 libxkbcommon-x11-0 libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-xkb1
system-packages:
	@if ! command -v pdffonts >/dev/null 2>&1 || ! command -v Xvfb >/dev/null 2>&1 || \
	    ! command -v strace >/dev/null 2>&1 || \
	    ! ldconfig -p 2>/dev/null | grep -q libxcb-cursor; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "setup: installing $(SYSTEM_PACKAGES)"; \
	    (apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null)); \
	  else \
	    echo "setup: please install $(SYSTEM_PACKAGES) (the PDF tests need pdffonts, the offline test strace)"; \
	  fi; \
	fi

setup: $(STAMP)

# Re-runs only when the packaging changes. Without an NVIDIA GPU the CPU build of torch goes in
# first, so pip does not pull several GB of CUDA wheels for a machine that cannot use them.
$(STAMP): pyproject.toml setup.py Makefile
	@$(MAKE) --no-print-directory system-packages
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  echo "setup: NVIDIA GPU found, installing the default (CUDA) torch"; \
	else \
	  echo "setup: no NVIDIA GPU, installing the CPU build torch==2.13.0"; \
	  $(PY) -m pip install --quiet "torch==2.13.0"; \
	fi
	@$(PY) -m pip install --quiet -e '.[dev,bench,cluster]'
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/auditor demo

test: setup
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check auditor gui reports tests bench installer
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q --durations=15

# the unit tier and the import and lint rules (integration, GUI and installer tests are marked slow)
test-fast: setup
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check auditor gui reports tests bench installer
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -m "not slow" --durations=15

lint: setup
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check auditor gui reports tests bench installer

gui: setup
	$(VENV)/bin/auditor-gui

bench: setup
	$(PY) -m bench.bench_capture

# Mutation testing of auditor/estimators/ against the estimators' fast unit tests (mutmut; the mutants and
# the tests it runs are set in pyproject.toml, [tool.mutmut]). mutmut makes ~4,500 mutants there, about
# 70 minutes on 2 cores, so by default a systematic fifth runs (each function's mutants numbered 5, 10,
# 15, ...: ~850); MUTANTS='*' runs them all. One thread per worker: torch's thread pool hangs in a forked
# worker (the mutant then 'times out' and counts as killed). Prints the score and each surviving
# mutant's diff, and fails below MUTATION_MIN_SCORE percent killed.
MUTATION_MIN_SCORE ?= 85
MUTANTS ?= *__mutmut_*[05]
mutation: setup
	rm -rf mutants
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children 2 '$(MUTANTS)'
	$(PY) -m bench.mutation_report --diffs --min-score $(MUTATION_MIN_SCORE)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache mutants

# Offline installation (installer/README.md): on a connected machine, build a wheelhouse to copy to
# an air-gapped one:  make wheelhouse WHEELHOUSE=/tmp/wheelhouse TORCH=cpu   (or TORCH=cuda; other
# targets: WHEELHOUSE_ARGS="--platform win_amd64 --python-version 3.11").
WHEELHOUSE ?= dist/wheelhouse
TORCH ?= cpu
WHEELHOUSE_ARGS ?=
.PHONY: wheelhouse
wheelhouse:
	$(PYTHON) installer/build_wheelhouse.py --out "$(WHEELHOUSE)" --torch $(TORCH) $(WHEELHOUSE_ARGS)
