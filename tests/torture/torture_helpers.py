"""Helpers for the torture tests: real photos, ``scened`` subprocesses, exiftool checks.

A module of the tests package, imported by the torture tests (``from .torture_helpers
import ...``).  Every run is a real ``scened run --once`` subprocess on the bundled model,
with its own state and config folders, so nothing leaks between tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

SCENED = str(Path(sys.executable).with_name("scened"))
REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SCENED_SHARED", REPO.parent / "shared"))
SCENES = SHARED / "data" / "scenes" / "train"
#: Bounds a wait on a subprocess (a hang must fail the test, not block CI); never
#: asserted as a speed.
SAFETY_TIMEOUT_S = 240


def real_sources(count: int) -> list[Path]:
    """``count`` real photos from ../shared, one per class in turn (deterministic)."""
    folders = sorted(p for p in SCENES.iterdir() if p.is_dir())
    picks: list[Path] = []
    index = 0
    while len(picks) < count:
        for folder in folders:
            files = sorted(folder.glob("*.jpg"))
            if index < len(files) and len(picks) < count:
                picks.append(files[index])
        index += 1
    return picks


def real_image(index: int, size: tuple[int, int] | None = None) -> Image.Image:
    """Real photo number ``index`` as RGB, optionally resized to ``size``."""
    with Image.open(real_sources(index + 1)[index]) as source:
        image = source.convert("RGB")
    return image.resize(size, Image.Resampling.BICUBIC) if size else image


def save(image: Image.Image, path: Path, format: str | None = None, **params: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format, **params)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pixels(path: Path) -> bytes:
    """The decoded pixels (and mode and size) of an image file."""
    with Image.open(path) as image:
        image.load()
        return f"{image.mode}{image.size}".encode() + image.tobytes()


def snapshot(paths: Iterable[Path]) -> dict[Path, tuple[str, bytes]]:
    return {path: (sha256(path), pixels(path)) for path in paths}


def exif_keywords(paths: list[Path]) -> dict[Path, list[str]]:
    """XMP dc:subject of each file as exiftool reads it (fails if exiftool cannot)."""
    if not paths:
        return {}
    out = subprocess.run(
        ["exiftool", "-j", "-charset", "filename=utf8", "-m", "-XMP-dc:Subject", "-IPTC:Keywords",
         "-Error", *map(str, paths)],
        capture_output=True, text=True, check=False, timeout=SAFETY_TIMEOUT_S,
    ).stdout  # fmt: skip
    result: dict[Path, list[str]] = {}
    for record in json.loads(out):
        assert "Error" not in record, record
        subject = record.get("Subject", [])
        result[Path(record["SourceFile"])] = subject if isinstance(subject, list) else [subject]
    assert set(result) == set(paths), "exiftool could not read every file"
    return result


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_kib: int

    def failures(self) -> dict[str, str]:
        """Failed file *name* → reason, parsed from the ``failed: PATH: reason`` lines."""
        found: dict[str, str] = {}
        for line in self.stdout.split("\n  failed: ")[1:]:
            path, _, reason = line.partition(": ")
            found[Path(path).name] = reason.split("\n")[0]
        return found

    def summary(self) -> str:
        return next(line for line in self.stdout.splitlines() if " found, " in line)


def scened_env(state: Path, **extra: str) -> dict[str, str]:
    """Environment of a ``scened`` run with its own state and an empty config folder."""
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(state / "xdg-state"),
        "XDG_CONFIG_HOME": str(state / "xdg-config"),
        "HOME": str(state),
    }
    env.pop("SCENED_CONFIG", None)
    env.update(extra)
    return env


def state_db(state: Path) -> Path:
    return state / "xdg-state" / "scened" / "state.sqlite3"


def _high_water_kib(pid: int) -> int:
    """Peak RSS of ``pid``'s own address space (``ru_maxrss`` of a child would include
    the memory of this pytest process it was forked from)."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
    except (OSError, ValueError):
        return 0
    return int(fields.get("VmHWM", "0 kB").split()[0])


def run_scened(
    library: Path,
    state: Path,
    *,
    prefix: list[str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Result:
    """``scened run --once library``; peak RSS (VmHWM) of the scened process polled.

    The library is configured to write every photo's top class, however unsure
    the model is: these tests are about what happens to the files, so every good
    photo must get a keyword (the default policy leaves doubtful photos untagged).
    """
    config = state / "xdg-config" / "scened" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"[[libraries]]\npath = {json.dumps(str(library))}\nname = {json.dumps(str(library))}\n"
        'policy = {type = "threshold", min_probability = 0.0, top_k = 1}\n',
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [*(prefix or []), SCENED, "run", "--once", str(library)],
        env=scened_env(state, **(extra_env or {})), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn,
    )  # fmt: skip
    peak = 0
    deadline = time.monotonic() + SAFETY_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        peak = max(peak, _high_water_kib(process.pid))
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.communicate()
        raise AssertionError(f"scened run did not end within {SAFETY_TIMEOUT_S} s (hung?)")
    stdout, stderr = process.communicate()
    return Result(process.returncode, stdout, stderr, peak)
