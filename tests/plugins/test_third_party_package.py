"""docs/plugins.md's example package, built and installed by pip and run for real.

The files are the guide's own code blocks (those with a ``title``), so the guide
cannot drift from what works: a command, a policy stacked after ``threshold``, a
sink built on ``BaseSink``, and the run events of a real ``scened run --once``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
#: A fenced block with a title: the file of the example package it shows.
FILE_BLOCK = re.compile(r'^```\w+ title="(?P<name>[^"]+)"\n(?P<text>.*?)^```$', re.M | re.S)

pytestmark = pytest.mark.slow


def guide_files() -> dict[str, str]:
    """The example package's files, by path, as docs/plugins.md shows them."""
    return {m["name"]: m["text"] for m in FILE_BLOCK.finditer(GUIDE.read_text("utf-8"))}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package, pip-installed into a folder of its own (``--target``)."""
    source = tmp_path_factory.mktemp("scened-example")
    for name, text in guide_files().items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, encoding="utf-8")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--target", str(target), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert list(target.glob("scened_example-1.0.0.dist-info"))
    return target


@pytest.fixture
def example(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The installed ``scened_example.translate`` module, for its word list."""
    monkeypatch.syspath_prepend(str(site))
    import scened_example.translate

    yield scened_example.translate
    for name in [name for name in sys.modules if name.startswith("scened_example")]:
        del sys.modules[name]


def scened(
    site: Path, tmp_path: Path, *args: str, load: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m scened ARGS`` with the example installed and no user configuration."""
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
           "XDG_STATE_HOME": str(tmp_path / "xdg-state")}  # fmt: skip
    env.pop("SCENED_LOAD_PLUGINS", None)
    env.pop("SCENED_CONFIG", None)
    if load is not None:
        env["SCENED_LOAD_PLUGINS"] = load
    return subprocess.run(
        [sys.executable, "-m", "scened", *args], env=env, capture_output=True, text=True
    )


def test_the_guide_shows_every_file_the_package_declares() -> None:
    files = guide_files()
    project = tomllib.loads(files["pyproject.toml"])
    modules = project["project"]["entry-points"]["scened"].values()
    assert {f"{module.replace('.', '/')}.py" for module in modules} | {
        "pyproject.toml", "scened_example/__init__.py"
    } == set(files)  # fmt: skip


def test_the_plugins_are_listed_with_their_hooks(site: Path, tmp_path: Path) -> None:
    listed = scened(site, tmp_path, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    assert {name: plugins[name]["hooks"] for name in plugins if name.startswith("example_")} == {
        "example_events": ["library_scanned", "photo_failed", "photo_tagged"],
        "example_hello": ["register_commands"],
        "example_tag_log": ["register_sinks"],
        "example_translate": ["register_policies"],
    }
    assert plugins["example_hello"]["distribution"] == "scened-example"


def test_the_command_runs_and_only_loads_when_chosen(site: Path, tmp_path: Path) -> None:
    hello = scened(site, tmp_path, "hello", "photographer", load="example_hello")
    assert (hello.returncode, hello.stdout) == (0, "Hello, photographer!\n")
    assert "hello" in scened(site, tmp_path, "--help").stdout

    none = scened(site, tmp_path, "hello", load="")
    assert none.returncode == 2 and "No such command 'hello'" in none.stderr


def test_a_real_run_uses_the_stacked_policy_and_sink_and_reports_events(
    site: Path, tmp_path: Path, real_photos: list[Path], example: ModuleType
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    for photo in real_photos[:3]:
        shutil.copy(photo, library / photo.name)
    (library / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    log = tmp_path / "state" / "tag-log" / "holiday.jsonl"  # from the factory's context
    (tmp_path / "xdg" / "scened").mkdir(parents=True)
    (tmp_path / "xdg" / "scened" / "config.toml").write_text(
        f"""state_dir = "{tmp_path / "state"}"

[[libraries]]
name = "holiday"
path = "{library}"
sinks = [{{type = "tag-log"}}]
policy = [
  {{type = "threshold", min_probability = 0.0, top_k = 1, fallback = ""}},
  {{type = "translate"}},
]
""",
        encoding="utf-8",
    )

    ran = scened(site, tmp_path, "run", "--once", load="scened-example")

    assert ran.returncode == 1, ran.stderr  # the broken photo failed
    written = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert sorted(Path(w["path"]).name for w in written) == sorted(p.name for p in real_photos[:3])
    for line in written:  # threshold chose the top class, translate translated it
        assert line["tags"] == [example.GERMAN[line["top"]]]
        assert line["tags"] != [line["top"]] or line["top"] == "Baby"
    assert "example: broken.jpg failed: " in ran.stderr
    scanned = re.search(r"example: holiday: 3 tagged, 1 failed; most common: (.*)", ran.stderr)
    assert scanned is not None, ran.stderr
    assert example.GERMAN[written[0]["top"]] in scanned[1]

    # scened untag tells the sink about each photo of its library (a dry run: nothing)
    (library / "broken.jpg").unlink()
    dry = scened(site, tmp_path, "untag", "--dry-run", str(library), load="scened-example")
    assert dry.returncode == 0, dry.stderr
    assert len(log.read_text("utf-8").splitlines()) == len(written)
    untagged = scened(site, tmp_path, "untag", str(library), load="scened-example")
    assert untagged.returncode == 0, untagged.stderr
    after = [json.loads(line) for line in log.read_text("utf-8").splitlines()[len(written) :]]
    assert after == [{"path": str(library / p.name), "untagged": True}
                     for p in sorted(real_photos[:3], key=lambda p: p.name)]  # fmt: skip
