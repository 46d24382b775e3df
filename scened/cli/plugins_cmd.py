"""``scened plugins``: what plugins are loaded, and the sinks, policies and models they offer."""

from __future__ import annotations

import json

import click

from scened.model.registry import DEFAULT_CLASSIFIER, registered_classifiers
from scened.plugins import get_plugin_manager, plugin_descriptions
from scened.policies import registered_policies
from scened.sinks import registered_sinks


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_cmd(as_json: bool) -> None:
    """List loaded plugins: name, distribution, version and hooks.

    Plugins that fail to load are reported as warnings on stderr and left out.
    """
    pm = get_plugin_manager()
    described = plugin_descriptions(pm)
    sinks = sorted(registered_sinks(pm))
    policies = sorted(registered_policies(pm))
    models = sorted(registered_classifiers(pm))
    if as_json:
        payload = {"plugins": described, "sinks": sinks, "policies": policies, "models": models}
        click.echo(json.dumps(payload, indent=2))
        return
    rows = [("NAME", "DISTRIBUTION", "VERSION", "HOOKS")]
    rows += [
        (
            str(plugin["name"]),
            str(plugin["distribution"] or "-"),
            str(plugin["version"] or "-"),
            ", ".join(plugin["hooks"]),  # type: ignore[arg-type]
        )
        for plugin in described
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        name, distribution, version, hooks = row
        click.echo(
            f"{name.ljust(widths[0])}  {distribution.ljust(widths[1])}  "
            f"{version.ljust(widths[2])}  {hooks}"
        )
    click.echo(f"\nsinks: {', '.join(sinks) or 'none'}")
    click.echo(f"policies: {', '.join(policies) or 'none'}")
    click.echo(f"models: {', '.join(models) or 'none'} (default {DEFAULT_CLASSIFIER})")
