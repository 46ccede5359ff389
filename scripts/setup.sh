#!/usr/bin/env bash
# Installs everything Weft needs on a fresh Debian machine, then builds it.
#   scripts/setup.sh             system packages + Rust check + release build
#   scripts/setup.sh --deps-only system packages + Rust check + Python workers (what CI needs)
# Idempotent and quick when everything is already there: packages are installed only when
# missing, so a warm machine never touches the network.
set -euo pipefail
cd "$(dirname "$0")/.."

deps_only=0
[[ "${1:-}" == "--deps-only" ]] && deps_only=1

say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

# --- Debian packages -------------------------------------------------------------------
# build-essential/pkg-config: the C parts of crates (bundled SQLite) and llama.cpp (built by
# llama-cpp-python at install); protobuf-compiler: protoc for the worker protocol (proto/);
# python3 + python3-venv: the workers' venv; chromium: the browser end-to-end test (driven by
# playwright-core, which never downloads a browser of its own); the WebKitGTK, soup, rsvg and
# appindicator headers: the Tauri desktop shell (ui/src-tauri); xvfb + xauth: its smoke test
# without a display; webkit2gtk-driver: WebKitWebDriver for tauri-driver; x11-apps: xwd, its
# screenshot; zsh and fish: the terminal tests run the shell integration of all three shells.
APT_PACKAGES=(build-essential pkg-config ca-certificates git protobuf-compiler python3 python3-venv
  chromium xvfb xauth libwebkit2gtk-4.1-dev libsoup-3.0-dev librsvg2-dev
  libayatana-appindicator3-dev webkit2gtk-driver x11-apps zsh fish)

# shellcheck source=scripts/apt.sh
. scripts/apt.sh
apt_install "${APT_PACKAGES[@]}"

# --- Rust ------------------------------------------------------------------------------
MIN_RUST=1.85
if ! command -v cargo >/dev/null; then
  [[ -x "$HOME/.cargo/bin/cargo" ]] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || die "cargo not found: install Rust >= $MIN_RUST with rustup (https://rustup.rs), then run this again"
rust_version=$(rustc --version | awk '{print $2}')
if [[ "$(printf '%s\n%s\n' "$MIN_RUST" "$rust_version" | sort -V | head -n1)" != "$MIN_RUST" ]]; then
  die "Rust $rust_version is older than $MIN_RUST: run \`rustup update stable\`"
fi
for c in clippy rustfmt; do
  if ! cargo "$c" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null || die "cargo $c missing and no rustup to add it"
    say "adding Rust component $c"
    rustup component add "$c"
  fi
done
say "Rust $rust_version"

# --- Node (the UI: Vite + SolidJS) ---------------------------------------------------------
MIN_NODE=20.19.0
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt_install nodejs npm
fi
node_version=$(node --version | tr -d v)
if [[ "$(printf '%s\n%s\n' "$MIN_NODE" "$node_version" | sort -V | head -n1)" != "$MIN_NODE" ]]; then
  die "Node $node_version is older than $MIN_NODE (Vite 7 needs it): install Node 20 LTS or newer (e.g. from https://deb.nodesource.com), then run this again"
fi
say "Node $node_version"

# --- Python workers (venv, pinned packages, stubs, exported embedding backends) ----------
scripts/setup-python.sh

# --- UI packages and build (ui/dist is what `weft serve` and the desktop shell show) --------
say "installing the UI's npm packages (ui/package-lock.json)"
(cd ui && npm ci --no-audit --no-fund --loglevel=error)
say "building the UI (ui/dist)"
(cd ui && npm run build --silent)

if ((deps_only)); then
  exit 0
fi

# --- Build -----------------------------------------------------------------------------
say "building weft (release)"
cargo build --release --locked --bin weft
say "done: run \`cargo run --release -q -- serve .\` (or \`weft --help\` from the target dir)"
