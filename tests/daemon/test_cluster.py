"""Tagging on a Dask cluster (:mod:`scened.daemon.cluster`) against a local run.

A real scheduler and two worker processes (``LocalCluster(processes=True)``) talk over
TCP on 127.0.0.1.  Each test tags two identical copies of a small library of real
JPEGs, one locally and one on the cluster, and compares what each photo holds and the
state rows.  The model is the colour classifier of daemon_helpers.py, registered
through the plugin hook; the workers get it (and the test's sinks) pickled from the
coordinator's plugin manager, as any plugin registered in-process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

from scened import hookimpl
from scened.classes import CLASSES
from scened.cli import main
from scened.cli import run as cli_run
from scened.config import Config, parse_config
from scened.daemon.cluster import Cluster, connect, open_cluster
from scened.daemon.cluster_worker import DeviceMap
from scened.daemon.jobs import RunSummary
from scened.daemon.scan import FileEntry
from scened.daemon.service import run_library, settings_for
from scened.daemon.state import DB_NAME
from scened.errors import LibraryError, ScenedError
from scened.hookspecs import RegisterClassifier, RegisterSink
from scened.metadata.client import shared_worker
from scened.model.registry import ClassifierSpec
from scened.model.runtime import Classifier, load_classifier
from scened.plugins import ScenedPluginManager, get_plugin_manager
from scened.types import TagResult

from . import daemon_helpers as helpers

pytestmark = pytest.mark.slow

#: Another program rewrites photos named so while scened tags them (the ``meddle`` sink).
CHANGING = "changing"


class Meddler:
    """Changes a ``changing*`` photo just before the xmp sink writes it."""

    def write(self, result: TagResult, *, dry_run: bool = False) -> None:
        if result.path.name.startswith(CHANGING):
            with result.path.open("ab") as handle:
                handle.write(b"\0")

    def untag(self, path: Path, *, dry_run: bool = False) -> None:
        return None

    def close(self) -> None:
        return None


class WriteLog:
    """Appends ``PID NAME`` to a file for each photo the xmp sink before it wrote."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def write(self, result: TagResult, *, dry_run: bool = False) -> None:
        with self.log.open("a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {result.path.name}\n")

    def untag(self, path: Path, *, dry_run: bool = False) -> None:
        return None

    def close(self) -> None:
        return None


class ClusterTestPlugin:
    """The colour model and the two sinks above (registered on every machine)."""

    def __init__(self, log: Path) -> None:
        self.log = log

    @hookimpl
    def register_classifiers(self, register: RegisterClassifier) -> None:
        spec = ClassifierSpec(160, CLASSES, lambda options: helpers.ColourClassifier(),
                              model_id="colour-1")  # fmt: skip
        register("colour", spec)

    @hookimpl
    def register_sinks(self, register: RegisterSink) -> None:
        register("meddle", lambda options: Meddler())
        register("log", lambda options: WriteLog(self.log))


class KillAfterFirstBatch(WorkerPlugin):
    """Kills the first worker to finish a batch, before it hands the batch back (once:
    the marker file, which then holds the killed worker's pid, is created only once)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if (start, finish) != ("executing", "memory") or "tag_batch" not in str(key):
            return
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A scheduler and two single-threaded worker processes; the test modules go to
    them by value (they need not be importable there)."""
    for name in (__name__, helpers.__name__):
        cloudpickle.register_pickle_by_value(sys.modules[name])
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)  # fmt: skip
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()
        for name in (__name__, helpers.__name__):
            cloudpickle.unregister_pickle_by_value(sys.modules[name])


@pytest.fixture
def write_log(tmp_path: Path) -> Path:
    return tmp_path / "writes.log"


@pytest.fixture
def pm(write_log: Path) -> ScenedPluginManager:
    manager = get_plugin_manager()
    manager.register(ClusterTestPlugin(write_log), name="cluster-test")
    return manager


@pytest.fixture
def libraries(tmp_path: Path, real_photos: list[Path]) -> tuple[Path, Path]:
    """Two identical libraries: real JPEGs, solid colours, and one another program
    changes while it is tagged."""
    local = tmp_path / "local"
    (local / "real").mkdir(parents=True)
    for photo in real_photos:  # writable, as a library's photos are (../shared's are not)
        copy = Path(shutil.copy(photo, local / "real" / f"{photo.parent.name}-{photo.name}"))
        copy.chmod(0o644)
    for colour in ("red", "green", "blue"):
        helpers.make_photo(local / f"{colour}.jpg", colour, size=(320, 240))
    helpers.make_photo(local / f"{CHANGING}.jpg", "blue")
    shutil.copytree(local, tmp_path / "cluster")
    return local, tmp_path / "cluster"


def config_for(library: Path, state: Path, **cluster: Any) -> Config:
    table = {"path": str(library), "name": "lib",
             "sinks": [{"type": "meddle"}, {"type": "xmp"}, {"type": "log"}]}  # fmt: skip
    data = {"state_dir": str(state), "model": {"name": "colour"}, "libraries": [table],
            "cluster": {"batch_size": 2, **cluster}}  # fmt: skip
    return parse_config(data, None)


def tag(config: Config, pm: ScenedPluginManager, cluster: Cluster | None = None) -> RunSummary:
    classifier: Classifier = load_classifier(name="colour", pm=pm)
    settings = settings_for(config, dry_run=False)
    runner = run_library if cluster is None else cluster.run_library
    return runner(config.libraries[0], config=config, classifier=classifier, pm=pm,
                  settings=settings)  # fmt: skip


def on_cluster(address: str, config: Config, pm: ScenedPluginManager) -> RunSummary:
    classifier = load_classifier(name="colour", pm=pm)
    with open_cluster(address, config=config, pm=pm, classifier=classifier) as cluster:
        return tag(config, pm, cluster)


def state_rows(config: Config) -> dict[str, tuple[Any, ...]]:
    """Each photo's row by its path in the library, without what differs between two
    copies (inode, mtime, time of the run); each row's signature is checked against
    the file as it is now."""
    root = config.libraries[0].path
    with sqlite3.connect(config.state_dir / DB_NAME) as db:
        rows = db.execute(
            "SELECT path, device, inode, size, mtime_ns, content_hash, model_id, policy, "
            "probabilities, tags, outcome, error, pixel_digest, confidence FROM photos"
        ).fetchall()
    found = {}
    for path, device, inode, size, mtime_ns, *rest in rows:
        photo = Path(os.fsdecode(path))
        st = photo.stat()
        assert (device, inode, size, mtime_ns) == (st.st_dev, st.st_ino, st.st_size,
                                                   st.st_mtime_ns), photo  # fmt: skip
        found[photo.relative_to(root).as_posix()] = (size, *rest)
    return found


def photo_records(root: Path) -> dict[str, Mapping[str, Any]]:
    """What each photo of ``root`` holds: keywords and scened's record."""
    return {p.relative_to(root).as_posix(): shared_worker().read(p)
            for p in sorted(root.rglob("*.jpg"))}  # fmt: skip


def test_the_cluster_tags_and_records_exactly_as_a_local_run(
    scheduler: str, libraries: tuple[Path, Path], pm: ScenedPluginManager, tmp_path: Path
) -> None:
    local_config = config_for(libraries[0], tmp_path / "local-state")
    cluster_config = config_for(libraries[1], tmp_path / "cluster-state")

    local = tag(local_config, pm)
    classifier = load_classifier(name="colour", pm=pm)
    with open_cluster(scheduler, config=cluster_config, pm=pm, classifier=classifier) as cluster:
        remote = tag(cluster_config, pm, cluster)
        sent_first = cluster.photos_sent
        again = tag(cluster_config, pm, cluster)
        sent_again = cluster.photos_sent - sent_first

    assert local.tagged == 11 and local.counts() == remote.counts(), (local.line(), remote.line())
    assert photo_records(libraries[0]) == photo_records(libraries[1])
    assert state_rows(local_config) == state_rows(cluster_config)
    # another program changed it while it was tagged: left for the next scan, as locally
    skipped = [(path.name, reason) for path, reason in remote.skipped]
    assert skipped == [(path.name, reason) for path, reason in local.skipped]
    assert [name for name, _ in skipped] == [f"{CHANGING}.jpg"]
    assert f"{CHANGING}.jpg" not in state_rows(cluster_config)
    # a rescan sends only that photo; the unchanged ones never leave the coordinator
    assert sent_first == 12 and sent_again == 1
    assert again.unchanged == 11 and again.tagged == 0


@pytest.mark.parametrize("photos", ["writable", "read-only"])
def test_a_worker_killed_mid_run_loses_nothing_and_nothing_is_written_twice(
    scheduler: str, libraries: tuple[Path, Path], pm: ScenedPluginManager, tmp_path: Path,
    write_log: Path, photos: str,
) -> None:  # fmt: skip
    """Read-only photos get their keywords in sidecars: the lost worker's sidecars are
    how the batch run again recognises them, and it still records what a local run
    records (the prediction included)."""
    if photos == "read-only":
        for library in libraries:
            for photo in library.rglob("*.jpg"):
                photo.chmod(0o444)
    local_config = config_for(libraries[0], tmp_path / "local-state")
    cluster_config = config_for(libraries[1], tmp_path / "cluster-state")
    local = tag(local_config, pm)
    write_log.unlink()
    marker = tmp_path / "killed"
    with Client(scheduler, set_as_default=False) as client:
        client.register_plugin(KillAfterFirstBatch(marker), name="kill-after-first-batch")
        try:
            remote = on_cluster(scheduler, cluster_config, pm)
        finally:
            client.unregister_worker_plugin("kill-after-first-batch")

    killed = marker.read_text()
    writes = [line.split() for line in write_log.read_text().splitlines()]
    by_killed = [name for pid, name in writes if pid == killed]
    # the lost worker had written its batch (but the photo another program changes);
    # the batch ran again, recognised those photos by their own record, wrote nothing
    assert by_killed and set(by_killed) <= {p.name for p in libraries[1].rglob("*.jpg")}
    assert sorted(name for _, name in writes) == sorted({name for _, name in writes})
    assert remote.failed == 0 and not remote.error
    assert (remote.unchanged, remote.tagged) == (len(by_killed), local.tagged - len(by_killed))
    assert photo_records(libraries[0]) == photo_records(libraries[1])
    assert state_rows(local_config) == state_rows(cluster_config)


def test_run_once_with_dask_tags_and_an_unreachable_scheduler_is_one_line(
    scheduler: str, libraries: tuple[Path, Path], pm: ScenedPluginManager, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, no_user_config: None,
) -> None:  # fmt: skip
    monkeypatch.setattr(cli_run, "get_plugin_manager", lambda: pm)
    config = tmp_path / "config.toml"
    config.write_text(f'state_dir = "{tmp_path / "state"}"\n[model]\nname = "colour"\n'
                      "[cluster]\nconnect_timeout = 1\n", encoding="utf-8")  # fmt: skip
    library = libraries[1]
    (library / f"{CHANGING}.jpg").unlink()

    tagged = CliRunner().invoke(
        main, ["run", "--once", "--dask", scheduler, "--config", str(config), str(library)]
    )
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    refused = CliRunner().invoke(
        main, ["run", "--once", "--dask", closed, "--config", str(config), str(library)]
    )

    assert tagged.exit_code == 0, tagged.output
    assert "11 found, 0 unchanged, 11 tagged (11 classified" in tagged.output
    assert refused.exit_code != 0
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and f"cannot reach the Dask scheduler at {closed}" in lines[0]


def test_connect_names_the_scheduler_in_one_line() -> None:
    with pytest.raises(ScenedError) as raised:
        connect("tcp://127.0.0.1:9", timeout=0.5)
    assert "tcp://127.0.0.1:9" in str(raised.value) and "\n" not in str(raised.value)


def test_device_numbers_are_translated_both_ways(tmp_path: Path) -> None:
    st = tmp_path.stat()
    devices = DeviceMap.for_library(tmp_path, (st.st_dev + 7, st.st_ino))
    scanned = FileEntry(tmp_path / "a.jpg", st.st_dev + 7, 42, 1, 2)
    here = devices.to_worker(scanned)
    assert here.device == st.st_dev and devices.to_coordinator(here) == scanned
    with pytest.raises(LibraryError, match="not the coordinator's"):
        DeviceMap.for_library(tmp_path, (st.st_dev, st.st_ino + 1))
