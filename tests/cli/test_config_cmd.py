"""`scened config check` and `scened config show` as a user runs them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from scened.cli import main

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("no_user_config")


def test_check_accepts_the_example() -> None:
    result = CliRunner().invoke(main, ["config", "check", "--config",
                                       str(REPO / "config" / "scened.example.toml")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "OK, 2 libraries" in result.output


def test_check_reports_one_line_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[libraries]]\npath = "/x"\nschedule = {interval = -5}\n', encoding="utf-8")

    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])

    assert result.exit_code == 78
    assert result.output.strip().splitlines() == [
        f"Error: {path}: libraries[0].schedule.interval: -5 is less than the minimum of 1"
    ]


def test_check_builds_sinks_and_policies(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[libraries]]\npath = "/x"\nsinks = [{type = "xmp"}, {type = "ftp"}]\n'
                    '[[libraries]]\npath = "/y"\npolicy = {type = "default", k = 1}\n',
                    encoding="utf-8")  # fmt: skip

    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])

    assert result.exit_code == 78
    assert f"{path}: libraries[0].sinks[1].type: unknown sink 'ftp'" in result.output


def test_show_prints_the_merged_configuration_as_toml_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[model]\nbatch_size = 8\n[[libraries]]\npath = "/srv/p"\n', encoding="utf-8")
    monkeypatch.setenv("SCENED_CONFIG", str(path))

    shown = CliRunner().invoke(main, ["config", "show"])
    as_json = CliRunner().invoke(main, ["config", "show", "--json"])

    assert shown.exit_code == 0 and as_json.exit_code == 0
    merged = tomllib.loads(shown.output)
    assert merged == json.loads(as_json.output)
    assert merged["model"] == {"runtime": "litert", "batch_size": 8, "threads": 0}
    assert merged["libraries"][0]["name"] == "p"
    assert merged["libraries"][0]["sinks"] == [{"type": "xmp"}]
    assert merged["state_dir"] == str(tmp_path / "xdg-state" / "scened")
