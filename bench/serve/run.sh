#!/usr/bin/env bash
# Installs what the serve benchmark needs (wrk, node/npm) if missing, then runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q && apt-get install -y -q "${missing[@]}"
fi
exec python3 bench/serve/run.py "$@"
