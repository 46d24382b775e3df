"""The API with the real bundled model: the same tags as ``scened classify`` gives."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import httpx

from scened.api import create_app
from scened.api.server import BackgroundServer
from scened.api.settings import ApiSettings
from scened.model.runtime import BUNDLED_MODEL_DIR


def test_real_photos_get_the_tags_classify_prints(real_photos: list[Path]) -> None:
    photos = real_photos[:4]
    classify = subprocess.run(
        # the API answers with the original formula by default (docs/tags.md)
        [sys.executable, "-m", "scened", "classify", "--json", "--policy", "default",
         *map(str, photos)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    expected = [json.loads(line) for line in classify.stdout.splitlines()]
    body = {"images": [base64.b64encode(p.read_bytes()).decode() for p in photos]}

    with BackgroundServer(create_app(ApiSettings())) as server:
        health = httpx.get(f"{server.url}/health", timeout=30).json()
        answer = httpx.post(f"{server.url}/classify?top=3", json=body, timeout=60)

    assert answer.status_code == 200, answer.text
    assert answer.json()["tags"] == [record["tags"] for record in expected]
    for top, record in zip(answer.json()["top"], expected, strict=True):
        assert [entry["class"] for entry in top] == [name for name, _ in record["top"]]
        for entry, (_, probability) in zip(top, record["top"], strict=True):
            assert abs(entry["probability"] - probability) < 1e-5
    default = json.loads((BUNDLED_MODEL_DIR / "model.json").read_text(encoding="utf-8"))
    assert health["model_id"] == default["id"]
