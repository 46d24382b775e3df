"""The class list: scened's 36 scene classes by default, or a file, or names given by the user.

The list is a copy of ``scened.classes.CLASSES`` (docs/tags.md), in the same order: the
scraper must not import the ``scened`` runtime to read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ScraperError

DEFAULT_CLASSES: tuple[str, ...] = (
    "Animals", "Airplane", "Baby", "Beach", "Bike", "Bird", "Bridge", "Building", "Cake",
    "Car", "Cat", "Child", "Coast", "Dance", "Dog", "Family", "Flower", "Food", "Forest",
    "Fruit", "Holiday", "House", "Lake", "Landmark", "Meme", "Mountain", "Nature", "Night",
    "Painting", "Portrait", "Road", "Sky", "Snow", "Sports", "Sunset", "Text document",
)  # fmt: skip


@dataclass(frozen=True)
class ClassQuery:
    """One class to scrape: its name (also its folder name) and the search query."""

    name: str
    extra_words: str = ""

    @property
    def query(self) -> str:
        """The text typed into the search engine: the class name plus any extra words."""
        return f"{self.name} {self.extra_words}".strip()


def check_class_name(name: str) -> str:
    """Return ``name`` stripped, or fail if it cannot be a folder name of its own."""
    name = name.strip()
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise ScraperError(f"bad class name {name!r}: it must be usable as a folder name")
    return name


def split_assignment(text: str, where: str) -> tuple[str, str]:
    """Split ``Class = extra words`` (the ``=`` part is optional) into its two halves."""
    name, _, extra = text.partition("=")
    if not name.strip():
        raise ScraperError(f"{where}: expected 'Class' or 'Class = extra words', got {text!r}")
    return check_class_name(name), extra.strip()


def read_class_file(path: Path) -> list[ClassQuery]:
    """Read one class per line, optionally ``Class = extra query words``; ``#`` comments."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ScraperError(f"cannot read class file {path}: {exc.strerror}") from exc
    queries = []
    for number, line in enumerate(lines, start=1):
        line = line.split("#", 1)[0].strip()
        if line:
            name, extra = split_assignment(line, f"{path}:{number}")
            queries.append(ClassQuery(name, extra))
    if not queries:
        raise ScraperError(f"class file {path} names no class")
    return queries


def build_class_queries(
    names: list[str],
    class_file: Path | None,
    extra_for_all: str,
    extra_per_class: list[str],
) -> list[ClassQuery]:
    """Combine the command's class options into the final, de-duplicated query list.

    The classes are ``names`` (from the command line) or those of ``class_file`` (not
    both), else scened's 36.  ``extra_per_class`` holds ``Class=words`` items; they
    replace the file's words for that class, and ``extra_for_all`` is appended to every
    query.
    """
    if names and class_file is not None:
        raise ScraperError("give class names or --classes-file, not both")
    if names:
        base = [ClassQuery(check_class_name(name)) for name in names]
    elif class_file is not None:
        base = read_class_file(class_file)
    else:
        base = [ClassQuery(name) for name in DEFAULT_CLASSES]
    overrides = dict(split_assignment(item, "--extra-for") for item in extra_per_class)
    unknown = sorted(set(overrides) - {query.name for query in base})
    if unknown:
        raise ScraperError(f"--extra-for names classes not in the list: {', '.join(unknown)}")
    queries: dict[str, ClassQuery] = {}
    for query in base:
        words = overrides.get(query.name, query.extra_words)
        queries[query.name] = ClassQuery(query.name, f"{words} {extra_for_all}".strip())
    return list(queries.values())
