"""The small value types that flow between the model, policies and sinks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Prediction:
    """Softmax output of the model for one image, with the class names it refers to."""

    probabilities: tuple[float, ...]
    classes: tuple[str, ...]
    model_id: str

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable classes, most probable first."""
        order = sorted(range(len(self.probabilities)), key=lambda i: -self.probabilities[i])
        return [(self.classes[i], self.probabilities[i]) for i in order[:k]]


@dataclass(frozen=True)
class TagResult:
    """What a sink is asked to write for one photo."""

    path: Path
    tags: tuple[str, ...]
    prediction: Prediction
    policy: str
    library: str = "default"
    tagged_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: The photo's (device, inode, size, mtime_ns) when its pixels were read: a sink
    #: that rewrites the photo leaves it alone if it has changed since.
    read_signature: tuple[int, int, int, int] | None = None
    #: A digest of the policy's name and options, recorded beside the tags.
    policy_digest: str = ""
    #: A digest of the pixels the model saw (recognises a later metadata-only edit).
    pixels: str = ""
    #: The user's decisions made with this write (the review page): tags confirmed or
    #: chosen (always kept in the photo) and tags refused (never written into it again).
    confirmed: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    #: The photo's bytes as read when its signature was ``read_signature`` (None when
    #: not kept): a sink that rewrites the photo starts from them instead of reading
    #: it again, after checking that the file still has that signature.
    content: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Replaced:
    """What a sink put in a photo's place: the new file's (device, inode, size,
    mtime_ns) and SHA-256, so that the run records it without reading it back."""

    signature: tuple[int, int, int, int]
    digest: str


@dataclass(frozen=True)
class Spliced:
    """New content for a file that keeps its old bytes from ``tail_from`` on:
    ``head`` followed by ``old[tail_from:]``.

    A JPEG whose keyword segments were replaced is this: a few kilobytes of new head
    and the unchanged rest (the picture, most of its bytes), which the writer copies
    in the kernel from the file itself instead of writing it again from memory.
    """

    head: bytes
    tail_from: int

    def joined(self, old: bytes) -> bytes:
        """The whole new content, given the old."""
        return self.head + memoryview(old)[self.tail_from :]


class Policy(Protocol):
    """Chooses the tags for one prediction."""

    def choose(self, prediction: Prediction) -> list[str]: ...


@dataclass(frozen=True)
class PluginContext:
    """What a policy or sink factory may know about the run it is built for.

    Given to a factory that has a parameter named ``context``.  ``labels`` are the
    loaded model's classes (check class names in options against these, not a fixed
    list); ``defaults`` is the model's own table for this policy from ``model.json``
    (thresholds chosen when it was trained; empty for a sink, and for models that
    have none).  ``library`` and ``library_path`` name the library being tagged,
    ``dry_run`` says that nothing may change, and ``state_dir`` is scened's state
    folder (keep a plugin's own files in a subfolder named after the plugin).  Outside
    a library run (the REST API, ``scened config check``) the library is ``""`` and
    the paths ``None``.
    """

    labels: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    model_id: str = ""
    library: str = ""
    library_path: Path | None = None
    dry_run: bool = False
    state_dir: Path | None = None


#: The name policy factories were first given for the same context.
PolicyContext = PluginContext


#: Builds a policy from its options (the table under a library's ``policy``):
#: ``factory(options)``, or ``factory(options, context)`` for a factory with a
#: parameter named ``context``, which is given a :class:`PluginContext` (as pluggy
#: gives hook implementations only the arguments they name).
PolicyFactory = Callable[..., Policy]


class Sink(Protocol):
    """Writes tags somewhere.

    ``write`` and ``untag`` raise :class:`scened.errors.MetadataError` (carrying
    the path) when a photo cannot be handled, and never leave it damaged; with
    ``dry_run`` they change nothing.  ``untag`` removes only what scened wrote.
    ``close`` flushes anything buffered (the webhook sink's pending batch).
    ``write`` returns a :class:`Replaced` when it rewrote the photo itself (None
    otherwise).  A run calls ``write`` from several threads at once when the sink
    says ``thread_safe = True``; otherwise one call at a time.  A sink that keeps
    scened's record in the photo or its sidecar says ``records_in_files = True``: a run
    then notices a photo whose record was removed (``scened untag``) and tags it again.
    ``scened untag`` removes that record and the keywords itself, and calls ``untag``
    of every other sink of the photo's configured library (then ``close``).
    """

    def write(self, result: TagResult, *, dry_run: bool = False) -> Replaced | None: ...

    def untag(self, path: Path, *, dry_run: bool = False) -> None: ...

    def close(self) -> None: ...


#: Builds a sink from its options (the table of one entry of a library's ``sinks``):
#: ``factory(options)``, or ``factory(options, context)`` for a factory with a
#: parameter named ``context``, which is given a :class:`PluginContext`.
SinkFactory = Callable[..., Sink]


def as_float_tuple(values: Sequence[float]) -> tuple[float, ...]:
    """Plain Python floats, so predictions serialise to JSON and compare simply."""
    return tuple(float(v) for v in values)
