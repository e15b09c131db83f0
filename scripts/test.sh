#!/usr/bin/env bash
# Set up everything the tests need, from a fresh clone, then run the whole test suite.
#   .venv     the project with its test extras (torch pinned by constraints.txt)
#   .venv-ls  the Label Studio server, in its own venv (it pins its own SDK and Django)
#   chromium  Debian's browser, for the headless browser checks
# Extra arguments go to pytest (e.g. scripts/test.sh -k ingest).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
quiet() { grep -v -e "is ignored: it is neither a file nor a directory" || true; }

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e ".[test]" 2>&1 | quiet
[ -x .venv-ls/bin/label-studio ] || { "$PYTHON" -m venv .venv-ls && .venv-ls/bin/pip install -q -r requirements-labelstudio.txt 2>&1 | quiet; }

if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi

export LABEL_STUDIO_BIN="$PWD/.venv-ls/bin/label-studio"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: treating that as a failure" >&2
  exit 1
fi
exit "$status"
