"""The unit of work of a library run (one photo) and the run's summary."""

from __future__ import annotations

import enum
import hashlib
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scened.daemon.decision import Known
from scened.daemon.scan import FileEntry
from scened.daemon.state import PhotoRecord
from scened.errors import ScenedError
from scened.metadata.lease import check_not_open_for_writing, open_for_reading
from scened.types import Prediction

HASH_CHUNK = 1 << 20
#: Files up to this size are decoded from the bytes read for hashing (one read, not two).
KEEP_IN_MEMORY_BYTES = 64 << 20
#: The bytes of photos kept from their read to their write, all photos in flight together.
KEPT_FOR_WRITING_BYTES = 48 << 20


class Action(enum.StrEnum):
    """What a run does with a photo (decided while preparing it)."""

    PENDING = "pending"
    UNCHANGED = "unchanged"  # stat signature matches: nothing to do
    TOUCHED = "touched"  # stat changed, content is what scened left: record the new stat
    FAILED_BEFORE = "failed-before"  # failed last time and unchanged since: not retried
    REUSE = "reuse"  # same content already tagged elsewhere (moved/copied): no model
    CLASSIFY = "classify"
    FAILED = "failed"
    #: Another program was writing it or changed it meanwhile: untouched, for the next scan.
    LEFT = "left"
    #: Changed, but its pixels are those tagged (a keyword edit): re-recorded, not re-tagged.
    EDITED = "edited"
    #: Unknown to the state, but its own record says this model tagged these pixels.
    RECOGNISED = "recognised"
    #: Unchanged, re-scored by a new personal model from its stored features.
    RESCORE = "rescore"
    #: Not written: the scan halted first (a state or read-only failure); next scan.
    DROPPED = "dropped"


#: Photos a rescan settles without a change to the state (most of a rescan's).
NOTHING_TO_RECORD = (Action.UNCHANGED, Action.FAILED_BEFORE)
#: Photos whose tags go through the sinks.
WRITES = (Action.CLASSIFY, Action.REUSE, Action.RESCORE)
#: Photos whose tags stand: only their new signature is recorded (nothing is written).
RECORD_ONLY = (Action.TOUCHED, Action.EDITED, Action.RECOGNISED)


@dataclass(slots=True)
class Job:
    """One photo on its way through the pipeline."""

    entry: FileEntry
    action: Action = Action.PENDING
    previous: PhotoRecord | None = None
    digest: str | None = None
    pixels: np.ndarray | None = None
    #: A digest of ``pixels`` (:func:`scened.daemon.recognise.pixel_digest`).
    pixel_digest: str | None = None
    #: The bundled model's probabilities and the photo's features (kept for learning).
    base_output: tuple[np.ndarray, np.ndarray] | None = None
    #: The user's corrections found in the photo's keywords: (class, positive).
    corrections: list[tuple[str, bool]] = field(default_factory=list)
    prediction: Prediction | None = None
    tags: tuple[str, ...] = ()
    error: str = ""
    retry: bool = False  # failed in a way that may pass next time: recorded without stat
    #: What the state held of this photo when the run began (looked up once, in the feeder).
    known: Known | None = None
    #: The photo's bytes as read (hashed and decoded), kept for its write when the
    #: run's :class:`ContentBudget` allows: the photo is then read only once.
    content: bytes | None = field(default=None, repr=False)
    #: The photo as the sinks left it (its stat after writing).
    after: FileEntry | None = None

    @property
    def path(self) -> Path:
        return self.entry.path


class ContentBudget:
    """How many bytes of photos a run keeps in memory between their read and their write.

    The jobs between the readers and the writers (the queues and a batch) would hold
    a few hundred megabytes of 24 MP photos; past ``limit`` a photo keeps nothing and
    its write reads it again from the file, so memory stays flat whatever the photos.
    """

    def __init__(self, limit: int = KEPT_FOR_WRITING_BYTES) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if self._used + size > self.limit:
                return False
            self._used += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self._used -= size


@dataclass
class RunSummary:
    """The counts and failures of one library run (what ``run --once`` prints)."""

    library: str
    found: int = 0
    unchanged: int = 0
    tagged: int = 0
    classified: int = 0
    reused: int = 0
    failed: int = 0
    failed_before: int = 0
    pruned: int = 0
    #: Photos classified without a confident tag: they get no keyword (not ``Unknown``).
    untagged: int = 0
    interrupted: bool = False
    dry_run: bool = False
    failures: list[tuple[Path, str]] = field(default_factory=list)
    #: Entries named like photos that cannot be one (FIFO, folder, broken symlink…).
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    error: str = ""

    def counts(self) -> dict[str, int]:
        return {
            "found": self.found,
            "unchanged": self.unchanged,
            "tagged": self.tagged,
            "failed": self.failed,
        }

    def line(self) -> str:
        verb = "would tag" if self.dry_run else "tagged"
        text = (
            f"{self.library}: {self.found} found, {self.unchanged} unchanged, "
            f"{self.tagged} {verb} ({self.classified} classified, {self.reused} moved or "
            f"copied), {self.failed} failed, {self.pruned} pruned"
        )
        if self.untagged:
            text += f", {self.untagged} without a confident tag (no keyword written)"
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        if self.failed_before:
            text += f", {self.failed_before} still failing from earlier runs"
        if self.interrupted:
            text += " (interrupted)"
        if self.error:
            text += f"; library failed: {self.error}"
        return text

    @property
    def ok(self) -> bool:
        return not self.failed and not self.error


def read_photo(path: Path) -> tuple[str, bytes | None]:
    """The file's SHA-256 digest and, when small enough, its bytes (to decode without a
    second read).  Opened non-blocking and checked to be a regular file, so a FIFO
    swapped in after the scan cannot hang the reader; a file another program still
    has open for writing is left for the next scan (:mod:`scened.metadata.lease`)."""
    digest = hashlib.sha256()  # hardware-accelerated: about twice blake2b's speed here
    chunks: list[bytes] | None = []
    try:
        fd = open_for_reading(path)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ScenedError("not a regular file", path)
            check_not_open_for_writing(handle.fileno(), path)
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
                if chunks is not None:
                    chunks.append(chunk)
                    if len(chunks) * HASH_CHUNK > KEEP_IN_MEMORY_BYTES:
                        chunks = None
    except OSError as exc:
        raise ScenedError(f"cannot read: {exc.strerror or exc}", path) from None
    return digest.hexdigest(), (b"".join(chunks) if chunks is not None else None)


def describe(error: Exception, photo: Path | None = None) -> str:
    """One line saying what went wrong with a photo (without its path, shown beside it);
    when another file is at fault (a broken sidecar beside ``photo``), named first."""
    if isinstance(error, ScenedError):
        if photo is not None and error.path is not None and error.path != photo:
            return f"{error.path.name}: {error.message}"
        return error.message
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return f"{type(error).__name__}: {error}"
