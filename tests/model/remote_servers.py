"""Real ``scened serve`` processes on 127.0.0.1 and real photos, for the remote tests.

Every server is ``scened serve --port 0`` with the bundled model, started as a user
would (its own process, a bearer token from ``SCENED_API_TOKEN``); :class:`Serve`
waits for uvicorn's "running on" line, which comes after the model has loaded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from scened.imaging import load_for_model

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "photos"
SCENED = str(Path(sys.executable).with_name("scened"))
TOKEN = "remote-test-token"
#: What float32 inference may differ by between two processes (same model, same batch).
TOLERANCE = 1e-5
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class Serve:
    """``scened serve --port 0`` in its own process; ``url`` once it is serving."""

    def __init__(self, tmp: Path, token: str = TOKEN) -> None:
        config = tmp / f"serve-{id(self)}.toml"
        config.write_text("[api]\nworkers = 1\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCENED_")}
        env.update(SCENED_CONFIG=str(config), SCENED_API_TOKEN=token)
        self.process = subprocess.Popen(
            [SCENED, "serve", "--port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        said = []
        for line in self.process.stderr:  # ends when the process does
            said.append(line)
            if match := _RUNNING.search(line):
                self.url = f"http://127.0.0.1:{match.group(1)}"
                break
        else:
            raise RuntimeError(f"scened serve did not start: {''.join(said)}")
        # keep reading what it logs, so that a full pipe never blocks it
        threading.Thread(target=self.process.stderr.read, daemon=True).start()

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut: nothing is closed politely."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def photos(folder: Path) -> list[Path]:
    """Twelve real JPEGs: the four examples, mirrored and rotated."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for source in sorted(EXAMPLES.glob("*.jpg")):
        image = Image.open(source).convert("RGB")
        for name, variant in (("", image), ("-mirror", ImageOps.mirror(image)),
                              ("-turned", image.rotate(90, expand=True))):  # fmt: skip
            path = folder / f"{source.stem}{name}.jpg"
            variant.save(path, quality=92)
            made.append(path)
    return made


def pixels(paths: list[Path], size: int) -> np.ndarray:
    return np.stack([load_for_model(path, size=size) for path in paths])


def subjects(folder: Path) -> dict[str, list[str]]:
    """Each file's XMP dc:subject (photos and sidecars), as exiftool reads it."""
    out = subprocess.run(["exiftool", "-j", "-XMP-dc:Subject", str(folder)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    found = {}
    for record in json.loads(out):
        value = record.get("Subject", [])
        found[Path(record["SourceFile"]).name] = [value] if isinstance(value, str) else value
    return found
