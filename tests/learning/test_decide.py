"""Review decisions: what is written and which labels are kept (the page's backend)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scened.classes import CLASSES
from scened.config import parse_config
from scened.daemon.service import run_library, settings_for
from scened.daemon.state import StateDB
from scened.errors import ScenedError
from scened.learning.decide import Decision, apply_decision, plan_decision
from scened.learning.store import list_labels
from scened.plugins import get_plugin_manager

from ..daemon.daemon_helpers import ColourClassifier, make_photo
from ..torture.test_shared_library import keywords


def test_the_three_decisions_plan_tags_and_labels() -> None:
    rename = {"Coast": "Seaside"}
    confirm, kept, refused = plan_decision(Decision("confirm"), ["Seaside"], CLASSES, rename)
    assert (confirm.tags, confirm.labels, kept, refused) == (
        ("Seaside",), (("Coast", True),), ("Seaside",), ()
    )  # fmt: skip
    choose, kept, refused = plan_decision(
        Decision("choose", "Beach"), ["Seaside", "Sunset"], CLASSES, rename
    )
    assert choose.tags == ("Beach",) and kept == ("Beach",) and refused == ("Seaside", "Sunset")
    assert choose.labels == (("Beach", True), ("Coast", False), ("Sunset", False))
    none, kept, refused = plan_decision(Decision("none"), ["Sunset"], CLASSES, rename)
    assert (none.tags, none.labels, kept, refused) == ((), (("Sunset", False),), (), ("Sunset",))
    with pytest.raises(ScenedError, match="unknown class 'Unicorn'"):
        plan_decision(Decision("choose", "Unicorn"), [], CLASSES, rename)


def test_a_choice_is_written_into_the_photo_recorded_and_not_taken_for_a_change(
    tmp_path: Path,
) -> None:
    library = tmp_path / "library"
    photo = make_photo(library / "red.jpg", "red")
    table = {"path": str(library), "name": "lib", "sinks": [{"type": "xmp"}]}
    config = parse_config({"state_dir": str(tmp_path / "state"), "libraries": [table]}, None)
    pm, classifier = get_plugin_manager(), ColourClassifier()

    def scan() -> None:
        run_library(config.libraries[0], config=config, classifier=classifier, pm=pm,
                    settings=settings_for(config, dry_run=False))  # fmt: skip

    scan()
    assert keywords(photo) == ["Sunset"]
    state = StateDB.open(config.state_dir)
    apply_decision(photo, Decision("choose", "Beach"), library=config.libraries[0],
                   state=state, pm=pm, classes=CLASSES)  # fmt: skip

    assert keywords(photo) == ["Beach"]
    assert [(lb.class_name, lb.positive, lb.origin) for lb in list_labels(state)] == [
        ("Beach", True, "review"), ("Sunset", False, "review"),
    ]  # fmt: skip
    scan()  # the model still says Sunset: the user's choice stands, nothing re-classified
    assert keywords(photo) == ["Beach"] and classifier.images_seen == 1
    stranger = make_photo(library / "new.jpg", "blue")
    with pytest.raises(ScenedError, match="not tagged by scened in this library yet"):
        apply_decision(stranger, Decision("confirm"), library=config.libraries[0],
                       state=state, pm=pm, classes=CLASSES)  # fmt: skip
    state.close()
