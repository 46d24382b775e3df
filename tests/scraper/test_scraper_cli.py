"""The command, run as a user runs it: ``python -m scraper`` and ``scened-scrape``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .scraper_fake_engine import FakeEngine

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "scened-scrape"


def scrape(*args: str | Path, module: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the command from the repository root; its result with text output."""
    command = [sys.executable, "-m", "scraper"] if module else [str(SCRIPT)]
    return subprocess.run(
        [*command, *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def local_engine(engine: FakeEngine) -> list[str]:
    """The options that point the command at the test engine, with a quick rate limit."""
    return ["--engine", "local", "--base-url", engine.base_url, "--delay", "0.01"]


@pytest.mark.slow
def test_a_full_run_with_a_class_file_and_extra_words(
    engine: FakeEngine, photos: dict[str, list[bytes]], tmp_path: Path
) -> None:
    for query, name in (("Beach sea", "Beach"), ("Cat kitten", "Cat")):
        engine.results[query] = [
            engine.serve(f"/cli/{name}/{i}.jpg", photo) for i, photo in enumerate(photos[name][:4])
        ]
    classes = tmp_path / "classes.txt"
    classes.write_text("Beach = sea\nCat = cat photo\n", encoding="utf-8")
    out = tmp_path / "out"
    done = scrape(
        "--classes-file", classes, "--extra-for", "Cat=kitten", "-n", "3", "-o", out,
        *local_engine(engine),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["Beach: 3/3 images (3 new)", "Cat: 3/3 images (3 new)"]
    for name in ("Beach", "Cat"):
        assert sorted(p.name for p in (out / name).iterdir()) == [
            "0001.jpg",
            "0002.jpg",
            "0003.jpg",
        ]
    assert {"/search?q=Beach+sea", "/search?q=Cat+kitten"} <= set(engine.requests)


@pytest.mark.slow
def test_a_class_left_short_exits_with_status_3(
    engine: FakeEngine, photos: dict[str, list[bytes]], tmp_path: Path
) -> None:
    engine.results["Forest"] = [engine.serve("/cli/Forest/0.jpg", photos["Forest"][0])]
    done = scrape("Forest", "-n", "2", "-o", tmp_path, *local_engine(engine), module=False)
    assert done.returncode == 3, done.stderr
    assert done.stderr.splitlines() == [
        "Forest: 1/2 images (1 new)",
        "scened-scrape: fewer images than asked for: Forest",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["Sky", "--driver", "/no/chromedriver"], "chromedriver not found at /no/chromedriver"),
        (["Sky", "--browser-binary", "/no/chromium"], "chromium not found at /no/chromium"),
        (["Sky", "--browser", "firefox", "--driver", "/no/geckodriver"], "geckodriver not found"),
        (["Sky", "--engine", "altavista"], "unknown engine 'altavista'"),
        (["Sky", "--engine-file", "/no/engine.toml"], "cannot read engine file"),
        (["--classes-file", "/no/classes.txt"], "cannot read class file"),
        (["Sky", "--extra-for", "Cat=kitten"], "--extra-for names classes not in the list: Cat"),
    ],
    ids=["chromedriver", "chromium", "geckodriver", "engine", "engine-file", "classes", "extra"],
)
def test_errors_are_one_clear_line(tmp_path: Path, options: list[str], message: str) -> None:
    done = scrape("-o", tmp_path, "--engine", "local", "--base-url", "http://127.0.0.1:9", *options)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("scened-scrape: error: ") and message in line


def test_a_browser_that_fails_to_start_is_one_clear_line(tmp_path: Path) -> None:
    not_a_driver = tmp_path / "chromedriver"
    not_a_driver.write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    not_a_driver.chmod(0o755)
    done = scrape("Sky", "-o", tmp_path / "out", "--engine", "local", "--driver", not_a_driver)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("scened-scrape: error: could not start chromium: ")


def test_list_engines_and_help() -> None:
    listed = scrape("--list-engines")
    assert listed.returncode == 0
    names = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    assert names == ["bing", "duckduckgo", "google", "local"]
    without_out = scrape("Sky")
    assert without_out.returncode == 2
    assert "the following arguments are required: -o/--out" in without_out.stderr
    shown = scrape("--help", module=False)
    assert (
        shown.returncode == 0
        and "Exit status: 0 all classes full, 3 some class short" in shown.stdout
    )
