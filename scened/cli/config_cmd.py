"""``scened config check`` and ``scened config show``; the shared ``--config`` option."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from scened.config import Config, find_config_file, load_config, to_toml
from scened.errors import ConfigError, ScenedError
from scened.plugins import get_plugin_manager
from scened.policies import build_policy
from scened.sinks import build_sinks

F = TypeVar("F", bound=Callable[..., Any])


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
def config_group() -> None:
    """Check or show the configuration."""


@config_group.command()
@config_option
def check(config_path: Path | None) -> None:
    """Validate the configuration file; exit 78 with the key at fault if it is invalid."""
    config = load_config(config_path)
    check_plugins(config)
    where = str(config.source) if config.source else "no configuration file (defaults)"
    click.echo(f"{where}: OK, {len(config.libraries)} libraries")


def check_plugins(config: Config) -> None:
    """Build each library's policy and sinks, so their options are checked too."""
    pm = get_plugin_manager()
    for index, library in enumerate(config.libraries):
        where = f"libraries[{index}]"
        try:
            build_policy(pm, library.policy_name, library.policy_options)
            for sink in build_sinks(pm, library.sinks):
                sink.close()
        except ConfigError as exc:
            key = f"{where}.{exc.key}" if exc.key else f"{where}.policy"
            raise ConfigError(exc.message, config.source, key=key) from exc
        except ScenedError as exc:
            raise ConfigError(exc.message, config.source, key=f"{where}.policy") from exc


@config_group.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of TOML.")
def show(config_path: Path | None, as_json: bool) -> None:
    """Print the configuration with every default filled in."""
    config = load_config(config_path)
    source = find_config_file(config_path)
    if as_json:
        click.echo(json.dumps(config.merged, indent=2, ensure_ascii=False))
        return
    click.echo(f"# from {source or 'built-in defaults'}")
    click.echo(to_toml(config.merged), nl=False)
