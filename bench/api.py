"""Benchmark of the REST API on loopback: requests/s and latency percentiles.

Starts the API (``scened.api.create_app``) under uvicorn on 127.0.0.1 with the
bundled model (or ``--model DIR``), then for each batch size (1 and 16 images
per request by default) runs a few concurrent clients for a fixed time and
prints a table.  The images are real photos from ``--photos`` (default:
../shared/data/scenes/train) or, without them, synthetic JPEGs.

``--fake`` serves a constant classifier instead of the model: it measures what
the server adds (HTTP, JSON, base64, decoding, batching) without inference.

    .venv/bin/python bench/api.py --clients 4 --seconds 10
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from scened.api import create_app
from scened.api.server import BackgroundServer
from scened.api.settings import ApiSettings
from scened.classes import CLASSES
from scened.errors import ModelError
from scened.model import Classifier, load_classifier

DEFAULT_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "scenes" / "train"


class ConstantClassifier:
    """Answers the same probabilities for every image (``--fake``)."""

    model_id = "constant"
    classes = CLASSES
    input_size = 160

    def predict(self, batch: np.ndarray) -> np.ndarray:
        row = np.linspace(1, 2, len(CLASSES), dtype=np.float32)
        return np.tile(row / row.sum(), (len(batch), 1))


@dataclass
class Result:
    batch: int
    clients: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int


def main() -> int:
    args = parse_args()
    classifier = pick_classifier(args)
    if classifier is None:
        return 2
    images = load_images(args.photos, max(args.batches))
    settings = ApiSettings(batch_size=args.model_batch, batch_wait_ms=args.wait_ms)
    print(
        f"model: {classifier.model_id}; {len(images)} distinct images; "
        f"{args.clients} clients x {args.seconds:g} s per row; "
        f"micro-batch {args.model_batch}, wait {args.wait_ms:g} ms"
    )
    with BackgroundServer(create_app(settings, classifier=classifier)) as server:
        results = [run_load(server.url, images, batch, args) for batch in args.batches]
    print_table(results)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model folder (default: the bundled model)")
    parser.add_argument("--fake", action="store_true", help="constant classifier, no model")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--model-batch", type=int, default=16)
    parser.add_argument("--wait-ms", type=float, default=3.0)
    return parser.parse_args()


def pick_classifier(args: argparse.Namespace) -> Classifier | None:
    if args.fake:
        return ConstantClassifier()
    try:
        return load_classifier(args.model)
    except ModelError as exc:
        print(
            f"bench/api.py needs a model: {exc}\n"
            "train/export one (scened/model/bundled/), pass --model DIR, "
            "or run with --fake to measure the server without inference",
            file=sys.stderr,
        )
        return None


def load_images(photos: Path, count: int) -> list[str]:
    """``count`` base64 JPEGs: real photos when the folder has them, else synthetic."""
    found = sorted(photos.glob("*/*.jpg"))
    paths = found[:: max(1, len(found) // count)]
    if len(paths) >= count:
        return [base64.b64encode(p.read_bytes()).decode() for p in paths[:count]]
    rng = np.random.default_rng(0)
    encoded = []
    for _ in range(count):
        pixels = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
        encoded.append(base64.b64encode(buffer.getvalue()).decode())
    return encoded


def run_load(url: str, images: list[str], batch: int, args: argparse.Namespace) -> Result:
    """``args.clients`` threads posting ``batch`` images per request for ``args.seconds``."""
    body = {"images": images[:batch]}
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = time.perf_counter()
    measure_from = start + args.warmup
    stop_at = measure_from + args.seconds

    def client(_: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while (now := time.perf_counter()) < stop_at:
                response = http.post("/classify", json=body)
                elapsed = time.perf_counter() - now
                if now >= measure_from:
                    with lock:
                        latencies.append(elapsed * 1000)
                        errors[0] += response.status_code != 200

    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(client, range(args.clients)))
    return Result(batch, args.clients, len(latencies), args.seconds, latencies, errors[0])


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def print_table(results: list[Result]) -> None:
    header = (
        f"{'images/req':>10} {'clients':>7} {'req/s':>8} {'img/s':>8} "
        f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        rate = r.requests / r.seconds
        mean = statistics.fmean(r.latencies_ms) if r.latencies_ms else float("nan")
        print(
            f"{r.batch:>10} {r.clients:>7} {rate:>8.1f} {rate * r.batch:>8.1f} "
            f"{percentile(r.latencies_ms, 50):>8.1f} {percentile(r.latencies_ms, 90):>8.1f} "
            f"{percentile(r.latencies_ms, 99):>8.1f} {mean:>8.1f} {r.errors:>6}"
        )


if __name__ == "__main__":
    sys.exit(main())
