"""``[model] remote_decode``: the NAS sends the photos' files and a server decodes them.

Against a real ``scened serve`` process on 127.0.0.1 (:class:`Serve`) and real photos
of every format scened reads (the examples' JPEGs, PNG/TIFF/WebP made from them, a
phone's HEIC and a camera's DNG): the server's pixel digests and model outputs must be
those of a decode here, a run must write what a local run writes, and a keyword-only
edit must still be recognised (the digest comes back with the answer).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from scened.config import Config, parse_config
from scened.daemon.jobs import RunSummary
from scened.daemon.service import classifier_from_config, run_library, settings_for
from scened.errors import ConfigError
from scened.imaging import decoder_id, load_for_model, pixel_digest
from scened.model.remote import RemoteClassifier, remote_classifier
from scened.model.remote_files import requests_for
from scened.model.runtime import FeatureClassifier
from scened.model.wire import FILES_PATH, Answer, encode_answer
from scened.plugins import get_plugin_manager

from .remote_servers import EXAMPLES, TOKEN, TOLERANCE, Serve, photos, subjects

CAMERA_FILES = ("IMG_1361.dng", "IMG_3578.heic")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    serve = Serve(tmp_path_factory.mktemp("server"))
    yield serve
    serve.kill()


def every_format(folder: Path, shared_dir: Path) -> list[Path]:
    """The example JPEGs, one each as PNG, TIFF and WebP, the HEIC and the DNG."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for source in sorted(EXAMPLES.glob("*.jpg")):
        made.append(Path(shutil.copy(source, folder / source.name)))
    image = Image.open(EXAMPLES / "chelsea.jpg")
    for suffix in (".png", ".tif", ".webp"):
        image.save(folder / f"chelsea{suffix}")
        made.append(folder / f"chelsea{suffix}")
    for name in CAMERA_FILES:
        made.append(Path(shutil.copy(shared_dir / "data" / "camera-files" / name, folder / name)))
    return made


def test_the_server_decodes_every_format_into_the_pixels_a_decode_here_gives(
    server: Serve, local: FeatureClassifier, tmp_path: Path, shared_dir: Path
) -> None:
    paths = every_format(tmp_path / "photos", shared_dir)
    files = [(path.name, path.read_bytes()) for path in paths]
    remote = remote_classifier(local, [server.url], token=TOKEN, decode=True)
    try:
        answers = remote.classify_files(files, features=True)
    finally:
        remote.close()

    here = np.stack([load_for_model(path, size=local.input_size) for path in paths])
    output, features = local.predict_features(here)
    for index, (path, answer) in enumerate(zip(paths, answers, strict=True)):
        assert answer.error is None, f"{path.name}: {answer.error}"
        assert answer.pixel_digest == pixel_digest(here[index]), path.name
        assert answer.probabilities is not None and answer.features is not None
        np.testing.assert_allclose(answer.probabilities, output[index], atol=TOLERANCE)
        np.testing.assert_allclose(answer.features, features[index], atol=1e-3)
    assert remote.counts == {server.url: len(paths), "local": 0}


def test_a_file_the_server_cannot_decode_fails_alone(
    server: Serve, local: FeatureClassifier
) -> None:
    good = (EXAMPLES / "rocket.jpg").read_bytes()
    files = [("rocket.jpg", good), ("cut.jpg", good[: len(good) // 3]), ("notes.jpg", b"hi")]
    remote = remote_classifier(local, [server.url], token=TOKEN, decode=True)
    try:
        rocket, cut, notes = remote.classify_files(files)
    finally:
        remote.close()

    assert rocket.error is None and rocket.pixel_digest is not None
    assert cut.pixel_digest is None and cut.error is not None and "\n" not in cut.error
    assert notes.error == "not an image file (the content matches no known format)"


def library_config(tmp_path: Path, library: Path, **model: Any) -> Config:
    return parse_config({"state_dir": str(tmp_path / f"state-{library.name}"),
                         "model": {"batch_size": 4, **model},
                         "pipeline": {"settle_seconds": 0},
                         "libraries": [{"path": str(library), "name": library.name}]},
                        None)  # fmt: skip


def run(config: Config, classifier: Any = None) -> RunSummary:
    classifier = classifier or classifier_from_config(config)
    try:
        return run_library(config.libraries[0], config=config, classifier=classifier,
                           pm=get_plugin_manager(),
                           settings=settings_for(config, dry_run=False))  # fmt: skip
    finally:
        if isinstance(classifier, RemoteClassifier):
            classifier.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_run_that_sends_files_writes_what_a_local_run_writes_and_recognises_a_keyword_edit(
    server: Serve, local: FeatureClassifier, tmp_path: Path, shared_dir: Path
) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    for folder in (here, there):
        photos(folder)
        for name in CAMERA_FILES:
            shutil.copy(shared_dir / "data" / "camera-files" / name, folder / name)
    config = library_config(tmp_path, there, remote=[server.url], remote_token=TOKEN,
                            remote_decode=True)  # fmt: skip
    remote = classifier_from_config(config)
    assert isinstance(remote, RemoteClassifier) and remote.decodes_remotely

    local_run = run(library_config(tmp_path, here))
    remote_run = run(config, remote)

    assert local_run.ok and local_run.tagged == 14
    assert remote_run.ok and remote_run.tagged == 14 and remote_run.classified == 14
    assert remote.counts == {server.url: 14, "local": 0}  # every photo decoded there
    assert subjects(there) == subjects(here)
    assert any(subjects(there).values())

    # the user adds a keyword in a photo manager: same pixels, a new file
    edited = there / "rocket.jpg"
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-XMP-dc:Subject+=Holiday",
                    str(edited)], check=True)  # fmt: skip
    after_edit = sha256(edited)
    again = classifier_from_config(config)
    second = run(config, again)

    assert second.ok and second.tagged == 0 and second.unchanged == 14
    assert sha256(edited) == after_edit  # recognised from the server's digest: not rewritten
    assert "Holiday" in subjects(there)["rocket.jpg"]
    assert isinstance(again, RemoteClassifier) and again.counts[server.url] == 1  # only it


def test_when_no_server_answers_the_files_are_decoded_here(
    local: FeatureClassifier, tmp_path: Path
) -> None:
    paths = photos(tmp_path / "photos")[:3]
    files = [(path.name, path.read_bytes()) for path in paths]
    nobody = "http://127.0.0.1:9"  # discard: nothing listens there
    remote = remote_classifier(local, [nobody], token=TOKEN, decode=True)
    try:
        answers = remote.classify_files(files)
    finally:
        remote.close()

    for path, answer in zip(paths, answers, strict=True):
        pixels = load_for_model(path, size=local.input_size)
        assert answer.pixel_digest == pixel_digest(pixels)
        assert answer.probabilities is not None
        np.testing.assert_allclose(answer.probabilities, local.predict(pixels[None])[0],
                                   atol=TOLERANCE)  # fmt: skip
    assert remote.counts == {nobody: 0, "local": 3}


class OtherDecoders(http.server.BaseHTTPRequestHandler):
    """A server that serves the bundled model but decodes with other libraries."""

    model_id = ""

    def do_GET(self) -> None:  # /health
        self._answer("application/json", json.dumps({"model_id": self.model_id}).encode())

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        empty = np.zeros((0, 36), np.float32)
        theirs = decoder_id().split("; ")
        theirs[1] = "Pillow 9.0.0 (libjpeg-turbo 2.0.6)"
        decoder = "; ".join(theirs) if self.path.startswith(FILES_PATH) else ""
        answer = Answer(self.model_id, self.model_id, empty, None, (), (), decoder)
        self._answer("application/x-scened-probabilities", encode_answer(answer))

    def _answer(self, kind: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_server_that_decodes_with_other_libraries_is_one_line_at_the_check(
    local: FeatureClassifier,
) -> None:
    OtherDecoders.model_id = local.model_id
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OtherDecoders)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    pixels_only = remote_classifier(local, [url])
    decoding = remote_classifier(local, [url], decode=True)
    try:
        pixels_only.check()  # sending pixels: the server's decoders do not matter
        with pytest.raises(ConfigError) as refused:
            decoding.check()
    finally:
        pixels_only.close()
        decoding.close()
        httpd.shutdown()

    message = str(refused.value)
    assert "\n" not in message and url in message
    ours = decoder_id().split("; ")[1]  # only the decoder that differs is named
    assert (
        f"decodes with Pillow 9.0.0 (libjpeg-turbo 2.0.6) but this machine with {ours}:" in message
    )
    assert "pillow-heif" not in message
    assert refused.value.key == "model.remote_decode"


def test_files_go_in_requests_of_bounded_count_and_size() -> None:
    files = [(f"{n}.jpg", bytes(size)) for n, size in enumerate([10, 10, 30, 5, 100, 1, 1, 1])]

    assert requests_for(files, max_images=3, max_bytes=40) == [[0, 1], [2, 3], [4], [5, 6, 7]]
    assert requests_for(files, max_images=2, max_bytes=1000) == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert requests_for([], max_images=2) == []
