#!/usr/bin/env bash
# Browser end-to-end test: the notebooks in JupyterLab, driven by Playwright in Debian's chromium.
# Usage (from anywhere): bash tests/e2e/run.sh [--probe] [extra pytest args]
#   --probe  test generated probe notebooks instead of notebooks/ (checks the harness itself)
# Playwright's own browser downloads are never used (no internet here): we drive /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/../.."

CHROMIUM="${CADL_CHROMIUM:-/usr/bin/chromium}"
PY="${PY:-.venv/bin/python}"

if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "e2e: $CHROMIUM is missing and we are not root, so it cannot be installed here." >&2
    echo "e2e: fix: run 'sudo apt-get install -y --no-install-recommends chromium fonts-dejavu-core'" >&2
    echo "e2e:      or set CADL_CHROMIUM=/path/to/chromium." >&2
    exit 1
  fi
  echo "e2e: installing Debian's chromium (one time)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

if [ ! -x "$PY" ]; then
  echo "e2e: $PY is missing; fix: run 'make setup' first (it creates .venv)." >&2
  exit 1
fi

export CADL_E2E=1 CADL_CHROMIUM="$CHROMIUM"
export CADL_WEIGHTS=untrained CADL_PROFILE=quick
export TF_CPP_MIN_LOG_LEVEL=2
if [ "${1:-}" = "--probe" ]; then
  # Harness self-check on generated probe notebooks (never committed).
  export CADL_E2E_PROBE=1
  shift
fi
exec "$PY" -m pytest -p no:cacheprovider --tb=short tests/e2e -m e2e "$@"
