"""The threaded pipeline: every job finishes once, queues stay bounded, errors stay local."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from scened.daemon.pipeline import Pipeline, Stages


@dataclass
class Item:
    number: int
    classified: bool = False
    error: str = ""
    thread: str = ""
    written_by: str = ""
    stages: list[str] = field(default_factory=list)


class Recorder:
    """Stages that record what happened, and how many jobs were alive at once."""

    def __init__(self, fail_on: set[int] = frozenset(), stop_after: int | None = None) -> None:
        self.fail_on = fail_on
        self.finished: list[Item] = []
        self.alive = 0
        self.most_alive = 0
        self.batches: list[int] = []
        self.write_groups: list[int] = []
        self.finish_groups: list[int] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.stop_after = stop_after

    def feed(self, count: int):  # type: ignore[no-untyped-def]
        for number in range(count):
            with self.lock:
                self.alive += 1
                self.most_alive = max(self.most_alive, self.alive)
            yield Item(number)

    def prepare(self, item: Item) -> None:
        item.stages.append("prepare")
        if item.number in self.fail_on:
            raise ValueError(f"bad item {item.number}")

    def classify(self, items: list[Item]) -> None:
        self.batches.append(len(items))
        for item in items:
            item.classified = True

    def write(self, items: list[Item]) -> None:
        with self.lock:
            self.write_groups.append(len(items))
        for item in items:
            item.written_by = threading.current_thread().name

    def finish(self, items: list[Item]) -> None:
        self.finish_groups.append(len(items))
        for item in items:
            item.thread = threading.current_thread().name
            with self.lock:
                self.alive -= 1
            self.finished.append(item)
        if self.stop_after is not None and len(self.finished) >= self.stop_after:
            self.stop.set()

    def on_error(self, item: Item, error: Exception) -> None:
        item.error = str(error)

    def stages(self) -> Stages[Item]:
        return Stages(
            prepare=self.prepare,
            needs_model=lambda item: item.number % 2 == 0,
            classify=self.classify,
            finish=self.finish,
            on_error=self.on_error,
            needs_write=lambda item: item.number % 3 == 0 and not item.error,
            write=self.write,
        )


def test_every_job_is_finished_once_in_the_calling_thread() -> None:
    recorder = Recorder()
    Pipeline(recorder.stages(), readers=3, batch_size=4, queue_size=2).run(recorder.feed(101))

    assert sorted(item.number for item in recorder.finished) == list(range(101))
    assert {item.thread for item in recorder.finished} == {threading.current_thread().name}
    assert all(item.classified == (item.number % 2 == 0) for item in recorder.finished)
    assert sum(recorder.batches) == 51 and max(recorder.batches) <= 4
    assert max(recorder.finish_groups) <= 4  # one state transaction a group at most


def test_jobs_that_need_a_write_are_written_in_writer_threads_in_groups() -> None:
    recorder = Recorder()
    Pipeline(recorder.stages(), readers=2, batch_size=4, queue_size=2, writers=3).run(
        recorder.feed(90)
    )

    written = {item.number: item.written_by for item in recorder.finished if item.written_by}
    assert set(written) == set(range(0, 90, 3))  # those, and only those, once each
    assert sum(recorder.write_groups) == 30 and max(recorder.write_groups) <= 4
    assert {name.rsplit("-", 1)[0] for name in written.values()} == {"scened-write"}


def test_memory_stays_bounded_by_the_queues() -> None:
    recorder = Recorder()
    pipeline = Pipeline(recorder.stages(), readers=2, batch_size=4, queue_size=3)
    pipeline.run(recorder.feed(500))

    # in_q + batch_q + write_q (3 each), out_q (3 groups of writers or single jobs),
    # a job per reader, a batch, a group per writer, a group being finished, one being fed
    bound = 3 * 3 + 3 * 4 + 2 + 4 + 2 * 4 + 4 + 1
    assert len(recorder.finished) == 500
    assert recorder.most_alive <= bound


def test_a_failing_job_fails_alone() -> None:
    recorder = Recorder(fail_on={3, 4})
    Pipeline(recorder.stages(), readers=2, batch_size=3).run(recorder.feed(10))

    by_number = {item.number: item for item in recorder.finished}
    assert len(by_number) == 10
    assert by_number[3].error == "bad item 3" and by_number[4].error == "bad item 4"
    assert not by_number[4].classified  # failed jobs skip the model
    assert all(not by_number[n].error for n in by_number if n not in (3, 4))


def test_a_failing_batch_fails_its_jobs_only() -> None:
    recorder = Recorder()
    stages = recorder.stages()

    def classify(items: list[Item]) -> None:
        if any(item.number == 0 for item in items):
            raise RuntimeError("model crashed")
        recorder.classify(items)

    stages.classify = classify
    Pipeline(stages, readers=1, batch_size=2, queue_size=1).run(recorder.feed(8))

    errors = {item.number for item in recorder.finished if item.error}
    assert errors and 0 in errors and errors <= {0, 2}
    assert len(recorder.finished) == 8


def test_stop_drops_jobs_not_started_and_returns() -> None:
    recorder = Recorder(stop_after=5)
    pipeline = Pipeline(recorder.stages(), readers=2, batch_size=2, queue_size=2,
                        stop=recorder.stop)  # fmt: skip
    pipeline.run(recorder.feed(10_000))

    assert 5 <= len(recorder.finished) < 100
    assert len({item.number for item in recorder.finished}) == len(recorder.finished)


def test_an_error_while_feeding_is_raised_after_the_jobs_in_hand_finish() -> None:
    recorder = Recorder()

    def feed():  # type: ignore[no-untyped-def]
        yield from recorder.feed(3)
        raise OSError(5, "Input/output error")

    try:
        Pipeline(recorder.stages()).run(feed())
    except OSError as exc:
        assert exc.strerror == "Input/output error"
    else:
        raise AssertionError("the feeder's error was swallowed")
    assert len(recorder.finished) == 3
