"""A live API server (the fake classifier) in its own process, for honest resource figures.

The in-process ``start_server`` fixture shares its memory and file descriptors with
pytest; a server in a subprocess has its own, so a test can read its peak memory
(``VmHWM`` in ``/proc/<pid>/status``) and run it under a low ``RLIMIT_NOFILE``.

Run as ``python -m tests.api.subprocess_server '<settings as JSON>'``: it prints the
port, serves until its stdin is closed, then stops.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: Bounds the wait for the child's port (startup imports numpy, Pillow, FastAPI).
START_TIMEOUT_S = 120


class SubprocessServer:
    """``python -m tests.api.subprocess_server`` with ``settings``; a context manager."""

    def __init__(self, nofile: int | None = None, **settings: Any) -> None:
        self.settings = settings
        self.nofile = nofile
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.url = ""

    def start(self) -> SubprocessServer:
        """Start the child and return once it prints its port (it is then serving)."""
        nofile = self.nofile

        def limit_fds() -> None:  # runs in the child before exec
            if nofile is not None:
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("SCENED_API_TOKEN", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.api.subprocess_server", json.dumps(self.settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
            preexec_fn=limit_fds,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until the port or the child's death
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the server subprocess did not start: {line!r}")
        self.port = int(line)
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def status_kib(self, field: str) -> int:
        """A ``kB`` field of ``/proc/<pid>/status``: ``VmHWM`` (peak RSS), ``VmRSS``."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def open_fds(self) -> int:
        return sum(1 for _ in Path(f"/proc/{self.pid}/fd").iterdir())

    def stop(self) -> None:
        """Close its stdin (it stops) and wait; kill it if it does not exit in time."""
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> SubprocessServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str]) -> None:
    from scened.api import create_app
    from scened.api.server import BackgroundServer
    from scened.api.settings import ApiSettings

    from .helpers import FakeClassifier

    settings = ApiSettings().replace(**json.loads(argv[1] if len(argv) > 1 else "{}"))
    app = create_app(settings, classifier=FakeClassifier())
    with BackgroundServer(app) as server:
        print(server.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main(sys.argv)
