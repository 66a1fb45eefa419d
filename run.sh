#!/usr/bin/env bash
# Run SCOPE Assistant: installs what it needs, starts the embedded database
# (unless DATABASE_URL is set), migrates, loads demo data and trains the
# first model when the database is empty, then serves on http://127.0.0.1:8050.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
ensure_venv requirements.txt
exec .venv/bin/scope run "$@"
