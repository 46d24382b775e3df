"""The output folder: ``<out>/<Class>/<n>.jpg``, ``manifest.jsonl`` and ``rejected.jsonl``.

Both logs are JSON Lines.  The manifest has one record per saved image (class, query,
source URL, file, sha256, width, height, bytes, engine); ``rejected.jsonl`` one per URL
that will never give a usable image (not an image, tiny, duplicate, HTTP 404…).  A later
run reads both, plus the hashes of the files really present, and tops a class up
without downloading any known URL again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .dedupe import DuplicateIndex
from .quality import PreparedImage, UnusableImageError, fingerprint_file, sha256_hex

MANIFEST = "manifest.jsonl"
REJECTED = "rejected.jsonl"
DATA_URL_KEEP = 48


def url_key(url: str) -> str:
    """How a URL is logged: data: URLs shortened to their start, length and hash."""
    if not url.startswith("data:") or len(url) <= DATA_URL_KEEP * 2:
        return url
    return f"{url[:DATA_URL_KEEP]}…[{len(url)} chars, sha256 {sha256_hex(url.encode())[:16]}]"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON Lines file; a line cut short by a crash is skipped."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one record and flush it to disk, so that an interrupted run loses nothing."""
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.flush()
        os.fsync(log.fileno())


@dataclass
class ClassState:
    """What one class folder holds now, and what it must not download again."""

    name: str
    folder: Path
    duplicates: DuplicateIndex
    have: int = 0
    next_index: int = 1
    known_urls: set[str] = field(default_factory=set)

    def is_known(self, url: str) -> bool:
        """Whether ``url`` was saved or rejected before (in this run or an earlier one)."""
        return url_key(url) in self.known_urls


def scan_folder(state: ClassState) -> None:
    """Count the folder's readable images, index their hashes, find the next free number."""
    for path in sorted(state.folder.glob("*.jpg")):
        if path.stem.isdigit():
            state.next_index = max(state.next_index, int(path.stem) + 1)
        try:
            sha256, phash = fingerprint_file(path.read_bytes())
        except (OSError, UnusableImageError):
            continue
        state.duplicates.add(sha256, phash)
        state.have += 1


class Dataset:
    """The output folder of one scraping run."""

    def __init__(self, root: Path, engine: str) -> None:
        self.root = root
        self.engine = engine
        root.mkdir(parents=True, exist_ok=True)

    def load_class(self, name: str, max_distance: int) -> ClassState:
        """The state of class ``name``, from its folder and both logs."""
        state = ClassState(name, self.root / name, DuplicateIndex(max_distance))
        state.folder.mkdir(exist_ok=True)
        scan_folder(state)
        for log in (MANIFEST, REJECTED):
            for record in read_jsonl(self.root / log):
                if record.get("class") == name and isinstance(record.get("url"), str):
                    state.known_urls.add(record["url"])
        return state

    def save(self, state: ClassState, query: str, url: str, image: PreparedImage) -> Path:
        """Write the image as the class's next numbered JPEG and log it in the manifest."""
        path = state.folder / f"{state.next_index:04d}.jpg"
        partial = path.with_suffix(".part")
        partial.write_bytes(image.jpeg)
        partial.replace(path)
        record = {
            "class": state.name,
            "query": query,
            "url": url_key(url),
            "file": path.relative_to(self.root).as_posix(),
            "sha256": image.sha256,
            "width": image.width,
            "height": image.height,
            "bytes": len(image.jpeg),
            "engine": self.engine,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        append_jsonl(self.root / MANIFEST, record)
        state.next_index += 1
        state.have += 1
        state.known_urls.add(url_key(url))
        state.duplicates.add(image.sha256, image.phash)
        return path

    def reject(self, state: ClassState, url: str, reason: str) -> None:
        """Log a URL that will never give a usable image, so no run fetches it again."""
        append_jsonl(
            self.root / REJECTED, {"class": state.name, "url": url_key(url), "reason": reason}
        )
        state.known_urls.add(url_key(url))
