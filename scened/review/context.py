"""What the review page shares between requests: configuration, state, plugins, classes.

A :class:`ReviewContext` lives on ``app.state.scened_review`` (put there by
:func:`scened.review.install_review`, or made on first use).  The configuration is
read on first use, not when the app is built, from ``SCENED_CONFIG`` (which
``scened serve --config`` sets) or the usual search, so a broken configuration
shows as a one-line error on the page instead of keeping the API from starting.

The API's own state (``app.state.scened``: its bearer ``token``, plugin manager
``pm`` and loaded ``classifier``) is read through :func:`api_state_attr`, by
attribute, so that this package does not depend on :mod:`scened.api`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pluggy
from starlette.requests import Request

from scened.classes import CLASSES
from scened.config import Config, LibraryConfig, load_config
from scened.daemon.state import StateDB
from scened.errors import ScenedError
from scened.plugins import get_plugin_manager

#: The key behind session cookies and CSRF tokens, one per state folder (shared by
#: every worker process of ``scened serve --workers N`` and kept across restarts).
KEY_FILE = "review.key"
THUMBNAILS = "thumbnails"


@dataclass
class ReviewContext:
    """Lazily opened configuration, state database, plugin manager and secret key."""

    config_override: Config | None = None
    classes_override: tuple[str, ...] | None = None
    _config: Config | None = None
    _state: StateDB | None = None
    _pm: pluggy.PluginManager | None = None
    _key: bytes | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: Decisions are written one at a time (two clicks on one photo never race).
    decision_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Thumbnails decoded at once (a page asks for 50 together).
    thumbnail_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
    )

    def config(self) -> Config:
        """The configuration (raises :class:`~scened.errors.ConfigError`)."""
        with self._lock:
            if self._config is None:
                self._config = self.config_override or load_config(None)
            return self._config

    def state(self) -> StateDB:
        """The state database of the configured state folder."""
        config = self.config()
        with self._lock:
            if self._state is None:
                self._state = StateDB.open(config.state_dir)
            return self._state

    def key(self) -> bytes:
        """The secret key of this state folder (created on first use, mode 0600)."""
        config = self.config()
        with self._lock:
            if self._key is None:
                self._key = _read_or_create_key(config.state_dir / KEY_FILE)
            return self._key

    def thumbnails(self) -> Path:
        return self.config().state_dir / THUMBNAILS

    def plugin_manager(self, request: Request) -> pluggy.PluginManager:
        """The API's plugin manager, else one loaded here."""
        pm = api_state_attr(request, "pm")
        if isinstance(pm, pluggy.PluginManager):
            return pm
        with self._lock:
            if self._pm is None:
                self._pm = get_plugin_manager()
            return self._pm

    def classes(self, request: Request) -> tuple[str, ...]:
        """The model's classes, in the order of the stored probabilities.

        Those of the API's loaded classifier, else the 36 scene classes that every
        bundled model has.
        """
        if self.classes_override is not None:
            return self.classes_override
        names = getattr(api_state_attr(request, "classifier"), "classes", None)
        if isinstance(names, Sequence) and names and all(isinstance(n, str) for n in names):
            return tuple(names)
        return CLASSES

    def libraries(self) -> dict[str, LibraryConfig]:
        """Reviewable libraries by name: the configured ones and the ad-hoc folders
        (``scened run --once PATH``, named by their absolute path) in the state."""
        config = self.config()
        found = {library.name: library for library in config.libraries}
        for name in self.state().library_names():
            if name not in found and Path(name).is_absolute():
                found[name] = config.library_for(Path(name))
        return found


def api_state_attr(request: Request, name: str) -> object:
    """An attribute of the API's state (``app.state.scened``), or None."""
    return getattr(getattr(request.app.state, "scened", None), name, None)


def get_context(request: Request) -> ReviewContext:
    """The app's review context (made on first use if the router was included alone)."""
    state = request.app.state
    context = getattr(state, "scened_review", None)
    if not isinstance(context, ReviewContext):
        context = ReviewContext()
        state.scened_review = context
    return context


def _read_or_create_key(path: Path) -> bytes:
    """32 random bytes kept in ``path``; created atomically (link of a complete file)."""
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) < 32:
        raise ScenedError("damaged key file (shorter than 32 bytes): delete it", path)
    return key
