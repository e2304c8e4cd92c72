#!/usr/bin/env bash
# The whole test suite, with its own set-up: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/ensure_chromium.sh  # the report's browser test; skips with a reason without it
.venv/bin/python scripts/gen_proto.py --check
.venv/bin/python grafana/build_dashboards.py --check
.venv/bin/ruff check tracefork_otel tests bench scripts grafana
.venv/bin/mypy
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
