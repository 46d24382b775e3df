"""``POST /classify/tensors`` and ``/classify/files``: the binary batch endpoints a
remote daemon sends to.

A live server (uvicorn in a thread) with the image-dependent fake classifier: the
answer must be the classifier's own float32 rows, bit for bit, with the model id;
every malformed or over-limit body gets the API's JSON error with its code.
"""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from scened.api import create_app
from scened.api.settings import ApiSettings
from scened.imaging import decoder_id, load_for_model, pixel_digest
from scened.model.wire import (
    FILES_PATH,
    FILES_TYPE,
    PATH,
    REQUEST_TYPE,
    decode_answer,
    encode_batch,
    encode_files,
)

from .helpers import FakeClassifier, LiveServer, ServerFactory, fake_probabilities

SIDE = FakeClassifier.input_size


class FakeFeatureClassifier(FakeClassifier):
    """The fake with features (the image's channel means) and an identity rescore."""

    base_model_id = FakeClassifier.model_id

    def predict_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.predict(batch), batch.mean(axis=(1, 2)).astype(np.float32)

    def rescore(self, probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
        return probabilities


def images(count: int, side: int = SIDE) -> np.ndarray:
    """``count`` solid images of different colours."""
    rng = np.random.default_rng(count)
    colours = rng.integers(0, 256, size=(count, 1, 1, 3), dtype=np.uint8)
    return np.broadcast_to(colours, (count, side, side, 3)).copy()


def post(
    server: LiveServer, body: bytes, token: str | None = None, query: str = ""
) -> httpx.Response:
    headers = {"Content-Type": REQUEST_TYPE}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{server.url}{PATH}{query}", content=body, headers=headers, timeout=30)


def test_the_answer_is_the_models_rows_with_its_id(server: LiveServer) -> None:
    batch = images(5)

    response = post(server, encode_batch(batch))

    assert response.status_code == 200, response.text
    answer = decode_answer(response.content)
    expected = np.stack([fake_probabilities(image) for image in batch]).astype(np.float32)
    assert answer.model_id == FakeClassifier.model_id
    assert answer.features is None
    np.testing.assert_array_equal(answer.probabilities, expected)


def test_health_answers_the_model_id_without_a_token(start_server: ServerFactory) -> None:
    server = start_server(token="secret")

    health = httpx.get(f"{server.url}/health")

    assert health.status_code == 200
    assert health.json()["model_id"] == FakeClassifier.model_id


def test_the_bearer_token_is_required_as_for_classify(start_server: ServerFactory) -> None:
    server = start_server(token="secret")
    body = encode_batch(images(1))

    refused = post(server, body)
    wrong = post(server, body, token="other")
    accepted = post(server, body, token="secret")

    assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")
    assert wrong.status_code == 401
    assert accepted.status_code == 200


def test_an_empty_batch_answers_the_model_id_cheaply(server: LiveServer) -> None:
    response = post(server, encode_batch(images(0)))

    answer = decode_answer(response.content)
    assert (answer.model_id, answer.probabilities.shape) == (FakeClassifier.model_id, (0, 36))


def test_features_come_with_the_probabilities_when_asked() -> None:
    classifier = FakeFeatureClassifier()
    batch = images(3)
    with LiveServer(create_app(ApiSettings(), classifier=classifier)) as server:
        response = post(server, encode_batch(batch), query="?features=true")

    answer = decode_answer(response.content)
    assert answer.features is not None
    np.testing.assert_array_equal(answer.features, batch.mean(axis=(1, 2)).astype(np.float32))
    np.testing.assert_array_equal(answer.probabilities, classifier.predict(batch))


def test_features_from_a_model_without_them_are_refused(server: LiveServer) -> None:
    response = post(server, encode_batch(images(1)), query="?features=true")

    assert (response.status_code, response.json()["error"]) == (400, "invalid_parameter")
    assert "no features" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (b"", 400, "unsupported_file_type", "shorter than"),
        (b"PNG\x00" + bytes(20), 400, "unsupported_file_type", "does not start with"),
        (encode_batch(images(2))[:-1], 400, "invalid_parameter", "the body has"),
        (encode_batch(images(1, side=SIDE + 1)), 400, "invalid_parameter", "takes 160x160"),
        (encode_batch(images(65, side=1)), 413, "too_many_images", "limit of 64"),
    ],
    ids=["empty", "not-a-batch", "cut-short", "other-size", "too-many"],
)
def test_malformed_bodies_get_the_apis_json_errors(
    server: LiveServer, body: bytes, status: int, code: str, words: str
) -> None:
    response = post(server, body)

    assert (response.status_code, response.json()["error"]) == (status, code)
    assert words in response.json()["message"]


def test_the_body_limit_applies(start_server: ServerFactory) -> None:
    server = start_server(max_body_bytes=100_000)

    response = post(server, encode_batch(images(2)))  # 153,612 bytes

    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")


def test_the_endpoint_stays_out_of_the_openapi_document(server: LiveServer) -> None:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]

    assert PATH not in paths


# -- POST /classify/files ([model] remote_decode) ----------------------------------------


def post_files(server: LiveServer, body: bytes, token: str | None = None) -> httpx.Response:
    headers = {"Content-Type": FILES_TYPE}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{server.url}{FILES_PATH}", content=body, headers=headers, timeout=30)


def jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG", quality=95)
    return out.getvalue()


def test_files_are_decoded_as_the_daemon_decodes_them_and_a_bad_one_fails_alone(
    start_server: ServerFactory,
) -> None:
    server = start_server(token="secret", max_image_bytes=50_000)
    red, big = jpeg((200, 30, 30)), jpeg((0, 0, 255)) + bytes(60_000)
    files = [("red.jpg", red), ("notes.jpg", b"not a photo"), ("big.jpg", big)]

    refused = post_files(server, encode_files(files))
    response = post_files(server, encode_files(files), token="secret")

    assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")
    assert response.status_code == 200, response.text
    answer = decode_answer(response.content)
    pixels = load_for_model(red, size=SIDE)
    assert answer.decoder == decoder_id()
    assert answer.digests == (pixel_digest(pixels), None, None)
    assert answer.errors[0] is None
    assert answer.errors[1] == "not an image file (the content matches no known format)"
    assert answer.errors[2] is not None and "[api] max_image_bytes" in answer.errors[2]
    expected = fake_probabilities(pixels).astype(np.float32)
    np.testing.assert_array_equal(answer.probabilities[0], expected)
    assert not answer.probabilities[1:].any()  # the files that failed: rows of zeros


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        (b"", 400, "unsupported_file_type", "shorter than"),
        (encode_batch(images(1)), 400, "unsupported_file_type", "does not start with"),
        (encode_files([("a.jpg", b"12345")])[:-1], 400, "invalid_parameter", "ends first"),
        (encode_files([("a.jpg", b"1")]) + b"x", 400, "invalid_parameter", "follow the 1 files"),
        (encode_files([("a.jpg", b"")] * 65), 413, "too_many_images", "limit of 64"),
    ],
    ids=["empty", "tensors", "cut-short", "trailing", "too-many"],
)
def test_malformed_batches_of_files_get_the_apis_json_errors(
    server: LiveServer, body: bytes, status: int, code: str, words: str
) -> None:
    response = post_files(server, body)

    assert (response.status_code, response.json()["error"]) == (status, code)
    assert words in response.json()["message"]
