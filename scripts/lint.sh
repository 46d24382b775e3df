#!/usr/bin/env bash
# ruff (lint and format) and mypy (strict), as configured in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dev.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
