"""Configuration: search order, defaults, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from scened.config import (
    DEFAULT_LIBRARY,
    dotted_key,
    find_config_file,
    load_config,
    parse_config,
)
from scened.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "scened.example.toml"


pytestmark = pytest.mark.usefixtures("no_user_config")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_defaults(tmp_path: Path) -> None:
    config = load_config()
    assert config.source is None
    assert config.libraries == ()
    assert config.state_dir == tmp_path / "xdg-state" / "scened"
    assert (config.model.runtime, config.model.batch_size, config.model.path) == (
        "litert", 16, None,
    )  # fmt: skip
    adhoc = config.library_for(tmp_path / "pics")
    assert adhoc.path == (tmp_path / "pics").resolve()
    assert adhoc.policy == DEFAULT_LIBRARY["policy"] and adhoc.sinks == ({"type": "xmp"},)


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = write(tmp_path / "etc" / "config.toml", 'state_dir = "/system"')
    assert find_config_file() == system
    user = write(tmp_path / "xdg-config" / "scened" / "config.toml", 'state_dir = "/user"')
    assert find_config_file() == user
    env = write(tmp_path / "env.toml", 'state_dir = "/env"')
    monkeypatch.setenv("SCENED_CONFIG", str(env))
    assert find_config_file() == env
    explicit = write(tmp_path / "explicit.toml", 'state_dir = "/explicit"')
    assert load_config(explicit).state_dir == Path("/explicit")


def test_systemd_state_directory_is_the_default_state_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/scened:/var/lib/other")
    assert load_config().state_dir == Path("/var/lib/scened")


def test_library_defaults_and_names(tmp_path: Path) -> None:
    config = parse_config(
        {"libraries": [{"path": str(tmp_path / "Family")},
                       {"path": str(tmp_path), "name": "all", "schedule": {"cron": "0 3 * * *"}}]},
        None,
    )  # fmt: skip
    family, everything = config.libraries
    assert family.name == "Family" and family.schedule == {"interval": 3600}
    assert everything.schedule == {"cron": "0 3 * * *"}
    assert family.policy_key == '{"type":"precision"}'
    assert config.merged["libraries"][0]["sinks"] == [{"type": "xmp"}]


@pytest.mark.parametrize(
    ("toml", "key", "message"),
    [
        ('[[libraries]]\npath = "/a"\n[[libraries]]\npath = "/b"\nschedule = {interval = "1h"}',
         "libraries[1].schedule.interval", "'1h' is not of type 'integer'"),
        ('[[libraries]]\npath = "/a"\nschedule = {interval = 0}',
         "libraries[0].schedule.interval", "0 is less than the minimum of 1"),
        ('[[libraries]]\npath = "/a"\nschedule = {interval = 5, cron = "* * * * *"}',
         "libraries[0].schedule", "exactly one of 'interval' (seconds) or 'cron'"),
        ('[[libraries]]\npath = "/a"\nschedule = {cron = "every day"}',
         "libraries[0].schedule.cron", "not a valid crontab line"),
        ('[[libraries]]\npath = "/a"\nsinks = [{path = "x"}]',
         "libraries[0].sinks[0]", "'type' is a required property"),
        ('[[libraries]]\nname = "x"\n', "libraries[0]", "'path' is a required property"),
        ('[[libraries]]\npath = "/a"\nexlude = ["*.png"]', "libraries[0].exlude", "unknown key"),
        ('[model]\nbatch_size = 0', "model.batch_size", "less than the minimum of 1"),
        ('[model]\nruntime = "onnx"', "model.runtime", "'onnx' is not one of"),
        ('[api]\nport = 70000', "api.port", "greater than the maximum of 65535"),
        ("colour = 1", "colour", "unknown key"),
        ('[[libraries]]\npath = "/a"\n[[libraries]]\npath = "/b/a"',
         "libraries[1].name", "library name 'a' is used twice"),
    ],
)  # fmt: skip
def test_errors_name_file_key_and_problem(
    tmp_path: Path, toml: str, key: str, message: str
) -> None:
    path = write(tmp_path / "config.toml", toml)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
    assert message in caught.value.message
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.toml", "[model\nruntime = 'litert'")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(broken)
    assert caught.value.path == broken
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "absent.toml")


def test_dotted_key() -> None:
    assert dotted_key(["libraries", 1, "schedule", "interval"]) == "libraries[1].schedule.interval"
    assert dotted_key([]) == ""


def test_the_example_documents_every_key_and_is_valid() -> None:
    config = load_config(EXAMPLE)
    text = EXAMPLE.read_text(encoding="utf-8")
    from scened.config_schema import CONFIG_SCHEMA

    for table, schema in CONFIG_SCHEMA["properties"].items():
        assert table in text
        item_schema = schema.get("items", schema)
        for key in item_schema.get("properties", {}):
            assert f"{key} =" in text, f"{table}.{key} is not documented in the example"
    assert [lib.name for lib in config.libraries] == ["family", "archive"]
