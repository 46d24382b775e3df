"""Helpers of the review tests: a model registered through the plugin hook, a real
uvicorn server in a thread, the review app, state rows and page parsing."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI
from PIL import Image

from scened import hookimpl
from scened.classes import CLASSES
from scened.config import Config, parse_config
from scened.daemon.service import run_library, settings_for
from scened.daemon.state import PhotoRecord, StateDB
from scened.hookspecs import RegisterClassifier
from scened.model.registry import ClassifierOptions, ClassifierSpec
from scened.plugins import ScenedPluginManager, get_plugin_manager
from scened.review import install_review

#: The classes the fake model spreads its probabilities over (all others get 0).
MODEL_CLASSES = ("Beach", "Forest", "Night", "Sky", "Snow", "Food")
MODEL_ID = "review-fake-1"


class ColourModel:
    """softmax(6 * colour features) over MODEL_CLASSES: varied confidence per photo."""

    classes = CLASSES
    input_size = 64
    model_id = MODEL_ID

    def __init__(self, options: ClassifierOptions | None = None) -> None:
        self.options = options

    def predict(self, batch: np.ndarray) -> np.ndarray:
        pixels = batch.reshape(len(batch), -1, 3).astype(np.float32) / 255.0
        r, g, b = (pixels[:, :, c].mean(axis=1) for c in range(3))
        bright = pixels.mean(axis=(1, 2))
        spread = (pixels.max(axis=2) - pixels.min(axis=2)).mean(axis=1)
        features = np.stack([b + bright - g, g - r, 1 - bright, b - r, bright - spread, r - b], 1)
        logits = np.full((len(batch), len(CLASSES)), -np.inf)
        logits[:, [CLASSES.index(name) for name in MODEL_CLASSES]] = 6 * features
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities: np.ndarray = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
        return probabilities


class ColourModelPlugin:
    """Registers :class:`ColourModel` as ``review-fake`` (``[model] name``)."""

    @hookimpl
    def register_classifiers(self, register: RegisterClassifier) -> None:
        spec = ClassifierSpec(64, CLASSES, ColourModel, "review tests", model_id=MODEL_ID)
        register("review-fake", spec)


def plugin_manager() -> ScenedPluginManager:
    manager = get_plugin_manager()
    manager.register(ColourModelPlugin(), name="review-fake-model")
    return manager


def make_config(state_dir: Path, library: Path, name: str = "lib") -> Config:
    """A library with the xmp sink and a policy that always writes one or two tags."""
    table = {
        "name": name, "path": str(library), "sinks": [{"type": "xmp"}],
        "policy": {"type": "threshold", "min_probability": 0.05, "top_k": 2},
    }  # fmt: skip
    data = {"state_dir": str(state_dir), "model": {"name": "review-fake"}, "libraries": [table]}
    return parse_config(data, None)


def review_app(
    config: Config | None, *, token: str | None = None, pm: ScenedPluginManager | None = None
) -> FastAPI:
    """An app with the review page and the API's state as the API keeps it
    (``app.state.scened.token``/``pm``/``classifier``)."""
    app = FastAPI()
    app.state.scened = SimpleNamespace(
        token=token, pm=pm or plugin_manager(), classifier=ColourModel()
    )
    install_review(app, config=config)
    return app


class ThreadServer:
    """``app`` served by a real uvicorn on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> ThreadServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(30)
        self._socket.close()


Row = tuple[Path, tuple[float, ...] | None, tuple[str, ...]]


def put_rows(db: StateDB, library: str, rows: Sequence[Row]) -> None:
    """State rows of tagged photos (path, probabilities, tags), no file behind them."""
    for inode, (path, probabilities, tags) in enumerate(rows, start=1):
        db.record(
            PhotoRecord(
                library=library, path=path, device=1, inode=inode, size=100, mtime_ns=1,
                content_hash=None, model_id=MODEL_ID, policy="threshold",
                probabilities=probabilities, tags=tags, outcome="tagged",
            )
        )  # fmt: skip


@dataclass(frozen=True)
class ShownPhoto:
    id: int
    index: int
    name: str


_ARTICLE = re.compile(
    r'<article class="photo" id="p(\d+)" data-photo="(\d+)".*?<h2 class="path">\d+\. (.*?)</h2>',
    re.S,
)


def shown_photos(html: str) -> list[ShownPhoto]:
    """The photos of a review page, in the order shown."""
    return [
        ShownPhoto(int(photo_id), int(index), unescape(name))
        for index, photo_id, name in _ARTICLE.findall(html)
    ]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def coloured_photo(
    path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (120, 80)
) -> Path:
    """A real JPEG of a colour with a little noise (the fake model reads its colour)."""
    rng = np.random.default_rng(sum(rgb) + len(path.name))
    noise = rng.integers(-12, 12, (size[1], size[0], 3))
    pixels = np.clip(np.array(rgb) + noise, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "JPEG", quality=90)
    return path


def tag_library(config: Config, pm: ScenedPluginManager) -> None:
    """One real run of the configured library with the fake model (xmp sink)."""
    summary = run_library(
        config.libraries[0], config=config, classifier=ColourModel(), pm=pm,
        settings=settings_for(config, dry_run=False),
    )  # fmt: skip
    assert summary.ok, summary


def xmp_of(path: Path) -> dict[str, list[str]]:
    """``exiftool -j -XMP-dc:Subject -XMP-scened:all``: each tag's values as a list."""
    out = subprocess.run(
        ["exiftool", "-j", "-XMP-dc:Subject", "-XMP-scened:all", str(path)],
        capture_output=True, check=True,
    )  # fmt: skip
    info: dict[str, Any] = json.loads(out.stdout)[0]
    info.pop("SourceFile", None)
    return {k: [str(x) for x in v] if isinstance(v, list) else [str(v)] for k, v in info.items()}
