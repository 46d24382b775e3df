"""A walk merged with the state's records: pairs, photos gone, pages, odd orders."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from scened.config import LibraryConfig, parse_config
from scened.daemon import state as state_module
from scened.daemon.decision import Known
from scened.daemon.scan import FileEntry
from scened.daemon.snapshot import Comparison, compare, scanner_for
from scened.daemon.state import PhotoRecord, StateDB

#: The policy key of a library with the default policy (what the records say).
POLICY = parse_config({"libraries": [{"path": "/x", "name": "lib"}]}, None).libraries[0].policy_key


def library_at(path: Path) -> LibraryConfig:
    """The library "lib" at ``path``, with the default policy."""
    return parse_config({"libraries": [{"path": str(path), "name": "lib"}]}, None).libraries[0]


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def record_of(path: Path, **changes: object) -> PhotoRecord:
    st = path.stat() if path.exists() else None
    values: dict[str, object] = {
        "library": "lib", "path": path, "device": st.st_dev if st else 1,
        "inode": st.st_ino if st else 2, "size": st.st_size if st else 3,
        "mtime_ns": st.st_mtime_ns if st else 4, "content_hash": "h", "model_id": "m",
        "policy": POLICY, "probabilities": (1.0,), "tags": ("Beach",), "outcome": "tagged",
    }  # fmt: skip
    values.update(changes)
    return PhotoRecord(**values)  # type: ignore[arg-type]


def test_each_photo_meets_its_record_and_the_rest_are_gone(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    kept = [touch(library / rel) for rel in ("a.jpg", "b/c.jpg", "b-x/d.jpg", "z.jpg")]
    new = touch(library / "b/new.jpg")
    gone = [library / "b/deleted.jpg", library / "b.jpg", library / "zz/moved.jpg"]
    db = StateDB.open(tmp_path / "state")
    for path in kept + gone:
        db.record(record_of(path))
    db.record(record_of(library / "b-x/d.jpg", model_id="old"))

    comparison = compare(scanner_for(library_at(library)), db, library_at(library), "m")
    pairs = {entry.path: known for entry, known in comparison}

    assert set(pairs) == {*kept, new} and pairs[new] is None
    assert pairs[kept[0]] == Known(FileEntry.from_stat(kept[0], kept[0].stat()).signature,
                                   current=True, tagged=True)  # fmt: skip
    assert pairs[kept[2]] is not None and not pairs[kept[2]].current  # another model's
    assert sorted(comparison.gone()) == sorted(gone)
    assert (comparison.known, comparison.seen) == (len(kept) + len(gone), len(kept) + 1)
    db.close()


def test_records_come_a_page_at_a_time_in_key_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory holds a page of records, whatever the library's size; no read transaction
    stays open across the scan (each page is its own query)."""
    monkeypatch.setattr(state_module, "KNOWN_PAGE", 2)
    db = StateDB.open(tmp_path / "state")
    paths = [tmp_path / name for name in ("e.jpg", "a.jpg", "d/x.jpg", "c.jpg", "b.jpg")]
    for path in paths:
        db.record(record_of(path))
    queries: list[str] = []
    db._connection().set_trace_callback(queries.append)

    keys = [key for key, _ in db.known("lib", "m", POLICY)]

    assert keys == sorted(os.fsencode(path) for path in paths)
    assert sum("FROM photos" in query for query in queries) == 3  # 2 + 2 + 1
    assert not db._connection().in_transaction
    db.close()


def test_folders_that_could_not_be_read_keep_their_photos(tmp_path: Path) -> None:
    unreadable = [tmp_path / "locked"]
    record = Known((1, 2, 3, 4), current=True, tagged=True)
    records = [(os.fsencode(tmp_path / "locked" / "a.jpg"), record),
               (os.fsencode(tmp_path / "lockedness.jpg"), record)]  # fmt: skip
    comparison = Comparison([], records, unreadable, lambda key: None)
    assert list(comparison) == []
    assert comparison.gone() == [tmp_path / "lockedness.jpg"]  # not under locked/


def test_a_photo_found_out_of_order_is_looked_up_and_not_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = (touch(tmp_path / name) for name in ("a.jpg", "b.jpg"))
    entries = [FileEntry.from_stat(p, p.stat()) for p in (b, a)]  # b first: out of order
    known = {
        os.fsencode(p): Known(e.signature, True, True) for p, e in zip((b, a), entries, strict=True)
    }
    records = sorted(known.items())
    looked_up: list[bytes] = []

    def look_up(key: bytes) -> Known | None:
        looked_up.append(key)
        return known.get(key)

    comparison = Comparison(entries, records, [], look_up)
    pairs = list(comparison)

    assert pairs == [(entries[0], known[os.fsencode(b)]), (entries[1], known[os.fsencode(a)])]
    assert looked_up == [os.fsencode(a)] and comparison.gone() == []
    assert (comparison.known, comparison.seen) == (2, 2)
    assert "found out of order" in caplog.text


def test_the_merge_agrees_with_a_lookup_on_a_random_library(tmp_path: Path) -> None:
    """Against the plain way (a dict of every record, a set of every path seen), on a
    library of odd names (separators' neighbours in byte order, non-ASCII, undecodable
    bytes, nested folders) with records for some of its photos and for photos gone."""
    rng = random.Random(1234)
    parts = ["a", "a-b", "a.b", "a0", "B", "b", "é", "\N{PILE OF POO}", "z z", "x!"]
    library = tmp_path / "library"
    photos: set[Path] = set()
    for _ in range(150):
        folders = [rng.choice(parts) for _ in range(rng.randrange(3))]
        name = rng.choice(parts) + rng.choice([".jpg", ".JPG", "-1.jpg", ".png"])
        photos.add(touch(library.joinpath(*folders, name)))
    odd = os.fsencode(library) + b"/\xf5\xff.jpg"
    photos.add(touch(Path(os.fsdecode(odd))))
    recorded = set(rng.sample(sorted(photos), 90))
    gone = {library / rng.choice(parts) / f"gone{i}.jpg" for i in range(20)}
    db = StateDB.open(tmp_path / "state")
    for path in sorted(recorded | gone):
        db.record(record_of(path))
    expected = dict(db.known("lib", "m", POLICY))

    comparison = compare(scanner_for(library_at(library)), db, library_at(library), "m")
    pairs = [(entry.key, known) for entry, known in comparison]

    assert [key for key, _ in pairs] == sorted(os.fsencode(path) for path in photos)
    assert dict(pairs) == {os.fsencode(p): expected.get(os.fsencode(p)) for p in photos}
    assert set(comparison.gone()) == gone
    assert (comparison.known, comparison.seen) == (len(recorded | gone), len(photos))
    db.close()
