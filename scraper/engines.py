"""Search engine adapters: data, not code.

An adapter is a small TOML file (see the bundled ones in ``engines/``)::

    name = "bing"
    description = "Bing Images (best-effort selectors)"
    base_url = "https://www.bing.com"               # {base_url}; --base-url overrides it
    query_url = "{base_url}/images/search?q={query}"
    thumbnail = "img.mimg"                           # CSS selector of result thumbnails
    url_attributes = ["src", "data-src"]             # first usable one wins; srcset too
    placeholders = ["data:image/gif", "data:image/svg"]  # lazy-loading stand-ins to wait out
    more_button = "a.btn_seemore"                    # optional: clicked at the bottom
    consent_button = "#bnp_btn_accept"               # optional: clicked once if shown
    scroll = true                                    # scroll down for lazy/infinite loading
    wait_s = 3.0                                     # how long to wait for new results
    patience = 3                                     # rounds without progress before giving up

Selectors of public engines change without notice: the bundled ones are best-effort.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from .errors import ScraperError

DEFAULT_PLACEHOLDERS = ("data:image/gif", "data:image/svg", "about:blank")


@dataclass(frozen=True)
class EngineAdapter:
    """How to query one image search engine and where its result thumbnails are."""

    name: str
    query_url: str
    thumbnail: str
    description: str = ""
    base_url: str = ""
    url_attributes: tuple[str, ...] = ("src", "data-src")
    placeholders: tuple[str, ...] = DEFAULT_PLACEHOLDERS
    more_button: str = ""
    consent_button: str = ""
    scroll: bool = True
    wait_s: float = 3.0
    patience: int = 3

    def search_url(self, query: str) -> str:
        """The result page URL for ``query``."""
        return self.query_url.format(base_url=self.base_url.rstrip("/"), query=quote_plus(query))

    def with_base_url(self, base_url: str) -> EngineAdapter:
        """The same adapter pointed at another host (a mirror, a self-hosted instance)."""
        return replace(self, base_url=base_url)


_REQUIRED = {"name": str, "query_url": str, "thumbnail": str}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "description": str,
    "base_url": str,
    "url_attributes": list,
    "placeholders": list,
    "more_button": str,
    "consent_button": str,
    "scroll": bool,
    "wait_s": (int, float),
    "patience": int,
}


def adapter_from_mapping(data: dict[str, Any], source: str) -> EngineAdapter:
    """Validate a parsed TOML table and build the adapter; errors name ``source``."""
    known = {field.name for field in fields(EngineAdapter)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScraperError(f"{source}: unknown key(s) {', '.join(unknown)}")
    for key, kind in {**_REQUIRED, **_OPTIONAL}.items():
        if key in _REQUIRED and key not in data:
            raise ScraperError(f"{source}: missing required key {key!r}")
        if key in data and not isinstance(data[key], kind):
            raise ScraperError(f"{source}: key {key!r} has the wrong type")
    for key in ("url_attributes", "placeholders"):
        if not all(isinstance(item, str) for item in data.get(key, [])):
            raise ScraperError(f"{source}: key {key!r} must be a list of strings")
    if "{query}" not in data["query_url"]:
        raise ScraperError(f"{source}: query_url must contain {{query}}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return EngineAdapter(**values)


def load_engine_file(path: Path) -> EngineAdapter:
    """Read an adapter from a TOML file of the user's."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScraperError(f"cannot read engine file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScraperError(f"engine file {path} is not valid TOML: {exc}") from exc
    return adapter_from_mapping(data, str(path))


def bundled_engines() -> dict[str, EngineAdapter]:
    """The adapters shipped in the package's ``engines/`` folder, by name."""
    adapters = {}
    for entry in resources.files(__package__).joinpath("engines").iterdir():
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            adapter = adapter_from_mapping(data, f"bundled engine {entry.name}")
            adapters[adapter.name] = adapter
    return adapters


def choose_engine(name: str, engine_file: Path | None, base_url: str | None) -> EngineAdapter:
    """The adapter the command asked for: ``--engine-file`` wins over ``--engine``."""
    if engine_file is not None:
        adapter = load_engine_file(engine_file)
    else:
        engines = bundled_engines()
        if name not in engines:
            raise ScraperError(f"unknown engine {name!r}; known: {', '.join(sorted(engines))}")
        adapter = engines[name]
    if base_url:
        adapter = adapter.with_base_url(base_url)
    if "{base_url}" in adapter.query_url and not adapter.base_url:
        raise ScraperError(f"engine {adapter.name!r} needs a base URL: pass --base-url")
    return adapter
