"""Shared fixtures: where ../shared is, and real photos from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SCENED_SHARED", REPO.parent / "shared"))
SCENES = SHARED / "data" / "scenes" / "train"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}: set SCENED_SHARED")
    return SHARED


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """An empty library folder (``tmp_path/library``)."""
    folder = tmp_path / "library"
    folder.mkdir()
    return folder


@pytest.fixture
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real user or system configuration or state leaks into a test.

    The system file is ``tmp_path/etc/config.toml`` (absent unless a test writes it).
    """
    monkeypatch.delenv("SCENED_CONFIG", raising=False)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setattr("scened.config.SYSTEM_CONFIG", tmp_path / "etc" / "config.toml")


@pytest.fixture(scope="session")
def real_photos(shared_dir: Path) -> list[Path]:
    """A handful of real labelled photos, one from each of several classes."""
    picks = []
    for cls in ("Beach", "Cat", "Forest", "Night", "Car", "Flower", "Mountain", "Food"):
        picks.append(sorted((SCENES / cls).glob("*.jpg"))[0])
    return picks
