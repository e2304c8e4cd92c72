#!/usr/bin/env bash
# The whole test suite, with its own set-up: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python scripts/gen_proto.py --check
.venv/bin/ruff check tracefork_otel tests bench scripts
.venv/bin/mypy
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
