"""The metadata worker: a child process that does every pyexiv2 call.

Run as ``python -m scened.metadata.worker``.  It reads one JSON request per line
on stdin and answers one JSON line on its private copy of stdout (fd 1 itself is
pointed at stderr, so anything exiv2 prints cannot corrupt the protocol)::

    {"op": "read", "path": "/p/a.jpg"}             -> {"ok": true, "result": {...}}
    {"op": "write", "path": "...", "fields": {...}} -> {"ok": true, "result": 3}
    failures                                       -> {"ok": false, "error": "..."}

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

CRASH_ON_ENV = "SCENED_METADATA_WORKER_CRASH_ON"


def handle(request: dict[str, Any]) -> Any:
    """Carry out one request; its result goes back to the caller."""
    from scened.metadata import exiv2ops

    path = str(request["path"])
    crash_on = os.environ.get(CRASH_ON_ENV)
    if crash_on and crash_on in Path(path).name:
        os.kill(os.getpid(), signal.SIGSEGV)
    if request["op"] == "read":
        return exiv2ops.read_fields(path)
    if request["op"] == "write":
        return exiv2ops.write_fields(path, request["fields"])
    raise ValueError(f"unknown request {request['op']!r}")


def serve(requests: IO[str], replies: IO[str]) -> None:
    """Answer requests until stdin closes."""
    from scened.metadata import exiv2ops

    exiv2ops.setup()
    for line in requests:
        try:
            reply = {"ok": True, "result": handle(json.loads(line))}
        except Exception as exc:  # every failure goes back to the caller as text
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main() -> None:
    # Ctrl-C at a terminal and systemd's stop reach the whole process group; the
    # photo in hand must still be finished by the parent, which then closes our
    # stdin: that, not a signal, ends the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
