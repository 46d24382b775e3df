"""The state database: what scened knows about every photo it has seen (SQLite, WAL).

One row per photo path: its stat signature *after* scened wrote to it, a content hash
of the file as it was left, the model and policy that tagged it, the prediction and
tags, and the outcome.  Paths are stored as bytes (``os.fsencode``) so that file names
that are not valid UTF-8 survive.  Every write goes through :meth:`StateDB.transaction`;
the schema evolves through the numbered migrations of :mod:`scened.daemon.state_schema`
(``PRAGMA user_version``).
Each thread gets its own connection (SQLite connections are not shared between threads).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scened.daemon.decision import Known
from scened.daemon.state_repair import (
    check_integrity_unless_unchanged,
    forget_closed,
    is_damage,
    move_aside,
    remember_closed,
    state_folder_lock,
)
from scened.daemon.state_schema import MIGRATIONS as MIGRATIONS
from scened.errors import StateError

DB_NAME = "state.sqlite3"
#: Records a query of :meth:`StateDB.known` reads (about 100 bytes each in memory).
KNOWN_PAGE = 5000


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PhotoRecord:
    """One row of ``photos``."""

    library: str
    path: Path
    device: int
    inode: int
    size: int
    mtime_ns: int
    content_hash: str | None
    model_id: str | None
    policy: str | None
    probabilities: tuple[float, ...] | None
    tags: tuple[str, ...]
    outcome: str
    error: str | None = None
    updated_at: str = ""
    pixel_digest: str | None = None

    @property
    def signature(self) -> tuple[int, int, int, int]:
        return (self.device, self.inode, self.size, self.mtime_ns)

    def known(self, model_id: str, policy: str) -> Known:
        """This record as :func:`scened.daemon.decision.verdict` weighs it."""
        current = self.model_id == model_id and self.policy == policy
        return Known(self.signature, current, self.outcome == "tagged")


@dataclass(frozen=True)
class LibraryStats:
    """What ``scened status`` shows for a library."""

    known: int
    tagged: int
    failed: int
    last_run: str | None
    last_run_interrupted: bool
    model_id: str | None
    #: Tagged photos that got no keyword (no confident tag).
    untagged: int = 0


class StateDB:
    """The state database; use :meth:`open`."""

    def __init__(self, uri: str, *, readonly: bool = False) -> None:
        self._uri = uri
        self.readonly = readonly
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        #: The file, once it opened and passed its check (None: in memory, or read-only).
        self._path: Path | None = None
        #: An error looked like damage: the next open checks the whole file.
        self._suspect = False
        self._anchor = self._connection()  # keeps a shared in-memory database alive

    @classmethod
    def open(cls, state_dir: Path, *, dry_run: bool = False) -> StateDB:
        """The database in ``state_dir``; for a dry run, a read-only or throwaway one."""
        path = state_dir / DB_NAME
        if dry_run:
            return cls._open_for_dry_run(path)
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            with state_folder_lock(state_dir):
                try:
                    return cls._open_checked(path)
                except sqlite3.DatabaseError as exc:
                    if not is_damage(exc):
                        raise
                    move_aside(path, exc)
                return cls._open_checked(path)
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the state database: {exc}", path) from None
        except OSError as exc:
            raise StateError(f"cannot create the state folder: {exc.strerror}", state_dir) from None

    @classmethod
    def _open_checked(cls, path: Path) -> StateDB:
        db = cls(f"file:{_quote(path)}?mode=rwc")
        try:
            conn = db._connection()
            conn.execute("PRAGMA journal_mode=WAL")
            check_integrity_unless_unchanged(conn, path)
            db.migrate()
        except BaseException:
            db.close()
            raise
        db._path = path
        return db

    @classmethod
    def _open_for_dry_run(cls, path: Path) -> StateDB:
        if path.is_file():
            try:
                db = cls(f"file:{_quote(path)}?mode=ro", readonly=True)
                if db.schema_version() == len(MIGRATIONS):
                    return db
                db.close()
            except sqlite3.Error as exc:
                if is_damage(exc):
                    raise StateError(
                        f"the state database is damaged ({exc}); the next run moves it "
                        "aside and rebuilds it from the photos' own records",
                        path,
                    ) from None
        db = cls(f"file:scened-dry-run-{uuid.uuid4().hex}?mode=memory&cache=shared")
        db.migrate()
        return db

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (for queries; changes go through :meth:`transaction`)."""
        return self._connection()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self._uri, uri=True, isolation_level=None, timeout=30, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=30000")
            # WAL without an fsync per commit (one per photo: 10-20 ms on a NAS's disks):
            # a power cut may lose the last few records, never corrupt the database, and
            # the photos written meanwhile are known by their in-file record and pixels at
            # the next scan (scened.daemon.recognise): never written again.
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
        if self._path is not None:
            (forget_closed if self._suspect else remember_closed)(self._path)

    def suspect_damage(self, error: sqlite3.Error) -> None:
        """Note ``error`` if it looks like damage: the next open checks the whole file
        (and moves it aside if it is damaged) instead of trusting it as it was left."""
        if is_damage(error):
            self._suspect = True

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The one way to change the database: all or nothing.

        Inside another transaction of the same thread it joins that one (a run
        records a group of photos in one transaction; a failure rolls back the group).
        """
        conn = self._connection()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException as exc:
            if isinstance(exc, sqlite3.Error):
                self.suspect_damage(exc)
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def schema_version(self) -> int:
        return int(self._connection().execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply the migrations this database has not had yet, each in its own transaction.

        The version is read again inside the (immediate, so exclusive for writers)
        transaction: two processes meeting a fresh database do not both migrate.
        """
        for version, script in enumerate(MIGRATIONS, start=1):
            if self.schema_version() >= version:
                continue
            with self.transaction() as conn:
                if self.schema_version() >= version:  # another process got there first
                    continue
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")

    def get(self, path: Path) -> PhotoRecord | None:
        row = (
            self._connection()
            .execute(f"SELECT {_COLUMNS} FROM photos WHERE path = ?", (os.fsencode(path),))
            .fetchone()
        )
        return _record(row) if row else None

    def find_by_hash(self, digest: str, model_id: str, policy: str) -> PhotoRecord | None:
        """A photo with this content already tagged by this model and policy."""
        row = (
            self._connection()
            .execute(
                f"SELECT {_COLUMNS} FROM photos WHERE content_hash = ? AND model_id = ? "
                "AND policy = ? AND outcome = 'tagged' LIMIT 1",
                (digest, model_id, policy),
            )
            .fetchone()
        )
        return _record(row) if row else None

    def record(self, rec: PhotoRecord) -> None:
        probabilities = None if rec.probabilities is None else json.dumps(rec.probabilities)
        values = (
            os.fsencode(rec.path), rec.library, rec.device, rec.inode, rec.size, rec.mtime_ns,
            rec.content_hash, rec.model_id, rec.policy, probabilities,
            json.dumps(rec.tags, ensure_ascii=False), rec.outcome, rec.error,
            rec.updated_at or now_iso(), rec.pixel_digest,
        )  # fmt: skip
        usable = rec.probabilities and all(math.isfinite(p) for p in rec.probabilities)
        confidence = max(rec.probabilities) if usable and rec.probabilities else None
        with self.transaction() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO photos ({_COLUMNS}, confidence) "
                f"VALUES ({', '.join('?' * 16)})",
                (*values, confidence),
            )

    def known(
        self, library: str, model_id: str, policy: str, *, under: Path | None = None
    ) -> Iterator[tuple[bytes, Known]]:
        """Every photo of ``library`` (or of its part ``under``: a folder or one photo) by
        ``os.fsencode(path)``, in the byte order of those keys (the scanner's order): what
        a scan compares each file with (:mod:`scened.daemon.snapshot`).

        Read from the ``photos_scan`` index alone, :data:`KNOWN_PAGE` records a query:
        memory stays one page whatever the library's size, and no read transaction
        stays open for the length of a scan (it would keep the WAL from being
        checkpointed).  Records written meanwhile are for photos the scan has passed.
        """
        where, params = _in_library(library, under)
        query = (
            "SELECT path, device, inode, size, mtime_ns, model_id IS ? AND policy IS ?, "
            f"outcome = 'tagged' FROM photos WHERE {where} AND path > ? ORDER BY path LIMIT ?"
        )
        after = b""
        while True:
            rows = (
                self._connection()
                .execute(query, (model_id, policy, *params, after, KNOWN_PAGE))
                .fetchall()
            )
            for path, device, inode, size, mtime_ns, current, tagged in rows:
                yield path, Known((device, inode, size, mtime_ns), bool(current), bool(tagged))
            if len(rows) < KNOWN_PAGE:
                return
            after = rows[-1][0]

    def library_location(self, library: str) -> tuple[int, int] | None:
        """The (device, inode) of the library's folder at its last scan."""
        row = (
            self._connection()
            .execute("SELECT device, root_inode FROM libraries WHERE name = ?", (library,))
            .fetchone()
        )
        return (int(row[0]), int(row[1])) if row else None

    def set_library_location(self, library: str, location: tuple[int, int]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO libraries (name, device, root_inode) VALUES (?, ?, ?)",
                (library, *location),
            )

    def paths(self, library: str) -> list[Path]:
        rows = (
            self._connection()
            .execute("SELECT path FROM photos WHERE library = ?", (library,))
            .fetchall()
        )
        return [Path(os.fsdecode(row[0])) for row in rows]

    def library_names(self) -> list[str]:
        """Every library scened has run on, configured or ad hoc (``run --once PATH``)."""
        rows = self._connection().execute("SELECT DISTINCT library FROM runs ORDER BY library")
        return [str(row[0]) for row in rows.fetchall()]

    def forget(self, paths: list[Path]) -> None:
        """Forget photos that are gone (their labels and features too)."""
        keys = [(os.fsencode(p),) for p in paths]
        with self.transaction() as conn:
            for table in ("photos", "labels", "features"):
                conn.executemany(f"DELETE FROM {table} WHERE path = ?", keys)

    def start_run(self, library: str, model_id: str) -> int:
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (library, model_id, started_at) VALUES (?, ?, ?)",
                (library, model_id, now_iso()),
            )
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, counts: dict[str, int], *, interrupted: bool) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, found = ?, unchanged = ?, tagged = ?, "
                "failed = ?, interrupted = ? WHERE id = ?",
                (now_iso(), counts["found"], counts["unchanged"], counts["tagged"],
                 counts["failed"], int(interrupted), run_id),
            )  # fmt: skip

    def library_stats(self, library: str, *, under: Path | None = None) -> LibraryStats:
        """What ``scened status`` shows of ``library`` (its photo counts limited to its
        part ``under``, when given; the last run is the library's)."""
        conn = self._connection()
        where, params = _in_library(library, under)
        known, tagged, failed, untagged = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(outcome = 'tagged'), 0), "
            "COALESCE(SUM(outcome = 'failed'), 0), "
            f"COALESCE(SUM(outcome = 'tagged' AND tags = '[]'), 0) FROM photos WHERE {where}",
            params,
        ).fetchone()
        run = conn.execute(
            "SELECT COALESCE(finished_at, started_at), interrupted, model_id FROM runs "
            "WHERE library = ? ORDER BY id DESC LIMIT 1",
            (library,),
        ).fetchone()
        return LibraryStats(
            known, tagged, failed,
            run[0] if run else None, bool(run[1]) if run else False, run[2] if run else None,
            untagged,
        )  # fmt: skip


_COLUMNS = (
    "path, library, device, inode, size, mtime_ns, content_hash, model_id, policy, "
    "probabilities, tags, outcome, error, updated_at, pixel_digest"
)


def _in_library(library: str, under: Path | None) -> tuple[str, tuple[object, ...]]:
    """The WHERE clause of ``library``'s photos, limited to the photo or folder ``under``.

    Paths are bytes compared bytewise, so the photos below a folder are the range from
    ``folder/`` up to ``folder0`` (``0`` follows ``/``): the primary key's index serves it.
    """
    if under is None:
        return "library = ?", (library,)
    exact = os.fsencode(under)
    return (
        "library = ? AND (path = ? OR (path >= ? AND path < ?))",
        (library, exact, exact + b"/", exact + b"0"),
    )


def _record(row: Any) -> PhotoRecord:
    (path, library, device, inode, size, mtime_ns, digest, model_id, policy,
     probabilities, tags, outcome, error, updated_at, pixel_digest) = row  # fmt: skip
    return PhotoRecord(
        library=library, path=Path(os.fsdecode(path)),
        device=device, inode=inode, size=size, mtime_ns=mtime_ns,
        content_hash=digest, model_id=model_id, policy=policy,
        probabilities=tuple(json.loads(probabilities)) if probabilities else None,
        tags=tuple(json.loads(tags)), outcome=outcome, error=error, updated_at=updated_at,
        pixel_digest=pixel_digest,
    )  # fmt: skip


def _quote(path: Path) -> str:
    from urllib.parse import quote

    return quote(str(path.resolve()))
