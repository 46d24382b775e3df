"""The metadata worker: a child process that does every pyexiv2 call.

Run as ``python -m scened.metadata.worker``.  It reads one JSON request per line
on stdin and answers one JSON line on its private copy of stdout (fd 1 itself is
pointed at stderr, so anything exiv2 prints cannot corrupt the protocol).  A
``payload`` of N means N raw bytes follow the line (a file's content)::

    {"op": "read", "path": "/p/a.jpg"}             -> {"ok": true, "result": {...}}
    {"op": "write", "path": "...", "fields": {...}} -> {"ok": true, "result": 3}
    {"op": "read_bytes", "path": "...", "payload": N} + N bytes -> {"ok": true, "result": {...}}
    {"op": "write_bytes", "path": "...", "fields": {...}, "payload": N} + N bytes
                                                   -> {"ok": true, "payload": M} + M bytes
    failures                                       -> {"ok": false, "error": "..."}

``path`` names the photo for the bytes operations (messages, fault injection); the
worker never opens it.

If exiv2 crashes, only this process dies; :mod:`scened.metadata.client` notices,
fails that one photo and starts a new worker for the next.

Fault injection for tests: when the environment variable
``SCENED_METADATA_WORKER_CRASH_ON`` is set, a request for a file whose name
contains its value kills the worker with SIGSEGV, exactly as an exiv2 crash would.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import IO, Any

from scened.libc import libc

CRASH_ON_ENV = "SCENED_METADATA_WORKER_CRASH_ON"
#: After a request that carried a photo at least this large, freed memory goes back.
TRIM_AFTER_BYTES = 1 << 20


def handle(request: dict[str, Any], payload: bytes | None = None) -> tuple[Any, bytes | None]:
    """Carry out one request; its result (and content, if any) go back to the caller."""
    from scened.metadata import exiv2ops

    path = str(request["path"])
    crash_on = os.environ.get(CRASH_ON_ENV)
    if crash_on and crash_on in Path(path).name:
        os.kill(os.getpid(), signal.SIGSEGV)
    op = request["op"]
    if op == "read":
        return exiv2ops.read_fields(path), None
    if op == "write":
        return exiv2ops.write_fields(path, request["fields"]), None
    if op == "read_bytes" and payload is not None:
        return exiv2ops.read_fields_of(payload), None
    if op == "write_bytes" and payload is not None:
        return None, exiv2ops.write_fields_into(payload, request["fields"])
    raise ValueError(f"unknown request {request['op']!r}")


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer requests until stdin closes."""
    from scened.metadata import exiv2ops

    exiv2ops.setup()
    for line in requests:
        request = json.loads(line)
        size = request.get("payload")
        payload = requests.read(size) if size is not None else None
        content: bytes | None = None
        try:
            result, content = handle(request, payload)
            reply = {"ok": True, "result": result}
        except Exception as exc:  # every failure goes back to the caller as text
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        reply["payload"] = len(content) if content is not None else None
        replies.write(json.dumps(reply).encode() + b"\n")
        if content is not None:
            replies.write(content)
        replies.flush()
        if max(size or 0, reply["payload"] or 0) >= TRIM_AFTER_BYTES:
            payload = content = None
            _give_memory_back()


def _give_memory_back() -> None:
    """Return the freed heap to the system after a whole photo went through: glibc
    keeps it otherwise (its mmap threshold rises to the largest block freed), and
    the worker would hold the peak of its largest photo for the rest of the run."""
    c_library = libc()
    trim = getattr(c_library, "malloc_trim", None) if c_library is not None else None
    if trim is not None:
        trim(0)


def main() -> None:
    # Ctrl-C at a terminal and systemd's stop reach the whole process group; the
    # photo in hand must still be finished by the parent, which then closes our
    # stdin: that, not a signal, ends the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
