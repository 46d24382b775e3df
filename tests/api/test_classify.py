"""The contract of POST /classify (docs/api.md), through a real uvicorn server and httpx."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from scened import hookimpl
from scened.api import create_app
from scened.api.settings import ApiSettings
from scened.classes import CLASSES
from scened.hookspecs import RegisterPolicy
from scened.imaging import load_for_model
from scened.model import predict_images
from scened.plugins import get_plugin_manager
from scened.policies import build_policy
from scened.types import Prediction

from .helpers import (
    FakeClassifier,
    LiveServer,
    b64,
    encode_image,
    expected_tags,
    image_for,
    red_for,
)


def classify(server: LiveServer, images: list[str], **params: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/classify", json={"images": images}, params=params)


def test_one_tag_list_per_image_in_request_order(server: LiveServer) -> None:
    cases = [(3, 255, "JPEG"), (12, 60, "PNG"), (0, 255, "PNG"), (35, 0, "JPEG"), (3, 0, "PNG")]
    images = [image_for(index, green, fmt) for index, green, fmt in cases]

    response = classify(server, images)

    assert response.status_code == 200
    assert response.json() == {"tags": [expected_tags(i, g) for i, g, _ in cases]}


def test_an_empty_list_gets_an_empty_list(server: LiveServer) -> None:
    response = classify(server, [])

    assert response.status_code == 200
    assert response.json() == {"tags": []}


def test_data_urls_are_accepted_and_the_type_comes_from_the_content(server: LiveServer) -> None:
    png = image_for(7, fmt="PNG")
    jpeg = image_for(8)
    images = [
        f"data:image/png;base64,{png}",
        f"data:image/gif;base64,{jpeg}",  # the label lies; the content is a JPEG
        f"DATA:image/jpeg;name=x.jpg;base64,{jpeg}",
    ]

    response = classify(server, images)

    assert response.status_code == 200
    assert response.json()["tags"] == [expected_tags(7, 255)] + [expected_tags(8, 255)] * 2


def test_base64_with_line_breaks_is_accepted(server: LiveServer) -> None:
    wrapped = "\n".join(image_for(20)[i : i + 76] for i in range(0, len(image_for(20)), 76))

    response = classify(server, [wrapped])

    assert response.json() == {"tags": [expected_tags(20, 255)]}


def test_rgba_and_cmyk_images_are_accepted(server: LiveServer) -> None:
    rgba = encode_image((red_for(15), 255, 0, 255), fmt="PNG", mode="RGBA")
    cmyk_colour = (40, 0, 200, 0)
    cmyk = encode_image(cmyk_colour, fmt="JPEG", mode="CMYK")
    cmyk_rgb = np.asarray(Image.new("CMYK", (8, 8), cmyk_colour).convert("RGB"))

    response = classify(server, [b64(rgba), b64(cmyk)])

    assert response.status_code == 200
    assert response.json()["tags"] == [expected_tags(15, 255), default_tags(cmyk_rgb)]


def test_a_real_photo_gets_the_tags_of_the_shared_preprocessing(
    server: LiveServer, real_photos: list[Path]
) -> None:
    photos = real_photos[:3]
    expected = [default_tags(load_for_model(path)) for path in photos]

    response = classify(server, [b64(path.read_bytes()) for path in photos])

    assert response.status_code == 200
    assert response.json() == {"tags": expected}


def test_top_adds_probabilities_without_changing_tags(server: LiveServer) -> None:
    images = [image_for(5, 100), image_for(30, 255)]

    plain = classify(server, images).json()
    with_top = classify(server, images, top=3).json()

    assert with_top["tags"] == plain["tags"]
    assert "top" not in plain
    assert [[entry["class"] for entry in top] for top in with_top["top"]] == [
        [CLASSES[5], CLASSES[6], CLASSES[0]],
        [CLASSES[30], CLASSES[31], CLASSES[0]],
    ]
    first = with_top["top"][0][0]["probability"]
    assert abs(first - (0.45 + 0.54 * 100 / 255)) < 0.02


def test_policy_chooses_another_registered_policy(fake_classifier: FakeClassifier) -> None:
    pm = get_plugin_manager()
    pm.register(TopOnePolicyPlugin(), name="test-top-one")
    server = LiveServer(create_app(ApiSettings(), classifier=fake_classifier, pm=pm)).start()
    try:
        images = [image_for(9, 0)]
        default = classify(server, images).json()
        explicit_default = classify(server, images, policy="default").json()
        top_one = classify(server, images, policy="top-one").json()
    finally:
        server.stop()

    assert default == explicit_default == {"tags": [expected_tags(9, 0)]}
    assert top_one == {"tags": [[CLASSES[9]]]}


def test_health_reports_the_model_and_readiness(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "ready": True,
        "model_id": FakeClassifier.model_id,
        "classes": len(CLASSES),
        "error": None,
    }


def test_health_answers_503_when_the_model_cannot_load(tmp_path: Path) -> None:
    settings = ApiSettings(model_dir=tmp_path / "no-model")
    server = LiveServer(create_app(settings)).start()
    try:
        health = httpx.get(f"{server.url}/health")
        refused = classify(server, [image_for(1)])
    finally:
        server.stop()

    assert health.status_code == 503
    assert health.json()["ready"] is False
    assert "model folder not found" in health.json()["error"]
    assert refused.status_code == 503
    assert refused.json()["error"] == "model_not_ready"


def test_docs_and_openapi_describe_classify(server: LiveServer) -> None:
    docs = httpx.get(f"{server.url}/docs")
    schema = httpx.get(f"{server.url}/openapi.json").json()

    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    body = schema["paths"]["/classify"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["required"] == ["images"]


class TopOnePolicyPlugin:
    """A plugin registering ``top-one``: the most probable class alone."""

    class TopOne:
        def choose(self, prediction: Prediction) -> list[str]:
            return [prediction.top(1)[0][0]]

    @hookimpl
    def register_policies(self, register: RegisterPolicy) -> None:
        def factory(options: Mapping[str, Any]) -> TopOnePolicyPlugin.TopOne:
            return TopOnePolicyPlugin.TopOne()

        register("top-one", factory)


def default_tags(pixels: np.ndarray) -> list[str]:
    """What the fake classifier and the default policy make of these model-input pixels."""
    (prediction,) = predict_images(FakeClassifier(), pixels[None])
    return build_policy(get_plugin_manager(), "default", {}).choose(prediction)
