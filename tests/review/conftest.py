"""Fixtures of the review tests: a configured library, its state, a served review app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from scened.config import Config
from scened.daemon.state import StateDB

from .review_helpers import ThreadServer, make_config, review_app

Serve = Callable[..., AbstractContextManager[ThreadServer]]


@pytest.fixture(autouse=True)
def _isolated(no_user_config: None) -> None:
    """No real configuration, state or SCENED_CONFIG reaches these tests."""


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    return folder


@pytest.fixture
def config(tmp_path: Path, library: Path) -> Config:
    return make_config(tmp_path / "state", library)


@pytest.fixture
def db(config: Config) -> Iterator[StateDB]:
    state = StateDB.open(config.state_dir)
    yield state
    state.close()


@pytest.fixture
def serve(config: Config) -> Serve:
    """``with serve(token=...) as server``: the review app of ``config`` on 127.0.0.1."""

    def start(**options: Any) -> ThreadServer:
        return ThreadServer(review_app(options.pop("config", config), **options))

    return start
