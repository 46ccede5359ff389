#!/usr/bin/env bash
# Builds the indexing benchmark corpus: the sources of this workspace's own dependencies,
# vendored from the current Cargo.lock.
#
#   loadtest/corpus.sh [DEST]
#
#   DEST    default ${WEFT_CACHE:-/var/cache/weft}/corpus; the corpus is DEST/vendor
#
# `cargo vendor --locked --versioned-dirs` (downloads through ~/.cargo/registry, so crates.io
# must be reachable the first time). Cached: DEST/vendor.stamp holds the sha256 of Cargo.lock
# (and the vendor flags); when it matches, nothing runs. The vendor step writes into a
# temporary folder beside DEST/vendor and is renamed into place only when it succeeded, and
# the stamp is written last, so an interrupted run never leaves a half corpus that counts as
# done. Two runs at once serialize on DEST/.lock.
#
# Prints ONE line on stdout, tab-separated: the corpus path, "N files", "X MB" (regular files,
# everything cargo vendor wrote, .cargo-checksum.json included; MB = 10^6 bytes). Progress and
# errors go to stderr.
#   CORPUS=$(loadtest/corpus.sh | cut -f1)
set -euo pipefail

say() { printf 'corpus: %s\n' "$*" >&2; }
die() { printf 'corpus: error: %s\n' "$*" >&2; exit 1; }

[[ $# -le 1 ]] || die "usage: $0 [DEST]   (too many arguments)"
case "${1:-}" in -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCK="$ROOT/Cargo.lock"
DEST="${1:-${WEFT_CACHE:-/var/cache/weft}/corpus}"
VENDOR_FLAGS=(--locked --versioned-dirs)

command -v cargo >/dev/null || die "cargo not found on PATH (install Rust: rustup, or the distro's cargo)"
command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"
command -v flock >/dev/null || die "flock not found (util-linux)"
[[ -f "$ROOT/Cargo.toml" ]] || die "no Cargo.toml at $ROOT: the script must live in <workspace>/loadtest/"
[[ -f "$LOCK" ]] || die "no Cargo.lock at $LOCK: run 'cargo generate-lockfile' (or any cargo build) in $ROOT first"

mkdir -p "$DEST" || die "cannot create $DEST"
DEST=$(cd "$DEST" && pwd)
[[ -w "$DEST" ]] || die "$DEST is not writable (set WEFT_CACHE or pass DEST)"
VENDOR="$DEST/vendor"
STAMP="$DEST/vendor.stamp"

exec 9>"$DEST/.lock"
if ! flock -n 9; then
  say "another corpus.sh holds $DEST/.lock; waiting"
  flock 9
fi

lock_key() { printf 'sha256:%s cargo vendor %s\n' "$(sha256sum <"$LOCK" | cut -d' ' -f1)" "${VENDOR_FLAGS[*]}"; }

report() {
  local files bytes
  read -r files bytes < <(find "$VENDOR" -type f -printf '%s\n' | awk '{n++; s+=$1} END {printf "%d %d\n", n, s}')
  printf '%s\t%d files\t%.1f MB\n' "$VENDOR" "$files" "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')"
}

key=$(lock_key)
if [[ -d "$VENDOR" && -f "$STAMP" ]] && [[ "$(head -n1 "$STAMP")" == "$key" ]]; then
  say "up to date ($key)"
  report
  exit 0
fi

# Leftovers of interrupted runs (we hold the lock, so none of them is live).
rm -rf "$DEST"/.vendor.tmp.* "$DEST"/.vendor.old.*
TMP=$(mktemp -d "$DEST/.vendor.tmp.XXXXXX")
OLD="" CHILD=""
cleanup() { rm -rf "$TMP"; [[ -z "$OLD" ]] || rm -rf "$OLD"; }
trap cleanup EXIT
# A kill of this script (not only Ctrl-C on the terminal's process group) stops cargo too.
on_signal() { [[ -z "$CHILD" ]] || { kill "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; }; die "interrupted ($1); nothing was changed in $VENDOR"; }
for sig in INT TERM HUP; do trap "on_signal $sig" "$sig"; done

say "vendoring the dependencies of $ROOT (Cargo.lock ${key%% *}) into $TMP"
# cargo vendor prints the [source] config to use the vendor folder; keep it beside the corpus.
(cd "$ROOT" && exec cargo vendor "${VENDOR_FLAGS[@]}" --manifest-path "$ROOT/Cargo.toml" "$TMP/vendor") \
  >"$TMP/cargo-config.toml" 9>&- &
CHILD=$!
if ! wait "$CHILD"; then
  die "cargo vendor failed (see above). With --locked this also happens when a Cargo.toml in the
       workspace asks for a dependency that Cargo.lock does not have yet: run any cargo build or
       'cargo update -w' in $ROOT, then re-run this script. Nothing was changed in $VENDOR."
fi
CHILD=""
echo >&2  # cargo's last progress line has no newline
after=$(lock_key)
if [[ "$after" != "$key" ]]; then
  die "Cargo.lock changed while vendoring (${key%% *} -> ${after%% *}); nothing was changed in $VENDOR: re-run"
fi

# Swap in: drop the stamp first, so a crash between the renames leaves 'not done', never a
# stale stamp over a new tree (or the other way round).
rm -f "$STAMP"
if [[ -e "$VENDOR" ]]; then
  OLD="$DEST/.vendor.old.$$"
  mv -T "$VENDOR" "$OLD"
fi
mv -T "$TMP/vendor" "$VENDOR"
mv -f "$TMP/cargo-config.toml" "$DEST/cargo-config.toml"
{ echo "$key"; echo "# vendored $(date -u +%FT%TZ) by $(cargo --version) from $LOCK"; } >"$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"
say "done: $(find "$VENDOR" -mindepth 1 -maxdepth 1 -type d | wc -l) crates"
report
