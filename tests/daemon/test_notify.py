"""sd_notify over a real unix datagram socket, as systemd provides it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scened.daemon.notify import Notifier, start_watchdog, watchdog_interval_s


@pytest.fixture
def systemd_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(10)
    yield sock
    sock.close()


def receive(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode("utf-8")
    return dict(line.split("=", 1) for line in data.splitlines())


def test_ready_status_stopping_reach_the_socket(
    systemd_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", systemd_socket.getsockname())
    notifier = Notifier()

    notifier.ready()
    notifier.status("lib: 12 checked, 3 tagged, 0 failed")
    notifier.stopping()

    assert receive(systemd_socket) == {"READY": "1", "STATUS": "waiting for the next scan"}
    assert receive(systemd_socket) == {"STATUS": "lib: 12 checked, 3 tagged, 0 failed"}
    assert receive(systemd_socket) == {"STOPPING": "1", "STATUS": "stopping"}


def test_abstract_socket_address() -> None:
    name = f"scened-test-{threading.get_ident()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(10)
        Notifier("@" + name).send(STATUS="hello")
        assert receive(sock) == {"STATUS": "hello"}


def test_watchdog_pings_at_half_the_interval(
    systemd_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 0.1
    stop = threading.Event()
    thread = start_watchdog(Notifier(systemd_socket.getsockname()), stop)
    assert thread is not None

    pings = [receive(systemd_socket) for _ in range(3)]
    stop.set()
    thread.join(timeout=10)

    assert pings == [{"WATCHDOG": "1"}] * 3
    assert not thread.is_alive()


def test_without_systemd_nothing_is_sent_and_nothing_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert not Notifier().enabled
    Notifier().ready()
    assert start_watchdog(Notifier(), threading.Event()) is None
    Notifier(str(tmp_path / "nobody-listens")).send(STATUS="lost")  # logged, not raised
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")  # another process's watchdog
    assert watchdog_interval_s() is None
