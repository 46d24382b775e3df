"""The hooks a scened plugin can implement.

A plugin is a module (or object) whose functions are decorated with
``@scened.hookimpl`` and whose distribution declares an entry point in the
``scened`` group::

    [project.entry-points.scened]
    my_plugin = "my_package.my_plugin"

scened's own sinks and policies are plugins found exactly the same way (the
``scened_plugins`` package built from the repository's ``plugins/`` folder).
Hooks are always called with keyword arguments, so an implementation names only
the arguments it needs.  ``docs/plugins.md`` has a worked example of each hook;
:mod:`scened.plugin_api` is the one module a plugin imports from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

from scened.types import PolicyFactory, Prediction, SinkFactory

if TYPE_CHECKING:
    import click

    from scened.daemon.jobs import RunSummary
    from scened.model.registry import ClassifierSpec
    from scened.policies import Refiner

hookspec = pluggy.HookspecMarker("scened")

#: ``register(name, factory)``: offered to :func:`register_sinks`.
RegisterSink = Callable[[str, SinkFactory], None]
#: ``register(name, factory)``: offered to :func:`register_policies`; the factory
#: builds a :class:`~scened.types.Policy`, or a :class:`~scened.policies.Refiner`
#: (a policy that only follows another).
RegisterPolicy = Callable[[str, PolicyFactory | Callable[..., "Refiner"]], None]
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

    Call ``register(name, factory)`` once per sink.  ``factory(options)`` (or
    ``factory(options, context)``, given a :class:`scened.types.PluginContext`: the
    library, the model's labels, ``dry_run``, the state folder) gets the
    sink's options from the configuration (a mapping, possibly empty) and returns
    an object with ``write(result, dry_run=...)``, ``untag(path, dry_run=...)``
    and ``close()`` (see :class:`scened.types.Sink`; subclass
    :class:`scened.sinks.BaseSink` to get the no-op ``untag`` and ``close`` and the
    one-call-at-a-time default).  It should raise
    :class:`scened.errors.ConfigError` with ``key`` set to the option's name for
    invalid options (:func:`scened.sinks.build_sinks` adds which entry it was).
    Registering a name twice is an error.  Built in: ``xmp``, ``sidecar``,
    ``json``, ``webhook`` (the ``scened_plugins.sink_*`` modules).
    """


@hookspec
def register_policies(register: RegisterPolicy) -> None:
    """Register tag-selection policies.

    Call ``register(name, factory)`` once per policy.  ``factory(options)`` (or
    ``factory(options, context)``, given a :class:`scened.types.PluginContext`)
    returns an object whose ``choose(prediction)`` returns the list of tags to
    write (see :class:`scened.types.Policy`).  A policy that also has
    ``refine(prediction, tags)`` may follow another in a library's list of
    policies and edit the tags chosen so far (:class:`scened.policies.Refiner`);
    one with only ``refine`` may only follow.  The name ``stack`` is reserved.
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


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``scened`` command line.

    ``cli`` is a click group: decorate functions with ``@cli.command()`` (or call
    ``cli.add_command``).  Each plugin gets a group of its own, whose commands are
    then added to ``scened``: a name that a built-in command or an earlier plugin
    already has is logged and left out (a plugin cannot replace ``scened run``),
    and a plugin whose hook raises is logged and contributes nothing, so that one
    broken plugin never breaks the command line.  Commands are collected only when
    a name is not a built-in one (``scened hello``, ``scened --help``).
    """


@hookspec
def library_scanned(summary: RunSummary) -> None:
    """Called once at the end of each library run, with its :class:`RunSummary`.

    ``summary.library`` names the library; its counts (``found``, ``tagged``,
    ``failed``...), ``failures`` (path, reason), ``interrupted``, ``dry_run`` and
    ``error`` (a library-wide problem that ended the run early, else ``""``) say
    how it went.  Called also when the run ended early or was stopped, after every
    sink was closed; not for a run that never started (the library was locked by
    another scan).  An exception raised here is logged, never raised.
    """


@hookspec
def photo_failed(path: Path, error: str, library: str) -> None:
    """Called for each photo that failed in a run, as the failure is counted.

    ``error`` is the one-line reason shown beside the path in ``run --once``'s
    summary (a photo another program was writing is left for the next scan, not
    failed, and not reported here).  Called from the run's finishing thread while
    the photo's group is recorded: do little (queue a notification, count), and
    raise nothing; an exception raised here is logged, never raised.
    """
