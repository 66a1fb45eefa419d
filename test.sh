#!/usr/bin/env bash
# Run the whole test suite against a real PostgreSQL: TEST_DATABASE_URL, or
# the server on 127.0.0.1:5432, or an embedded one when neither answers.
set -uo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
ensure_venv requirements-dev.txt
set +e
.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: that is a failure" >&2
  exit 1
fi
# The whole suite (no arguments) also runs the static checks: ruff, bandit, pip-audit.
if [ "$#" -eq 0 ] && [ "${SCOPE_SKIP_CHECKS:-0}" != "1" ]; then
  scripts/checks.sh || status=1
fi
exit "$status"
