#!/usr/bin/env bash
# Runs every check and test of the project. Any failure fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "rustfmt"
cargo fmt --all --check

step "clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

DATA="${XDG_DATA_HOME:-$HOME/.local/share}/weft"
export WEFT_VENV="${WEFT_VENV:-$DATA/venv}"
export WEFT_MODELS="${WEFT_MODELS:-$DATA/models}"
PY="$WEFT_VENV/bin/python"
[[ -x "$PY" ]] || { echo "test: $PY missing: run scripts/setup.sh first" >&2; exit 1; }

step "worker protocol stubs match proto/ (drift check)"
"$PY" -m weft_workers.protogen --check

step "ruff + mypy (workers-py)"
"$WEFT_VENV/bin/ruff" check workers-py loadtest
"$WEFT_VENV/bin/ruff" format --check workers-py loadtest
(cd workers-py && "$WEFT_VENV/bin/mypy")

step "Python worker tests (real models, real gRPC)"
"$PY" -m pytest workers-py/tests -q -p no:cacheprovider

step "UI: TypeScript strict + component tests (Vitest)"
[[ -d ui/node_modules ]] || { echo "test: ui/node_modules missing: run scripts/setup.sh first" >&2; exit 1; }
(cd ui && npm run lint --silent && npm test --silent)

step "Rust tests (unit, supervision, storage, config, pools, API, end-to-end)"
cargo test --workspace --locked --no-fail-fast

step "browser end-to-end (headless Chromium, real daemon, real workers)"
(cd ui && npm run build --silent)
scripts/e2e-browser.sh

step "desktop shell (ui/src-tauri): fmt, clippy, tests"
cargo fmt --manifest-path ui/src-tauri/Cargo.toml --check
cargo clippy --manifest-path ui/src-tauri/Cargo.toml --all-targets --locked -- -D warnings
cargo test --manifest-path ui/src-tauri/Cargo.toml --locked

step "desktop smoke (Tauri under Xvfb, tauri-driver + WebKitWebDriver)"
scripts/desktop-smoke.sh
