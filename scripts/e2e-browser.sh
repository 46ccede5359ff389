#!/usr/bin/env bash
# Browser end-to-end test: a real `weft serve` (real workers, real models) on a generated git
# repository, driven in headless Debian Chromium by ui/e2e/e2e.mjs (playwright-core, no
# downloaded browser): open the workspace, wait for the index, search, open the hit at its
# line, edit and save, find the new text, SIGKILL the embed workers and watch the degraded
# banner appear and clear. Screenshots of every step go to ui/e2e-artifacts/browser/.
#
#   scripts/e2e-browser.sh            (after scripts/setup.sh; uses target/debug/weft, built
#                                      if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1me2e-browser:\033[0m %s\n' "$*" >&2; }
die() { printf 'e2e-browser: %s\n' "$*" >&2; exit 1; }

DATA="${XDG_DATA_HOME:-$HOME/.local/share}/weft"
export WEFT_VENV="${WEFT_VENV:-$DATA/venv}"
export WEFT_MODELS="${WEFT_MODELS:-$DATA/models}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[[ -x "$CHROMIUM" ]] || die "$CHROMIUM not found: install the Debian package chromium (scripts/setup.sh does)"
[[ -d ui/node_modules ]] || die "ui/node_modules missing: run scripts/setup.sh (npm ci in ui/)"
[[ -f ui/dist/index.html ]] || (cd ui && npm run build >&2)

TARGET="${CARGO_TARGET_DIR:-target}"
WEFT="$TARGET/debug/weft"
if [[ ! -x "$WEFT" ]]; then
  say "building weft (debug)"
  cargo build --locked --bin weft
fi

SCRATCH=$(mktemp -d /tmp/weft-e2e.XXXXXX)
SHOTS="$PWD/ui/e2e-artifacts/browser"
rm -rf "$SHOTS" && mkdir -p "$SHOTS"
SERVE_PID=""
cleanup() {
  if [[ -n "$SERVE_PID" ]] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVE_PID" 2>/dev/null || true
  fi
  if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT

# The generated repository: src/lib.rs has `fn parse_config_line` past line 5.
REPO="$SCRATCH/repo"
mkdir -p "$REPO/src" "$REPO/docs"
cat > "$REPO/src/lib.rs" <<'EOF'
//! A tiny configuration library used by the browser end-to-end test.

use std::collections::HashMap;

/// Splits one `key = value` line of a configuration file into its key and value, trimming
/// whitespace; comments (`#`) and blank lines give `None`.
pub fn parse_config_line(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (key, value) = line.split_once('=')?;
    Some((key.trim().to_owned(), value.trim().to_owned()))
}

/// Reads every line of a configuration text into a map.
pub fn parse_config(text: &str) -> HashMap<String, String> {
    text.lines().filter_map(parse_config_line).collect()
}
EOF
cat > "$REPO/src/retry.rs" <<'EOF'
use std::time::Duration;

/// Runs `op` until it succeeds, sleeping twice as long after each failure.
pub fn retry_with_backoff<T, E>(mut op: impl FnMut() -> Result<T, E>, tries: u32) -> Result<T, E> {
    let mut delay = Duration::from_millis(10);
    let mut last = op();
    for _ in 1..tries {
        if last.is_ok() {
            break;
        }
        std::thread::sleep(delay);
        delay *= 2;
        last = op();
    }
    last
}
EOF
printf '# Demo\n\nA generated repository for the browser test.\n' > "$REPO/README.md"
printf 'target/\n' > "$REPO/.gitignore"
mkdir -p "$REPO/target" && printf 'ignored build output\n' > "$REPO/target/out.txt"
git -C "$REPO" init -q && git -C "$REPO" add -A && \
  git -C "$REPO" -c user.email=e2e@weft -c user.name=e2e commit -qm init

say "starting weft serve on $REPO"
mkdir -p "$SCRATCH/home" "$SCRATCH/xdg"
WEFT_HOME="$SCRATCH/home" XDG_CONFIG_HOME="$SCRATCH/xdg" WEFT_API__LISTEN=127.0.0.1:0 \
  WEFT_LOG="${WEFT_LOG:-info}" setsid "$WEFT" serve "$REPO" >"$SHOTS/serve.log" 2>&1 &
SERVE_PID=$!
URL_FILE="$SCRATCH/home/profiles/default/run/api-url"
for _ in $(seq 600); do
  [[ -s "$URL_FILE" ]] && break
  kill -0 "$SERVE_PID" 2>/dev/null || { tail -20 "$SHOTS/serve.log" >&2; die "weft serve exited during start-up"; }
  sleep 0.2
done
[[ -s "$URL_FILE" ]] || die "no $URL_FILE after 120 s (see $SHOTS/serve.log)"

say "running ui/e2e/e2e.mjs in $CHROMIUM"
WEFT_URL="$(cat "$URL_FILE")" WEFT_WORKSPACE="$REPO" WEFT_SHOTS="$SHOTS" CHROMIUM="$CHROMIUM" \
  WEFT_KILL_CMD="pkill -KILL -P $SERVE_PID -f 'weft_workers embed'" \
  node ui/e2e/e2e.mjs
say "passed; screenshots in $SHOTS"
