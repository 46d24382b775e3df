"""The micro-batcher: requests queued together share one model call, each gets its slice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest

from scened.api.batcher import MicroBatcher
from scened.classes import CLASSES
from scened.types import Prediction

from .helpers import FakeClassifier, red_for

T = TypeVar("T")


def images_of(*classes: int) -> np.ndarray:
    """Model-input arrays the fake classifier puts in ``classes``."""
    batch = np.zeros((len(classes), 8, 8, 3), dtype=np.uint8)
    for row, index in enumerate(classes):
        batch[row, ..., 0] = red_for(index)
        batch[row, ..., 1] = 255
    return batch


def top_classes(predictions: list[Prediction]) -> list[str]:
    return [prediction.top(1)[0][0] for prediction in predictions]


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


def test_requests_queued_together_share_one_model_call() -> None:
    classifier = FakeClassifier()

    async def scenario() -> list[list[str]]:
        batcher = MicroBatcher(classifier, max_batch=16, max_wait_s=0.05)
        batcher.start()
        try:
            answers = await asyncio.gather(
                batcher.predict(images_of(1, 2)),
                batcher.predict(images_of(3)),
                batcher.predict(images_of(4, 5, 6)),
            )
        finally:
            await batcher.stop()
        return [top_classes(answer) for answer in answers]

    assert run(scenario) == [
        [CLASSES[1], CLASSES[2]],
        [CLASSES[3]],
        [CLASSES[4], CLASSES[5], CLASSES[6]],
    ]
    assert classifier.batch_sizes == [6]


def test_a_full_batch_runs_without_waiting_for_more() -> None:
    classifier = FakeClassifier()

    async def scenario() -> None:
        batcher = MicroBatcher(classifier, max_batch=2, max_wait_s=60)
        batcher.start()
        try:
            await asyncio.gather(batcher.predict(images_of(1, 2)), batcher.predict(images_of(3, 4)))
        finally:
            await batcher.stop()

    run(scenario)

    assert classifier.batch_sizes == [2, 2]


def test_a_model_error_reaches_every_request_of_the_batch() -> None:
    class Broken(FakeClassifier):
        def predict(self, batch: np.ndarray) -> np.ndarray:
            raise RuntimeError("model exploded")

    async def scenario() -> list[object]:
        batcher = MicroBatcher(Broken(), max_batch=16, max_wait_s=0.01)
        batcher.start()
        try:
            return await asyncio.gather(  # type: ignore[return-value]
                batcher.predict(images_of(1)),
                batcher.predict(images_of(2)),
                return_exceptions=True,
            )
        finally:
            await batcher.stop()

    results = run(scenario)

    assert [str(result) for result in results] == ["model exploded"] * 2


def test_a_cancelled_request_does_not_stop_the_others() -> None:
    classifier = FakeClassifier()

    async def scenario() -> list[str]:
        batcher = MicroBatcher(classifier, max_batch=16, max_wait_s=0.01)
        batcher.start()
        try:
            doomed = asyncio.ensure_future(batcher.predict(images_of(7)))
            kept = asyncio.ensure_future(batcher.predict(images_of(8)))
            await asyncio.sleep(0)
            doomed.cancel()
            with pytest.raises(asyncio.CancelledError):
                await doomed
            return top_classes(await kept)
        finally:
            await batcher.stop()

    assert run(scenario) == [CLASSES[8]]
    assert classifier.batch_sizes == [1]
