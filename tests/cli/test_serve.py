"""``scened serve``: settings from config, environment and flags; a real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from scened.cli import main

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace uvicorn.run by a recorder; SCENED_* variables are restored afterwards."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append({"app": app, **kw}))
    for name in [n for n in os.environ if n.startswith("SCENED_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(os, "environ", os.environ.copy())
    return calls


def test_serve_runs_the_api_app_on_loopback_by_default(
    uvicorn_calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[api]\nport = 9123\n", encoding="utf-8")

    result = CliRunner().invoke(main, ["serve", "--config", str(config)])

    assert result.exit_code == 0, result.output
    (call,) = uvicorn_calls
    assert (call["app"], call["host"], call["port"], call["workers"]) == (
        "scened.api:app",
        "127.0.0.1",
        9123,
        1,
    )


def test_flags_override_the_config_and_reach_the_workers(
    uvicorn_calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[api]\nport = 9123\nworkers = 1\ncors_origins = ["https://a.example"]\n', encoding="utf-8"
    )

    result = CliRunner().invoke(
        main,
        ["serve", "--config", str(config), "--port", "9200", "--workers", "3", "--host", "0.0.0.0"],
    )

    assert result.exit_code == 0, result.output
    (call,) = uvicorn_calls
    assert (call["host"], call["port"], call["workers"]) == ("0.0.0.0", 9200, 3)
    assert os.environ["SCENED_API_PORT"] == "9200"
    assert os.environ["SCENED_API_CORS_ORIGINS"] == "https://a.example"


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[str]:
    """``scened serve`` in a subprocess, with a model folder that does not exist."""
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text("[api]\nworkers = 1\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENED_")}
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "scened"),
            "serve",
            "--port",
            str(port),
            "--model",
            str(tmp_path / "no-model"),
        ],
        env={**env, "SCENED_CONFIG": str(config), "SCENED_API_TOKEN": "tok"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_listening(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(START_TIMEOUT_S)


def wait_until_listening(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"scened serve exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
        try:
            httpx.get(f"{url}/health")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("scened serve did not start")


def test_a_served_process_reports_a_missing_model_and_wants_the_token(serve_process: str) -> None:
    health = httpx.get(f"{serve_process}/health")
    refused = httpx.post(f"{serve_process}/classify", json={"images": []})
    with_token = httpx.post(
        f"{serve_process}/classify", json={"images": []}, headers={"Authorization": "Bearer tok"}
    )

    assert health.status_code == 503
    assert health.json()["ready"] is False
    assert "model folder not found" in health.json()["error"]
    assert refused.status_code == 401
    assert with_token.status_code == 503
