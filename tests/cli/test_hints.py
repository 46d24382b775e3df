"""The photo-manager hint: once, at a terminal, after a run that tagged photos."""

from __future__ import annotations

import io
from pathlib import Path

from scened.cli.hints import HINT, MARKER, photo_manager_hint


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_hint_is_shown_once_at_a_terminal_after_photos_were_tagged(tmp_path: Path) -> None:
    first, second = Terminal(), Terminal()

    assert not photo_manager_hint(tmp_path, first, tagged=0)  # nothing tagged yet
    assert photo_manager_hint(tmp_path, first, tagged=3)
    assert not photo_manager_hint(tmp_path, second, tagged=5)

    assert first.getvalue() == HINT + "\n" and second.getvalue() == ""
    assert (tmp_path / MARKER).exists()
    assert "Metadata > Read Metadata from" in HINT and "README" in HINT


def test_scripts_and_services_never_get_it(tmp_path: Path) -> None:
    piped = io.StringIO()  # not a terminal: a script, a pipe, systemd's journal
    assert not photo_manager_hint(tmp_path, piped, tagged=3)
    assert piped.getvalue() == "" and not (tmp_path / MARKER).exists()
