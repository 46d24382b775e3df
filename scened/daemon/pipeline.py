"""A four-stage pipeline: read and decode, classify in batches, write, record.

::

    feeder ──in_q──▶ readers (N threads) ──batch_q──▶ batcher ──write_q──▶ writers (W threads)
      │                  │   └──────── jobs needing no model ──▶ write_q ──┘     │
      │                  └──────────── jobs needing no write ─────────────▶ out_q ◀┘
      └──────────── jobs decided without reading (in chunks) ─────────────▶ out_q ──▶ finish

Every queue is bounded, so memory stays flat whatever the size of the library: the
feeder (usually a directory walk) blocks when the readers fall behind.  Pillow releases
the GIL while decoding, the classifier while inferring, and the writers wait on their
metadata worker processes and on the disk, so the stages overlap on every core.
Writers take the jobs waiting for them a group at a time (up to ``batch_size``), so
that a group's folders are synced once.  ``finish`` runs in the calling thread on
groups of jobs (whatever is waiting, up to ``batch_size``): the state database is only
ever changed from there, one transaction a group.  Jobs that ``decided`` settles in
the feeder (an unchanged photo on a rescan: most of them) skip the readers and the
writers and go to ``finish`` in chunks, so a rescan does not pay a thread hand-off
per photo.

Each job fails on its own: an exception from a stage is handed to ``on_error`` with
the job, and the job goes on to ``finish`` (which records the failure).  When ``stop``
is set, jobs not yet started are dropped (they stay pending for the next run) and
the jobs already decoded, classified or written are finished, so shutdown is quick and
no work in hand is lost.
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
    #: Finishes a group of jobs, in the calling thread; must not raise.
    finish: Callable[[list[J]], None]
    on_error: Callable[[J, Exception], None]
    #: Settles a job in the feeder thread, cheaply and without I/O (True: straight to
    #: ``finish``, no reader); must not raise.
    decided: Callable[[J], bool] | None = None
    #: Whether a prepared (and classified) job goes to the writers.
    needs_write: Callable[[J], bool] = lambda job: False
    #: Writes a group of jobs in a writer thread (errors handled per job inside).
    write: Callable[[list[J]], None] = lambda jobs: None


@dataclass
class Pipeline(Generic[J]):
    stages: Stages[J]
    readers: int = 2
    batch_size: int = 8
    queue_size: int = 32
    writers: int = 2
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, jobs: Iterable[J]) -> None:
        """Push every job through the stages; returns when all are finished or dropped."""
        in_q: queue.Queue[J | _Done] = queue.Queue(self.queue_size)
        batch_q: queue.Queue[J | _Done] = queue.Queue(self.queue_size)
        write_q: queue.Queue[J | _Done] = queue.Queue(self.queue_size)
        out_q: queue.Queue[J | _Chunk | _Done] = queue.Queue(self.queue_size)
        feed_errors: list[BaseException] = []
        threads = [
            threading.Thread(
                target=self._feed, args=(jobs, in_q, out_q, feed_errors), name="scened-feed",
                daemon=True,
            ),
            threading.Thread(
                target=self._batch, args=(batch_q, write_q, out_q), name="scened-batch",
                daemon=True,
            ),
        ] + [
            threading.Thread(
                target=self._read, args=(in_q, batch_q, write_q, out_q),
                name=f"scened-read-{i}", daemon=True,
            )
            for i in range(self.readers)
        ] + [
            threading.Thread(
                target=self._write, args=(write_q, out_q), name=f"scened-write-{i}",
                daemon=True,
            )
            for i in range(self.writers)
        ]  # fmt: skip
        for thread in threads:
            thread.start()
        self._finish_all(out_q, done_needed=1 + self.writers)  # the feeder and the writers
        for thread in threads:
            thread.join()
        if feed_errors:
            raise feed_errors[0]

    def _finish_all(self, out_q: queue.Queue[J | _Chunk | _Done], done_needed: int) -> None:
        """Finish jobs as they come, in groups of what is waiting (up to a batch)."""
        group: list[J] = []
        while done_needed:
            try:
                item = out_q.get_nowait() if group else out_q.get()
            except queue.Empty:
                self._finish(group)
                continue
            if isinstance(item, _Done):
                done_needed -= 1
            elif isinstance(item, _Chunk):
                self._finish(group)
                self._finish(list(item))
            else:
                group.append(item)
                if len(group) >= self.batch_size:
                    self._finish(group)
        self._finish(group)

    def _finish(self, group: list[J]) -> None:
        """Hand ``group`` to ``finish`` and empty it."""
        if group:
            self.stages.finish(list(group))
            group.clear()

    def _feed(
        self,
        jobs: Iterable[J],
        in_q: queue.Queue[J | _Done],
        out_q: queue.Queue[J | _Chunk | _Done],
        errors: list[BaseException],
    ) -> None:
        decided, chunk, stopped = self.stages.decided, _Chunk(), self.stop.is_set
        try:
            for job in jobs:  # a stop is looked at before each job read and each chunk
                if decided is not None and decided(job):
                    chunk.append(job)
                    if len(chunk) >= DECIDED_CHUNK:
                        if stopped():
                            break
                        out_q.put(chunk)
                        chunk = _Chunk()
                elif stopped():
                    break
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
        write_q: queue.Queue[J | _Done],
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
                self._onwards(job, write_q, out_q)
        batch_q.put(_DONE)

    def _onwards(
        self, job: J, write_q: queue.Queue[J | _Done], out_q: queue.Queue[J | _Chunk | _Done]
    ) -> None:
        (write_q if self.stages.needs_write(job) else out_q).put(job)

    def _batch(
        self,
        batch_q: queue.Queue[J | _Done],
        write_q: queue.Queue[J | _Done],
        out_q: queue.Queue[J | _Chunk | _Done],
    ) -> None:
        readers_left = self.readers
        batch: list[J] = []
        while readers_left:
            try:
                item = batch_q.get(timeout=BATCH_WAIT_S) if batch else batch_q.get()
            except queue.Empty:
                self._classify(batch, write_q, out_q)
                continue
            if isinstance(item, _Done):
                readers_left -= 1
                continue
            batch.append(item)
            if len(batch) >= self.batch_size:
                self._classify(batch, write_q, out_q)
        self._classify(batch, write_q, out_q)
        for _ in range(self.writers):  # every reader is done: nothing more goes to write_q
            write_q.put(_DONE)

    def _classify(
        self,
        batch: list[J],
        write_q: queue.Queue[J | _Done],
        out_q: queue.Queue[J | _Chunk | _Done],
    ) -> None:
        """Classify ``batch`` (all-or-nothing: a model error fails each job), then empty it."""
        if not batch:
            return
        self._all_or_nothing(self.stages.classify, batch)
        for job in batch:
            self._onwards(job, write_q, out_q)
        batch.clear()

    def _write(
        self, write_q: queue.Queue[J | _Done], out_q: queue.Queue[J | _Chunk | _Done]
    ) -> None:
        """Write the jobs waiting, a group at a time, then hand the group on."""
        done = False
        while not done:
            group: list[J] = []
            item = write_q.get()
            while not isinstance(item, _Done):
                group.append(item)
                if len(group) >= self.batch_size:
                    break
                try:
                    item = write_q.get_nowait()
                except queue.Empty:
                    break
            done = isinstance(item, _Done)
            if group:
                self._all_or_nothing(self.stages.write, group)
                out_q.put(_Chunk(group))
        out_q.put(_DONE)

    def _all_or_nothing(self, stage: Callable[[list[J]], None], jobs: list[J]) -> None:
        """Run a stage on several jobs; an exception fails each of them."""
        try:
            stage(list(jobs))
        except Exception as exc:
            log.debug("%s failed on %d jobs", getattr(stage, "__name__", stage), len(jobs),
                      exc_info=True)  # fmt: skip
            for job in jobs:
                self.stages.on_error(job, exc)

    def _safely(self, stage: Callable[[J], None], job: J) -> bool:
        try:
            stage(job)
        except Exception as exc:
            log.debug("stage %s failed", getattr(stage, "__name__", stage), exc_info=True)
            self.stages.on_error(job, exc)
            return False
        return True
