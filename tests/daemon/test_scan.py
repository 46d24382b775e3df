"""The scanner on real folders: extensions, globs, hidden files, links, FIFOs, sockets."""

from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path

import pytest

from scened.daemon import scan as scan_module
from scened.daemon.scan import SUPPORTED_EXTENSIONS, Scanner, matches
from scened.errors import LibraryError


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def names(scanner: Scanner) -> list[str]:
    return [entry.path.relative_to(scanner.root).as_posix() for entry in scanner]


def test_every_supported_extension_is_found_in_any_case(tmp_path: Path) -> None:
    for ext in SUPPORTED_EXTENSIONS:
        touch(tmp_path / f"lower{ext}")
        touch(tmp_path / f"upper{ext.upper()}")
    touch(tmp_path / "notes.txt")
    touch(tmp_path / "photo.jpg.xmp")  # a sidecar
    touch(tmp_path / "photo.XMP")
    touch(tmp_path / "movie.mp4")

    found = names(Scanner(tmp_path))

    assert len(found) == 2 * len(SUPPORTED_EXTENSIONS)
    assert {"lower.cr3", "upper.NEF", "lower.heic", "upper.JPEG", "lower.avif"} <= set(found)
    assert not any(name.lower().endswith((".xmp", ".txt", ".mp4")) for name in found)


def test_entries_carry_the_stat_signature(tmp_path: Path) -> None:
    photo = touch(tmp_path / "a.jpg", b"12345")
    (entry,) = list(Scanner(tmp_path))
    st = photo.stat()
    assert entry.signature == (st.st_dev, st.st_ino, 5, st.st_mtime_ns)


def test_hidden_files_and_folders_and_nas_thumbnail_folders_are_skipped(tmp_path: Path) -> None:
    touch(tmp_path / "keep.jpg")
    touch(tmp_path / ".hidden.jpg")
    touch(tmp_path / "._keep.jpg")  # macOS resource fork
    touch(tmp_path / ".trash" / "old.jpg")
    touch(tmp_path / "@eaDir" / "keep.jpg" / "SYNOPHOTO_THUMB_XL.jpg")
    touch(tmp_path / "album" / "in.png")

    assert names(Scanner(tmp_path)) == ["album/in.png", "keep.jpg"]


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    for rel in ("a.jpg", "b.PNG", "raw/c.nef", "Trash/d.jpg", "2024/Trash/e.jpg", "2024/f.jpg"):
        touch(tmp_path / rel)

    assert names(Scanner(tmp_path, include=["*.png", "raw/*"])) == ["b.PNG", "raw/c.nef"]
    assert names(Scanner(tmp_path, exclude=["trash"])) == ["2024/f.jpg", "a.jpg", "b.PNG",
                                                           "raw/c.nef"]  # fmt: skip
    assert names(Scanner(tmp_path, exclude=["*.jpg"], include=["*"])) == ["b.PNG", "raw/c.nef"]
    assert matches(["2024/*"], "2024/x/y.jpg") and not matches(["2024/*"], "2023/y.jpg")


def test_symlink_loops_end_and_each_file_is_yielded_once(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "photo.jpg")
    (tmp_path / "a" / "loop").symlink_to(tmp_path)  # a -> root -> a -> ...
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "alias.jpg").symlink_to(tmp_path / "a" / "photo.jpg")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "missing.jpg")
    os.link(tmp_path / "a" / "photo.jpg", tmp_path / "hardlink.jpg")

    found = names(Scanner(tmp_path))

    assert len(found) == 1


def test_a_linked_photo_is_yielded_once_as_itself_and_one_outside_once(tmp_path: Path) -> None:
    """Only hard links and symlinks are remembered (memory does not grow with the
    library): a link to a photo the walk reaches as itself is left out, before or
    after the photo in the walk's order; links to a photo outside count once."""
    library, outside = tmp_path / "library", touch(tmp_path / "outside" / "o.jpg")
    touch(library / "m" / "photo.jpg")
    (library / "a_alias.jpg").symlink_to(library / "m" / "photo.jpg")
    (library / "z_alias.jpg").symlink_to(library / "m" / "photo.jpg")
    (library / "b_out.jpg").symlink_to(outside)
    (library / "c_out.jpg").symlink_to(outside)
    touch(library / ".hidden" / "h.jpg")
    (library / "d_hidden.jpg").symlink_to(library / ".hidden" / "h.jpg")

    assert names(Scanner(library)) == ["b_out.jpg", "d_hidden.jpg", "m/photo.jpg"]
    # a walk of one folder (run --once FOLDER) yields a link to a photo outside it
    (library / "m" / "link.jpg").symlink_to(library / "z_alias.jpg")  # to m/photo.jpg
    (library / "m" / "q.jpg").symlink_to(touch(library / "q" / "r.jpg"))
    assert names(Scanner(library, start=library / "m")) == ["m/photo.jpg", "m/q.jpg"]
    assert names(Scanner(library)) == ["b_out.jpg", "d_hidden.jpg", "m/photo.jpg", "q/r.jpg"]


def test_fifos_and_sockets_are_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "sock.png"))
    touch(tmp_path / "real.jpg")
    try:
        assert names(Scanner(tmp_path)) == ["real.jpg"]
    finally:
        server.close()


def test_unreadable_folder_is_reported_and_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "ok" / "a.jpg")
    locked = tmp_path / "locked"
    touch(locked / "b.jpg")
    real_scandir = os.scandir

    def scandir(path: os.PathLike[str] | str) -> object:
        # root can read anything, so a permission error is simulated for one folder
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(scan_module.os, "scandir", scandir)
    scanner = Scanner(tmp_path)

    assert names(scanner) == ["ok/a.jpg"]
    assert scanner.unreadable_dirs == [locked]
    assert scanner.problems == [(locked, "cannot list folder: Permission denied")]


def test_file_vanishing_during_the_scan_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleted between the folder's listing and its ``stat``: not yielded, no problem."""
    for index in range(5):
        touch(tmp_path / f"{index}.jpg")
    listed = Scanner._list

    def list_then_delete(self: Scanner, folder: Path) -> list[os.DirEntry[str]]:
        entries = listed(self, folder)
        (tmp_path / "3.jpg").unlink()
        return entries

    monkeypatch.setattr(Scanner, "_list", list_then_delete)
    scanner = Scanner(tmp_path)

    assert names(scanner) == ["0.jpg", "1.jpg", "2.jpg", "4.jpg"]
    assert scanner.problems == []


def test_photos_come_in_the_byte_order_of_their_keys(tmp_path: Path) -> None:
    """The order the state's records come in (scened.daemon.snapshot merges the two): a
    folder sorts as its name and a slash, names as their encoded bytes (an undecodable
    byte after any character, where str order would put it before U+E000 and above)."""
    for rel in ("b.jpg", "b/x.jpg", "b-c/y.jpg", "b0.jpg", "B.jpg", "a/b/c/d.jpg",
                "\N{PILE OF POO}.jpg", "z.jpg"):  # fmt: skip
        touch(tmp_path / rel)
    touch(Path(os.fsdecode(os.fsencode(tmp_path) + b"/\xf5.jpg")))
    keys = [entry.key for entry in Scanner(tmp_path)]
    assert keys == sorted(keys) and len(keys) == 9
    assert keys[-1] == os.fsencode(tmp_path) + b"/\xf5.jpg"


def test_missing_or_non_folder_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="library folder not readable"):
        list(Scanner(tmp_path / "absent"))
    touch(tmp_path / "file.jpg")
    with pytest.raises(LibraryError, match="not a folder"):
        list(Scanner(tmp_path / "file.jpg"))


def test_non_ascii_and_undecodable_names(tmp_path: Path) -> None:
    touch(tmp_path / "Été à Zürich 東京.jpg")
    raw_name = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes, not valid UTF-8
    touch(tmp_path / raw_name)

    found = names(Scanner(tmp_path))

    assert sorted(found) == sorted(["Été à Zürich 東京.jpg", raw_name])


def test_entries_named_like_photos_that_cannot_be_one_are_reported(tmp_path: Path) -> None:
    (tmp_path / "album.jpg").mkdir()
    inside = tmp_path / "album.jpg" / "inside.jpg"
    inside.write_bytes(b"jpeg")
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    (tmp_path / "a.jpg").symlink_to(tmp_path / "b.jpg")
    (tmp_path / "b.jpg").symlink_to(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").symlink_to(tmp_path / "nowhere.txt")  # not a photo: no news

    scanner = Scanner(tmp_path)
    found = [entry.path for entry in scanner]

    assert found == [inside]
    assert dict(scanner.problems) == {
        tmp_path / "a.jpg": "symlink loop",
        tmp_path / "b.jpg": "symlink loop",
        tmp_path / "album.jpg": "a folder named like a photo (its contents are scanned)",
        tmp_path / "gone.jpg": f"dangling symlink (to {tmp_path / 'missing.jpg'})",
        tmp_path / "pipe.jpg": "not a regular file but a FIFO; never opened",
    }


def test_a_sidecar_photos_signature_covers_its_sidecars(tmp_path: Path) -> None:
    """Removing, adding or editing a RAW or HEIC photo's sidecar changes its signature
    (``scened untag`` removes it); an embedded photo's stays its file's own."""
    raw = touch(tmp_path / "a.cr3", b"raw")
    jpeg = touch(tmp_path / "b.jpg", b"jpeg")

    def signatures() -> dict[str, tuple[int, int, int, int]]:
        return {entry.path.name: entry.signature for entry in Scanner(tmp_path)}

    alone = signatures()
    assert alone["a.cr3"][2] == 3
    adobe = touch(tmp_path / "a.xmp", b"<x:xmpmeta/>")
    touch(tmp_path / "b.jpg.xmp", b"darktable's")
    with_sidecar = signatures()
    assert with_sidecar["a.cr3"][2] == 3 + 12
    assert with_sidecar["a.cr3"][3] == max(raw.stat().st_mtime_ns, adobe.stat().st_mtime_ns)
    assert with_sidecar["b.jpg"] == alone["b.jpg"]
    touch(tmp_path / "a.cr3.xmp", b"darktable's")
    assert signatures()["a.cr3"][2] == 3 + 12 + 11  # both namings count
    adobe.unlink()
    (tmp_path / "a.cr3.xmp").unlink()
    assert signatures()["a.cr3"][2:] == (3, raw.stat().st_mtime_ns)
    assert jpeg.exists()


def test_an_entry_is_a_value_whose_path_is_built_when_asked(tmp_path: Path) -> None:
    """The scanner's entries carry the directory entry's string; ``path`` is the same
    :class:`Path` as one made from it, and equality, hashing, pickling (cluster jobs)
    and another device number (a cluster worker's view) keep the photo's identity."""
    photo = touch(tmp_path / "Ünïcode folder" / "a.JPG", b"12345")
    (entry,) = list(Scanner(tmp_path))
    assert entry._path is None  # nothing built yet
    assert entry.path == photo and entry.key == os.fsencode(photo)
    made = scan_module.FileEntry.from_stat(photo, photo.stat())
    assert made == entry and hash(made) == hash(entry)
    copied = pickle.loads(pickle.dumps(entry))
    assert copied == entry and copied.path == photo and copied.key == entry.key
    moved = entry.on_device(entry.device + 1)
    assert moved != entry and moved.signature[1:] == entry.signature[1:]
    assert moved.path == photo and str(photo) in repr(entry)


@pytest.mark.parametrize(
    "name", ["a.jpg", "A.JPG", ".jpg", "a.", "x/.hidden", "a.b/c", "a.tar.GZ", "noext",
             "/p/q.r/s.DnG", "a..jpg"]
)  # fmt: skip
def test_suffix_is_what_pathlib_finds(name: str) -> None:
    assert scan_module._suffix(name) == Path(name).suffix.lower()
