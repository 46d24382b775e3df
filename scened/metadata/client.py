"""Talks to the metadata worker process (see :mod:`scened.metadata.worker`).

One long-lived child process per :class:`MetadataWorker`, started on first use,
serialised by a lock (exiv2 is not thread-safe) and restarted after it dies.  A
crash, a hang or an exiv2 error fails the one request with a
:class:`~scened.errors.MetadataError` naming the photo; the caller goes on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scened.errors import MetadataError
from scened.metadata.fields import Fields

log = logging.getLogger(__name__)

#: Seconds one request may take before the worker is presumed hung and killed.
DEFAULT_TIMEOUT = 60.0


class MetadataWorker:
    """A handle on one metadata worker process."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def read(self, path: Path) -> dict[str, Any]:
        """Keyword fields, scened's record and IPTC datasets of ``path``."""
        result = self._request({"op": "read", "path": str(path)}, path)
        return dict(result or {})

    def write(self, path: Path, fields: Fields) -> int:
        """Set (``None``: delete) each key of ``fields`` in ``path``, in place.

        Returns how many XMP properties ``path`` holds afterwards.
        """
        request = {"op": "write", "path": str(path), "fields": dict(fields)}
        return int(self._request(request, path) or 0)

    def close(self) -> None:
        """Stop the worker process (a later request starts a new one)."""
        with self._lock:
            self._stop()

    def _request(self, request: Mapping[str, Any], path: Path) -> Any:
        with self._lock:
            process = self._ensure_started()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(json.dumps(request) + "\n")
                process.stdin.flush()
                line = self._read_reply(process)
            except (OSError, _WorkerGoneError) as exc:
                raise self._failure(path, exc) from exc
        reply = json.loads(line)
        if not reply["ok"]:
            raise MetadataError(f"exiv2 failed: {reply['error']}", path)
        return reply["result"]

    def _read_reply(self, process: subprocess.Popen[str]) -> str:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], self.timeout)
        if not ready:
            raise _WorkerHungError(f"no answer within {self.timeout:g} s")
        line = process.stdout.readline()
        if not line:
            raise _WorkerGoneError("worker exited")
        return line

    def _failure(self, path: Path, exc: Exception) -> MetadataError:
        """Kill what is left of the worker and describe how it went."""
        process = self._process
        code = None
        if process is not None and not isinstance(exc, _WorkerHungError):
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = process.wait(timeout=5)  # a crashed worker is reaped at once
        self._stop()
        if code is not None and code < 0:
            how = f"crashed ({signal.Signals(-code).name})"
        else:
            how = f"failed ({exc})"
        log.warning("metadata worker %s on %s; it will be restarted", how, path)
        return MetadataError(
            f"the metadata library {how} on this file; it was left unchanged", path
        )

    def _ensure_started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "scened.metadata.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                env={**os.environ, "PYTHONIOENCODING": "utf-8"},
            )
        return self._process

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a dead pipe may not flush
                    stream.close()


class _WorkerGoneError(Exception):
    """The worker stopped answering (crashed, exited or hung)."""


class _WorkerHungError(_WorkerGoneError):
    """The worker did not answer in time (and is killed)."""


_shared: MetadataWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> MetadataWorker:
    """The process-wide worker that sinks and ``scened untag`` use by default."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MetadataWorker()
        return _shared
