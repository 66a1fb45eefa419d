#!/usr/bin/env bash
# Static checks run by test.sh after the tests: ruff (rules in pyproject.toml),
# bandit (medium severity and above fail; tests, bench and .venv excluded) and
# pip-audit of the pinned requirements against PyPI's vulnerability data.
#
# pip-audit needs the network. A known vulnerability always fails the build.
# When PyPI cannot be reached, or a pinned package cannot be looked up there
# (e.g. behind a mirror without its JSON API), it says loudly that the
# dependencies were NOT checked, and fails only with SCOPE_PIP_AUDIT_REQUIRED=1:
# builds also run offline and behind mirrors; set it where PyPI is reachable.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0

echo "checks: ruff"
.venv/bin/ruff check . || status=1

echo "checks: bandit (medium and high severity fail)"
.venv/bin/bandit -c pyproject.toml -r . --severity-level medium --quiet || status=1

echo "checks: pip-audit (requirements.txt, requirements-dev.txt)"
# Every requirement is pinned (==), so no resolver run is needed.
audit_json=$(.venv/bin/pip-audit --no-deps --disable-pip --progress-spinner off --format json \
  -r requirements.txt -r requirements-dev.txt 2>/tmp/scope-pip-audit.err)
audit_rc=$?
printf '%s' "$audit_json" | .venv/bin/python scripts/pip_audit_verdict.py "$audit_rc"
verdict=$?
if [ "$verdict" -eq 1 ]; then
  status=1
elif [ "$verdict" -eq 2 ] && [ "${SCOPE_PIP_AUDIT_REQUIRED:-0}" = "1" ]; then
  echo "checks: SCOPE_PIP_AUDIT_REQUIRED=1, so a build whose dependencies were not checked fails" >&2
  status=1
fi

if [ "$status" -ne 0 ]; then
  echo "checks: FAILED (see above)" >&2
else
  echo "checks: all passed"
fi
exit "$status"
