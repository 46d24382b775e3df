"""Running the API under uvicorn with scened's connection guards.

:func:`uvicorn_options` is how every server of the API is configured: uvicorn's
h11 protocol with the header and body timeouts and the connection limit of
:mod:`scened.api.protocol`.  :func:`serve` runs ``scened.api:app`` in the
foreground (``scened serve``); :class:`BackgroundServer` runs an app beside a
process's own work, in a thread (benchmarks, tests, embedding).
"""

from __future__ import annotations

import logging
import resource
import socket
import threading
import time
from typing import Any

import uvicorn

from scened.api.protocol import ConnectionLimits, GuardedH11Protocol, app_settings, set_limits
from scened.api.settings import ApiSettings

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60
#: Descriptors a worker needs besides its connections (model, logs, pools, sockets).
RESERVED_FDS = 64


def uvicorn_options(settings: ApiSettings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``/``uvicorn.Config`` serving ``settings``.

    The limits themselves are read by the protocol from the app's settings; what
    is set here is what uvicorn does itself: the protocol class, and how many
    connections the listening socket queues and the event loop accepts at a time
    (twice ``max_connections``, so that a burst cannot take every descriptor
    before the protocol closes the excess).  uvicorn's ``timeout_keep_alive``
    (5 s) still closes a kept-alive connection idle between requests.
    """
    warn_if_fds_are_short(settings.max_connections)
    return {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "lifespan": "on",
        "http": GuardedH11Protocol,
        "backlog": min(2048, max(64, 2 * settings.max_connections)),
    }


def serve(settings: ApiSettings, app: str = "scened.api:app") -> None:
    """Serve ``app`` (an import string, built in every worker) in the foreground."""
    uvicorn.run(app, **uvicorn_options(settings))


def warn_if_fds_are_short(max_connections: int) -> None:
    """Log a warning when ``max_connections`` does not fit this process's descriptor limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and max_connections + RESERVED_FDS > soft:
        log.warning(
            "api.max_connections = %d does not fit the limit of %d open files "
            "(LimitNOFILE): lower it below %d or raise the limit",
            max_connections,
            soft,
            soft - RESERVED_FDS,
        )


class BackgroundServer:
    """``app`` served by uvicorn on ``host`` (loopback) and a free port, in a thread.

    The connection guards apply with the app's own settings (``app.state.scened``),
    or ``settings`` for an app that is not scened's.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        log_level: str = "warning",
        settings: ApiSettings | None = None,
    ) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((host, 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        chosen = settings or app_settings(app) or ApiSettings()
        options = uvicorn_options(chosen)
        del options["host"], options["port"], options["workers"]
        config = uvicorn.Config(app, log_level=log_level, **options)
        set_limits(config, ConnectionLimits.from_settings(chosen))
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> BackgroundServer:
        """Start and return once the server accepts connections (lifespan done)."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the uvicorn server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Ask uvicorn to shut down (lifespan end) and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT_S)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
