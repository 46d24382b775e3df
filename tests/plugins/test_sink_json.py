"""The ``json`` sink: one JSON Lines record per photo."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from scened.errors import ConfigError, MetadataError
from scened.plugins import ScenedPluginManager
from scened.sinks import build_sinks
from scened.types import TagResult


def test_records_are_appended_one_per_line(
    tmp_path: Path, pm: ScenedPluginManager, make_result: Callable[..., TagResult]
) -> None:
    log_file = tmp_path / "logs" / "tags.jsonl"
    (sink,) = build_sinks(pm, [{"type": "json", "path": str(log_file), "top": 2}])
    sink.write(make_result(tmp_path / "Ärmel.jpg", ("Beach", "Sky")))
    sink.write(make_result(tmp_path / "b.jpg", ("Sky",)), dry_run=True)
    sink.untag(tmp_path / "c.jpg")
    sink.close()

    first, second = (json.loads(line) for line in log_file.read_text("utf-8").splitlines())
    assert first["event"] == "tagged"
    assert first["path"] == str(tmp_path / "Ärmel.jpg")
    assert first["tags"] == ["Beach", "Sky"]
    assert [entry["class"] for entry in first["top"]] == ["Beach", "Sky"]
    assert first["top"][0]["probability"] == pytest.approx(0.6)
    assert first["model_id"] == "test-model-1"
    assert first["policy"] == "default"
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert second == {"event": "untagged", "path": str(tmp_path / "c.jpg"), "time": second["time"]}


def test_unwritable_log_is_a_metadata_error(
    tmp_path: Path, pm: ScenedPluginManager, make_result: Callable[..., TagResult]
) -> None:
    folder = tmp_path / "log-is-a-folder"
    folder.mkdir()
    (sink,) = build_sinks(pm, [{"type": "json", "path": str(folder)}])
    with pytest.raises(MetadataError, match="cannot append to the JSON log") as caught:
        sink.write(make_result(tmp_path / "a.jpg"))
    assert caught.value.path == folder


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"type": "json"}, "sinks[0].path"),
        ({"type": "json", "path": 3}, "sinks[0].path"),
        ({"type": "json", "path": "x", "top": 0}, "sinks[0].top"),
    ],
)
def test_bad_options_name_the_key(
    pm: ScenedPluginManager, spec: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_sinks(pm, [spec])
    assert caught.value.key == key
