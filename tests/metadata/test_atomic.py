"""A failure at any point of a write leaves the original byte for byte as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from scened.errors import MetadataError, PhotoBusyError
from scened.metadata import atomic, lease
from scened.metadata.fields import KeywordOptions
from scened.metadata.tagger import KeywordWriter


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failure_before_the_rename_keeps_the_original(
    tmp_path: Path,
    writer: KeywordWriter,
    oracle: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    photo = oracle.make_photo(tmp_path / "keep.jpg")
    original = photo.read_bytes()

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    if step == "fsync":
        monkeypatch.setattr(atomic.os, "fsync", disk_full)
    else:  # the exchange, or the rename where the file system cannot exchange
        monkeypatch.setattr(atomic, "_renameat2", disk_full)
        monkeypatch.setattr(atomic.Path, "replace", disk_full)
    with pytest.raises(MetadataError, match="No space left on device") as caught:
        writer.tag_file(photo, ["Beach"], KeywordOptions(), model_id="m1")
    assert caught.value.path == photo
    assert photo.read_bytes() == original
    assert _only(tmp_path) == ["keep.jpg"]


def test_a_file_too_large_for_the_disk_quota_keeps_the_original(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy itself fails half-way (as with a full disk): nothing is replaced."""
    photo = oracle.make_photo(tmp_path / "big.png")
    original = photo.read_bytes()
    real_copy = atomic._copy_from

    def half_copy(source: int, temporary: Path) -> None:
        real_copy(source, temporary)
        with temporary.open("r+b") as handle:
            handle.truncate(len(original) // 2)
        raise OSError(27, "File too large")

    monkeypatch.setattr(atomic, "_copy_from", half_copy)
    with pytest.raises(MetadataError, match="File too large"):
        writer.tag_file(photo, ["Beach"], KeywordOptions(), model_id="m1")
    assert photo.read_bytes() == original
    assert _only(tmp_path) == ["big.png"]


class _NoLease(lease.ReadLease):
    """What a file system without leases (NFS, SMB clients) or a process without the
    right to take one gets: the compare-and-swap checks alone."""

    def __init__(self, fd: int, path: Path) -> None:
        self._fd, self._path, self.held = fd, path, False


@pytest.fixture
def without_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic, "ReadLease", _NoLease)


def _start_writing(photo: Path) -> None:
    """Another program opens the photo for writing (non-blocking: the kernel answers
    EWOULDBLOCK at once while a read lease is held, and starts breaking it)."""
    with pytest.raises(BlockingIOError):
        os.close(os.open(photo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.usefixtures("without_lease")
def test_a_photo_changed_meanwhile_is_not_overwritten(tmp_path: Path, oracle: ModuleType) -> None:
    photo = oracle.make_photo(tmp_path / "busy.jpg")

    def someone_else_saves(temporary: Path) -> bool:
        photo.write_bytes(photo.read_bytes() + b"edited elsewhere")
        return True

    with pytest.raises(MetadataError, match="changed by something else"):
        atomic.replace_atomically(photo, someone_else_saves)
    assert photo.read_bytes().endswith(b"edited elsewhere")
    assert _only(tmp_path) == ["busy.jpg"]


def test_nothing_to_change_leaves_the_file_untouched(tmp_path: Path) -> None:
    photo = tmp_path / "same.jpg"
    photo.write_bytes(b"bytes")
    stat_before = photo.stat()
    assert not atomic.replace_atomically(photo, lambda temporary: False)
    assert photo.stat().st_ino == stat_before.st_ino
    assert _only(tmp_path) == ["same.jpg"]


def test_a_new_file_is_owned_and_readable_like_its_photo(tmp_path: Path) -> None:
    photo = tmp_path / "photo.cr2"
    photo.write_bytes(b"raw")
    photo.chmod(0o444)
    sidecar = tmp_path / "photo.xmp"

    def append(temporary: Path) -> bool:
        with temporary.open("ab") as handle:
            handle.write(b"!")
        return True

    assert atomic.replace_atomically(sidecar, append, initial=b"<x/>", like=photo)
    assert sidecar.read_bytes() == b"<x/>!"
    assert sidecar.stat().st_mode & 0o777 == 0o644
    assert (sidecar.stat().st_uid, sidecar.stat().st_gid) == (os.getuid(), photo.stat().st_gid)


def _in_place_edit(photo: Path) -> None:
    """exiftool editing the photo in place, as some photo managers do."""
    subprocess.run(["exiftool", "-q", "-overwrite_original_in_place", "-XMP-dc:Subject+=Edited",
                    str(photo)], check=True)  # fmt: skip


def _save_by_rename(photo: Path) -> None:
    """Lightroom and digiKam write a new file and rename it over the photo."""
    saved = photo.with_name(".saving.jpg")
    shutil.copyfile(photo, saved)
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject+=Edited",
                    str(saved)], check=True)  # fmt: skip
    saved.replace(photo)


@pytest.mark.parametrize("editor", [_in_place_edit, _save_by_rename], ids=["in-place", "rename"])
@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "no-exchange"])
@pytest.mark.usefixtures("without_lease")
def test_an_edit_in_the_last_instant_is_never_undone(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch,
    editor: Callable[[Path], None], exchange: bool,
) -> None:  # fmt: skip
    """Another program saves between scened's last check and its swap (a hook, not a
    sleep), where no lease warns scened: the compare and swap alone keeps theirs."""
    photo = oracle.make_photo(tmp_path / "shared.jpg")
    if not exchange:  # a file system without renameat2(RENAME_EXCHANGE): the check decides
        monkeypatch.setattr(atomic, "_renameat2", lambda *args: False)
        monkeypatch.setattr(atomic, "BEFORE_SWAP", [])
        # the edit lands before the final check instead
        real_fsync = atomic._fsync_file

        def fsync_then_edit(path: Path) -> None:
            real_fsync(path)
            editor(photo)

        monkeypatch.setattr(atomic, "_fsync_file", fsync_then_edit)
    else:
        monkeypatch.setattr(atomic, "BEFORE_SWAP", [lambda path: editor(photo)])

    with pytest.raises(PhotoBusyError, match="changed by something else") as caught:
        writer.tag_file(photo, ["Beach"], KeywordOptions(), model_id="m1")

    assert caught.value.path == photo
    assert oracle.keyword_fields(photo)["subject"] == ["Edited"]  # theirs, not ours
    assert _only(tmp_path) == ["shared.jpg"]


def test_a_program_saving_by_rename_under_a_lease_keeps_its_version(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename does not open the photo, so it breaks no lease: the exchange's check
    finds their file swapped out and puts it back."""
    photo = oracle.make_photo(tmp_path / "shared.jpg")
    monkeypatch.setattr(atomic, "BEFORE_SWAP", [lambda path: _save_by_rename(photo)])
    with pytest.raises(PhotoBusyError, match="changed by something else"):
        writer.tag_file(photo, ["Beach"], KeywordOptions(), model_id="m1")
    assert oracle.keyword_fields(photo)["subject"] == ["Edited"]
    assert _only(tmp_path) == ["shared.jpg"]


@pytest.mark.parametrize("moment", ["copy", "before-swap"])
def test_a_program_opening_the_photo_for_writing_makes_scened_let_go(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch,
    moment: str,
) -> None:  # fmt: skip
    """The read lease: an open for writing while scened works breaks it; scened abandons
    the photo untouched, and the writer (held by the kernel meanwhile) goes on at once."""
    photo = oracle.make_photo(tmp_path / "upload.jpg")
    original = photo.read_bytes()
    if moment == "copy":
        real_copy = atomic._copy_from

        def copy_then_writer(source: int, temporary: Path) -> None:
            real_copy(source, temporary)
            _start_writing(photo)

        monkeypatch.setattr(atomic, "_copy_from", copy_then_writer)
    else:
        monkeypatch.setattr(atomic, "BEFORE_SWAP", [lambda path: _start_writing(photo)])

    with pytest.raises(PhotoBusyError, match="opened it for writing while it was being tagged"):
        writer.tag_file(photo, ["Beach"], KeywordOptions(), model_id="m1")

    assert photo.read_bytes() == original
    assert _only(tmp_path) == ["upload.jpg"]
    _in_place_edit(photo)  # the lease is gone: the writer is not kept waiting
    assert oracle.keyword_fields(photo)["subject"] == ["Edited"]


def test_a_writer_blocked_by_the_lease_during_the_exchange_gets_its_own_file(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open that comes between scened's last check and the exchange: the kernel holds
    it on the photo scened read; scened swaps that back before releasing the lease, so
    the writer writes into the photo at its name, not into a file scened then deletes."""
    photo = oracle.make_photo(tmp_path / "upload.jpg")
    original = photo.read_bytes()
    wrote: list[int] = []

    def writer_thread() -> None:
        fd = os.open(photo, os.O_WRONLY | os.O_APPEND)  # blocks until the lease is released
        wrote.append(os.write(fd, b"their tail"))
        os.close(fd)

    thread = threading.Thread(target=writer_thread)
    real_check = lease.ReadLease.check

    def let_the_writer_in(self: lease.ReadLease) -> None:
        thread.start()
        deadline = time.monotonic() + 10
        while not self.broken():  # the writer is now waiting in the kernel
            assert time.monotonic() < deadline, "the writer never reached the lease"
            time.sleep(0.001)
        # the race lost: this check ran an instant before the writer's open
        monkeypatch.setattr(lease.ReadLease, "check", real_check)

    monkeypatch.setattr(lease.ReadLease, "check", let_the_writer_in)
    with pytest.raises(PhotoBusyError, match="changed by something else"):
        writer.tag_file(photo, ["Beach"], KeywordOptions(), model_id="m1")
    thread.join(timeout=10)

    assert wrote == [len(b"their tail")]
    assert photo.read_bytes() == original + b"their tail"
    assert _only(tmp_path) == ["upload.jpg"]


def test_the_exchange_is_used_and_a_clean_write_goes_through(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = oracle.make_photo(tmp_path / "calm.jpg")
    calls: list[int] = []
    real = atomic._renameat2

    def spy(source: Path, target: Path, flags: int) -> bool:
        calls.append(flags)
        return real(source, target, flags)

    monkeypatch.setattr(atomic, "_renameat2", spy)
    assert writer.tag_file(photo, ["Beach"], KeywordOptions(), model_id="m1")
    assert calls == [2]  # RENAME_EXCHANGE, once: nothing to swap back
    assert oracle.keyword_fields(photo)["subject"] == ["Beach"]
    assert _only(tmp_path) == ["calm.jpg"]


def test_a_sidecar_created_meanwhile_by_another_program_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "photo.cr2"
    photo.write_bytes(b"raw")
    sidecar = tmp_path / "photo.xmp"
    monkeypatch.setattr(atomic, "BEFORE_SWAP", [lambda path: sidecar.write_bytes(b"theirs")])
    with pytest.raises(MetadataError, match="changed by something else"):
        atomic.replace_atomically(sidecar, lambda temporary: True, initial=b"<x/>", like=photo)
    assert sidecar.read_bytes() == b"theirs"
    assert _only(tmp_path) == ["photo.cr2", "photo.xmp"]


def _acl(path: Path) -> str:
    return subprocess.run(["getfacl", "--omit-header", str(path)], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip


def test_extended_attributes_and_acls_are_kept(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType
) -> None:
    photo = oracle.make_photo(tmp_path / "shared.jpg")
    os.setxattr(photo, "user.xdg.tags", b"holiday,family")  # KDE's tags
    os.setxattr(photo, "user.DOSATTRIB", b"\x00\x00\x04\x00")  # Samba
    subprocess.run(["setfacl", "-m", "u:nobody:rw,g:nogroup:r", str(photo)], check=True)
    acl = _acl(photo)
    assert "user:nobody:rw-" in acl

    assert writer.tag_file(photo, ["Beach"], KeywordOptions(), model_id="m1")

    assert oracle.keyword_fields(photo)["subject"] == ["Beach"]
    assert os.getxattr(photo, "user.xdg.tags") == b"holiday,family"
    assert os.getxattr(photo, "user.DOSATTRIB") == b"\x00\x00\x04\x00"
    assert _acl(photo) == acl


def test_an_attribute_that_cannot_be_kept_leaves_the_photo_unchanged(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = oracle.make_photo(tmp_path / "shared.jpg")
    os.setxattr(photo, "user.xdg.tags", b"mine")
    original = photo.read_bytes()

    def refuse(*args: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "setxattr", refuse)
    with pytest.raises(MetadataError, match=r"cannot keep its extended attribute user\.xdg\.tags"):
        writer.tag_file(photo, ["Beach"], KeywordOptions(), model_id="m1")
    assert photo.read_bytes() == original
    assert os.getxattr(photo, "user.xdg.tags") == b"mine"
    assert _only(tmp_path) == ["shared.jpg"]


@pytest.mark.parametrize("failure", ["vanished", "refused"])
def test_the_other_programs_file_survives_a_failed_swap_back(
    tmp_path: Path, writer: KeywordWriter, oracle: ModuleType, monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:  # fmt: skip
    """The exchange went through, the file was theirs, and putting it back fails."""
    photo = oracle.make_photo(tmp_path / "shared.jpg")
    real = atomic._renameat2
    calls: list[int] = []

    def exchange_then_fail(source: Path, target: Path, flags: int) -> bool:
        calls.append(flags)
        if len(calls) == 1:
            return real(source, target, flags)
        if failure == "vanished":  # the photo was deleted in the meantime
            target.unlink()
            raise FileNotFoundError(2, "No such file or directory", str(target))
        raise OSError(5, "Input/output error", str(target))

    monkeypatch.setattr(atomic, "_renameat2", exchange_then_fail)
    monkeypatch.setattr(atomic, "BEFORE_SWAP", [lambda path: _save_by_rename(photo)])
    with pytest.raises(MetadataError, match="changed by something else") as caught:
        writer.tag_file(photo, ["Beach"], KeywordOptions(), model_id="m1")

    theirs = photo if failure == "vanished" else tmp_path / "shared.jpg.kept-by-scened"
    assert oracle.keyword_fields(theirs)["subject"] == ["Edited"]  # never deleted
    if failure == "refused":
        assert "kept as shared.jpg.kept-by-scened beside the photo" in caught.value.message
    assert not [p for p in tmp_path.iterdir() if atomic.is_temporary_name(p.name)]
