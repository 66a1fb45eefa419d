# Sourced by run.sh and test.sh: make .venv with the pinned dependencies.
# Installs only when the requirement files changed since the last install.
set -euo pipefail

find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "SCOPE needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

ensure_venv() {  # $1: requirements file
  local req="$1"
  local stamp=".venv/.installed-$(basename "$req").sha256" want
  if [ ! -x .venv/bin/python ]; then
    local py; py=$(find_python)
    echo "creating .venv with $py"
    "$py" -m venv .venv
  fi
  want=$(cat requirements*.txt pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing pinned dependencies into .venv (first time: a few minutes)..."
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
    echo "$want" > "$stamp"
  fi
}
