"""Reading a plugin's option table with errors that name the offending key.

Sinks and policies get their options as a mapping from the configuration file;
every mistake becomes a :class:`~scened.errors.ConfigError` whose ``key`` says
which option is wrong (the caller adds where the table sits, e.g. ``sinks[0]``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from scened.errors import ConfigError
from scened.metadata.fields import KeywordOptions
from scened.metadata.formats import SidecarNaming


class OptionReader:
    """Typed access to one option table; unknown keys are rejected up front."""

    def __init__(self, options: Mapping[str, Any], allowed: Collection[str], owner: str) -> None:
        self.options = options
        self.owner = owner
        for key in options:
            if key not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ConfigError(f"unknown option for {owner} (known: {known})", key=str(key))

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.owner}: {message}", key=key)

    def _get(self, key: str, kind: type | tuple[type, ...], default: Any, what: str) -> Any:
        value = self.options.get(key, default)
        if isinstance(value, bool) and kind is not bool:
            raise self.error(key, f"must be {what}, got {value!r}")
        if not isinstance(value, kind):
            raise self.error(key, f"must be {what}, got {value!r}")
        return value

    def string(self, key: str, default: str, *, allow_empty: bool = False) -> str:
        value: str = self._get(key, str, default, "a string")
        if not value and not allow_empty:
            raise self.error(key, "must not be empty")
        return value

    def optional_string(self, key: str) -> str | None:
        if self.options.get(key) is None:
            return None
        return self.string(key, "")

    def boolean(self, key: str, default: bool) -> bool:
        value: bool = self._get(key, bool, default, "true or false")
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = float(self._get(key, (int, float), default, "a number"))
        if not low <= value <= high:
            raise self.error(key, f"must be between {low:g} and {high:g}, got {value:g}")
        return value

    def integer(self, key: str, default: int, *, low: int, high: int | None = None) -> int:
        value: int = self._get(key, int, default, "a whole number")
        if value < low or (high is not None and value > high):
            limit = f"at least {low}" if high is None else f"between {low} and {high}"
            raise self.error(key, f"must be {limit}, got {value}")
        return value

    def choice(self, key: str, default: str, choices: Collection[str]) -> str:
        value = self.string(key, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(sorted(choices))}, got {value!r}")
        return value

    def string_list(self, key: str) -> list[str]:
        values: list[Any] = list(self._get(key, (list, tuple), [], "a list of strings"))
        if not all(isinstance(item, str) for item in values):
            raise self.error(key, f"must be a list of strings, got {values!r}")
        return list(values)

    def table(self, key: str) -> dict[str, Any]:
        return dict(self._get(key, Mapping, {}, "a table"))


def keyword_options(reader: OptionReader) -> KeywordOptions:
    """The ``root`` (and, where allowed, ``iptc``) options of the keyword sinks."""
    root = reader.string("root", "Scenes")
    if "|" in root or "/" in root:
        raise reader.error("root", f"must not contain '|' or '/', got {root!r}")
    iptc = reader.boolean("iptc", True) if "iptc" in reader.options else True
    return KeywordOptions(root=root, iptc=iptc)


def sidecar_naming(reader: OptionReader, key: str) -> SidecarNaming:
    """``adobe`` (photo.xmp, the default) or ``digikam`` (photo.ext.xmp)."""
    return SidecarNaming(reader.choice(key, "adobe", [n.value for n in SidecarNaming]))
