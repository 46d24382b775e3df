"""A damaged state database is moved aside and started afresh, never a dead end.

SQLite reports damage (a corrupt page, a garbage header, a file that is not a
database) as ``SQLITE_CORRUPT`` or ``SQLITE_NOTADB``.  Nothing in the state is the
only copy of anything: scened records inside each photo (``Xmp.scened``) which
model and policy tagged which pixels, so a fresh database is filled again by the
next scan from those records (:mod:`scened.daemon.recognise`), without classifying
or rewriting the photos.  The damaged file is kept beside it, renamed, for whoever
wants to look at it.  The check and the move happen under a lock on the state
folder, so two processes meeting a damaged database do not both move it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
#: The files of one SQLite database in WAL mode.
_SUFFIXES = ("", "-wal", "-shm")


def is_damage(error: sqlite3.Error) -> bool:
    """Whether ``error`` says the database file itself is damaged (not locked, not full)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _CORRUPT_CODES
    text = str(error)
    return "malformed" in text or "not a database" in text


#: State databases this process closed, as ``stat`` saw them (and their WAL) right
#: after, and when.  ``PRAGMA quick_check`` reads the whole file (minutes for millions
#: of photos) and the daemon opens the state for every scan: a database found exactly
#: as this process left it (no other writer, nothing scribbled on it) is not checked
#: again, except once a day; one that gave an error looking like damage is.
_closed: dict[str, tuple[tuple[int, ...], float]] = {}
_closed_lock = threading.Lock()
RECHECK_AFTER_S = 24 * 3600.0


def _fingerprint(path: Path) -> tuple[int, ...] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    try:  # an empty write-ahead log (opening one creates it) is no change
        wal_size = Path(f"{path}-wal").stat().st_size
    except OSError:
        wal_size = 0
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, wal_size)


def remember_closed(path: Path) -> None:
    """``path`` was just closed by this process, undamaged as far as it knows."""
    found = _fingerprint(path)
    with _closed_lock:
        if found is None:
            _closed.pop(str(path), None)
        else:
            previous = _closed.get(str(path))
            checked = previous[1] if previous is not None else time.monotonic()
            _closed[str(path)] = (found, checked)


def forget_closed(path: Path) -> None:
    """The next open of ``path`` checks it (an error looked like damage)."""
    with _closed_lock:
        _closed.pop(str(path), None)


def check_integrity_unless_unchanged(conn: sqlite3.Connection, path: Path) -> None:
    """:func:`check_integrity`, unless ``path`` is as this process closed it (checked
    less than :data:`RECHECK_AFTER_S` ago)."""
    with _closed_lock:
        closed = _closed.get(str(path))
    if closed is not None:
        fingerprint, checked = closed
        if fingerprint == _fingerprint(path) and time.monotonic() - checked < RECHECK_AFTER_S:
            return
    forget_closed(path)
    check_integrity(conn)
    with _closed_lock:  # checked now: the time the next recheck counts from
        _closed[str(path)] = ((), time.monotonic())


def check_integrity(conn: sqlite3.Connection) -> None:
    """Raise ``sqlite3.DatabaseError`` (as damage) unless ``PRAGMA quick_check`` is ok."""
    rows = [str(row[0]) for row in conn.execute("PRAGMA quick_check(5)").fetchall()]
    if rows != ["ok"]:
        error = sqlite3.DatabaseError(f"database disk image is malformed: {'; '.join(rows)}")
        error.sqlite_errorcode = 11
        raise error


@contextlib.contextmanager
def state_folder_lock(state_dir: Path) -> Iterator[None]:
    """Hold ``<state>/state.lock`` (flock, released by the kernel on any exit)."""
    handle = os.open(state_dir / "state.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def move_aside(path: Path, error: sqlite3.Error) -> Path:
    """Rename the damaged database (and its WAL files) to ``<name>.damaged-<time>``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in _SUFFIXES:
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").replace(f"{aside}{suffix}")
    log.warning(
        "%s: the state database is damaged (%s); it was moved to %s and a new one started. "
        "Photos scened tagged are recognised from their own records, not classified or "
        "written again",
        path, error, aside.name,
    )  # fmt: skip
    return aside
