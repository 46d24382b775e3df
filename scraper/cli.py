"""``scened-scrape`` / ``python -m scraper``: build or top up a dataset from image search.

Exit status: 0 when every class has the images asked for; 3 when the run finished but
some class has fewer (the engine ran out of usable results; a summary line says which);
1 on an error (one line, no traceback); 2 on a bad command line; 130 when interrupted
(what was saved stays saved: run the same command again to resume).

Only the standard library and the light modules of this package are imported until
a scrape starts, so ``--help`` and ``--list-engines`` are instant and work without
the ``scraper`` extra; a scrape without it ends in one line naming what to install
(as ``scened serve`` does for the ``api`` extra).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from functools import partial
from importlib.util import find_spec
from pathlib import Path

from .classes import DEFAULT_CLASSES, build_class_queries
from .engines import bundled_engines, choose_engine
from .errors import ScraperError

EXIT_SHORT = 3
PROG = "scened-scrape"
#: The modules of the ``scraper`` extra a scrape needs (top-level names).
EXTRA_MODULES = ("selenium", "imagehash")


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Build or top up an image dataset, one folder per class, from an "
        "image search engine driven in a headless browser.",
        epilog="Exit status: 0 all classes full, 3 some class short, 1 error, 130 interrupted.",
    )
    what = parser.add_argument_group("what to scrape")
    what.add_argument(
        "classes",
        nargs="*",
        help=f"class names (default: scened's {len(DEFAULT_CLASSES)} scene classes)",
    )
    what.add_argument(
        "--classes-file", type=Path, help="one class a line, optionally 'Class = extra words'"
    )
    what.add_argument(
        "-n", "--count", type=positive_int, default=100, help="images per class (default 100)"
    )
    what.add_argument("--extra", default="", help="words appended to every query")
    what.add_argument(
        "--extra-for",
        action="append",
        default=[],
        metavar="CLASS=WORDS",
        help="extra words for one class (repeatable)",
    )
    what.add_argument("-o", "--out", type=Path, help="dataset folder (required)")

    engine = parser.add_argument_group("search engine")
    engine.add_argument("--engine", default="bing", help="bundled adapter name (default bing)")
    engine.add_argument("--engine-file", type=Path, help="an adapter TOML file of your own")
    engine.add_argument("--base-url", help="replace the adapter's {base_url}")
    engine.add_argument(
        "--list-engines", action="store_true", help="list the bundled adapters and exit"
    )

    browser = parser.add_argument_group("browser")
    browser.add_argument("--browser", choices=("chromium", "firefox"), default="chromium")
    browser.add_argument(
        "--driver", default="", help="chromedriver/geckodriver path (default: on PATH)"
    )
    browser.add_argument(
        "--browser-binary", default="", help="browser executable (default: on PATH)"
    )
    browser.add_argument("--show-browser", action="store_true", help="not headless")

    quality = parser.add_argument_group("downloads and quality")
    quality.add_argument(
        "--min-side", type=int, default=100, help="skip images smaller than this (px, default 100)"
    )
    quality.add_argument(
        "--phash-distance",
        type=int,
        default=6,
        help="pHash Hamming distance still counted as the same picture (default 6)",
    )
    quality.add_argument(
        "--timeout", type=float, default=10.0, help="download timeout in seconds (default 10)"
    )
    quality.add_argument(
        "--delay",
        type=float,
        default=0.5,
        help="seconds between two requests to one host (default 0.5)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every skipped URL")
    return parser


def list_engines() -> int:
    """Print the bundled adapters."""
    for name, adapter in sorted(bundled_engines().items()):
        print(f"{name}\t{adapter.description}")
    return 0


def missing_extra() -> str | None:
    """The one-line message when a module of the scraper extra is not installed."""
    missing = [name for name in EXTRA_MODULES if find_spec(name) is None]
    if not missing:
        return None
    return (
        f"needs the scraper extra ({', '.join(missing)} not installed): "
        "pip install 'scened[scraper]'"
    )


def run(args: argparse.Namespace) -> int:
    """Scrape as the parsed command line says; the exit status."""
    from .browser import BrowserOptions, open_browser
    from .dataset import Dataset
    from .fetch import Downloader, HostRateLimiter
    from .scrape import QualitySettings, Scraper

    queries = build_class_queries(args.classes, args.classes_file, args.extra, args.extra_for)
    adapter = choose_engine(args.engine, args.engine_file, args.base_url)
    browser = BrowserOptions(args.browser, args.driver, args.browser_binary, not args.show_browser)
    scraper = Scraper(
        Dataset(args.out, adapter.name),
        adapter,
        Downloader(HostRateLimiter(args.delay), timeout_s=args.timeout),
        QualitySettings(args.min_side, args.phash_distance),
        partial(open_browser, browser),
    )
    reports = scraper.run(queries, args.count)
    for report in reports:
        print(report.summary(), file=sys.stderr)
    short = [report.name for report in reports if report.short]
    if short:
        print(f"{PROG}: fewer images than asked for: {', '.join(short)}", file=sys.stderr)
        return EXIT_SHORT
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scened-scrape``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    if args.list_engines:
        return list_engines()
    if args.out is None:
        parser.error("the following arguments are required: -o/--out")
    missing = missing_extra()
    if missing is not None:
        print(f"{PROG}: error: {missing}", file=sys.stderr)
        return 1
    from selenium.common.exceptions import WebDriverException
    from tqdm.contrib.logging import logging_redirect_tqdm  # type: ignore[import-untyped, unused-ignore]

    try:
        with logging_redirect_tqdm():  # log lines go above the progress bars
            return run(args)
    except ScraperError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except WebDriverException as exc:  # the browser crashed or hung up mid-run
        first_line = (exc.msg or type(exc).__name__).strip().splitlines()[0]
        print(f"{PROG}: error: browser: {first_line}; run again to resume", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
