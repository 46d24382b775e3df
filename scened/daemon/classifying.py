"""The batcher's stage of a library run: classify a batch, then choose each photo's tags.

A mixin of :class:`scened.daemon.runner.LibraryRun`.  Photos decoded by the readers go
to the model as one batch (:class:`~scened.daemon.learner.Learner` keeps the features
that personal learning stores).  With ``[model] remote_decode`` the photos' files go
to the servers instead, which decode them and answer each one's pixel digest; only
then can the run tell a photo whose pixels were tagged before (a keyword-only edit,
:mod:`scened.daemon.recognise`), which keeps its tags and is not written.
"""

from __future__ import annotations

import numpy as np

from scened.daemon.decision import Known
from scened.daemon.jobs import Job, read_photo
from scened.daemon.learner import Learner
from scened.errors import ImageError, PhotoBusyError
from scened.model.remote_files import FileClassifier
from scened.types import Policy, Prediction


class ClassifyStage:
    """The classify stage of :class:`~scened.daemon.runner.LibraryRun`."""

    _learner: Learner
    _policy: Policy | None
    #: The classifier, when its servers decode the photos (``[model] remote_decode``).
    _files: FileClassifier | None

    def fail(self, job: Job, error: Exception) -> None:
        raise NotImplementedError

    def _recognised(self, job: Job, known: Known | None, data: bytes | None) -> bool:
        raise NotImplementedError

    def classify(self, jobs: list[Job]) -> None:
        decoded = [job for job in jobs if job.pixels is not None]
        files = [job for job in jobs if job.pixels is None]
        if decoded:
            batch = np.stack([job.pixels for job in decoded if job.pixels is not None])
            self._choose(decoded, self._learner.classify(decoded, batch))
        if files:  # [model] remote_decode: the servers decode them
            self._classify_files(files)

    def _classify_files(self, jobs: list[Job]) -> None:
        """Send the photos' files to the servers that decode; then, knowing each one's
        pixel digest, recognise the photos whose pixels were tagged before (as
        :meth:`prepare` does for a photo decoded here) and choose tags for the rest."""
        sent: list[Job] = []
        files: list[tuple[str, bytes]] = []
        for job in jobs:
            try:
                files.append((job.path.name, self._bytes_to_send(job)))
                sent.append(job)
            except Exception as exc:
                self.fail(job, exc)
        features = self._learner.features is not None
        assert self._files is not None
        answers = self._files.classify_files(files, features=features)
        chosen: list[Job] = []
        outputs: list[np.ndarray] = []
        found: list[np.ndarray] = []
        for job, answer in zip(sent, answers, strict=True):
            if answer.error is not None:
                self.fail(job, ImageError(answer.error, job.path))
                continue
            job.pixel_digest = answer.pixel_digest
            if self._recognised(job, job.known, job.content):
                continue
            assert answer.probabilities is not None  # a file without an error has them
            chosen.append(job)
            outputs.append(answer.probabilities)
            if answer.features is not None:
                found.append(answer.features)
        if chosen:
            stacked = np.stack(found) if features else None
            self._choose(chosen, self._learner.predictions(chosen, np.stack(outputs), stacked))

    def _bytes_to_send(self, job: Job) -> bytes:
        """The photo's bytes as hashed: kept, or read again (and checked unchanged)."""
        if job.content is not None:
            return job.content
        digest, data = read_photo(job.path)
        if digest != job.digest or data is None:
            raise PhotoBusyError("changed since it was read; left for the next scan", job.path)
        return data

    def _choose(self, jobs: list[Job], predictions: list[Prediction]) -> None:
        """The policy's tags for each prediction (a policy error fails that photo)."""
        assert self._policy is not None
        for job, prediction in zip(jobs, predictions, strict=True):
            job.pixels = None
            job.prediction = prediction
            try:
                job.tags = tuple(self._policy.choose(prediction))
            except Exception as exc:
                self.fail(job, exc)
