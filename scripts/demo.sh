#!/usr/bin/env bash
# Run `tfotel demo` (offline, embedded default store under $TFOTEL_HOME or ~/.tracefork), with its own set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tfotel demo "$@"
