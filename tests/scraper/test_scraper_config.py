"""Engine adapters, class lists and URL picking: the scraper's configuration, no browser."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from scened_scraper.classes import DEFAULT_CLASSES, ClassQuery, build_class_queries
from scened_scraper.engines import bundled_engines, choose_engine, load_engine_file
from scened_scraper.errors import ScraperError
from scened_scraper.search import absolute_url, pick_from_srcset

CLASSES = (
    "Animals, Airplane, Baby, Beach, Bike, Bird, Bridge, Building, Cake, Car, Cat, Child, "
    "Coast, Dance, Dog, Family, Flower, Food, Forest, Fruit, Holiday, House, Lake, Landmark, "
    "Meme, Mountain, Nature, Night, Painting, Portrait, Road, Sky, Snow, Sports, Sunset, "
    "Text document"
)
PRINT_RUNTIME_MODULES = """
import sys
import scened_scraper.cli
print(sorted(m for m in sys.modules if m.split(".")[0] in ("scened", "scened_training")))
"""


def test_default_classes_are_the_spec_classes_in_order(shared_dir: Path) -> None:
    spec = (shared_dir / "docs" / "SPEC.md").read_text(encoding="utf-8")
    assert CLASSES in " ".join(spec.split())
    assert ", ".join(DEFAULT_CLASSES) == CLASSES


def test_bundled_engines_load_and_build_query_urls() -> None:
    engines = bundled_engines()
    assert {"bing", "duckduckgo", "google", "local"} <= set(engines)
    assert engines["bing"].search_url("Text document") == (
        "https://www.bing.com/images/search?q=Text+document&form=HDRSC2&first=1"
    )
    assert (
        engines["google"]
        .search_url("Cat & dog")
        .startswith("https://www.google.com/search?q=Cat+%26+dog&")
    )


def test_base_url_replaces_the_adapters_host() -> None:
    local = choose_engine("local", None, "http://127.0.0.1:9999/")
    assert local.search_url("Sky") == "http://127.0.0.1:9999/search?q=Sky"


def write_engine(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_an_engine_file_adds_an_engine_without_code(tmp_path: Path) -> None:
    toml = """
name = "mine"
query_url = "https://images.example/find?text={query}"
thumbnail = "ul.results img"
url_attributes = ["data-src", "srcset", "src"]
more_button = "button.next"
wait_s = 1
"""
    adapter = choose_engine("bing", write_engine(tmp_path / "mine.toml", toml), None)
    assert adapter.name == "mine"
    assert adapter.url_attributes == ("data-src", "srcset", "src")
    assert adapter.more_button == "button.next"
    assert adapter.search_url("Lake") == "https://images.example/find?text=Lake"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('name = "x"\nthumbnail = "img"\n', "missing required key 'query_url'"),
        ('name = "x"\nquery_url = "https://x/?q=1"\nthumbnail = "img"\n', "must contain {query}"),
        ('name = "x"\nquery_url = "{query}"\nthumbnail = "img"\nthumbnails = "i"\n', "thumbnails"),
        ('name = "x"\nquery_url = "{query}"\nthumbnail = "img"\nscroll = "yes"\n', "'scroll'"),
        ('name = "x"\nquery_url = "{query}"\nthumbnail = "i"\nurl_attributes = [1]\n', "strings"),
        ("name = [", "not valid TOML"),
    ],
)
def test_bad_engine_files_are_refused_with_a_clear_message(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(ScraperError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_engine_file(write_engine(tmp_path / "bad.toml", body))


def test_unknown_engine_and_engine_needing_a_base_url(tmp_path: Path) -> None:
    with pytest.raises(ScraperError, match="unknown engine 'altavista'; known: bing"):
        choose_engine("altavista", None, None)
    toml = 'name = "searx"\nquery_url = "{base_url}/search?q={query}"\nthumbnail = "img"\n'
    engine_file = write_engine(tmp_path / "searx.toml", toml)
    with pytest.raises(ScraperError, match="needs a base URL: pass --base-url"):
        choose_engine("bing", engine_file, None)
    searx = choose_engine("bing", engine_file, "https://searx.example")
    assert searx.search_url("Snow") == "https://searx.example/search?q=Snow"


def test_class_queries_from_names_file_and_extra_words(tmp_path: Path) -> None:
    listing = tmp_path / "classes.txt"
    listing.write_text("# mine\nBeach = sand sea\n\nText document\nCat  # pets\n", "utf-8")
    from_file = build_class_queries([], listing, "", [])
    assert [q.query for q in from_file] == ["Beach sand sea", "Text document", "Cat"]
    tuned = build_class_queries([], listing, "photo", ["Cat=kitten"])
    assert [q.query for q in tuned] == [
        "Beach sand sea photo",
        "Text document photo",
        "Cat kitten photo",
    ]
    named = build_class_queries(["Dog", "Dog", "Sky"], None, "", [])
    assert named == [ClassQuery("Dog"), ClassQuery("Sky")]
    assert [q.name for q in build_class_queries([], None, "", [])] == list(DEFAULT_CLASSES)


@pytest.mark.parametrize(
    ("names", "extra_for", "message"),
    [
        (["../etc"], [], "bad class name"),
        ([".hidden"], [], "bad class name"),
        (["Dog"], ["Cat=kitten"], "not in the list: Cat"),
        (["Dog"], ["=x"], "expected 'Class'"),
        (["Dog"], [], "not both"),
    ],
)
def test_bad_class_lists_are_refused(
    tmp_path: Path, names: list[str], extra_for: list[str], message: str
) -> None:
    listing = tmp_path / "classes.txt"
    listing.write_text("Dog\n", "utf-8")
    class_file = listing if message == "not both" else None
    with pytest.raises(ScraperError, match=message):
        build_class_queries(names, class_file, "", extra_for)


def test_srcset_gives_its_largest_candidate() -> None:
    assert pick_from_srcset("a.jpg 200w, b.jpg 640w,c.jpg 320w") == "b.jpg"
    assert pick_from_srcset("a.jpg, b.jpg 2x") == "b.jpg"
    assert pick_from_srcset("only.jpg") == "only.jpg"


def test_attribute_values_become_fetchable_absolute_urls() -> None:
    page = "https://engine.example/images/search?q=x"
    assert absolute_url("src", "/th?id=1", page) == "https://engine.example/th?id=1"
    assert absolute_url("src", "//cdn.example/a.jpg", page) == "https://cdn.example/a.jpg"
    assert (
        absolute_url("srcset", "s.jpg 1x, l.jpg 2x", page) == "https://engine.example/images/l.jpg"
    )
    assert absolute_url("src", "data:image/png;base64,AAAA", page) == "data:image/png;base64,AAAA"
    assert absolute_url("src", "blob:https://engine.example/1", page) is None
    assert absolute_url("src", "javascript:void(0)", page) is None


def imported_top_modules(source: Path) -> set[str]:
    """The top-level names of every module ``source`` imports (absolute imports)."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_scraper_and_the_runtime_do_not_import_each_other() -> None:
    repo = Path(__file__).resolve().parents[2]
    runtime_names = {"scened", "scened_training", "training"}
    for source in (repo / "scraper").rglob("*.py"):
        assert not imported_top_modules(source) & runtime_names, source
    for source in (repo / "scened").rglob("*.py"):
        assert not imported_top_modules(source) & {"scened_scraper", "scraper"}, source
    loaded = subprocess.run(
        [sys.executable, "-c", PRINT_RUNTIME_MODULES], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
