"""The daemon: each library scanned on its own schedule until SIGTERM.

APScheduler 3.x runs one job per library (an interval in seconds or a crontab line),
with ``max_instances=1`` so that a library is never scanned twice at once and
``coalesce`` so that runs missed while busy or asleep collapse into one.  Interval
libraries are scanned right at start, cron ones at their next time.

Signals only set flags; the main thread acts on them: SIGTERM/SIGINT stop the scans
(each finishes the photo in hand, records it and returns) and exit 0; SIGHUP reloads
the configuration (an invalid new file is logged and the old one kept).
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType

import pluggy
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scened.config import Config, LibraryConfig, load_config
from scened.daemon.jobs import RunSummary
from scened.daemon.notify import Notifier, start_watchdog
from scened.daemon.progress import LogReporter, Reporter
from scened.daemon.service import classifier_from_config, run_library, settings_for
from scened.errors import ConfigError, ScenedError
from scened.learning.schedule import learn_if_due
from scened.model.remote import RemoteClassifier
from scened.model.runtime import Classifier
from scened.plugins import get_plugin_manager

log = logging.getLogger(__name__)

ClassifierFactory = Callable[[Config], Classifier]


def _daemon_config(config_path: Path | None, remote: tuple[str, ...] = ()) -> Config:
    """The configuration, as the daemon needs it at start-up and at every reload.

    ``remote`` (``scened run --remote``), when given, replaces ``[model] remote`` in
    every configuration read, so that it outlives a reload (SIGHUP).
    """
    config = load_config(config_path)
    if not config.libraries:
        raise ConfigError("no [[libraries]] to scan", config.source, key="libraries")
    if remote:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, remote=remote))
    return config


class Daemon:
    """Schedules every configured library; :meth:`run` blocks until told to stop."""

    def __init__(
        self,
        config_path: Path | None,
        *,
        classifier_factory: ClassifierFactory = classifier_from_config,
        pm: pluggy.PluginManager | None = None,
        notifier: Notifier | None = None,
        remote: Sequence[str] = (),
        reporter: Reporter | None = None,
    ) -> None:
        self.config_path = config_path
        #: ``scened run --remote`` URLs: ``[model] remote`` of every configuration read.
        self.remote = tuple(remote)
        self.classifier_factory = classifier_factory
        self.config = _daemon_config(config_path, self.remote)
        self.classifier = self._load_classifier(self.config)
        self.pm = pm or get_plugin_manager()
        self.notifier = notifier or Notifier()
        #: Where progress, summaries and "watching" go: the command line's printer
        #: (:mod:`scened.cli.report`), or log lines; the daemon itself never prints.
        self.reporter = reporter or LogReporter()
        self.stop = threading.Event()
        self.reload = threading.Event()
        # "skipped: maximum number of running instances reached" is the point of
        # max_instances=1 (a long scan outlasting its interval), not worth a warning
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        self.scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )

    def _load_classifier(self, config: Config) -> Classifier:
        """The model ``config`` names; remote servers are asked at once (as ``run --once``
        does), so that a wrong token or model is one line now, not one per photo."""
        classifier = self.classifier_factory(config)
        if isinstance(classifier, RemoteClassifier):
            try:
                classifier.check()
            except BaseException:
                classifier.close()
                raise
        return classifier

    def run(self) -> int:
        """Scan on schedule until SIGTERM/SIGINT; the exit status (0)."""
        self._install_signal_handlers()
        self._schedule_all(first=True)
        self.scheduler.start()
        start_watchdog(self.notifier, self.stop)
        self.notifier.ready()
        self._say_what_is_watched()
        while not self.stop.wait(0.5):
            if self.reload.is_set():
                self.reload.clear()
                self.reload_config()
        self.notifier.stopping()
        self.scheduler.shutdown(wait=True)
        return 0

    def _say_what_is_watched(self) -> None:
        """Each library, its folder and its next scan, to the reporter (at a terminal
        printed, under systemd a log line), and STATUS= with the next scan."""
        lines = [f"watching {len(self.config.libraries)} libraries (Ctrl-C stops):"]
        lines += [f"  {library.name}: {library.path}, next scan {self._next_scan(library.name)}"
                  for library in self.config.libraries]  # fmt: skip
        self.reporter.watching(lines)
        self.notifier.status(f"idle; next scan {self._next_scans()}")

    def _next_scan(self, name: str) -> str:
        """When the library ``name`` is scanned next, in local time (or "not scheduled")."""
        job = self.scheduler.get_job(name)
        when = getattr(job, "next_run_time", None)
        if when is None:
            return "not scheduled"
        return str(when.astimezone().strftime("%Y-%m-%d %H:%M"))

    def _next_scans(self) -> str:
        return ", ".join(f"{library.name} {self._next_scan(library.name)}"
                         for library in self.config.libraries)  # fmt: skip

    def _install_signal_handlers(self) -> None:
        def on_stop(signum: int, frame: FrameType | None) -> None:
            self.stop.set()

        def on_hup(signum: int, frame: FrameType | None) -> None:
            self.reload.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def _schedule_all(self, *, first: bool) -> None:
        wanted = {library.name for library in self.config.libraries}
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        for library in self.config.libraries:
            trigger = trigger_for(library)
            options: dict[str, object] = {}
            if first and isinstance(trigger, IntervalTrigger):
                options["next_run_time"] = datetime.now(trigger.timezone)
            self.scheduler.add_job(
                self.scan, trigger, args=[library.name], id=library.name,
                name=f"scan {library.name}", replace_existing=True, **options,
            )  # fmt: skip

    def reload_config(self) -> None:
        """Re-read the configuration (SIGHUP); keep the old one on any error.

        The start-up rules apply (a configuration without libraries is refused), and
        nothing about the new file, or the new model it names, can stop the daemon.
        """
        self.notifier.reloading()
        try:
            config = _daemon_config(self.config_path, self.remote)
            if config.model != self.config.model:
                self.classifier = self._load_classifier(config)
        except ScenedError as exc:
            log.error("configuration not reloaded, the old one is kept: %s", exc)
        except Exception as exc:  # a third-party model's factory, say
            log.error("configuration not reloaded, the old one is kept: %s: %s",
                      type(exc).__name__, exc)  # fmt: skip
        else:
            self.config = config
            self._schedule_all(first=False)
            log.info("configuration reloaded")
        self.notifier.ready()

    def scan(self, name: str) -> RunSummary | None:
        """The scheduled job: one scan of the library ``name`` (as configured now)."""
        library = next((lib for lib in self.config.libraries if lib.name == name), None)
        if library is None or self.stop.is_set():
            return None
        self.notifier.status(f"scanning {name}")
        try:
            summary = run_library(
                library, config=self.config, classifier=self.classifier, pm=self.pm,
                settings=settings_for(self.config, dry_run=False, daemon=True), stop=self.stop,
                notifier=self.notifier, progress=self.reporter.progress,
            )  # fmt: skip
        except Exception:
            log.exception("scan of %s failed", name)
            return None
        self.reporter.summary(summary)
        self.notifier.status(f"idle; last scan {summary.line()}; next scan {self._next_scans()}")
        if not self.stop.is_set():
            try:
                learnt = learn_if_due(self.config.state_dir, library, self.classifier)
            except Exception:
                log.exception("learning for %s failed", name)
            else:
                if learnt:
                    log.info("%s", learnt)
        return summary


def trigger_for(library: LibraryConfig) -> BaseTrigger:
    """The APScheduler trigger for a library's ``schedule`` table."""
    if "cron" in library.schedule:
        return CronTrigger.from_crontab(str(library.schedule["cron"]))
    return IntervalTrigger(seconds=int(library.schedule["interval"]))
