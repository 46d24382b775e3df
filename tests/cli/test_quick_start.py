"""The README's first command, on a copy of the shipped example photos."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "photos"
SCENED = str(Path(sys.executable).with_name("scened"))


def subjects(path: Path) -> list[str]:
    out = subprocess.run(["exiftool", "-j", "-XMP-dc:Subject", "-IPTC:Keywords", str(path)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    record = json.loads(out)[0]
    value = record.get("Subject", [])
    return [value] if isinstance(value, str) else list(value)


def test_quick_start_tags_the_examples_and_keeps_the_users_keyword(tmp_path: Path) -> None:
    demo = tmp_path / "scened-demo"
    shutil.copytree(EXAMPLES, demo)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}  # a user with no configuration

    result = subprocess.run([SCENED, "run", "--once", str(demo)], env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert f"{demo}: 4 found, 0 unchanged, 4 tagged" in result.stdout
    assert subjects(demo / "chelsea.jpg") == ["Chelsea", "Cat"]
    # a photo the model is not sure of gets no keyword (never a wrong one, never "Unknown")
    # and is left byte for byte as it was
    untouched = [p.name for p in sorted(demo.glob("*.jpg"))
                 if p.read_bytes() == (EXAMPLES / p.name).read_bytes()]  # fmt: skip
    assert all(not subjects(demo / name) for name in untouched)
    assert f"{len(untouched)} without a confident tag" in result.stdout or not untouched
    for photo in demo.glob("*.jpg"):
        assert "Unknown" not in subjects(photo), photo.name
    assert (tmp_path / ".local" / "state" / "scened" / "state.sqlite3").is_file()
