#!/usr/bin/env bash
# Sets up the Python workers (workers-py/): a venv with the pinned requirements, the package
# (editable), the gRPC stubs generated from proto/, and the prepared embedding models.
#   scripts/setup-python.sh           idempotent; seconds when nothing changed
#   scripts/setup-python.sh --force   reinstall requirements and redo model preparation
# Environment:
#   WEFT_VENV      venv path     (default ${XDG_DATA_HOME:-~/.local/share}/weft/venv)
#   WEFT_MODELS    models path   (default ${XDG_DATA_HOME:-~/.local/share}/weft/models)
#   WEFT_PYTHON    interpreter   (default python3; needs >= 3.11 with venv/ensurepip)
#   PIP_CACHE_DIR  pip cache     (default /var/cache/weft/pip when writable, else ~/.cache/weft/pip)
# pip runs only when workers-py/requirements.txt (or the interpreter) changed since the last
# successful run (stamp file in the venv). Nothing downloads at run time: models come from
# PyPI packages and are exported here, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PKG="$ROOT/workers-py"

force=0
[[ "${1:-}" == "--force" ]] && force=1

say() { printf '\033[1msetup-python:\033[0m %s\n' "$*" >&2; }
die() { printf 'setup-python: %s\n' "$*" >&2; exit 1; }

DATA="${XDG_DATA_HOME:-$HOME/.local/share}/weft"
VENV="${WEFT_VENV:-$DATA/venv}"
MODELS="${WEFT_MODELS:-$DATA/models}"
PY="${WEFT_PYTHON:-python3}"
if [[ -z "${PIP_CACHE_DIR:-}" ]]; then
  if mkdir -p /var/cache/weft/pip 2>/dev/null && [[ -w /var/cache/weft/pip ]]; then
    export PIP_CACHE_DIR=/var/cache/weft/pip
  else
    export PIP_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/weft/pip"
  fi
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off

# --- interpreter -----------------------------------------------------------------------
command -v "$PY" >/dev/null || die "$PY not found: install Python >= 3.11 (Debian: apt-get install python3) or set WEFT_PYTHON"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$("$PY" -V 2>&1) is too old: the workers need Python >= 3.11; set WEFT_PYTHON to one"
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  pyver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  if command -v dpkg-query >/dev/null && [[ "$(command -v "$PY")" == /usr/bin/* ]]; then
    # shellcheck source=scripts/apt.sh
    . scripts/apt.sh
    apt_install "python${pyver}-venv"
  else
    die "$PY has no venv/ensurepip module: install it (Debian: apt-get install python${pyver}-venv) or set WEFT_PYTHON"
  fi
fi
# llama-cpp-python compiles from source at install time.
if ! command -v cc >/dev/null || ! command -v c++ >/dev/null; then
  die "no C/C++ compiler (needed to build llama-cpp-python): apt-get install build-essential (or run scripts/setup.sh --deps-only)"
fi

# --- venv --------------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  say "creating venv $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
deps_key="$(hash_of "$PKG/requirements.txt") $("$VPY" -c 'import sys; print(sys.version.split()[0])')"
deps_stamp="$VENV/.weft-requirements.stamp"
if ((force)) || [[ "$(cat "$deps_stamp" 2>/dev/null)" != "$deps_key" ]]; then
  say "installing pinned requirements into $VENV (first time: ~6 min, ~7 GB; torch is the CUDA build)"
  start=$SECONDS
  "$VPY" -m pip install -r "$PKG/requirements.txt"
  printf '%s\n' "$deps_key" > "$deps_stamp"
  say "requirements installed in $((SECONDS - start)) s"
else
  say "requirements unchanged: skipping pip"
fi

# --- the package (editable) and its stubs ------------------------------------------------
# Re-point the editable install when the venv was last used by another checkout (CI clones)
# or pyproject.toml changed; --no-deps: requirements.txt already pinned everything.
pkg_key="$(hash_of "$PKG/pyproject.toml") $PKG"
pkg_stamp="$VENV/.weft-package.stamp"
installed_at=$("$VPY" -c 'import weft_workers, os; print(os.path.dirname(weft_workers.__file__))' 2>/dev/null || true)
if ((force)) || [[ "$(cat "$pkg_stamp" 2>/dev/null)" != "$pkg_key" ]] || [[ "$installed_at" != "$PKG/src/weft_workers" ]]; then
  say "installing weft_workers (editable) from $PKG"
  "$VPY" -m pip install --no-deps --no-build-isolation -q -e "$PKG"
  printf '%s\n' "$pkg_key" > "$pkg_stamp"
fi
if ! "$VPY" -m weft_workers.protogen --check 2>/dev/null; then
  say "generating gRPC stubs from proto/"
  "$VPY" -m weft_workers.protogen
fi

# --- models ----------------------------------------------------------------------------
# Copies the packaged all-MiniLM-L6-v2, exports ONNX/OpenVINO (+ int8), measures them and
# writes backends.json; a no-op when already done for these package versions.
prepare_args=(--out "$MODELS")
((force)) && prepare_args+=(--force)
"$VPY" -m weft_workers.models prepare "${prepare_args[@]}" >/dev/null

default=$("$VPY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["default"])' "$MODELS/backends.json")
say "venv:   $VENV (python: $VPY)"
say "models: $MODELS (embed default backend: $default)"
say "tests:  WEFT_MODELS=$MODELS $VPY -m pytest $PKG/tests"
