"""Everything a scened plugin imports, from one place.

A plugin author writes ``from scened.plugin_api import BaseSink, OptionReader,
hookimpl`` instead of finding each name in the module it happens to live in; those
modules may move, these names stay.  ``docs/plugins.md`` shows each hook at work.

What is here:

* ``hookimpl``, the marker for hook implementations (the hooks themselves are
  documented in :mod:`scened.hookspecs`), and the ``Register*`` callables that
  the ``register_*`` hooks are given;
* the values that flow through a run: :class:`Prediction` (the model's output),
  :class:`TagResult` (what a sink writes), :class:`Replaced` (what a sink that
  rewrote a photo returns), :class:`RunSummary` (what ``library_scanned`` gets);
* the contracts: :class:`Sink` and :class:`BaseSink`, :class:`Policy`,
  :class:`Refiner` (a policy that may follow another) and
  :class:`PluginContext` (what a policy or sink factory that takes a ``context`` is
  told about the run; ``PolicyContext`` is its older name), the classifier's
  :class:`ClassifierSpec` and
  :class:`ClassifierOptions`;
* the errors a plugin raises: :class:`ConfigError` for a bad option (set ``key``
  to the option's name), :class:`MetadataError` for a photo a sink cannot write,
  :class:`PluginError`, and the rest of :mod:`scened.errors`;
* the option helpers: :class:`OptionReader` (typed options, unknown keys refused,
  errors that name the key) and the keyword sinks' :func:`keyword_options` and
  :func:`sidecar_naming`.
"""

from __future__ import annotations

from scened import __version__, hookimpl
from scened.daemon.jobs import RunSummary
from scened.errors import (
    ConfigError,
    ImageError,
    MetadataError,
    ModelError,
    PhotoBusyError,
    PluginError,
    ScenedError,
)
from scened.hookspecs import RegisterClassifier, RegisterPolicy, RegisterSink
from scened.metadata.fields import KeywordOptions
from scened.metadata.formats import SidecarNaming
from scened.model.registry import ClassifierOptions, ClassifierSpec
from scened.options import OptionReader, keyword_options, sidecar_naming
from scened.policies import Refiner
from scened.sinks import BaseSink
from scened.types import (
    PluginContext,
    Policy,
    PolicyContext,
    PolicyFactory,
    Prediction,
    Replaced,
    Sink,
    SinkFactory,
    TagResult,
)

__all__ = [
    "BaseSink",
    "ClassifierOptions",
    "ClassifierSpec",
    "ConfigError",
    "ImageError",
    "KeywordOptions",
    "MetadataError",
    "ModelError",
    "OptionReader",
    "PhotoBusyError",
    "PluginContext",
    "PluginError",
    "Policy",
    "PolicyContext",
    "PolicyFactory",
    "Prediction",
    "Refiner",
    "RegisterClassifier",
    "RegisterPolicy",
    "RegisterSink",
    "Replaced",
    "RunSummary",
    "ScenedError",
    "SidecarNaming",
    "Sink",
    "SinkFactory",
    "TagResult",
    "__version__",
    "hookimpl",
    "keyword_options",
    "sidecar_naming",
]
