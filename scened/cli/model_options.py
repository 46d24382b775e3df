"""The options that choose a model and a policy, shared by every command that loads one.

``--model DIR`` (a model folder, e.g. a ``scened-train`` output), ``--model-name``
(a registered model; ``scened plugins`` lists them) and ``--runtime``.  One
decorator and one loader, so ``classify``, ``eval`` and the rest agree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import pluggy

from scened.model import Classifier, load_classifier
from scened.policies import WRITE_POLICY

F = TypeVar("F", bound=Callable[..., Any])


def model_options(command: F) -> F:
    """Add ``--model``, ``--model-name`` and ``--runtime`` to a click command."""
    decorators = (
        click.option(
            "--model",
            "model_dir",
            type=click.Path(path_type=Path, file_okay=False),
            help="A model folder (default: the bundled model).",
        ),
        click.option("--model-name", help="A registered model (see `scened plugins`)."),
        click.option(
            "--runtime",
            type=click.Choice(["litert", "keras"]),
            default="litert",
            show_default=True,
            help="How the model runs: litert (no TensorFlow needed) or keras (needs the "
            "train extra).",
        ),
    )
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def policy_option(help_text: str) -> Callable[[F], F]:
    """``--policy NAME``: a registered policy, by default the one ``scened run`` writes with."""
    return click.option(
        "--policy", "policy_name", default=WRITE_POLICY, show_default=True, help=help_text
    )


def load_model(
    model_dir: Path | None, model_name: str | None, runtime: str, pm: pluggy.PluginManager
) -> Classifier:
    """The model the options name: the folder, else the registered name, else the default."""
    return load_classifier(model_dir, runtime=runtime, name=model_name, pm=pm)  # type: ignore[arg-type]
