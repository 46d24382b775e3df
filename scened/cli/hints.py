"""A hint shown once, at a terminal, after the first ``scened run`` that tags photos.

Photo managers read a photo's keywords when they import it, and most do not look
again by themselves: a user who tags an existing library and opens digiKam or
Lightroom sees nothing new and concludes scened did nothing.  So the first run
that writes keywords says, once, where the setting is (the README's "Seeing the
tags in your photo manager" has the details).  Not shown to scripts or under
systemd (stderr is not a terminal); a marker in the state folder keeps it to once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

MARKER = "hint-photo-managers-shown"

HINT = """\
Tip: photo managers read keywords when they import a photo.  To see them in photos
they already know: Lightroom Classic: select them, Metadata > Read Metadata from
Files; digiKam: Settings > Configure digiKam > Metadata, rescan files when modified
(and read from XMP sidecars, for RAW and HEIC); darktable: preferences > storage,
"look for updated XMP files on startup".  README: "Seeing the tags in your photo
manager".\
"""


def photo_manager_hint(state_dir: Path, stream: TextIO, *, tagged: int) -> bool:
    """Print :data:`HINT` to ``stream`` if photos were tagged, ``stream`` is a terminal
    and it was never shown for this state folder; whether it was shown."""
    marker = state_dir / MARKER
    if not tagged or not stream.isatty() or marker.exists():
        return False
    print(HINT, file=stream)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # shown again next time: harmless
    return True
