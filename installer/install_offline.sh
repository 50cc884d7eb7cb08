#!/usr/bin/env bash
# Install the Transformer auditor from an offline wheelhouse: no network, every wheel hash-checked.
# Usage: bash install_offline.sh [--prefix DIR] [--skip-demo] ...   (see --help and README.md)
set -euo pipefail

readonly PROG="install_offline"
readonly APP_ID="transformer-auditor"
# what the launchers set: the app opens no connection, and these keep the libraries from trying.
# The engine sets the same variables itself on import (auditor/offline.py; the self-check verifies
# it), so a process started without a launcher is offline too; these are a second line.
readonly OFFLINE_ENV=(ORT_DISABLE_TELEMETRY=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
  HF_HUB_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1 TOKENIZERS_PARALLELISM=false PYTHONNOUSERSITE=1)
readonly ENGINE_OFFLINE_VARS=(ORT_DISABLE_TELEMETRY HF_HUB_OFFLINE TRANSFORMERS_OFFLINE HF_HUB_DISABLE_TELEMETRY)
# and they unset PYTHONPATH and PYTHONHOME: nothing outside the installation changes the app

WHEELHOUSE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
PREFIX=""
PYTHON=""
DESKTOP_DIR=""
NO_DESKTOP=0
SKIP_DEMO=0
FORCE=0
NEW_VENV=""
CREATED_PREFIX=0
WORK=""
DONE=0

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() {
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit 1
}

usage() {
  cat <<'EOF'
Usage: bash install_offline.sh [options]

Installs the Transformer auditor from the wheelhouse this script sits in, without any network:
verifies SHA256SUMS, creates a virtual environment, installs with pip --no-index --require-hashes,
runs a self-check (auditor --version and a short demo audit against a temporary database), then
writes the launchers PREFIX/bin/auditor and PREFIX/bin/auditor-gui and a desktop entry.

Options:
  --prefix DIR        install here (default: /opt/transformer-auditor as root,
                      ~/.local/opt/transformer-auditor otherwise)
  --wheelhouse DIR    the wheelhouse (default: the folder of this script)
  --python PATH       the Python to use (default: pythonX.Y matching the wheelhouse, else python3)
  --skip-demo         self-check with auditor --version only (quick install)
  --desktop-dir DIR   where to put the .desktop entry (default: /usr/local/share/applications
                      as root, ~/.local/share/applications otherwise)
  --no-desktop        write the desktop entry under PREFIX/share/applications only
  --force             reinstall even if this exact build is already installed
  -h, --help          this text
EOF
}

value_of() {  # value_of OPTION VALUE: the value, or a clear error when it is missing
  [[ -n "${2-}" && "${2-}" != --* ]] || die "$1 needs a value (see --help)"
  printf '%s' "$2"
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --prefix) PREFIX="$(value_of "$1" "${2-}")"; shift 2 ;;
      --wheelhouse) WHEELHOUSE="$(value_of "$1" "${2-}")"; shift 2 ;;
      --python) PYTHON="$(value_of "$1" "${2-}")"; shift 2 ;;
      --desktop-dir) DESKTOP_DIR="$(value_of "$1" "${2-}")"; shift 2 ;;
      --no-desktop) NO_DESKTOP=1; shift ;;
      --skip-demo) SKIP_DEMO=1; shift ;;
      --force) FORCE=1; shift ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown option: $1 (see --help)" ;;
    esac
  done
  if [[ -z "$PREFIX" ]]; then
    if [[ "$(id -u)" -eq 0 ]]; then PREFIX="/opt/$APP_ID"; else PREFIX="$HOME/.local/opt/$APP_ID"; fi
  fi
  case "$PREFIX" in
    *[\'\"\`\$\\%]* | *$'\n'*) die "the prefix must not contain quotes, \$, %, backslashes or newlines: $PREFIX" ;;
  esac
}

cleanup() {  # a failed install leaves nothing behind but its logs
  if [[ "$DONE" -ne 1 && -n "$NEW_VENV" && -d "$NEW_VENV" ]]; then
    rm -rf -- "$NEW_VENV"
  fi
  if [[ "$DONE" -ne 1 && -d "$PREFIX/venvs" ]]; then
    rmdir -- "$PREFIX/venvs" 2>/dev/null || true
    [[ "$CREATED_PREFIX" -ne 1 ]] || rmdir -- "$PREFIX" 2>/dev/null || true
  fi
  if [[ -n "$WORK" && -d "$WORK" && "$DONE" -eq 1 ]]; then
    rm -rf -- "$WORK"
  fi
}

check_wheelhouse() {
  WHEELHOUSE="$(cd -- "$WHEELHOUSE" 2>/dev/null && pwd -P)" || die "no such wheelhouse folder"
  local name
  for name in SHA256SUMS requirements.lock wheelhouse.json wheels; do
    [[ -e "$WHEELHOUSE/$name" ]] || die "$WHEELHOUSE is not a complete wheelhouse: $name is missing"
  done
}

pick_python() {
  local wanted
  wanted="$(sed -n 's/.*"python_version": *"\([0-9.]*\)".*/\1/p' "$WHEELHOUSE/wheelhouse.json")"
  [[ -n "$wanted" ]] || die "wheelhouse.json does not name a Python version"
  if [[ -z "$PYTHON" ]]; then
    PYTHON="$(command -v "python$wanted" || command -v python3 || true)"
    [[ -n "$PYTHON" ]] || die "no python$wanted or python3 found; install Python $wanted (with its venv module)"
  fi
  local have
  have="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" \
    || die "$PYTHON does not run"
  [[ "$have" == "$wanted" ]] || die "this wheelhouse is for Python $wanted, but $PYTHON is Python $have (use --python)"
}

verify_sums() {  # every file in SHA256SUMS present and intact, and no wheel that it does not list
  local problem
  if ! problem="$("$PYTHON" - "$WHEELHOUSE" 2>&1 <<'PYEOF'
import hashlib, pathlib, sys
root = pathlib.Path(sys.argv[1])
listed = {}
for line in (root / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
    digest, _, name = line.partition("  ")
    if line.strip():
        listed[name.lstrip("*")] = digest.strip().lower()
if not listed:
    sys.exit("SHA256SUMS lists no files")
def sha256(path):
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
for name, digest in sorted(listed.items()):
    path = root / name
    if not path.is_file():
        sys.exit(f"{name} is listed in SHA256SUMS but missing")
    if sha256(path) != digest:
        sys.exit(f"{name} does not match its SHA-256 in SHA256SUMS (damaged or tampered copy)")
for path in sorted((root / "wheels").iterdir()):
    if f"wheels/{path.name}" not in listed:
        sys.exit(f"wheels/{path.name} is not listed in SHA256SUMS (a file was added)")
PYEOF
  )"; then
    die "verification failed: ${problem##*$'\n'}; nothing was installed"
  fi
  say "SHA256SUMS verified ($(grep -c . "$WHEELHOUSE/SHA256SUMS") files)"
}

manifest() {  # manifest KEY: one value from wheelhouse.json
  "$PYTHON" -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print(str(v).lower() if isinstance(v, bool) else v)' \
    "$WHEELHOUSE/wheelhouse.json" "$1"
}

explain_pip_failure() {  # one clear line from pip's log
  local log="$1" bad
  if grep -q "DO NOT MATCH THE HASHES" "$log"; then
    bad="$(sed -n '/DO NOT MATCH THE HASHES/,$p' "$log" | grep -o 'file://[^ ]*\.whl' | head -n 1 || true)"
    die "verification failed: ${bad##*/} does not match its SHA-256 in requirements.lock (damaged or tampered wheel); nothing was installed (pip's log: $log)"
  elif grep -q "missing from some requirements\|must have their versions pinned" "$log"; then
    die "requirements.lock does not cover every dependency; rebuild the wheelhouse (pip's log: $log)"
  elif grep -q "No matching distribution\|Could not find a version" "$log"; then
    die "a wheel is missing or not made for this machine ($(uname -m), glibc $(ldd --version 2>/dev/null | head -n 1 | grep -o '[0-9.]*$' || echo '?')); wheelhouse.json says what it needs (pip's log: $log)"
  fi
  die "pip could not install from the wheelhouse: $(grep -m 1 '^ERROR' "$log" || tail -n 1 "$log") (pip's log: $log)"
}

install_venv() {
  local venv="$1" log="$WORK/pip-install.log" deps=()
  [[ "$(manifest complete)" == "true" ]] || { deps=(--no-deps); say "a partial wheelhouse: installing without dependencies"; }
  "$PYTHON" -m venv "$venv" >"$WORK/venv.log" 2>&1 \
    || die "$PYTHON -m venv failed (on Debian/Ubuntu install python3-venv): $(tail -n 1 "$WORK/venv.log")"
  # only the wheelhouse: no index, no pip configuration or PIP_* variables from this machine
  local var
  while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^PIP_' || true)
  say "installing $(grep -c -- '--hash=sha256:' "$WHEELHOUSE/requirements.lock") wheels into $venv"
  if ! PIP_CONFIG_FILE=/dev/null PYTHONNOUSERSITE=1 "$venv/bin/python" -m pip install --no-index \
    --find-links "$WHEELHOUSE/wheels" --require-hashes --only-binary=:all: --no-cache-dir \
    --disable-pip-version-check --no-input --progress-bar off ${deps[@]+"${deps[@]}"} \
    -r "$WHEELHOUSE/requirements.lock" >"$log" 2>&1; then
    explain_pip_failure "$log"
  fi
}

NET_CUT=()
find_net_cut() {  # a way to run the self-check with no network, where this machine allows it
  if unshare -n true >/dev/null 2>&1; then NET_CUT=(unshare -n)
  elif unshare -r -n true >/dev/null 2>&1; then NET_CUT=(unshare -r -n)
  fi
}

offline() {  # offline CMD...: run with the launchers' environment, the network cut where possible
  if [[ ${#NET_CUT[@]} -gt 0 ]]; then
    "${NET_CUT[@]}" env -u PYTHONPATH -u PYTHONHOME "${OFFLINE_ENV[@]}" "$@"
  else
    env -u PYTHONPATH -u PYTHONHOME "${OFFLINE_ENV[@]}" "$@"
  fi
}

engine_sets_offline() {  # the installed engine sets its offline variables itself, with none set outside
  local venv="$1" unset_args=() name missing
  for name in "${ENGINE_OFFLINE_VARS[@]}"; do unset_args+=(-u "$name"); done
  missing="$(offline env "${unset_args[@]}" "$venv/bin/python" -c '
import os, sys
import auditor
print(" ".join(n for n in sys.argv[1:] if os.environ.get(n) != "1"))' "${ENGINE_OFFLINE_VARS[@]}" \
    2>"$WORK/engine.log")" || die "self-check failed: importing auditor: $(tail -n 1 "$WORK/engine.log")"
  [[ -z "$missing" ]] || die "self-check failed: the engine does not set $missing on import (auditor/offline.py)"
  say "self-check: the engine sets ${ENGINE_OFFLINE_VARS[*]} itself"
}

self_check() {
  local venv="$1" want version
  want="auditor $(manifest app_version)"
  find_net_cut
  version="$(offline "$venv/bin/auditor" --version 2>&1)" || die "self-check failed: auditor --version: $version"
  [[ "$version" == "$want" ]] || die "self-check failed: auditor --version printed '$version', expected '$want'"
  say "self-check: $version"
  engine_sets_offline "$venv"
  if [[ "$SKIP_DEMO" -eq 1 || "$(manifest demo_model)" != "true" ]]; then
    say "self-check: demo audit skipped"
  else
    local out="$WORK/demo"
    if ! AUDITOR_DB="$WORK/audits.db" offline "$venv/bin/auditor" demo --out "$out" --progress none \
      >"$WORK/demo.log" 2>&1 || ! compgen -G "$out/audit-*.json" >/dev/null; then
      die "self-check failed: the demo audit did not complete: $(tail -n 1 "$WORK/demo.log") (log: $WORK/demo.log)"
    fi
    say "self-check: demo audit completed: $(grep -m 1 '^Audit ' "$WORK/demo.log" | tr -s ' ' || echo 'stored')"
  fi
  if [[ ${#NET_CUT[@]} -gt 0 ]]; then say "self-check ran with the network cut (${NET_CUT[*]})"; fi
  if [[ "$(manifest complete)" == "true" ]] \
    && ! offline env QT_QPA_PLATFORM=offscreen "$venv/bin/python" -c 'import PySide6.QtWidgets, gui.app' \
      >"$WORK/gui.log" 2>&1; then
    say "warning: auditor-gui cannot start here: $(tail -n 1 "$WORK/gui.log") (Qt needs system libraries such as libEGL, libxkbcommon, libfontconfig; see README.md)"
  fi
}

write_launcher() {  # write_launcher NAME: PREFIX/bin/NAME runs the current build offline
  local name="$1" target="$PREFIX/bin/$1"
  {
    printf '#!/bin/sh\n'
    printf '# %s launcher written by install_offline.sh; the app needs no network.\n' "$name"
    printf 'export %s\n' "${OFFLINE_ENV[@]}"
    printf 'unset PYTHONPATH PYTHONHOME\n'
    printf "exec '%s/current/bin/%s' \"\$@\"\n" "$PREFIX" "$name"
  } >"$target.tmp"
  chmod 755 "$target.tmp"
  mv -f -- "$target.tmp" "$target"
}

write_desktop_entry() {
  local entry="$PREFIX/share/applications/$APP_ID.desktop" dir="$DESKTOP_DIR"
  mkdir -p -- "$PREFIX/share/applications"
  cat >"$entry" <<EOF
[Desktop Entry]
Type=Application
Version=1.0
Name=Transformer auditor
GenericName=Model audit
Comment=Offline governance audits of transformer models
Exec="$PREFIX/bin/auditor-gui"
TryExec=$PREFIX/bin/auditor-gui
Icon=applications-science
Terminal=false
Categories=Development;Qt;
Keywords=audit;transformer;model;governance;
EOF
  [[ "$NO_DESKTOP" -eq 0 ]] || return 0
  if [[ -z "$dir" ]]; then
    if [[ "$(id -u)" -eq 0 ]]; then dir=/usr/local/share/applications; else dir="${XDG_DATA_HOME:-$HOME/.local/share}/applications"; fi
  fi
  mkdir -p -- "$dir"
  cp -- "$entry" "$dir/$APP_ID.desktop"
  printf '%s\n' "$dir/$APP_ID.desktop" >"$PREFIX/share/desktop-entry-installed"
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database "$dir" >/dev/null 2>&1 || true; fi
  say "desktop entry: $dir/$APP_ID.desktop"
}

write_uninstaller() {
  cat >"$PREFIX/uninstall.sh" <<EOF
#!/usr/bin/env bash
# Removes what install_offline.sh installed in $PREFIX. Keeps every audit database.
set -euo pipefail
prefix='$PREFIX'
if [[ -f "\$prefix/share/desktop-entry-installed" ]]; then
  entry="\$(cat "\$prefix/share/desktop-entry-installed")"
  rm -f -- "\$entry"
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database "\${entry%/*}" >/dev/null 2>&1 || true; fi
fi
rm -f -- "\$prefix/bin/auditor" "\$prefix/bin/auditor-gui" "\$prefix/current" \\
  "\$prefix/share/applications/$APP_ID.desktop" "\$prefix/share/desktop-entry-installed"
rm -rf -- "\$prefix/venvs"
rm -f -- "\$prefix/uninstall.sh"
rmdir -- "\$prefix/bin" "\$prefix/share/applications" "\$prefix/share" "\$prefix" 2>/dev/null || true
echo "uninstalled from \$prefix; audit databases were kept (default: ~/.local/share/$APP_ID/audits.db, or \\\$AUDITOR_DB)"
EOF
  chmod 755 "$PREFIX/uninstall.sh"
}

activate() {  # point PREFIX/current at the new build (one rename), then the launchers and the rest
  local build="$1"
  mkdir -p -- "$PREFIX/bin"
  ln -sfn -- "venvs/$build" "$PREFIX/current.new"
  mv -fT -- "$PREFIX/current.new" "$PREFIX/current"
  write_launcher auditor
  write_launcher auditor-gui
  write_desktop_entry
  write_uninstaller
  local shown
  shown="$("$PREFIX/bin/auditor" --version 2>&1)" || die "the launcher $PREFIX/bin/auditor does not run: $shown"
}

keep_records() {  # the lock, SBOM and manifest beside the build they describe
  local records="$1/share/$APP_ID-install"
  mkdir -p -- "$records"
  cp -- "$WHEELHOUSE/requirements.lock" "$WHEELHOUSE/components.json" "$WHEELHOUSE/wheelhouse.json" \
    "$WHEELHOUSE/SHA256SUMS" "$records/"
  [[ ! -f "$WHEELHOUSE/README.md" ]] || cp -- "$WHEELHOUSE/README.md" "$records/"
}

main() {
  parse_args "$@"
  trap cleanup EXIT
  check_wheelhouse
  pick_python
  verify_sums
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/$APP_ID-install.XXXXXX")"
  local build venv
  build="$(manifest app_version)-$("$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:12])' "$WHEELHOUSE/requirements.lock")"
  [[ -e "$PREFIX" ]] || CREATED_PREFIX=1
  mkdir -p -- "$PREFIX/venvs" || die "cannot create $PREFIX (run as root for a system-wide prefix, or use --prefix)"
  PREFIX="$(cd -- "$PREFIX" && pwd -P)"
  venv="$PREFIX/venvs/$build"
  if [[ -e "$venv" && "$FORCE" -ne 1 ]]; then
    say "build $build is already installed in $venv (use --force to reinstall)"
    activate "$build"
    DONE=1
    return 0
  fi
  rm -rf -- "$venv"
  NEW_VENV="$venv"
  install_venv "$venv"
  keep_records "$venv"
  self_check "$venv"
  activate "$build"
  DONE=1
  say "installed $(manifest app) $(manifest app_version) in $PREFIX"
  say "commands: $PREFIX/bin/auditor and $PREFIX/bin/auditor-gui (add $PREFIX/bin to PATH); uninstall: $PREFIX/uninstall.sh"
}

main "$@"
