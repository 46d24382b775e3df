"""Finding, validating and merging scened's TOML configuration.

The file is looked for in this order: ``--config``, ``$SCENED_CONFIG``,
``~/.config/scened/config.toml``, ``/etc/scened/config.toml``.  With no file at all
the built-in defaults apply, so ``scened run --once PATH`` works out of the box.
Validation reports every problem at once, each naming the file, the key
(``library 2 (archive): schedule.interval``: libraries by 1-based position and name,
as a person counts the ``[[libraries]]`` tables) and what is wrong, with the nearest
known key for a typo.  What can be checked without touching the disk is checked on
every load; whether each library folder exists and can be written is checked by
``scened config check`` (:mod:`scened.cli.config_cmd`), since a share that is not
mounted at the moment is no configuration error for the daemon.

What a valid configuration becomes (:class:`Config`, one frozen dataclass per table,
and the defaults) is :mod:`scened.config_tables`; its names are importable from here.
"""

from __future__ import annotations

import copy
import difflib
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import platformdirs
import tomli_w

from scened.config_schema import CONFIG_SCHEMA, CRON_ALIASES
from scened.config_tables import (
    DEFAULT_API,
    DEFAULT_CLUSTER,
    DEFAULT_LIBRARY,
    DEFAULT_MODEL,
    DEFAULT_PIPELINE,
    ClusterConfig,
    Config,
    LibraryConfig,
    ModelConfig,
    PipelineConfig,
    build_config,
    cron_line,
    default_library_name,
    library_config,
)
from scened.errors import ConfigError

__all__ = [
    "DEFAULT_API",
    "DEFAULT_CLUSTER",
    "DEFAULT_LIBRARY",
    "DEFAULT_MODEL",
    "DEFAULT_PIPELINE",
    "ENV_CONFIG",
    "SYSTEM_CONFIG",
    "ClusterConfig",
    "Config",
    "InvalidConfigError",
    "LibraryConfig",
    "MachineChecks",
    "ModelConfig",
    "PipelineConfig",
    "Problem",
    "cron_line",
    "cron_problem",
    "default_state_dir",
    "describe_key",
    "dotted_key",
    "find_config_file",
    "load_config",
    "merge_defaults",
    "parse_config",
    "schema_problems",
    "structural_problems",
    "to_toml",
]

ENV_CONFIG = "SCENED_CONFIG"
SYSTEM_CONFIG = Path("/etc/scened/config.toml")


def find_config_file(explicit: Path | None = None) -> Path | None:
    """The first configuration file of the search order that applies, or None."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        return Path(from_env)
    for candidate in (Path(platformdirs.user_config_dir("scened")) / "config.toml", SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: Path | None = None, *, checks: MachineChecks | None = None) -> Config:
    """Find, read, validate and complete the configuration (``checks``: see
    :class:`MachineChecks`)."""
    source = find_config_file(explicit)
    if source is None:
        return parse_config({}, None, checks=checks)
    try:
        with source.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError("configuration file not found", source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", source
        ) from None
    return parse_config(data, source, checks=checks)


#: A problem: (the key as :func:`describe_key` renders it, what is wrong).
Problem = tuple[str, str]


@dataclass(frozen=True)
class MachineChecks:
    """Checks that need the machine (folders, plugins), which ``scened config check``
    runs on every part of the configuration that is otherwise valid, so that all
    problems are reported at once."""

    #: Problems of one library, keyed below it (``path``, ``sinks[2].type``).
    library: Callable[[LibraryConfig], list[Problem]]
    #: The problem of the state folder, or ``""``.
    state_dir: Callable[[Path], str]


def parse_config(
    data: Mapping[str, Any], source: Path | None, *, checks: MachineChecks | None = None
) -> Config:
    """Validate ``data`` (a parsed TOML document) and fill in the defaults.

    Raises :class:`InvalidConfigError` with every problem found, not only the first.
    """
    problems, invalid_libraries = schema_problems(data)
    problems += structural_problems(data, skip=invalid_libraries, checks=checks)
    if problems:
        raise InvalidConfigError(
            [ConfigError(message, source, key=key) for key, message in problems]
        )
    return build_config(merge_defaults(data), source)


class InvalidConfigError(ConfigError):
    """Every problem of one configuration, each a :class:`ConfigError` (one line each).

    Its own ``message`` and ``key`` are the first problem's, so code that expects a
    single :class:`ConfigError` still reads something true.
    """

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        first = errors[0]
        super().__init__(first.message, first.path, key=first.key)
        self.errors = tuple(errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def schema_problems(data: Mapping[str, Any]) -> tuple[list[Problem], set[int]]:
    """Every violation of :data:`CONFIG_SCHEMA`, in file order, a typo with a suggestion;
    and the positions of the libraries that have one (not checked any further)."""
    validator = jsonschema.Draft202012Validator(CONFIG_SCHEMA)
    problems: list[Problem] = []
    invalid_libraries: set[int] = set()
    for error in sorted(validator.iter_errors(data), key=lambda e: _file_order(e.absolute_path)):
        path = list(error.absolute_path)
        if len(path) >= 2 and path[0] == "libraries" and isinstance(path[1], int):
            invalid_libraries.add(path[1])
        if error.validator == "additionalProperties":
            known = list(error.schema.get("properties", {}))
            for unknown in sorted(set(error.instance) - set(known)):
                problems.append(
                    (describe_key([*path, unknown], data), _unknown_key(unknown, known))
                )
            continue
        message = error.message
        if error.validator == "oneOf" and path and path[-1] == "schedule":
            message = "give exactly one of 'interval' (seconds) or 'cron'"
        problems.append((describe_key(path, data), message))
    return problems, invalid_libraries


def _file_order(path: Iterable[str | int]) -> list[tuple[int, str | int]]:
    """A sort key for schema error paths that never compares a position with a key."""
    return [(0, part) if isinstance(part, int) else (1, part) for part in path]


def structural_problems(
    data: Mapping[str, Any], *, skip: set[int], checks: MachineChecks | None = None
) -> list[Problem]:
    """What the schema cannot say: absolute paths, unique names, libraries that do not
    overlap, crontab lines, then ``checks``; for the parts the schema passed (libraries
    in ``skip`` did not, and are left out)."""
    problems: list[Problem] = []
    state_dir = data.get("state_dir", str(default_state_dir()))
    if isinstance(state_dir, str):
        if not Path(state_dir).expanduser().is_absolute():
            problems.append(("state_dir", _NOT_ABSOLUTE))
        elif checks is not None and (problem := checks.state_dir(Path(state_dir).expanduser())):
            problems.append(("state_dir", problem))
    libraries = data.get("libraries")
    seen: dict[str, int] = {}
    placed: list[tuple[int, Path]] = []
    for index, library in enumerate(libraries if isinstance(libraries, list) else []):
        where = describe_key(["libraries", index], data)
        path = library.get("path") if isinstance(library, Mapping) else None
        folder = Path(path).expanduser() if isinstance(path, str) else None
        if folder is not None and not folder.is_absolute():
            problems.append((f"{where}: path", _NOT_ABSOLUTE))
        elif folder is not None:
            folder = folder.resolve()
            for other, other_folder in placed:
                if relation := _overlap(folder, other_folder):
                    other_where = describe_key(["libraries", other], data)
                    message = f"{relation} {other_where}: a photo belongs to one library only"
                    problems.append((f"{where}: path", message))
            placed.append((index, folder))
        if index in skip:
            continue
        table = {**DEFAULT_LIBRARY, "name": default_library_name(library), **library}
        if table["name"] in seen:
            message = f"the name is also library {seen[table['name']] + 1}'s (give each its own)"
            problems.append((f"{where}: name", message))
        seen.setdefault(table["name"], index)
        cron = table["schedule"].get("cron")
        if cron is not None and (problem := cron_problem(cron)):
            problems.append((f"{where}: schedule.cron", problem))
        if checks is not None and folder is not None and folder.is_absolute():
            found = checks.library(library_config(table))
            problems += [(f"{where}: {key}", message) for key, message in found]
    return problems


_NOT_ABSOLUTE = "give an absolute path (or ~/...): a relative one depends on where a command starts"


def _overlap(folder: Path, other: Path) -> str:
    if folder == other:
        return "the same folder as"
    if folder.is_relative_to(other):
        return "inside the folder of"
    return "contains the folder of" if other.is_relative_to(folder) else ""


def _unknown_key(unknown: str, known: Sequence[str]) -> str:
    nearest = difflib.get_close_matches(unknown, known, n=1, cutoff=0.6)
    if nearest:
        return f"unknown key (did you mean '{nearest[0]}'?)"
    return f"unknown key (known here: {', '.join(known)})"


def cron_problem(cron: str) -> str:
    """Why ``cron`` is no crontab line APScheduler can schedule, or ``""``."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(cron_line(cron))
    except ValueError as exc:
        aliases = ", ".join(CRON_ALIASES)
        return f"not a valid crontab line: {exc} (minute hour day month weekday, or {aliases})"
    return ""


def describe_key(parts: Iterable[str | int], data: Mapping[str, Any] | None = None) -> str:
    """A key as a person finds it in the file: ``["libraries", 1, "schedule"]`` →
    ``library 2 (archive): schedule``; other positions 1-based too (``sinks[2]``)."""
    parts = list(parts)
    if len(parts) >= 2 and parts[0] == "libraries" and isinstance(parts[1], int):
        where = f"library {parts[1] + 1}"
        name = _library_name(data, parts[1])
        if name:
            where += f" ({name})"
        rest = dotted_key(parts[2:])
        return f"{where}: {rest}" if rest else where
    return dotted_key(parts)


def dotted_key(parts: Iterable[str | int]) -> str:
    """``["sinks", 1, "type"]`` → ``sinks[2].type`` (positions 1-based)."""
    key = ""
    for part in parts:
        key += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if key else part)
    return key


def _library_name(data: Mapping[str, Any] | None, index: int) -> str:
    """The name library ``index`` has or gets, when the file says enough to tell."""
    libraries = (data or {}).get("libraries")
    if not isinstance(libraries, list) or index >= len(libraries):
        return ""
    table = libraries[index]
    if not isinstance(table, Mapping):
        return ""
    name = table.get("name")
    if isinstance(name, str) and name:
        return name
    return default_library_name(table) if isinstance(table.get("path"), str) else ""


def merge_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with every default filled in (what ``config show`` prints)."""
    merged = copy.deepcopy(dict(data))
    merged.setdefault("state_dir", str(default_state_dir()))
    merged["model"] = {**DEFAULT_MODEL, **merged.get("model", {})}
    merged["pipeline"] = {**DEFAULT_PIPELINE, **merged.get("pipeline", {})}
    merged["api"] = {**DEFAULT_API, **merged.get("api", {})}
    merged["libraries"] = [
        {**copy.deepcopy(DEFAULT_LIBRARY), "name": default_library_name(lib), **lib}
        for lib in merged.get("libraries", [])
    ]
    return merged


def default_state_dir() -> Path:
    """``$STATE_DIRECTORY`` under systemd (``StateDirectory=``), else the XDG state folder."""
    from_systemd = os.environ.get("STATE_DIRECTORY")
    if from_systemd:
        return Path(from_systemd.split(":")[0])
    return Path(platformdirs.user_state_dir("scened"))


def to_toml(merged: Mapping[str, Any]) -> str:
    return tomli_w.dumps(dict(merged))
