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


@pytest.fixture(scope="session")
def real_photos(shared_dir: Path) -> list[Path]:
    """A handful of real labelled photos, one from each of several classes."""
    picks = []
    for cls in ("Beach", "Cat", "Forest", "Night", "Car", "Flower", "Mountain", "Food"):
        picks.append(sorted((SCENES / cls).glob("*.jpg"))[0])
    return picks
