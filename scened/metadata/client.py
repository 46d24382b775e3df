"""Talks to the metadata worker processes (see :mod:`scened.metadata.worker`).

exiv2 is not thread-safe and has crashed on malformed files, so it runs in child
processes: a :class:`MetadataWorker` is a small pool of them (``processes``, each
started on first use and restarted after it dies), so that several threads write
keywords at once, each request on a process of its own.  A crash, a hang or an exiv2
error fails the one request with a :class:`~scened.errors.MetadataError` naming the
photo; the caller goes on.

Requests are one JSON line each, optionally followed by raw bytes (a photo's content,
or just its metadata segments, see :mod:`scened.metadata.jpeg_segments`); replies
likewise.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from scened.errors import MetadataError
from scened.metadata.fields import Fields

log = logging.getLogger(__name__)

#: Seconds one request may take before the worker is presumed hung and killed.
DEFAULT_TIMEOUT = 60.0


class MetadataWorker:
    """A pool of ``processes`` metadata worker processes; each request takes an idle one."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, processes: int = 1) -> None:
        self.timeout = timeout
        self.channels = [_Channel(self) for _ in range(max(1, processes))]
        self._idle: queue.LifoQueue[_Channel] = queue.LifoQueue()
        for channel in self.channels:
            self._idle.put(channel)

    def read(self, path: Path) -> dict[str, Any]:
        """Keyword fields, scened's record and IPTC datasets of ``path``."""
        result, _ = self._request({"op": "read", "path": str(path)}, path)
        return dict(result or {})

    def write(self, path: Path, fields: Fields) -> int:
        """Set (``None``: delete) each key of ``fields`` in ``path``, in place.

        Returns how many XMP properties ``path`` holds afterwards.
        """
        request = {"op": "write", "path": str(path), "fields": dict(fields)}
        result, _ = self._request(request, path)
        return int(result or 0)

    def read_bytes(self, content: bytes, path: Path) -> dict[str, Any]:
        """As :meth:`read`, of a file's ``content`` (``path`` names it in messages)."""
        result, _ = self._request({"op": "read_bytes", "path": str(path)}, path, content)
        return dict(result or {})

    def write_bytes(self, content: bytes, fields: Fields, path: Path) -> bytes:
        """``content`` with each key of ``fields`` set (``None``: deleted)."""
        request = {"op": "write_bytes", "path": str(path), "fields": dict(fields)}
        _, edited = self._request(request, path, content)
        if edited is None:
            raise MetadataError("the metadata worker sent back no content", path)
        return edited

    def close(self) -> None:
        """Stop the worker processes (a later request starts new ones)."""
        for channel in self.channels:
            with channel.lock:
                channel.stop()

    def _request(
        self, request: Mapping[str, Any], path: Path, payload: bytes | None = None
    ) -> tuple[Any, bytes | None]:
        channel = self._idle.get()
        try:
            with channel.lock:
                return channel.request(request, path, payload)
        finally:
            self._idle.put(channel)


class _Channel:
    """One worker process and its pipes; used by one request at a time."""

    def __init__(self, owner: MetadataWorker) -> None:
        self.owner = owner
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None

    def request(
        self, request: Mapping[str, Any], path: Path, payload: bytes | None
    ) -> tuple[Any, bytes | None]:
        process = self._ensure_started()
        assert process.stdin is not None and process.stdout is not None
        header = {**request, "payload": len(payload) if payload is not None else None}
        try:
            process.stdin.write(json.dumps(header).encode() + b"\n")
            if payload is not None:
                process.stdin.write(payload)
            process.stdin.flush()
            reply = json.loads(self._read_line(process.stdout))
            size = reply.get("payload")
            content = _read_exactly(process.stdout, size) if size is not None else None
        except (OSError, ValueError, _WorkerGoneError) as exc:
            raise self._failure(path, exc) from exc
        if not reply["ok"]:
            raise MetadataError(f"exiv2 failed: {reply['error']}", path)
        return reply["result"], content

    def _read_line(self, stdout: IO[bytes]) -> bytes:
        ready, _, _ = select.select([stdout], [], [], self.owner.timeout)
        if not ready:
            raise _WorkerHungError(f"no answer within {self.owner.timeout:g} s")
        line = stdout.readline()
        if not line:
            raise _WorkerGoneError("worker exited")
        return line

    def _failure(self, path: Path, exc: Exception) -> MetadataError:
        """Kill what is left of the worker and describe how it went."""
        process = self.process
        code = None
        if process is not None and not isinstance(exc, _WorkerHungError):
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = process.wait(timeout=5)  # a crashed worker is reaped at once
        self.stop()
        if code is not None and code < 0:
            how = f"crashed ({signal.Signals(-code).name})"
        else:
            how = f"failed ({exc})"
        log.warning("metadata worker %s on %s; it will be restarted", how, path)
        return MetadataError(
            f"the metadata library {how} on this file; it was left unchanged", path
        )

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scened.metadata.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONIOENCODING": "utf-8"},
            )
        return self.process

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a dead pipe may not flush
                    stream.close()


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise _WorkerGoneError("worker exited in the middle of its answer")
    return data


class _WorkerGoneError(Exception):
    """The worker stopped answering (crashed, exited or hung)."""


class _WorkerHungError(_WorkerGoneError):
    """The worker did not answer in time (and is killed)."""


#: Worker processes of the process-wide pool: writes run on as many threads.
SHARED_PROCESSES = 2

_shared: MetadataWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> MetadataWorker:
    """The process-wide pool that sinks and ``scened untag`` use by default.

    Processes start on first use, so a run that writes from one thread starts one.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MetadataWorker(processes=SHARED_PROCESSES)
        return _shared
