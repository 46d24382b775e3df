"""One printer for ``scened run``: the daemon and the runs report, the CLI prints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import scened.daemon
from scened.cli.report import CliReporter
from scened.daemon.notify import Notifier
from scened.daemon.progress import summary_lines
from scened.daemon.scheduler import Daemon

from ..daemon import daemon_helpers as helpers

DAEMON = Path(scened.daemon.__file__).parent


def _output_calls(tree: ast.AST) -> list[str]:
    """``print(...)``, ``click.echo``/``secho``, tqdm and ``sys.stdout``/``stderr`` uses
    (asking whether one is a terminal is no output)."""
    found = []
    asked = {id(node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr == "isatty"}  # fmt: skip
    for node in ast.walk(tree):
        if id(node) in asked:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("print", "echo", "secho", "tqdm"):
                found.append(f"line {node.lineno}: {node.func.id}()")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in {("sys", "stdout"), ("sys", "stderr"),
                                              ("click", "echo"), ("click", "secho")}:  # fmt: skip
                found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names]
            if any(name.split(".")[0] in ("click", "tqdm") for name in names):
                found.append(f"line {node.lineno}: imports {', '.join(names)}")
    return found


def test_nothing_under_scened_daemon_prints() -> None:
    offenders = {
        path.name: calls
        for path in sorted(DAEMON.glob("*.py"))
        if (calls := _output_calls(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert offenders == {}


def _daemon(tmp_path: Path, reporter: CliReporter | None = None) -> tuple[Daemon, Path]:
    """A daemon over ``tmp_path/photos`` (a red photo) that reads photos at once."""
    photos = tmp_path / "photos"
    helpers.make_photo(photos / "red.jpg", "red")
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[pipeline]\nsettle_seconds = 0\n'
        f'[[libraries]]\nname = "home"\npath = "{photos}"\n',
        encoding="utf-8",
    )
    daemon = Daemon(config, classifier_factory=lambda _: helpers.ColourClassifier(),  # type: ignore[arg-type,return-value]
                    notifier=Notifier(address=""), reporter=reporter)  # fmt: skip
    return daemon, photos


def test_the_daemon_prints_its_summary_with_run_onces_printer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon, photos = _daemon(tmp_path, CliReporter())
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")

    summary = daemon.scan("home")

    assert summary is not None and (summary.tagged, summary.failed) == (1, 1)
    out = capsys.readouterr().out
    assert out.splitlines() == summary_lines(summary)
    assert out.startswith("home: 2 found, 0 unchanged, 1 tagged (1 classified")
    assert f"\n  failed: {photos / 'broken.jpg'}: " in out


def test_without_a_reporter_the_daemon_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    daemon, _ = _daemon(tmp_path)

    summary = daemon.scan("home")

    assert summary is not None and summary.tagged == 1
    assert capfd.readouterr() == ("", "")
