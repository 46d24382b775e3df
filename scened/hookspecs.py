"""The hooks a scened plugin can implement.

A plugin is a module (or object) whose functions are decorated with
``@scened.hookimpl`` and whose distribution declares an entry point in the
``scened`` group::

    [project.entry-points.scened]
    my_plugin = "my_package.my_plugin"

scened's own sinks and policies are plugins found exactly the same way (the
``scened_plugins`` package built from the repository's ``plugins/`` folder).
Hooks are always called with keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

from scened.types import PolicyFactory, Prediction, SinkFactory

if TYPE_CHECKING:
    from scened.model.registry import ClassifierSpec

hookspec = pluggy.HookspecMarker("scened")

#: ``register(name, factory)``: offered to :func:`register_sinks`.
RegisterSink = Callable[[str, SinkFactory], None]
#: ``register(name, factory)``: offered to :func:`register_policies`.
RegisterPolicy = Callable[[str, PolicyFactory], None]
#: ``register(name, spec)``: offered to :func:`register_classifiers`.
RegisterClassifier = Callable[[str, "ClassifierSpec"], None]


@hookspec
def register_classifiers(register: RegisterClassifier) -> None:
    """Register scene classifiers (models).

    Call ``register(name, ClassifierSpec(input_size, labels, factory))`` once per
    model.  ``labels`` are the class names in output order and ``input_size`` the
    side of the square RGB input; both are known without loading the model, so a
    configuration can be checked cheaply.  ``factory(ClassifierOptions)`` loads
    it and returns an object with ``model_id``, ``classes``, ``input_size`` and
    ``predict(batch)`` (uint8 ``(n, size, size, 3)`` → ``(n, len(labels))``
    probabilities; see :class:`scened.model.runtime.Classifier`), optionally a
    ``metadata`` dict (``model.json``) whose ``policies`` table gives policies
    their model-specific defaults.  ``[model] name`` chooses one.  Built in:
    the bundled scene models (``scened_plugins.classifiers``).
    """


@hookspec
def register_sinks(register: RegisterSink) -> None:
    """Register output sinks.

    Call ``register(name, factory)`` once per sink.  ``factory(options)`` gets the
    sink's options from the configuration (a mapping, possibly empty) and returns
    an object with ``write(result, dry_run=...)``, ``untag(path, dry_run=...)``
    and ``close()`` (see :class:`scened.types.Sink`).  It should raise
    :class:`scened.errors.ConfigError` with ``key`` set to the option's name for
    invalid options (:func:`scened.sinks.build_sinks` adds which entry it was).
    Registering a name twice is an error.  Built in: ``xmp``, ``sidecar``,
    ``json``, ``webhook`` (the ``scened_plugins.sink_*`` modules).
    """


@hookspec
def register_policies(register: RegisterPolicy) -> None:
    """Register tag-selection policies.

    Call ``register(name, factory)`` once per policy.  ``factory(options)`` returns
    an object whose ``choose(prediction)`` returns the list of tags to write
    (see :class:`scened.types.Policy`).
    """


@hookspec
def photo_tagged(
    path: Path, tags: list[str], prediction: Prediction, library: str, dry_run: bool
) -> None:
    """Called after a photo's tags were chosen and every sink has written them.

    An event for plugins that want to react (notifications, statistics).
    ``path`` is the photo, ``tags`` what the policy chose, ``prediction`` the
    model's output, ``library`` the configured library's name.  With ``dry_run``
    nothing was written.  Always called with keyword arguments; an exception
    raised here is logged and does not fail the photo.
    """
