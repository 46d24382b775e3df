"""A micro-batcher: images of concurrent requests go through the model together.

Requests put their decoded images on a queue and await a future.  One
collector task takes everything already queued, waits up to ``max_wait_s`` for
more while the batch holds fewer than ``max_batch`` images, runs one
:func:`scened.model.predict_images` in a single model thread (never on the event
loop), and resolves each request's future with its own slice of the results.
While the model runs, new requests queue up and form the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from scened.model import Classifier, predict_images
from scened.types import Prediction


@dataclass
class _Job:
    images: np.ndarray
    future: asyncio.Future[list[Prediction]]


class MicroBatcher:
    """Batches :meth:`predict` calls made concurrently on one event loop."""

    def __init__(
        self, classifier: Classifier, *, max_batch: int = 16, max_wait_s: float = 0.003
    ) -> None:
        self.classifier = classifier
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        #: Sizes of the batches run so far (for tests and statistics).
        self.batch_sizes: list[int] = []
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scened-model")

    def start(self) -> None:
        """Start the collector task on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop collecting; requests still queued fail with :class:`RuntimeError`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(RuntimeError("the server is shutting down"))
        self._executor.shutdown(wait=False)

    async def predict(self, images: np.ndarray) -> list[Prediction]:
        """Predictions for ``images`` (``(n, size, size, 3)`` uint8), batched with others."""
        if len(images) == 0:
            return []
        job = _Job(images, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(job)
        return await job.future

    async def _run(self) -> None:
        while True:
            jobs = await self._collect()
            await self._run_batch(jobs)

    async def _collect(self) -> list[_Job]:
        jobs = [await self._queue.get()]
        count = len(jobs[0].images)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        while count < self.max_batch:
            job = await self._next_job(deadline - loop.time())
            if job is None:
                break
            jobs.append(job)
            count += len(job.images)
        return jobs

    async def _next_job(self, timeout: float) -> _Job | None:
        """A queued job at once, else one arriving within ``timeout`` seconds, else None."""
        if not self._queue.empty():
            return self._queue.get_nowait()
        if timeout <= 0:
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    async def _run_batch(self, jobs: list[_Job]) -> None:
        live = [job for job in jobs if not job.future.done()]  # drop cancelled requests
        if not live:
            return
        batch = np.concatenate([job.images for job in live])
        self.batch_sizes.append(len(batch))
        loop = asyncio.get_running_loop()
        try:
            predictions = await loop.run_in_executor(
                self._executor, predict_images, self.classifier, batch
            )
        except Exception as exc:
            for job in live:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        start = 0
        for job in live:
            end = start + len(job.images)
            if not job.future.done():
                job.future.set_result(predictions[start:end])
            start = end
