#!/usr/bin/env bash
# The GPU check (issue 20; docs/ARCHITECTURE.md, "The GPU check"): one script, under 8 minutes on one
# NVIDIA H200, on that machine's own image (python3 3.12, CUDA PyTorch, transformers, safetensors,
# onnx, CPU onnxruntime). Nothing is fetched: it builds a random BERT-base (float32) and a random
# ~1.1 B Llama (bfloat16) from configs, then prints, one labelled line each: F on the GPU; the
# standard audit / F (goal <= 8 F); the 1 B model's standard audit time for 256 probes (goal < 300 s);
# peak GPU memory / weight bytes; the largest GPU-vs-CPU figure difference per metric family beside
# its tolerance. See bench/gpu_check.py.
#
#   bench/gpu_check.sh                       # on the GPU machine, from the repository root
#   bench/gpu_check.sh --strict              # exit 1 when a goal is missed (figures always printed)
#   bench/gpu_check.sh --device cpu --tiny   # tiny models on the CPU, seconds (runs inside make test)
#
# Missing small packages travel as wheels in bench/wheels/ (never committed). The image lacks what the
# engine needs beside torch and transformers; prepare them on a machine with network access:
#   python3 -m pip download --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
#     --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d bench/wheels \
#     sqlite-utils cryptography asn1crypto platformdirs threadpoolctl pyyaml
# They are installed with --no-index --no-deps into a folder of this run only (not the image's Python).
#
# Budget on one H200, ESTIMATED (written and tested on a CPU machine; the GPU figures are unmeasured):
#   start-up, imports, wheels                              ~15 s
#   BERT-base built on the GPU and saved (0.4 GB)          ~10 s
#   F (4 passes over 256 probes) + its standard audit      ~30-60 s (the CPU-side estimators dominate)
#   ~1.1 B Llama built on the GPU and saved (2.2 GB)       ~20 s
#   its standard audit of 256 probes in bfloat16           ~60-180 s (stopped at min(330 s, budget - 120 s))
#   BERT, 64 probes: an audit on the GPU, one on the CPU   ~10 s + ~30-60 s (16 cores)
#   total                                                  ~3-6 min; --budget-s 450 stops the audits,
#                                                          `timeout 470` the script
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-run.XXXXXX")"
trap 'rm -rf "$RUN_DIR"' EXIT

# the templates ship as the package `auditor_templates` (setup.py maps templates/ to it)
mkdir -p "$RUN_DIR/path"
ln -s "$ROOT/templates" "$RUN_DIR/path/auditor_templates"
EXTRA="$RUN_DIR/path"
shopt -s nullglob
wheels=(bench/wheels/*.whl)
if ((${#wheels[@]})); then
  "$PY" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --target "$RUN_DIR/site" \
    "${wheels[@]}"
  EXTRA="$EXTRA:$RUN_DIR/site"
fi
export PYTHONPATH="$ROOT:$EXTRA${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ORT_DISABLE_TELEMETRY=1 TOKENIZERS_PARALLELISM=false

# one line naming what is missing, before anything runs
"$PY" - <<'EOF'
import importlib.util, sys
need = {"torch": "torch", "transformers": "transformers", "safetensors": "safetensors", "tokenizers": "tokenizers",
        "onnx": "onnx", "onnxruntime": "onnxruntime", "numpy": "numpy", "yaml": "pyyaml",
        "sqlite_utils": "sqlite-utils", "cryptography": "cryptography", "asn1crypto": "asn1crypto",
        "platformdirs": "platformdirs", "threadpoolctl": "threadpoolctl"}
missing = [pip for module, pip in need.items() if importlib.util.find_spec(module) is None]
if missing:
    print(f"gpu_check: missing {', '.join(missing)}; put their wheels in bench/wheels/ (see this script's header)",
          file=sys.stderr)
    sys.exit(2)
EOF

limit=()
if command -v timeout >/dev/null; then limit=(timeout 470); fi
# not exec: the trap removes the built models (2.6 GB) when the check ends
rc=0
${limit[@]+"${limit[@]}"} "$PY" -m bench.gpu_check --work "$RUN_DIR/work" "$@" || rc=$?
exit "$rc"
