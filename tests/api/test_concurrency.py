"""Concurrent clients each get their own answers, and the model sees shared batches."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from .helpers import FakeClassifier, ServerFactory, expected_tags, image_for

CLIENTS = 20


def test_twenty_concurrent_clients_each_get_their_own_answers(
    start_server: ServerFactory, fake_classifier: FakeClassifier
) -> None:
    server = start_server(batch_wait_ms=20)

    def client(number: int) -> tuple[list[list[str]], list[list[str]]]:
        # Each client sends two images of its own classes, one confident, one not.
        own = [(number, 255), ((number + 7) % 36, 80)]
        with httpx.Client(base_url=server.url, timeout=30) as http:
            answer = http.post("/classify", json={"images": [image_for(c, g) for c, g in own]})
        return answer.json()["tags"], [expected_tags(c, g) for c, g in own]

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(client, range(CLIENTS)))

    for got, expected in results:
        assert got == expected
    assert sum(fake_classifier.batch_sizes) == 2 * CLIENTS
