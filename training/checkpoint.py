"""Reads a PyTorch checkpoint with numpy alone, refusing to run any code in it.

A ``.pth`` file is a pickle, and unpickling can call any importable function.  The
unpickler here resolves only the handful of names a plain tensor state dict needs
(``OrderedDict``, tensor rebuilding, storage types) to our own harmless stand-ins;
any other global makes it raise.  Both on-disk layouts are read: the legacy
"magic number + pickles + raw storages" stream (torchvision's
``mobilenet_v2-b0353104.pth`` is one) and the newer zip archive.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The checkpoint refers to something other than tensors and plain containers."""


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype[Any]


class _Storage:
    """A storage whose bytes are filled in after the pickle has been read."""

    def __init__(self, dtype: np.dtype[Any], size: int) -> None:
        self.dtype = dtype
        self.size = size
        self.data: np.ndarray | None = None


@dataclass
class _LazyTensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def materialise(self) -> np.ndarray:
        if self.storage.data is None:
            raise UnsafeCheckpointError("tensor refers to a storage that was never read")
        itemsize = self.storage.dtype.itemsize
        strides = tuple(s * itemsize for s in self.stride)
        view = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset :], shape=self.shape, strides=strides
        )
        return np.array(view)  # a compact copy, detached from the storage


def _rebuild_tensor(
    storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_ignored: Any
) -> _LazyTensor:
    return _LazyTensor(storage, int(offset), tuple(shape), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals a tensor state dict needs; everything else is refused."""

    def __init__(
        self, file: IO[bytes], storages: dict[str, _Storage], read_storage: Any = None
    ) -> None:
        super().__init__(file)
        self._storages = storages
        self._read_storage = read_storage

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        raise UnsafeCheckpointError(f"checkpoint refers to {module}.{name}, which is refused")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise UnsafeCheckpointError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, size = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise UnsafeCheckpointError(f"unexpected storage type {storage_type!r}")
        if key not in self._storages:
            storage = _Storage(storage_type.dtype, int(size))
            if self._read_storage is not None:
                storage.data = self._read_storage(str(key), storage.dtype)
            self._storages[key] = storage
        return self._storages[key]


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The checkpoint's tensors as numpy arrays, by name (``features.0.0.weight``…)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with path.open("rb") as stream:
        return _load_legacy(stream)


def _load_legacy(stream: IO[bytes]) -> dict[str, np.ndarray]:
    magic = _RestrictedUnpickler(stream, {}).load()
    if magic != LEGACY_MAGIC:
        raise UnsafeCheckpointError("not a PyTorch checkpoint (bad magic number)")
    _RestrictedUnpickler(stream, {}).load()  # protocol version
    _RestrictedUnpickler(stream, {}).load()  # sys info (endianness, type sizes)
    storages: dict[str, _Storage] = {}
    state = _RestrictedUnpickler(stream, storages).load()
    keys = _RestrictedUnpickler(stream, {}).load()
    for key in keys:
        storage = storages[key]
        (count,) = struct.unpack("<q", stream.read(8))
        raw = stream.read(count * storage.dtype.itemsize)
        if len(raw) != count * storage.dtype.itemsize:
            raise UnsafeCheckpointError(f"storage {key} is truncated")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return _materialise(state)


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise UnsafeCheckpointError("zip checkpoint without exactly one data.pkl")
        prefix = pickles[0][: -len("data.pkl")]

        def read_storage(key: str, dtype: np.dtype[Any]) -> np.ndarray:
            return np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype=dtype)

        payload = io.BytesIO(archive.read(pickles[0]))
        state = _RestrictedUnpickler(payload, {}, read_storage).load()
    return _materialise(state)


def _materialise(state: Any) -> dict[str, np.ndarray]:
    if not isinstance(state, dict):
        raise UnsafeCheckpointError("checkpoint is not a state dict")
    tensors = {}
    for name, value in state.items():
        if not isinstance(value, _LazyTensor):
            raise UnsafeCheckpointError(f"entry {name!r} is not a tensor")
        tensors[str(name)] = value.materialise()
    return tensors
