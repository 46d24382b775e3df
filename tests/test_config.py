"""Configuration: search order, defaults, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from scened.config import (
    DEFAULT_LIBRARY,
    InvalidConfigError,
    describe_key,
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
        "litert", 8, None,
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
                       {"path": str(tmp_path / "x"), "name": "all",
                        "schedule": {"cron": "0 3 * * *"}}]},
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
         "library 2 (b): schedule.interval", "'1h' is not of type 'integer'"),
        ('[[libraries]]\npath = "/a"\nschedule = {interval = 0}',
         "library 1 (a): schedule.interval", "0 is less than the minimum of 1"),
        ('[[libraries]]\npath = "/a"\nschedule = {interval = 5, cron = "* * * * *"}',
         "library 1 (a): schedule", "exactly one of 'interval' (seconds) or 'cron'"),
        ('[[libraries]]\npath = "/a"\nschedule = {cron = "every day"}',
         "library 1 (a): schedule.cron", "not a valid crontab line"),
        ('[[libraries]]\npath = "/a"\nsinks = [{path = "x"}]',
         "library 1 (a): sinks[1]", "'type' is a required property"),
        ('[[libraries]]\nname = "x"\n', "library 1 (x)", "'path' is a required property"),
        ('[[libraries]]\npath = "/a"\nexlude = ["*.png"]', "library 1 (a): exlude",
         "unknown key (did you mean 'exclude'?)"),
        ('[model]\nbatch_size = 0', "model.batch_size", "less than the minimum of 1"),
        ('[model]\nruntime = "onnx"', "model.runtime", "'onnx' is not one of"),
        ('[api]\nport = 70000', "api.port", "greater than the maximum of 65535"),
        ("colour = 1", "colour", "unknown key"),
        ('[[libraries]]\npath = "/a"\n[[libraries]]\npath = "/b/a"',
         "library 2 (a): name", "the name is also library 1's"),
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


def test_keys_are_named_as_a_person_counts_them() -> None:
    data = {"libraries": [{"path": "/a"}, {"path": "/b", "name": "archive"}]}
    assert describe_key(["libraries", 1, "schedule", "interval"], data) == (
        "library 2 (archive): schedule.interval"
    )
    assert (
        describe_key(["libraries", 0, "sinks", 1, "type"], data) == "library 1 (a): sinks[2].type"
    )
    assert describe_key(["libraries", 5], data) == "library 6"
    assert describe_key(["api", "port"]) == "api.port"
    assert describe_key([]) == ""


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.toml",
        """
state_dir = "state"
[[libraries]]
name = "family"
path = "/srv/family"
exlude = ["Trash"]
[[libraries]]
path = "photos"
[[libraries]]
name = "same"
path = "/srv/family/"
[[libraries]]
name = "inner"
path = "/srv/family/2023"
schedule = {cron = "@reboot"}
[model]
batch_sise = 8
""",
    )
    with pytest.raises(InvalidConfigError) as caught:
        load_config(path)
    assert [(e.key, e.message) for e in caught.value.errors] == [
        ("library 1 (family): exlude", "unknown key (did you mean 'exclude'?)"),
        ("model.batch_sise", "unknown key (did you mean 'batch_size'?)"),
        ("state_dir", "give an absolute path (or ~/...): a relative one depends on where a "
                      "command starts"),
        ("library 2 (photos): path", "give an absolute path (or ~/...): a relative one "
                                     "depends on where a command starts"),
        ("library 3 (same): path", "the same folder as library 1 (family): a photo belongs "
                                   "to one library only"),
        ("library 4 (inner): path", "inside the folder of library 1 (family): a photo "
                                    "belongs to one library only"),
        ("library 4 (inner): path", "inside the folder of library 3 (same): a photo "
                                    "belongs to one library only"),
        ("library 4 (inner): schedule.cron", caught.value.errors[7].message),
    ]  # fmt: skip
    assert caught.value.errors[7].message.startswith("not a valid crontab line: ")
    assert "@daily" in caught.value.errors[7].message
    assert str(caught.value).splitlines()[0] == (
        f"{path}: library 1 (family): exlude: unknown key (did you mean 'exclude'?)"
    )


@pytest.mark.parametrize(
    ("alias", "line"),
    [("@daily", "0 0 * * *"), ("@HOURLY", "0 * * * *"), ("@weekly", "0 0 * * 0"),
     ("@monthly", "0 0 1 * *"), ("@yearly", "0 0 1 1 *"), ("30 3 * * *", "30 3 * * *")],
)  # fmt: skip
def test_cron_aliases_become_the_line_the_scheduler_reads(alias: str, line: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    config = parse_config({"libraries": [{"path": "/p", "schedule": {"cron": alias}}]}, None)
    (library,) = config.libraries
    assert library.schedule == {"cron": line}
    CronTrigger.from_crontab(library.schedule["cron"])  # what scened.daemon.scheduler does
    assert config.merged["libraries"][0]["schedule"] == {"cron": alias}  # config show


def test_a_path_in_a_library_is_that_library_limited_to_it(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "2023").mkdir(parents=True)
    (photos / "2023" / "a.jpg").write_bytes(b"")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.jpg").write_bytes(b"")
    config = parse_config({"libraries": [{"path": str(photos), "name": "family",
                                          "policy": {"type": "default"}}]}, None)  # fmt: skip
    (family,) = config.libraries

    assert config.library_for(photos) == family and family.scope is None
    sub = config.library_for(photos / "2023")
    assert (sub.name, sub.path, sub.scope, sub.policy) == (
        "family", photos, photos / "2023", {"type": "default"},
    )  # fmt: skip
    assert sub.covers(photos / "2023" / "a.jpg") and not sub.covers(photos / "2024" / "c.jpg")
    one = config.library_for(photos / "2023" / "a.jpg")
    assert (one.name, one.scope) == ("family", photos / "2023" / "a.jpg")
    adhoc = config.library_for(tmp_path / "elsewhere" / "b.jpg")
    assert (adhoc.name, adhoc.path, adhoc.scope) == (
        str(tmp_path / "elsewhere"), tmp_path / "elsewhere", tmp_path / "elsewhere" / "b.jpg",
    )  # fmt: skip
    assert adhoc.policy == DEFAULT_LIBRARY["policy"]


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


def test_every_api_setting_is_one_fact_the_file_and_the_server_agree_on() -> None:
    """``[api]`` is checked against the schema made from ``ApiSettings``: what the API
    documents is accepted by the file's checks, with the same bounds, and nothing else."""
    from scened.api.settings import ApiSettings

    table = {"batch_size": 8, "policy": "threshold", "max_pixels": 1000, "batch_wait_ms": 0.0}
    config = parse_config({"api": table, "libraries": [{"path": "/srv/p"}]}, None)
    settings = ApiSettings.load(config.api)
    assert (settings.batch_size, settings.policy, settings.max_pixels) == (8, "threshold", 1000)
    with pytest.raises(ConfigError, match=r"api\.max_pixels"):
        parse_config({"api": {"max_pixels": 0}, "libraries": [{"path": "/srv/p"}]}, None)
    with pytest.raises(ConfigError, match=r"api\.runtime"):  # the [model] table's, not [api]'s
        parse_config({"api": {"runtime": "keras"}, "libraries": [{"path": "/srv/p"}]}, None)
