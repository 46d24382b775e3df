"""docs/tags.md lists the classes of scened.classes, and documents every built-in policy."""

from __future__ import annotations

import re
from pathlib import Path

import scened_plugins.policies
from scened.classes import CLASSES
from scened.policies import API_POLICY, WRITE_POLICY
from scened.types import PolicyFactory

TAGS_DOC = Path(__file__).resolve().parent.parent / "docs" / "tags.md"
_NUMBERED = re.compile(r"^(\d+)\. (.+)$")


def section(heading: str) -> list[str]:
    """The lines of docs/tags.md under ``heading`` up to the next heading of its level."""
    lines = TAGS_DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(heading) + 1
    level = heading.split(" ")[0] + " "
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(level)), len(lines))
    return lines[start:end]


def test_the_documented_classes_are_the_models_in_order() -> None:
    numbered = [m.groups() for line in section("## The classes") if (m := _NUMBERED.match(line))]
    assert [int(number) for number, _ in numbered] == list(range(1, len(numbered) + 1))
    assert tuple(name for _, name in numbered) == CLASSES


def test_every_built_in_policy_and_its_default_use_is_documented() -> None:
    registered: dict[str, PolicyFactory] = {}

    def register(name: str, factory: PolicyFactory) -> None:
        registered[name] = factory

    scened_plugins.policies.register_policies(register)
    rows = {
        match.group(1): match.group(2)
        for line in section("## The policies")
        if (match := re.match(r"^\| `([a-z_]+)` \| ([^|]+) \|", line))
    }
    assert set(rows) == set(registered)
    assert "writing keywords" in rows[WRITE_POLICY]
    assert "REST API" in rows[API_POLICY]
