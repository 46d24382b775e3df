"""A third-party plugin package built and installed by pip is found like any other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "scened-fancy-words"
version = "2.0.1"

[project.entry-points.scened]
fancy_words = "scened_fancy_words"
"""

MODULE = '''
"""Tags in capitals: a policy from outside scened."""
from scened import hookimpl


class Shout:
    def choose(self, prediction):
        return [name.upper() for name, _ in prediction.top(1)]


@hookimpl
def register_policies(register):
    register("shout", lambda options: Shout())
'''


@pytest.mark.slow
def test_pip_installed_plugin_is_listed_and_used(tmp_path: Path, real_photos: list[Path]) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT), encoding="utf-8")
    (source / "scened_fancy_words.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--target", str(target), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert list(target.glob("scened_fancy_words-2.0.1.dist-info"))
    env = {**os.environ, "PYTHONPATH": str(target)}

    listed = subprocess.run(
        [sys.executable, "-m", "scened", "plugins", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    assert plugins["fancy_words"]["distribution"] == "scened-fancy-words"
    assert plugins["fancy_words"]["version"] == "2.0.1"
    assert plugins["fancy_words"]["hooks"] == ["register_policies"]

    classified = subprocess.run(
        [sys.executable, "-m", "scened", "classify", "--json", "--policy", "shout",
         str(real_photos[0])],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    record = json.loads(classified.stdout)
    assert record["tags"] == [record["top"][0][0].upper()]
