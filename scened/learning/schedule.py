"""The daemon learns on its own: ``learn = {after_labels = 50}`` in a library's table.

After each scheduled scan, a library with that setting whose labels have grown by
at least ``after_labels`` since the last attempt gets ``scened learn`` run for it,
quietly: one log line with both figures, whether the personal model was adopted or
not.  The label count of the last attempt is kept beside the personal model
(``personal/<library digest>.attempt``), so an attempt that did not beat the bundled
model is not repeated at every scan.
"""

from __future__ import annotations

import logging
from pathlib import Path

from scened.config import LibraryConfig
from scened.daemon.state import StateDB
from scened.errors import ScenedError
from scened.learning.learn import learn_library
from scened.learning.personal import head_path
from scened.learning.store import list_labels
from scened.model.runtime import Classifier, feature_classifier

log = logging.getLogger(__name__)


def _attempt_file(state_dir: Path, library: str) -> Path:
    return head_path(state_dir, library).with_suffix(".attempt")


def learn_if_due(state_dir: Path, library: LibraryConfig, classifier: Classifier) -> str | None:
    """Learn for ``library`` if its setting says it is due; the line to log, if it ran."""
    every = library.learn_after_labels
    base = feature_classifier(classifier)
    if not every or base is None:
        return None
    state = StateDB.open(state_dir)
    try:
        count = len(list_labels(state, [library.name]))
        marker = _attempt_file(state_dir, library.name)
        try:
            last = int(marker.read_text(encoding="ascii"))
        except (OSError, ValueError):
            last = 0
        if count - last < every:
            return None
        try:
            result = learn_library(state, state_dir, library.name, base)
        except ScenedError as exc:
            return f"learning skipped: {exc}"
        finally:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(str(count), encoding="ascii")
    finally:
        state.close()
    c = result.comparison
    outcome = "adopted" if result.adopted else "not adopted"
    return (
        f"library {library.name}: personal model {outcome} ({c.labels} labels; agreement "
        f"bundled {c.bundled:.0%}, personal {c.personal:.0%})"
    )
