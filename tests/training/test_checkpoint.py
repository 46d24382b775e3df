"""The checkpoint reader returns tensors and refuses anything that could run code."""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import sys
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scened_training.backbone import default_checkpoint
from scened_training.checkpoint import LEGACY_MAGIC, UnsafeCheckpointError, load_state_dict


def test_reads_torchvision_checkpoint() -> None:
    state = load_state_dict(default_checkpoint())
    assert state["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert state["features.0.0.weight"].dtype == np.float32
    assert state["classifier.1.weight"].shape == (1000, 1280)
    assert state["features.18.1.num_batches_tracked"].dtype == np.int64
    assert len(state) == 314


class _Payload:
    """Unpickling this would create ``marker`` through os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def _legacy_stream(state: Any) -> bytes:
    stream = io.BytesIO()
    for part in (LEGACY_MAGIC, 1001, {"little_endian": True}, state, []):
        pickle.dump(part, stream, protocol=2)
    return stream.getvalue()


def test_refuses_code_in_legacy_checkpoint(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(_legacy_stream(collections.OrderedDict(w=_Payload(marker))))
    with pytest.raises(UnsafeCheckpointError, match=r"posix\.system|os\.system"):
        load_state_dict(evil)
    assert not marker.exists()


def test_refuses_non_checkpoint(tmp_path: Path) -> None:
    other = tmp_path / "other.pth"
    other.write_bytes(pickle.dumps(42))
    with pytest.raises(UnsafeCheckpointError, match="magic"):
        load_state_dict(other)


@pytest.fixture
def fake_torch() -> Iterator[types.ModuleType]:
    """Stand-ins named like torch's globals, so a test can write a real zip checkpoint."""
    torch_mod = types.ModuleType("torch")
    utils_mod = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise AssertionError("never called while pickling")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch_mod.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch_mod, "torch._utils": utils_mod})
    try:
        yield torch_mod
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def test_reads_zip_checkpoint(tmp_path: Path, fake_torch: types.ModuleType) -> None:
    values = np.arange(6, dtype="<f4")

    class Tensor:
        def __reduce__(self) -> tuple[Any, ...]:
            rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2  # type: ignore[attr-defined]
            # a transposed (2, 3) view of 6 values: shape (3, 2), strides (1, 3)
            return (rebuild, (Storage(), 0, (3, 2), (1, 3), False, collections.OrderedDict()))

    class Storage:
        pass

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, Storage):
                return ("storage", fake_torch.FloatStorage, "0", "cpu", 6)
            return None

    payload = io.BytesIO()
    Pickler(payload, protocol=2).dump(collections.OrderedDict(weight=Tensor()))
    path = tmp_path / "new.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload.getvalue())
        archive.writestr("archive/data/0", values.tobytes())
    state = load_state_dict(path)
    assert state["weight"].tolist() == values.reshape(2, 3).T.tolist()


def test_truncated_storage_is_an_error(tmp_path: Path) -> None:
    whole = default_checkpoint().read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(whole[: len(whole) - 1000])
    with pytest.raises(UnsafeCheckpointError, match="truncated"):
        load_state_dict(cut)
    assert struct.calcsize("<q") == 8
