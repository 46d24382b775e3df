"""Benchmark of remote classification on loopback: photos/s with 1 and 2 servers vs here.

Starts ``scened serve --port 0`` processes with the bundled model (or ``--model-name``)
on 127.0.0.1 and classifies the same decoded, cropped photos (the four example photos,
mirrored and turned, repeated) in batches as ``scened run`` does: with the model in
this process, then through :class:`scened.model.remote.RemoteClassifier` with one and
with two servers.  Decoding is left out: it stays on the daemon's machine either way.

With ``--files`` it also times ``[model] remote_decode``: the photos' files (camera-
like 12 MP JPEGs made from the examples) decoded and classified here, versus sent to
the servers, which decode them (``POST /classify/files``).

On one machine the servers share its cores with each other and with this process, so
two servers are no faster than one here; the figures show what the HTTP round trip and
the wire format cost, the bytes per photo what the network must carry, and "NAS CPU"
the CPU time this process (the NAS's part) spends a photo, which is what remote
classification and remote decoding save on a weak machine.

    .venv/bin/python bench/remote.py --photos 96 --batch-size 16
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from scened.imaging import load_for_model
from scened.model import Classifier, load_classifier
from scened.model.remote import RemoteClassifier, remote_classifier
from scened.model.wire import Answer as WireAnswer
from scened.model.wire import encode_answer, encode_batch

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "photos"
SCENED = str(Path(sys.executable).with_name("scened"))
TOKEN = "bench-token"
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@contextmanager
def serve(folder: Path, model_name: str | None) -> Iterator[str]:
    """``scened serve --port 0`` in its own process; yields its URL once it serves."""
    config = folder / f"serve-{time.monotonic_ns()}.toml"
    model = f'[model]\nname = "{model_name}"\n' if model_name else ""
    config.write_text(f"{model}[api]\nworkers = 1\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCENED_")}
    env.update(SCENED_CONFIG=str(config), SCENED_API_TOKEN=TOKEN)
    process = subprocess.Popen(
        [SCENED, "serve", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:
        for line in process.stderr:
            if match := _RUNNING.search(line):
                threading.Thread(target=process.stderr.read, daemon=True).start()
                yield f"http://127.0.0.1:{match.group(1)}"
                return
        raise RuntimeError("scened serve did not start")
    finally:
        process.kill()
        process.wait()


def photos(count: int, size: int) -> np.ndarray:
    """``count`` model-size crops of the example photos and their variants."""
    crops = []
    for path in sorted(EXAMPLES.glob("*.jpg")):
        image = Image.open(path).convert("RGB")
        for variant in (image, ImageOps.mirror(image), image.rotate(90, expand=True)):
            with tempfile.NamedTemporaryFile(suffix=".jpg") as handle:
                variant.save(handle.name, quality=92)
                crops.append(load_for_model(Path(handle.name), size=size))
    return np.stack([crops[i % len(crops)] for i in range(count)])


def rate(classifier: Classifier, images: np.ndarray, batch_size: int, rounds: int) -> float:
    """Photos per second classifying ``images`` in batches: the median of ``rounds``
    timed passes (after one untimed batch), since other work shares the cores."""
    return timed(lambda part: classifier.predict(images[part]), len(images), batch_size,
                 rounds)[0]  # fmt: skip


def timed(
    work: Callable[[slice], object], count: int, batch_size: int, rounds: int
) -> tuple[float, float]:
    """Photos per second doing ``work`` on batches of ``count`` photos, and this
    process's CPU milliseconds a photo: medians of ``rounds`` passes after a warm-up."""
    work(slice(0, batch_size))
    rates, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        for first in range(0, count, batch_size):
            work(slice(first, first + batch_size))
        rates.append(count / (time.perf_counter() - start))
        cpu.append(1000 * (time.process_time() - start_cpu) / count)
    return float(np.median(rates)), float(np.median(cpu))


def camera_files(count: int) -> list[tuple[str, bytes]]:
    """``count`` 12 MP JPEG files (4000x3000, quality 90) made from the examples."""
    made = []
    for path in sorted(EXAMPLES.glob("*.jpg")):
        image = Image.open(path).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        made.append((path.name, buffer.getvalue()))
    return [made[i % len(made)] for i in range(count)]


def _send_files(remote: RemoteClassifier, files: list[tuple[str, bytes]], part: slice) -> None:
    remote.classify_files(files[part])


def compare_files(local: Classifier, urls: list[str], args: argparse.Namespace) -> None:
    """Decoding and classifying files here, versus sending them (remote_decode)."""
    files = camera_files(args.photos)
    mean = sum(len(data) for _, data in files) / len(files)
    print(f"\n--files: {args.photos} 12 MP JPEGs of {mean / 1e6:.1f} MB on average")
    print(f"{'setup':<34}{'photos/s':>10}{'NAS CPU ms':>12}")

    def here(part: slice) -> None:
        size = local.input_size
        local.predict(np.stack([load_for_model(data, size=size, name=name)
                                for name, data in files[part]]))  # fmt: skip

    figure, cpu = timed(here, len(files), args.batch_size, args.rounds)
    print(f"{'decode + classify here':<34}{figure:>10.1f}{cpu:>12.1f}")
    for count in (1, 2):
        remote = remote_classifier(local, urls[:count], token=TOKEN, fallback="fail",
                                   decode=True)  # fmt: skip
        try:
            send = functools.partial(_send_files, remote, files)
            figure, cpu = timed(send, len(files), args.batch_size, args.rounds)
        finally:
            remote.close()
        label = f"files to {count} server{'s' * (count > 1)}"
        print(f"{label:<34}{figure:>10.1f}{cpu:>12.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="Timed passes (the median).")
    parser.add_argument("--model-name", help="A registered model (default: the bundled one).")
    parser.add_argument("--files", action="store_true",
                        help="Also time remote_decode: 12 MP files sent for the servers to "
                             "decode.")  # fmt: skip
    args = parser.parse_args()
    local = load_classifier(name=args.model_name)
    images = photos(args.photos, local.input_size)
    print(f"model {local.model_id}, {args.photos} photos of {local.input_size} px, "
          f"batches of {args.batch_size}, {os.cpu_count()} cores")  # fmt: skip
    sent = len(encode_batch(images[:1])) - len(encode_batch(images[:0]))
    rows = np.zeros((1, len(local.classes)), np.float32)
    back = len(encode_answer(WireAnswer(local.model_id, local.model_id, rows)))
    print(f"bytes per photo: {sent:,} sent, about {back:,} back (one row with its header)")
    print(f"{'setup':<34}{'photos/s':>10}")
    half = max(1, args.batch_size // 2)  # what each of two servers gets of a batch
    for size in dict.fromkeys((args.batch_size, half)):
        label = f"here, batches of {size}"
        print(f"{label:<34}{rate(local, images, size, args.rounds):>10.1f}")
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        urls = [stack.enter_context(serve(Path(tmp), args.model_name)) for _ in range(2)]
        for count in (1, 2):
            remote = remote_classifier(local, urls[:count], token=TOKEN, fallback="fail")
            try:
                figure = rate(remote, images, args.batch_size, args.rounds)
            finally:
                remote.close()
            label = f"{count} server{'s' * (count > 1)} on loopback, batches of {args.batch_size}"
            print(f"{label:<34}{figure:>10.1f}")
        if args.files:
            compare_files(local, urls, args)


if __name__ == "__main__":
    main()
