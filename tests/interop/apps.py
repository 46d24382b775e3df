"""digiKam and darktable, started headless under Xvfb, and what their databases say.

Each index is fresh (a new configuration and database), so it shows what the
application reads from the files now, never what it remembered.  Nothing waits a
fixed time: Xvfb reports its display on a pipe (``-displayfd``), digiKam is done when
its database records a finished collection scan (the ``Scanned`` setting), darktable
when the Lua script it runs at start-up has imported every photo and says so in a
file; both are then stopped (neither quits by itself: digiKam is a GUI, and
darktable 4.2's Lua API has no ``quit``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

#: Longest an application may take to index a small library before the test fails.
INDEX_TIMEOUT_S = 120.0
#: How often the database is looked at while waiting.
POLL_S = 0.1
#: digiKam's own tags (colour labels, picks…) live under this root tag.
DIGIKAM_INTERNAL = "_Digikam_Internal_Tags_"

T = TypeVar("T")


@contextmanager
def xvfb() -> Iterator[str]:
    """An X display (``":N"``) for the applications, on a free number Xvfb chooses."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp", "-screen", "0", "1280x1024x24"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()  # written once the server accepts clients
        if not number:
            raise RuntimeError(f"Xvfb exited with status {server.wait()}")
        yield f":{number}"
    finally:
        _stop(server)


def wait_for(what: str, probe: Callable[[], T | None], process: subprocess.Popen[bytes]) -> T:
    """Poll ``probe`` until it returns a value; fail if ``process`` exits or time runs out."""
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the application exited with status {process.returncode}")
        time.sleep(POLL_S)  # polling interval, not synchronisation: the probe decides
    raise TimeoutError(f"{what}: not done after {INDEX_TIMEOUT_S:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop ``process`` (only it) and reap it."""
    if process.poll() is None:
        process.kill()
    process.wait()


def _query(database: Path, sql: str) -> list[tuple[object, ...]] | None:
    """Rows of ``sql`` on ``database`` opened read-only; ``None`` while it is not ready."""
    if not database.exists():
        return None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            return connection.execute(sql).fetchall()
    except sqlite3.Error:  # being created or locked by the application: look again
        return None


def _setting(database: Path, keyword: str) -> str | None:
    """A digiKam setting, once digiKam has written it (``Scanned``: a scan finished)."""
    rows = _query(database, f"SELECT value FROM Settings WHERE keyword = '{keyword}'")
    return str(rows[0][0]) if rows else None


# -- digiKam ---------------------------------------------------------------------------

DIGIKAMRC = """\
[Album Settings]
Version=7.9.0

[Database Settings]
Database Type=QSQLITE
Database Name={db}/
Database Name Thumbnails={db}/
Database Name Face={db}/
Database Name Similarity={db}/

[General Settings]
Scan At Start=true

[Metadata Settings]
Use XMP Sidecar For Reading=true
Rescan File If Modified=true
"""


def _digikam(display: str, home: Path, db: Path) -> subprocess.Popen[bytes]:
    """digiKam with a configuration of its own under ``home`` and its database in ``db``."""
    config = home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "digikamrc").write_text(DIGIKAMRC.format(db=db), encoding="utf-8")
    env = {
        **os.environ, "DISPLAY": display, "HOME": str(home), "XDG_CONFIG_HOME": str(config),
        "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_RUNTIME_DIR": str(home), "QTWEBENGINE_DISABLE_SANDBOX": "1",
    }  # fmt: skip
    log = (home / "digikam.log").open("wb")
    return subprocess.Popen(["digikam"], env=env, stdout=log, stderr=subprocess.STDOUT)


def digikam_schema(display: str, work: Path) -> Path:
    """An empty digiKam database with its schema, made by digiKam itself.

    digiKam creates its tables in an existing empty file; with no collection it then
    asks for one in a dialog, which is where it is stopped.
    """
    db = work / "schema"
    db.mkdir(parents=True)
    (db / "digikam4.db").touch()
    app = _digikam(display, work / "schema-home", db)
    try:
        wait_for("digiKam's schema", lambda: _setting(db / "digikam4.db", "databaseUUID"), app)
    finally:
        _stop(app)
    return db / "digikam4.db"


def digikam_index(display: str, schema: Path, library: Path, work: Path) -> dict[str, set[str]]:
    """Each photo's tags (``Places/Mine``) after digiKam scanned ``library`` afresh."""
    db = work / "db"
    db.mkdir(parents=True)
    shutil.copyfile(schema, db / "digikam4.db")
    with sqlite3.connect(db / "digikam4.db") as connection:
        connection.execute(
            "INSERT INTO AlbumRoots (label, status, type, identifier, specificPath) "
            "VALUES ('library', 0, 1, ?, '/')",
            (f"volumeid:?path={library}",),
        )
    app = _digikam(display, work / "home", db)
    try:
        wait_for("digiKam's scan", lambda: _setting(db / "digikam4.db", "Scanned"), app)
    finally:
        _stop(app)
    rows = _query(db / "digikam4.db", "SELECT id, pid, name FROM Tags") or []
    parent = {int(str(i)): (int(str(p)), str(n)) for i, p, n in rows}

    def path(tag: int) -> list[str]:
        up, name = parent[tag]
        return [*path(up), name] if up in parent else [name]

    tagged: dict[str, set[str]] = {}
    for name, tag in _query(db / "digikam4.db", "SELECT i.name, t.tagid FROM Images i "
                            "LEFT JOIN ImageTags t ON t.imageid = i.id") or []:  # fmt: skip
        levels = path(int(str(tag))) if tag is not None else [DIGIKAM_INTERNAL]
        entry = tagged.setdefault(str(name), set())
        if levels[0] != DIGIKAM_INTERNAL:
            entry.add("/".join(levels))
    return tagged


# -- darktable -------------------------------------------------------------------------

LUARC = """\
local dt = require "darktable"
for _, file in ipairs({{{files}}}) do
  dt.database.import(file)
end
local done = io.open({done}, "w")
done:write("imported\\n")
done:close()
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def darktable_index(display: str, photos: list[Path], work: Path) -> dict[str, set[str]]:
    """Each photo's tags (``Places|Mine``) after a fresh darktable imported ``photos``.

    darktable reads the photo's XMP, its own ``photo.ext.xmp`` and a Lightroom-style
    ``photo.xmp``, and writes ``photo.ext.xmp`` for each photo (its default).
    """
    config, done = work / "config", work / "imported"
    config.mkdir(parents=True)
    (config / "luarc").write_text(
        LUARC.format(files=", ".join(_lua_string(str(p)) for p in photos),
                     done=_lua_string(str(done))),
        encoding="utf-8",
    )  # fmt: skip
    library = work / "library.db"
    log = (work / "darktable.log").open("wb")
    app = subprocess.Popen(
        ["darktable", "--library", str(library), "--configdir", str(config),
         "--cachedir", str(work / "cache")],
        env={**os.environ, "DISPLAY": display, "HOME": str(work)},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for("darktable's import", lambda: True if done.exists() else None, app)
    finally:
        _stop(app)
    with sqlite3.connect(f"file:{library}?mode=ro", uri=True) as connection:
        connection.execute(f"ATTACH DATABASE 'file:{config / 'data.db'}?mode=ro' AS data")
        rows = connection.execute(
            "SELECT i.filename, t.name FROM main.images i LEFT JOIN main.tagged_images ti "
            "ON ti.imgid = i.id LEFT JOIN data.tags t ON t.id = ti.tagid"
        ).fetchall()
    tagged: dict[str, set[str]] = {}
    for name, tag in rows:
        entry = tagged.setdefault(str(name), set())
        if tag is not None and not str(tag).startswith("darktable|"):
            entry.add(str(tag))
    return tagged
