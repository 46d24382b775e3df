#!/usr/bin/env bash
# The one command that installs everything and runs the whole test suite:
#   bash scripts/test.sh [pytest arguments]
# Debian packages (exiftool, exiv2, chromium + chromedriver, systemd) through apt-get,
# then a development virtualenv in .venv, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dev.sh
exec .venv/bin/python -m pytest "$@"
