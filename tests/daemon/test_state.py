"""The state database: migrations, WAL, transactions, odd paths, read-only dry runs."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from scened.daemon.state import DB_NAME, MIGRATIONS, PhotoRecord, StateDB


def record(path: Path, **changes: object) -> PhotoRecord:
    values: dict[str, object] = {
        "library": "lib", "path": path, "device": 1, "inode": 2, "size": 3, "mtime_ns": 4,
        "content_hash": "abc", "model_id": "m1", "policy": '{"type":"default"}',
        "probabilities": (0.25, 0.75), "tags": ("Beach", "Sky"), "outcome": "tagged",
    }  # fmt: skip
    values.update(changes)
    return PhotoRecord(**values)  # type: ignore[arg-type]


def test_new_database_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path / "nested" / "state")
    db.close()

    conn = sqlite3.connect(tmp_path / "nested" / "state" / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"photos", "runs"} <= tables


def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    StateDB.open(tmp_path).close()
    db = StateDB.open(tmp_path)
    db.record(record(tmp_path / "a.jpg"))
    db.close()
    db = StateDB.open(tmp_path)
    assert db.get(tmp_path / "a.jpg") == db.get(tmp_path / "a.jpg") is not None
    db.close()


def test_records_round_trip_with_non_utf8_paths(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path)
    odd = tmp_path / os.fsdecode(b"caf\xe9 \xe6\x9d\xb1.jpg")
    db.record(record(odd, tags=("Été",)))

    got = db.get(odd)

    assert got is not None
    assert (got.path, got.tags, got.probabilities, got.signature) == (
        odd, ("Été",), (0.25, 0.75), (1, 2, 3, 4),
    )  # fmt: skip
    assert db.find_by_hash("abc", "m1", '{"type":"default"}') == got
    assert db.find_by_hash("abc", "m2", '{"type":"default"}') is None
    assert db.paths("lib") == [odd]
    db.forget([odd])
    assert db.get(odd) is None
    db.close()


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path)
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO runs (library, started_at) VALUES ('lib', 'now')")
        raise RuntimeError("boom")
    assert db.library_stats("lib").last_run is None
    db.close()


def test_library_stats_and_runs(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path)
    db.record(record(tmp_path / "a.jpg"))
    db.record(record(tmp_path / "b.jpg", outcome="failed", error="corrupt"))
    run = db.start_run("lib", "m1")
    db.finish_run(run, {"found": 2, "unchanged": 0, "tagged": 1, "failed": 1}, interrupted=True)

    stats = db.library_stats("lib")

    assert (stats.known, stats.tagged, stats.failed, stats.model_id) == (2, 1, 1, "m1")
    assert stats.last_run is not None and stats.last_run_interrupted
    db.close()


def test_dry_run_never_creates_or_changes_the_database(tmp_path: Path) -> None:
    throwaway = StateDB.open(tmp_path / "state", dry_run=True)
    throwaway.record(record(tmp_path / "a.jpg"))  # goes to memory
    assert throwaway.get(tmp_path / "a.jpg") is not None
    throwaway.close()
    assert not (tmp_path / "state").exists()

    StateDB.open(tmp_path / "state").close()
    readonly = StateDB.open(tmp_path / "state", dry_run=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        readonly.record(record(tmp_path / "a.jpg"))
    readonly.close()


@pytest.fixture
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The databases ``PRAGMA quick_check`` reads (each whole file), in order."""
    from scened.daemon import state_repair

    checked: list[Path] = []
    real = state_repair.check_integrity

    def counting(conn: sqlite3.Connection) -> None:
        checked.append(Path(conn.execute("PRAGMA database_list").fetchone()[2]))
        real(conn)

    monkeypatch.setattr(state_repair, "check_integrity", counting)
    return checked


def test_a_database_left_as_this_process_closed_it_is_not_read_whole_again(
    tmp_path: Path, quick_checks: list[Path]
) -> None:
    """The daemon opens the state for every scan; quick_check reads the whole file."""
    path = tmp_path / DB_NAME
    for _ in range(3):  # three scans in one process
        db = StateDB.open(tmp_path)
        db.record(record(tmp_path / f"{len(quick_checks)}.jpg"))
        db.close()
    assert quick_checks == [path]

    other = sqlite3.connect(path)  # another process writes: checked again
    other.execute("CREATE TABLE other_tool (x)")
    other.close()
    StateDB.open(tmp_path).close()
    assert quick_checks == [path, path]


def test_an_error_that_looks_like_damage_makes_the_next_open_check_the_file(
    tmp_path: Path, quick_checks: list[Path]
) -> None:
    db = StateDB.open(tmp_path)
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5  # SQLITE_BUSY: not damage
    db.suspect_damage(locked)
    db.close()
    StateDB.open(tmp_path).close()
    assert len(quick_checks) == 1

    db = StateDB.open(tmp_path)
    damaged = sqlite3.DatabaseError("database disk image is malformed")
    damaged.sqlite_errorcode = 11  # SQLITE_CORRUPT
    db.suspect_damage(damaged)
    db.close()
    StateDB.open(tmp_path).close()
    assert len(quick_checks) == 2


def test_known_is_read_from_the_scan_index_alone(tmp_path: Path) -> None:
    """A rescan's one query (every photo's signature, and whether this model and policy
    tagged it) reads the covering index, not the rows with their probabilities: on a
    100,000-photo state that is most of its cost (bench/rescan.py)."""
    db = StateDB.open(tmp_path)
    db.record(record(tmp_path / "a.jpg"))
    db.record(record(tmp_path / "sub" / "b.jpg", model_id="old", inode=9))
    db.record(record(tmp_path / "sub" / "c.jpg", outcome="failed", tags=()))
    db.record(record(tmp_path / "d.jpg", library="other"))
    statements: list[str] = []
    db._connection().set_trace_callback(statements.append)

    known = dict(db.known("lib", "m1", '{"type":"default"}'))
    under = dict(db.known("lib", "m1", '{"type":"default"}', under=tmp_path / "sub"))

    key = os.fsencode
    assert known[key(tmp_path / "a.jpg")] == ((1, 2, 3, 4), True, True)
    assert known[key(tmp_path / "sub" / "b.jpg")] == ((1, 9, 3, 4), False, True)
    assert known[key(tmp_path / "sub" / "c.jpg")] == ((1, 2, 3, 4), True, False)
    assert set(under) == {key(tmp_path / "sub" / "b.jpg"), key(tmp_path / "sub" / "c.jpg")}
    conn = db._connection()
    conn.set_trace_callback(None)
    for statement in statements:
        plan = " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}"))
        assert "USING COVERING INDEX photos_scan" in plan, plan
    db.close()


def test_a_database_of_the_previous_schema_gets_the_scan_index(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME)
    for version, script in enumerate(MIGRATIONS[:5], start=1):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
    db = StateDB.open(tmp_path)
    db.record(record(tmp_path / "a.jpg"))
    assert dict(db.known("lib", "m1", '{"type":"default"}'))[os.fsencode(tmp_path / "a.jpg")]
    indexes = {row[0] for row in db._connection().execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}  # fmt: skip
    db.close()
    assert "photos_scan" in indexes and "photos_library" not in indexes
