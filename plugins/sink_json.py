"""The ``json`` sink: one JSON Lines record per photo, appended to a file.

Options: ``path`` (required; the file, created with its folder if missing) and
``top`` (how many of the most probable classes to record, default 3).  ``untag``
appends an ``"event": "untagged"`` record, so the file stays a complete history.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scened import hookimpl
from scened.errors import MetadataError
from scened.hookspecs import RegisterSink
from scened.options import OptionReader
from scened.records import tag_record, untag_record
from scened.types import Sink, TagResult


class JsonLinesSink:
    """Appends one line per record; whole lines only, safe across threads."""

    thread_safe = True

    def __init__(self, path: Path, top: int = 3) -> None:
        self.path = path
        self.top = top
        self._lock = threading.Lock()

    def write(self, result: TagResult, *, dry_run: bool = False) -> None:
        if not dry_run:
            self._append(tag_record(result, self.top))

    def untag(self, path: Path, *, dry_run: bool = False) -> None:
        if not dry_run:
            self._append(untag_record(path))

    def close(self) -> None:
        """Nothing to release: each record is written and flushed when it comes."""

    def _append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line)
                    handle.flush()
                    os.fsync(handle.fileno())
        except OSError as exc:
            raise MetadataError(
                f"cannot append to the JSON log: {exc.strerror}", self.path
            ) from exc


def json_sink(options: Mapping[str, Any]) -> Sink:
    reader = OptionReader(options, ("path", "top"), "json sink")
    if "path" not in options:
        raise reader.error("path", "is required (the JSON Lines file to append to)")
    path = Path(reader.string("path", "")).expanduser()
    return JsonLinesSink(path, top=reader.integer("top", 3, low=1))


@hookimpl
def register_sinks(register: RegisterSink) -> None:
    register("json", json_sink)
