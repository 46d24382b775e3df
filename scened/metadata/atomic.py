"""Replace a file atomically: edit a temporary copy, fsync it, rename it over.

Whatever fails (the edit, the disk, the worker), the original stays byte for
byte as it was and the temporary copy is removed.  Mode and owner are kept; the
modification time is not, on purpose: photo tools (Lightroom, digiKam) notice
new metadata by the file's mtime.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from scened.errors import MetadataError, ScenedError

#: ``edit(temporary_path) -> changed``: returns False when there is nothing to write.
Edit = Callable[[Path], bool]


def replace_atomically(
    path: Path, edit: Edit, *, initial: bytes | None = None, like: Path | None = None
) -> bool:
    """Run ``edit`` on a copy of ``path`` (or on a new file holding ``initial``).

    Returns whether ``path`` was replaced.  With ``initial`` a missing file is
    created, owned like the file ``like`` (the photo a sidecar belongs to) and
    readable by the same people, writable by its owner.  Symbolic links are
    followed, so the link stays a link to the edited file.
    """
    target = Path(os.path.realpath(path))
    before = _stat_or_none(target)
    if before is None and initial is None:
        raise MetadataError("file not found", path)
    try:
        temporary = _temporary_beside(target)
    except OSError as exc:
        raise MetadataError(f"cannot write in its folder: {exc.strerror or exc}", path) from exc
    try:
        _fill(temporary, target if before is not None else None, initial)
        if not edit(temporary):
            return False
        if before is not None:
            _copy_ownership(temporary, before.st_mode, before, path)
            _refuse_if_changed(target, before, path)
        elif like is not None:
            model = like.stat()
            _copy_ownership(temporary, (model.st_mode & 0o666) | 0o200, model, path)
        _fsync_file(temporary)
        temporary.replace(target)
        _fsync_directory(target.parent)
        return True
    except ScenedError:
        raise
    except OSError as exc:
        raise MetadataError(f"could not write: {exc.strerror or exc}", path) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


#: In the name of every temporary copy (``.<stem>.<random>.scened-tmp<suffix>``).
TEMPORARY_MARKER = ".scened-tmp"


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` is one of our temporary copies (left behind by a killed process)."""
    return name.startswith(".") and TEMPORARY_MARKER in name


def _temporary_beside(target: Path) -> Path:
    """A new, hidden, empty file in ``target``'s folder, with the same suffix."""
    handle, name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.stem}.", suffix=f"{TEMPORARY_MARKER}{target.suffix}"
    )
    os.close(handle)
    return Path(name)


def _fill(temporary: Path, original: Path | None, initial: bytes | None) -> None:
    if original is not None:
        with original.open("rb") as src, temporary.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    elif initial is not None:
        temporary.write_bytes(initial)


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _copy_ownership(temporary: Path, mode: int, before: os.stat_result, path: Path) -> None:
    temporary.chmod(mode & 0o7777)
    now = temporary.stat()
    if (now.st_uid, now.st_gid) == (before.st_uid, before.st_gid):
        return
    try:
        os.chown(temporary, before.st_uid, before.st_gid)
    except PermissionError as exc:
        raise MetadataError(
            "cannot keep the file's owner (run as its owner or as root); left unchanged", path
        ) from exc


def _refuse_if_changed(target: Path, before: os.stat_result, path: Path) -> None:
    """Never overwrite an edit that someone else made while we were working."""
    now = target.stat()
    if (now.st_mtime_ns, now.st_size, now.st_ino) != (
        before.st_mtime_ns,
        before.st_size,
        before.st_ino,
    ):
        raise MetadataError("changed by something else while being tagged; left as is", path)


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
