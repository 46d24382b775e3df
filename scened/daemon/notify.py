"""systemd's notification protocol (``sd_notify``): READY, STATUS, WATCHDOG, STOPPING.

A few lines over the unix datagram socket named by ``$NOTIFY_SOCKET`` (a path, or an
abstract socket when it starts with ``@``), so no dependency is needed.  Outside
systemd ``$NOTIFY_SOCKET`` is unset and every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

log = logging.getLogger(__name__)


class Notifier:
    """Sends ``KEY=value`` lines to systemd; silent when not run by systemd."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._address = "\0" + address[1:] if address and address.startswith("@") else address
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def send(self, **fields: str) -> None:
        """Send one datagram ``KEY=value\\n...``; a failure is logged, never raised."""
        if not self._address:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            with self._lock, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode("utf-8"), self._address)
        except OSError as exc:
            log.debug("sd_notify failed: %s", exc)

    def ready(self, status: str = "waiting for the next scan") -> None:
        self.send(READY="1", STATUS=status)

    def status(self, text: str) -> None:
        self.send(STATUS=text)

    def watchdog(self) -> None:
        self.send(WATCHDOG="1")

    def stopping(self) -> None:
        self.send(STOPPING="1", STATUS="stopping")

    def reloading(self) -> None:
        self.send(RELOADING="1", STATUS="reloading the configuration")


def watchdog_interval_s() -> float | None:
    """Half of ``$WATCHDOG_USEC`` (systemd's advice), or None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 2_000_000, 0.1)
    except ValueError:
        return None


def start_watchdog(notifier: Notifier, stop: threading.Event) -> threading.Thread | None:
    """Ping the watchdog from a background thread until ``stop`` is set."""
    interval = watchdog_interval_s()
    if interval is None or not notifier.enabled:
        return None

    def ping() -> None:
        while not stop.wait(interval):
            notifier.watchdog()

    thread = threading.Thread(target=ping, name="scened-watchdog", daemon=True)
    thread.start()
    return thread
