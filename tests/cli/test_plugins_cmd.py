"""``scened plugins`` lists first-party and installed third-party plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scened.model.registry import registered_classifiers
from scened.plugins import get_plugin_manager

PLUGIN = """
from scened import hookimpl

@hookimpl
def register_policies(register):
    register("pirate", lambda options: None)
"""


def scened(*args: str, site: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "scened", *args], capture_output=True, text=True, env=env
    )


def install_pirate_plugin(site: Path) -> None:
    """``scened-pirate`` 2.0 as installed: a module and its .dist-info with entry points."""
    (site / "scened_pirate.py").write_text(PLUGIN, encoding="utf-8")
    (site / "scened_sunk.py").write_text("import no_such_module_anywhere\n", encoding="utf-8")
    dist = site / "scened_pirate-2.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: scened-pirate\nVersion: 2.0\n")
    (dist / "entry_points.txt").write_text("[scened]\npirate = scened_pirate\nsunk = scened_sunk\n")


def test_table_lists_builtin_plugins_sinks_and_policies() -> None:
    result = scened("plugins")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["NAME", "DISTRIBUTION", "VERSION", "HOOKS"]
    assert ["sink_xmp", "scened", "0.1.0", "register_sinks"] in rows
    assert ["policies", "scened", "0.1.0", "register_policies"] in rows
    assert "sinks: json, sidecar, webhook, xmp" in result.stdout
    assert "policies: default, precision, threshold" in result.stdout
    assert ["classifiers", "scened", "0.1.0", "register_classifiers"] in rows
    assert f"models: {', '.join(sorted(registered_classifiers(get_plugin_manager())))}" in (
        result.stdout
    )


def test_json_includes_a_third_party_plugin_and_warns_about_a_broken_one(tmp_path: Path) -> None:
    install_pirate_plugin(tmp_path)
    result = scened("plugins", "--json", site=tmp_path)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    pirate = [p for p in listing["plugins"] if p["name"] == "pirate"]
    assert pirate == [
        {
            "name": "pirate",
            "distribution": "scened-pirate",
            "version": "2.0",
            "hooks": ["register_policies"],
        }
    ]
    assert "pirate" in listing["policies"]
    assert "sunk" not in {p["name"] for p in listing["plugins"]}
    assert "skipping plugin 'sunk'" in result.stderr
    assert "No module named 'no_such_module_anywhere'" in result.stderr
