"""End to end, as a user runs it: `scened` subprocesses, a real (tiny) TFLite model,
the real xmp sink and exiftool as the oracle.

The model folder is built by make_colour_model.py (red → Sunset, green → Forest,
blue → Sky) and chosen with the documented ``[model] path`` key, so these tests do not
depend on the bundled model being trained yet.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from .daemon_helpers import make_photo

SCENED = str(Path(sys.executable).with_name("scened"))
DEADLINE_S = 90  # generous: only bounds a wait, never asserted as a speed


def exif_keywords(path: Path) -> dict[str, list[str]]:
    """dc:subject and IPTC Keywords of a photo or sidecar, read by exiftool."""
    out = subprocess.run(
        ["exiftool", "-j", "-charset", "filename=utf8", "-XMP-dc:Subject", "-IPTC:Keywords",
         str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    record = json.loads(out)[0]

    def as_list(value: object) -> list[str]:
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    return {"subject": as_list(record.get("Subject")), "iptc": as_list(record.get("Keywords"))}


def snapshot(folder: Path) -> dict[Path, str]:
    return {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def scened(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCENED, *args], capture_output=True, text=True, env=env, timeout=DEADLINE_S, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "SCENED_CONFIG": str(tmp_path / "config.toml"),
    }


@pytest.fixture
def photos(tmp_path: Path, colour_model: Path) -> Path:
    """A library of real photos in every format, and a config naming the model folder."""
    lib = tmp_path / "Bibliothèque"
    make_photo(lib / "sunset.jpg", "red")
    make_photo(lib / "album" / "wald.png", "green")
    make_photo(lib / "album" / "himmel.tif", "blue")
    make_photo(lib / "Frühling ☀ 東京.webp", "red")
    make_photo(lib / "raw" / "DSC_0001.tif", "blue").rename(lib / "raw" / "DSC_0001.NEF")
    import pillow_heif

    pillow_heif.register_heif_opener()
    Image.new("RGB", (96, 64), (30, 220, 30)).save(lib / "IMG_0002.HEIC", "HEIF")
    keyworded = make_photo(lib / "oma.jpg", "red")
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject=Oma",
                    "-XMP-dc:Subject=Urlaub", "-IPTC:Keywords=Oma", str(keyworded)],
                   check=True)  # fmt: skip
    (tmp_path / "config.toml").write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[model]\npath = "{colour_model}"\nbatch_size = 4\n'
        # photos copied in are read once unchanged for a second (the daemon's default is
        # a minute): the first scans leave them, a later one tags them
        "[pipeline]\nsettle_seconds = 1\n"
        f'[[libraries]]\nname = "family"\npath = "{lib}"\nschedule = {{interval = 1}}\n',
        encoding="utf-8",
    )
    return lib


@pytest.mark.slow
def test_run_once_twice_then_edit_move_delete(photos: Path, env: dict[str, str]) -> None:
    has_heic = (photos / "IMG_0002.HEIC").exists()
    total = 7 if has_heic else 6

    first = scened("run", "--once", env=env)

    assert first.returncode == 0, first.stdout + first.stderr
    assert f"family: {total} found, 0 unchanged, {total} tagged ({total} classified" in (
        first.stdout
    )
    assert exif_keywords(photos / "sunset.jpg") == {"subject": ["Sunset"], "iptc": ["Sunset"]}
    assert exif_keywords(photos / "album" / "wald.png")["subject"] == ["Forest"]
    assert exif_keywords(photos / "album" / "himmel.tif")["subject"] == ["Sky"]
    assert exif_keywords(photos / "Frühling ☀ 東京.webp")["subject"] == ["Sunset"]
    assert exif_keywords(photos / "raw" / "DSC_0001.xmp")["subject"] == ["Sky"]  # sidecar
    if has_heic:
        assert exif_keywords(photos / "IMG_0002.xmp")["subject"] == ["Forest"]
    oma = exif_keywords(photos / "oma.jpg")
    assert oma["subject"] == ["Oma", "Urlaub", "Sunset"] and "Oma" in oma["iptc"]

    before = snapshot(photos)
    second = scened("run", "--once", env=env)

    assert second.returncode == 0, second.stderr
    assert f"{total} found, {total} unchanged, 0 tagged (0 classified" in second.stdout
    assert snapshot(photos) == before  # nothing written, not a byte

    # the user repaints oma.jpg (keeping its metadata), moves one photo, deletes one
    with Image.open(photos / "oma.jpg") as old:
        xmp, exif = old.info.get("xmp"), old.info.get("exif", b"")
    Image.new("RGB", (96, 64), (30, 30, 220)).save(photos / "oma.jpg", xmp=xmp, exif=exif)
    (photos / "album" / "wald.png").rename(photos / "wald-umbenannt.png")
    (photos / "album" / "himmel.tif").unlink()

    third = scened("run", "--once", env=env)

    assert third.returncode == 0, third.stderr
    assert (
        f"{total - 1} found, {total - 3} unchanged, 2 tagged (1 classified, 1 moved or copied)"
        ", 0 failed, 2 pruned"
    ) in third.stdout
    assert exif_keywords(photos / "oma.jpg")["subject"] == ["Oma", "Urlaub", "Sky"]
    assert exif_keywords(photos / "wald-umbenannt.png")["subject"] == ["Forest"]

    status = scened("status", "--json", env=env)
    report = json.loads(status.stdout)
    assert (report["known"], report["tagged"], report["pending"]) == (total - 1, total - 1, 0)
    assert report["model"] == "colour-test-1"


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(DEADLINE_S)
    yield sock
    sock.close()


def wait_for(sock: socket.socket, key: str, value: str | None = None) -> dict[str, str]:
    """The next sd_notify message that sets ``key`` (to ``value``, if given)."""
    while True:
        message = dict(line.split("=", 1) for line in sock.recv(4096).decode("utf-8").splitlines())
        if key in message and (value is None or message[key].startswith(value)):
            return message


@pytest.mark.slow
def test_daemon_tags_a_dropped_photo_reloads_on_sighup_and_stops_on_sigterm(
    photos: Path, env: dict[str, str], notify_socket: socket.socket
) -> None:
    daemon = subprocess.Popen(
        [SCENED, "run"],
        env={**env, "NOTIFY_SOCKET": notify_socket.getsockname()},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert wait_for(notify_socket, "READY") == {
            "READY": "1", "STATUS": "waiting for the next scan",
        }  # fmt: skip
        wait_for(notify_socket, "STATUS", "idle; last scan family")

        staging = photos / ".dropped.jpg.part"  # hidden while being written
        make_photo(photos / "dropped.jpg", "blue").rename(staging)
        staging.rename(photos / "dropped.jpg")
        deadline = time.monotonic() + DEADLINE_S
        while exif_keywords(photos / "dropped.jpg")["subject"] != ["Sky"]:
            assert time.monotonic() < deadline, "the daemon did not tag the dropped photo"
            time.sleep(0.5)

        # SIGHUP: a second library appears in the configuration and gets scanned
        second = make_photo(photos.parent / "second" / "red.png", "red")
        config = Path(env["SCENED_CONFIG"])
        config.write_text(
            config.read_text(encoding="utf-8")
            + f'[[libraries]]\nname = "second"\npath = "{second.parent}"\n'
            "schedule = {interval = 1}\n",
            encoding="utf-8",
        )
        daemon.send_signal(signal.SIGHUP)
        wait_for(notify_socket, "RELOADING", "1")
        wait_for(notify_socket, "STATUS", "idle; last scan second")
        assert exif_keywords(second)["subject"] == ["Sunset"]

        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=DEADLINE_S)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()

    assert daemon.returncode == 0, err
    assert wait_for(notify_socket, "STOPPING") == {"STOPPING": "1", "STATUS": "stopping"}
    assert "Traceback" not in err
    assert "1 tagged (1 classified" in out
    assert exif_keywords(photos / "sunset.jpg")["subject"] == ["Sunset"]
