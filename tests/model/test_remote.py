"""Classifying on other machines, against real ``scened serve`` processes on 127.0.0.1.

Every server is ``scened serve --port 0`` with the bundled model
(:class:`~tests.model.remote_servers.Serve`).  A server is
"killed" with SIGKILL between two batches (by a hook in the classifier the pipeline
calls, never by timing), and the results are compared with the same model run here.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scened import hookimpl
from scened.config import parse_config
from scened.daemon.faults import is_transient
from scened.daemon.service import classifier_from_config, run_library, settings_for
from scened.errors import ConfigError
from scened.model import Classifier
from scened.model.remote import (
    RemoteClassifier,
    RemoteFeatureClassifier,
    RemoteUnavailableError,
    remote_classifier,
)
from scened.model.runtime import FeatureClassifier
from scened.plugins import get_plugin_manager
from scened.policies import build_policy
from scened.types import Prediction

from .remote_servers import EXAMPLES, SCENED, TOKEN, TOLERANCE, Serve, photos, pixels, subjects


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Serve, Serve]]:
    """Two servers for the tests that leave them running."""
    tmp = tmp_path_factory.mktemp("servers")
    servers = (Serve(tmp), Serve(tmp))
    yield servers
    for server in servers:
        server.kill()


@pytest.fixture
def fresh_pair(tmp_path: Path) -> Iterator[tuple[Serve, Serve]]:
    """Two servers of the test's own, which it may kill."""
    servers = (Serve(tmp_path), Serve(tmp_path))
    yield servers
    for server in servers:
        server.kill()


def test_remote_answers_equal_local_inference_and_use_both_servers(
    pair: tuple[Serve, Serve], local: FeatureClassifier, tmp_path: Path
) -> None:
    batch = pixels(photos(tmp_path), local.input_size)
    remote = remote_classifier(local, [s.url for s in pair], token=TOKEN)
    try:
        probabilities = remote.predict(batch)
        assert isinstance(remote, RemoteFeatureClassifier)
        base, features = remote.predict_features(batch)
    finally:
        remote.close()

    expected_base, expected_features = local.predict_features(batch)
    np.testing.assert_allclose(probabilities, local.predict(batch), atol=TOLERANCE)
    np.testing.assert_allclose(base, expected_base, atol=TOLERANCE)
    np.testing.assert_allclose(features, expected_features, atol=1e-3)  # logits, not p
    policy = build_policy(get_plugin_manager(), "default", {}, classifier=local)
    tags = [policy.choose(Prediction(tuple(map(float, row)), local.classes, "m"))
            for row in probabilities]  # fmt: skip
    expected = [policy.choose(Prediction(tuple(map(float, row)), local.classes, "m"))
                for row in local.predict(batch)]  # fmt: skip
    assert tags == expected
    assert remote.counts == {pair[0].url: 12, pair[1].url: 12, "local": 0}


class Recorder:
    """Records each tagged photo's prediction (the ``photo_tagged`` hook)."""

    def __init__(self) -> None:
        self.seen: dict[str, Prediction] = {}

    @hookimpl
    def photo_tagged(self, path: Path, prediction: Prediction, **_: Any) -> None:
        self.seen[path.name] = prediction


class KillAfterFirstBatch:
    """The remote classifier, with a hook that kills ``victim`` once a batch is done."""

    def __init__(self, inner: RemoteFeatureClassifier, victim: Serve) -> None:
        self.inner, self.victim = inner, victim
        self.model_id, self.base_model_id = inner.model_id, inner.base_model_id
        self.classes, self.input_size = inner.classes, inner.input_size
        self.batches = 0

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.predict_features(batch)[0]

    def predict_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        answer = self.inner.predict_features(batch)
        self.batches += 1
        if self.batches == 1:
            self.victim.kill()
        return answer

    def rescore(self, probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
        return self.inner.rescore(probabilities, features)


def test_a_server_killed_mid_run_loses_no_photo(
    fresh_pair: tuple[Serve, Serve], local: FeatureClassifier, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    paths = photos(library)
    expected = local.predict(pixels(paths, local.input_size))
    config = parse_config({"state_dir": str(tmp_path / "state"),
                           "model": {"batch_size": 4}, "pipeline": {"settle_seconds": 0},
                           "libraries": [{"path": str(library), "name": "lib"}]}, None)  # fmt: skip
    remote = remote_classifier(local, [s.url for s in fresh_pair], token=TOKEN)
    assert isinstance(remote, RemoteFeatureClassifier)
    hooked = KillAfterFirstBatch(remote, victim=fresh_pair[0])
    pm = get_plugin_manager()
    recorder = Recorder()
    pm.register(recorder, name="test-recorder")
    try:
        summary = run_library(config.libraries[0], config=config, classifier=hooked, pm=pm,
                              settings=settings_for(config, dry_run=False))  # fmt: skip
    finally:
        remote.close()

    assert summary.ok and summary.failures == [] and not summary.error
    assert hooked.batches == 3
    assert sorted(recorder.seen) == sorted(p.name for p in paths)
    for path, row in zip(paths, expected, strict=True):
        got = recorder.seen[path.name]
        np.testing.assert_allclose(got.probabilities, row, atol=TOLERANCE)
        assert got.model_id == local.model_id
    first, second = fresh_pair
    assert remote.counts["local"] == 0
    assert remote.counts[first.url] + remote.counts[second.url] == 12
    assert 0 < remote.counts[first.url] <= 4  # only its share of the first batch


def test_with_every_server_dead_the_batch_runs_here_or_fails_in_one_line(
    fresh_pair: tuple[Serve, Serve], local: FeatureClassifier, tmp_path: Path
) -> None:
    batch = pixels(photos(tmp_path)[:4], local.input_size)
    urls = [s.url for s in fresh_pair]
    falls_back = remote_classifier(local, urls, token=TOKEN)
    fails = remote_classifier(local, urls, token=TOKEN, fallback="fail")
    for server in fresh_pair:
        server.kill()
    try:
        probabilities = falls_back.predict(batch)
        with pytest.raises(RemoteUnavailableError) as failed:
            fails.predict(batch)
    finally:
        falls_back.close()
        fails.close()

    np.testing.assert_allclose(probabilities, local.predict(batch), atol=TOLERANCE)
    assert falls_back.counts["local"] == 4
    message = str(failed.value)
    assert "\n" not in message and urls[0] in message and urls[1] in message
    assert 'remote_fallback is "fail"' in message
    assert is_transient(failed.value)  # the daemon tries those photos again next scan


def test_a_wrong_token_is_one_line_naming_the_server(
    pair: tuple[Serve, Serve], local: FeatureClassifier
) -> None:
    remote = remote_classifier(local, [pair[0].url], token="not-the-token")
    with pytest.raises(ConfigError) as refused:
        remote.check()
    remote.close()

    message = str(refused.value)
    assert "\n" not in message
    assert pair[0].url in message and "refused the token (401 unauthorized" in message
    assert refused.value.key == "model.remote_token"


class OtherModel:
    """The bundled model's interface under another id: a library tagged by another model."""

    def __init__(self, local: Classifier) -> None:
        self.model_id = "scenes-mnv2-0123456789ab"
        self.classes, self.input_size = local.classes, local.input_size

    def predict(self, batch: np.ndarray) -> np.ndarray:
        raise AssertionError("never classified: the model ids differ")


def test_another_model_on_the_server_is_one_line_naming_both(
    pair: tuple[Serve, Serve], local: FeatureClassifier
) -> None:
    remote = RemoteClassifier(OtherModel(local), [pair[1].url], token=TOKEN)
    with pytest.raises(ConfigError) as mismatch:
        remote.predict(np.zeros((1, local.input_size, local.input_size, 3), np.uint8))
    remote.close()

    message = str(mismatch.value)
    assert "\n" not in message and pair[1].url in message
    assert local.model_id in message and "scenes-mnv2-0123456789ab" in message


def test_the_config_builds_a_remote_classifier_with_the_token_from_the_environment(
    pair: tuple[Serve, Serve], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SCENED_REMOTE_TOKEN", TOKEN)
    config = parse_config({"state_dir": str(tmp_path),
                           "model": {"remote": [pair[0].url], "remote_fallback": "fail"}},
                          None)  # fmt: skip

    classifier = classifier_from_config(config)
    assert isinstance(classifier, RemoteClassifier)
    classifier.check()
    classifier.close()

    assert classifier.fallback == "fail" and classifier.servers[0].checked


def scened_run(home: Path, folder: Path, *options: str, token: str = TOKEN) -> Any:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "SCENED_REMOTE_TOKEN": token}
    return subprocess.run([SCENED, "run", "--once", *options, str(folder)], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_run_once_with_remote_writes_what_a_local_run_writes(
    pair: tuple[Serve, Serve], tmp_path: Path
) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    shutil.copytree(EXAMPLES, here)
    shutil.copytree(EXAMPLES, there)

    local_run = scened_run(tmp_path / "home-here", here)
    remote_run = scened_run(tmp_path / "home-there", there, "--remote", pair[0].url,
                            "--remote", pair[1].url)  # fmt: skip
    refused = scened_run(tmp_path / "home-refused", tmp_path / "there", "--remote",
                         pair[0].url, token="wrong")  # fmt: skip

    assert remote_run.returncode == 0, remote_run.stderr
    assert local_run.returncode == 0, local_run.stderr
    assert f"{there}: 4 found, 0 unchanged, 4 tagged" in remote_run.stdout
    assert subjects(there) == subjects(here)
    assert any(subjects(there).values())  # some photo did get keywords
    assert refused.returncode == ConfigError.exit_code
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("Error: ") and pair[0].url in line and "refused the token" in line


def test_the_daemon_keeps_the_remote_override_across_reloads(
    pair: tuple[Serve, Serve], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from scened.daemon.notify import Notifier
    from scened.daemon.scheduler import Daemon

    monkeypatch.setenv("SCENED_REMOTE_TOKEN", TOKEN)
    photos = tmp_path / "photos"
    photos.mkdir()
    state_dir = f'state_dir = "{tmp_path / "state"}"\n'
    library = f'[[libraries]]\nname = "home"\npath = "{photos}"\n'
    config = tmp_path / "config.toml"
    config.write_text(state_dir + library, encoding="utf-8")  # no [model] remote

    daemon = Daemon(config, remote=(pair[0].url,), notifier=Notifier(address=""))
    first = daemon.classifier
    assert isinstance(first, RemoteClassifier) and first.servers[0].checked  # asked at start
    assert daemon.config.model.remote == (pair[0].url,)

    config.write_text(f"{state_dir}[model]\nbatch_size = 4\n{library}", encoding="utf-8")
    daemon.reload_config()  # SIGHUP: the new file, the override still on it

    assert daemon.config.model.batch_size == 4 and daemon.config.model.remote == (pair[0].url,)
    assert isinstance(daemon.classifier, RemoteClassifier) and daemon.classifier is not first
    assert [server.url for server in daemon.classifier.servers] == [pair[0].url]
    for classifier in (first, daemon.classifier):
        classifier.close()
