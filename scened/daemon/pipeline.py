"""A three-stage pipeline: read and decode in a thread pool, classify in batches, write.

::

    feeder ──in_q──▶ readers (N threads) ──batch_q──▶ batcher ──out_q──▶ finish (caller)
      │                       └───────────── jobs needing no model ─────▶┤
      └──────────── jobs decided without reading (in chunks) ────────────▶┘

Every queue is bounded, so memory stays flat whatever the size of the library: the
feeder (usually a directory walk) blocks when the readers fall behind.  Pillow releases
the GIL while decoding and the classifier while inferring, so the stages overlap.
The ``finish`` stage runs in the calling thread, one job at a time: sinks and the state
database are only ever touched from there.  Jobs that ``decided`` settles in the
feeder (an unchanged photo on a rescan: most of them) skip the readers and go to
``finish`` in chunks, so a rescan does not pay a thread hand-off per photo.

Each job fails on its own: an exception from a stage is handed to ``on_error`` with
the job, and the job goes on to ``finish`` (which records the failure).  When ``stop``
is set, jobs not yet started are dropped (they stay pending for the next run) and
the jobs already decoded or classified are finished, so shutdown is quick and no work
in hand is lost.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

J = TypeVar("J")

#: How long the batcher waits for more decoded images before classifying a partial batch.
BATCH_WAIT_S = 0.05
#: Jobs settled by ``decided`` go to ``finish`` this many at a time.
DECIDED_CHUNK = 256


class _Done:
    """End-of-stream marker sent by each reader and by the batcher."""


_DONE = _Done()


class _Chunk(list):  # type: ignore[type-arg]
    """Jobs settled in the feeder, handed to ``finish`` together."""


@dataclass
class Stages(Generic[J]):
    """What the pipeline does with a job at each stage (supplied by the runner)."""

    prepare: Callable[[J], None]
    needs_model: Callable[[J], bool]
    classify: Callable[[list[J]], None]
    finish: Callable[[J], None]
    on_error: Callable[[J, Exception], None]
    #: Settles a job in the feeder thread, cheaply and without I/O (True: straight to
    #: ``finish``, no reader); must not raise.
    decided: Callable[[J], bool] | None = None


@dataclass
class Pipeline(Generic[J]):
    stages: Stages[J]
    readers: int = 2
    batch_size: int = 16
    queue_size: int = 32
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, jobs: Iterable[J]) -> None:
        """Push every job through the stages; returns when all are finished or dropped."""
        in_q: queue.Queue[J | _Done] = queue.Queue(self.queue_size)
        batch_q: queue.Queue[J | _Done] = queue.Queue(self.queue_size)
        out_q: queue.Queue[J | _Chunk | _Done] = queue.Queue(self.queue_size)
        feed_errors: list[BaseException] = []
        threads = [
            threading.Thread(
                target=self._feed, args=(jobs, in_q, out_q, feed_errors), name="scened-feed",
                daemon=True,
            ),
            threading.Thread(
                target=self._batch, args=(batch_q, out_q), name="scened-batch", daemon=True
            ),
        ] + [
            threading.Thread(
                target=self._read, args=(in_q, batch_q, out_q), name=f"scened-read-{i}",
                daemon=True,
            )
            for i in range(self.readers)
        ]  # fmt: skip
        for thread in threads:
            thread.start()
        done_needed = 2  # from the batcher and from the feeder
        while done_needed:
            item = out_q.get()
            if isinstance(item, _Done):
                done_needed -= 1
            elif isinstance(item, _Chunk):
                for job in item:
                    self._safely(self.stages.finish, job)
            else:
                self._safely(self.stages.finish, item)
        for thread in threads:
            thread.join()
        if feed_errors:
            raise feed_errors[0]

    def _feed(
        self,
        jobs: Iterable[J],
        in_q: queue.Queue[J | _Done],
        out_q: queue.Queue[J | _Chunk | _Done],
        errors: list[BaseException],
    ) -> None:
        decided, chunk = self.stages.decided, _Chunk()
        try:
            for job in jobs:
                if self.stop.is_set():
                    break
                if decided is not None and decided(job):
                    chunk.append(job)
                    if len(chunk) >= DECIDED_CHUNK:
                        out_q.put(chunk)
                        chunk = _Chunk()
                else:
                    in_q.put(job)
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)
        finally:
            for _ in range(self.readers):
                in_q.put(_DONE)
            if chunk:
                out_q.put(chunk)
            out_q.put(_DONE)

    def _read(
        self,
        in_q: queue.Queue[J | _Done],
        batch_q: queue.Queue[J | _Done],
        out_q: queue.Queue[J | _Chunk | _Done],
    ) -> None:
        while not isinstance(job := in_q.get(), _Done):
            if self.stop.is_set():
                continue  # dropped: still pending for the next run
            if not self._safely(self.stages.prepare, job):
                out_q.put(job)
            elif self.stages.needs_model(job):
                batch_q.put(job)
            else:
                out_q.put(job)
        batch_q.put(_DONE)

    def _batch(
        self, batch_q: queue.Queue[J | _Done], out_q: queue.Queue[J | _Chunk | _Done]
    ) -> None:
        readers_left = self.readers
        batch: list[J] = []
        while readers_left:
            try:
                item = batch_q.get(timeout=BATCH_WAIT_S) if batch else batch_q.get()
            except queue.Empty:
                self._classify(batch, out_q)
                continue
            if isinstance(item, _Done):
                readers_left -= 1
                continue
            batch.append(item)
            if len(batch) >= self.batch_size:
                self._classify(batch, out_q)
        self._classify(batch, out_q)
        out_q.put(_DONE)

    def _classify(self, batch: list[J], out_q: queue.Queue[J | _Chunk | _Done]) -> None:
        """Classify ``batch`` (all-or-nothing: a model error fails each job), then empty it."""
        if not batch:
            return
        try:
            self.stages.classify(list(batch))
        except Exception as exc:
            log.debug("batch of %d failed", len(batch), exc_info=True)
            for job in batch:
                self.stages.on_error(job, exc)
        for job in batch:
            out_q.put(job)
        batch.clear()

    def _safely(self, stage: Callable[[J], None], job: J) -> bool:
        try:
            stage(job)
        except Exception as exc:
            log.debug("stage %s failed", getattr(stage, "__name__", stage), exc_info=True)
            self.stages.on_error(job, exc)
            return False
        return True
