#!/usr/bin/env bash
# Runs every check and test of the project. Any failure fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "rustfmt"
cargo fmt --all --check

step "clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests (unit, supervision, storage, config, end-to-end)"
cargo test --workspace --locked --no-fail-fast
