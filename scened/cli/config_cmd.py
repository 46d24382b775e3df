"""``scened config check`` and ``scened config show``; the shared ``--config`` option.

``check`` reports every problem at once, one line each: what loading finds (the
schema, absolute and non-overlapping paths, crontab lines: :mod:`scened.config`), then
what only the machine can tell: that each library's policy and sinks can be built, and
that each library folder exists and can be read and written by the user running the
check (run it as the service's user: ``sudo -u scened scened config check``).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from scened.config import (
    LibraryConfig,
    MachineChecks,
    Problem,
    find_config_file,
    load_config,
    to_toml,
)
from scened.errors import ConfigError, ScenedError
from scened.plugins import get_plugin_manager
from scened.policies import build_policy
from scened.sinks import build_sinks

F = TypeVar("F", bound=Callable[..., Any])

#: Sinks that write nowhere in the library folder, so a folder scened may only read
#: is no problem for them.  Any other sink (xmp, sidecar, a plugin's) is taken to
#: write beside the photos.
WRITES_ELSEWHERE = frozenset({"json", "webhook"})


def config_option(func: F) -> F:
    """``--config FILE`` (else $SCENED_CONFIG, ~/.config/scened/config.toml, /etc/...)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Configuration file (default: $SCENED_CONFIG, ~/.config/scened/config.toml, "
        "/etc/scened/config.toml).",
    )(func)


@click.group(name="config")
def config_cmd() -> None:
    """Check or show the configuration."""


@config_cmd.command("check")
@config_option
def check_cmd(config_path: Path | None) -> None:
    """Check the configuration file and the folders it names.

    Reports every problem, one line each with the key at fault (libraries by their
    position and name), and exits 78 if there is any.  Folders are checked for the
    user running this: run it as the service's user.
    """
    checks = MachineChecks(library=library_problems, state_dir=state_dir_problem)
    config = load_config(config_path, checks=checks)
    where = str(config.source) if config.source else "no configuration file (defaults)"
    click.echo(f"{where}: OK, {len(config.libraries)} libraries")


def library_problems(library: LibraryConfig) -> list[Problem]:
    """Its policy and each sink can be built with their options; its folder exists, can
    be read, and can be written unless its sinks write elsewhere."""
    pm = get_plugin_manager()
    problems: list[Problem] = []
    try:
        build_policy(pm, library.policy_name, library.policy_options)
    except ScenedError as exc:
        option = _key_of(exc)
        problems.append((f"policy.{option}" if option else "policy", exc.message))
    for position, spec in enumerate(library.sinks, start=1):
        try:
            for sink in build_sinks(pm, [spec]):
                sink.close()
        except ScenedError as exc:  # build_sinks names the one sink it was given "sinks[0]"
            problems.append((f"sinks[{position}]{_key_of(exc).removeprefix('sinks[0]')}",
                             exc.message))  # fmt: skip
    folder = _folder_problem(library)
    if folder:
        problems.append(("path", folder))
    return problems


def _key_of(error: ScenedError) -> str:
    return (error.key or "") if isinstance(error, ConfigError) else ""


def _folder_problem(library: LibraryConfig) -> str:
    folder = library.path
    try:
        is_folder = stat.S_ISDIR(folder.stat().st_mode)
    except FileNotFoundError:
        return f"{folder} does not exist (a share not mounted yet?)"
    except OSError as exc:
        return f"{folder} cannot be reached by {_user()}: {exc.strerror}"
    if not is_folder:
        return f"{folder} is not a folder"
    if not os.access(folder, os.R_OK | os.X_OK):
        return f"{folder} cannot be read by {_user()}: {_grant(folder, 'rX')}"
    writes_here = any(spec["type"] not in WRITES_ELSEWHERE for spec in library.sinks)
    if writes_here and not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"{folder} cannot be written by {_user()}, and its sinks write keywords into "
            f"the photos or beside them: {_grant(folder, 'rwX')}, or use only sinks that "
            f"write elsewhere ({', '.join(sorted(WRITES_ELSEWHERE))})"
        )
    return ""


def state_dir_problem(state_dir: Path) -> str:
    """The state folder can be written, or created in its nearest existing parent."""
    for folder in (state_dir, *state_dir.parents):
        try:
            is_folder = stat.S_ISDIR(folder.stat().st_mode)
        except FileNotFoundError:
            continue
        except OSError as exc:
            return f"{state_dir} cannot be reached by {_user()}: {exc.strerror}"
        if not is_folder:
            return f"{folder} is not a folder"
        if not os.access(folder, os.W_OK | os.X_OK):
            what = "written" if folder == state_dir else f"created in {folder}"
            return f"{state_dir} cannot be {what} by {_user()}"
        break
    return ""


def _user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _grant(folder: Path, mode: str) -> str:
    return f"give access, e.g. sudo setfacl -R -m u:{_user()}:{mode} {folder}"


@config_cmd.command("show")
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of TOML.")
def show_cmd(config_path: Path | None, as_json: bool) -> None:
    """Print the configuration with every default filled in."""
    config = load_config(config_path)
    source = find_config_file(config_path)
    if as_json:
        click.echo(json.dumps(config.merged, indent=2, ensure_ascii=False))
        return
    click.echo(f"# from {source or 'built-in defaults'}")
    click.echo(to_toml(config.merged), nl=False)
