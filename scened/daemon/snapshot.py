"""A library's walk compared with what the state knows, in one ordered pass.

The scanner yields photos in the byte order of their keys (``os.fsencode(path)``) and
the state gives its records in the same order, a page at a time
(:meth:`scened.daemon.state.StateDB.known`): :class:`Comparison` merges the two as
they come.  Each photo found is paired with its record (or none: a new photo), and
the records the walk passed without finding their photo are the photos gone.  A scan
of any size holds one folder's entries and one page of records, where a snapshot of
the whole library in a dict took ~400 bytes a photo (4 GB for 10 million), and no
set of every path seen is kept for pruning.

Should the walk ever come out of order (a file system whose names do not sort as
bytes would not: the scanner sorts them itself), the late photo is looked up on its
own and its record taken back from the photos gone: a photo is never forgotten, or
taken for new, because of the order it was found in.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from scened.config import LibraryConfig
from scened.daemon.decision import Known
from scened.daemon.scan import FileEntry, Scanner
from scened.daemon.state import StateDB

log = logging.getLogger(__name__)

#: Looks up one photo's record by key (used for a photo found out of order).
LookUp = Callable[[bytes], Known | None]


class Comparison:
    """Iterate it for ``(entry, record or None)``; afterwards, :meth:`gone` and the counts.

    ``unreadable`` is the walk's own list of folders it could not read (it grows as
    the walk goes): the photos recorded under them are not gone, only unseen.
    """

    def __init__(
        self,
        entries: Iterable[FileEntry],
        records: Iterable[tuple[bytes, Known]],
        unreadable: list[Path],
        look_up: LookUp,
    ) -> None:
        self._entries = entries
        self._records = records
        self._unreadable = unreadable
        self._look_up = look_up
        self._missing: list[bytes] = []
        self._late: set[bytes] = set()
        #: Photos the state knew (found or not), and photos the walk found.
        self.known = 0
        self.seen = 0

    def __iter__(self) -> Iterator[tuple[FileEntry, Known | None]]:
        records = iter(self._records)
        record = next(records, None)
        missing = self._missing.append
        last = b""
        for entry in self._entries:
            key = entry.key
            self.seen += 1
            if key <= last:  # out of order: its record, if any, may already be passed
                yield entry, self._found_late(key)
                continue
            last = key
            while record is not None and record[0] < key:
                missing(record[0])
                self.known += 1
                record = next(records, None)
            if record is not None and record[0] == key:
                self.known += 1
                yield entry, record[1]
                record = next(records, None)
            else:
                yield entry, None
        while record is not None:
            missing(record[0])
            self.known += 1
            record = next(records, None)

    def _found_late(self, key: bytes) -> Known | None:
        log.warning("%s: found out of order; looked up on its own", os.fsdecode(key))
        self._late.add(key)
        return self._look_up(key)

    def gone(self) -> list[Path]:
        """The photos the state knows that the walk did not find, except under folders
        it could not read (once the iteration is over)."""
        unreadable = tuple(os.fsencode(folder) + b"/" for folder in self._unreadable)
        return [
            Path(os.fsdecode(key))
            for key in self._missing
            if key not in self._late and not key.startswith(unreadable)
        ]


def scanner_for(library: LibraryConfig) -> Scanner:
    """A walk of ``library``, or of the part a run is limited to (``run --once PATH``)."""
    return Scanner(library.path, library.include, library.exclude, start=library.scope)


def compare(scanner: Scanner, state: StateDB, library: LibraryConfig, model_id: str) -> Comparison:
    """``scanner``'s walk against ``state``'s records of ``library`` (of its scope only,
    if limited), each record saying whether ``model_id`` and its policy tagged it."""
    policy = library.policy_key

    def look_up(key: bytes) -> Known | None:
        record = state.get(Path(os.fsdecode(key)))
        return None if record is None else record.known(model_id, policy)

    records = state.known(library.name, model_id, policy, under=library.scope)
    return Comparison(scanner, records, scanner.unreadable_dirs, look_up)
