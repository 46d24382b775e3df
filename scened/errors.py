"""Typed errors.  Every error a user can cause carries the path it is about.

The CLI turns these into one line and an exit code in one place
(:class:`scened.cli.errors.ScenedGroup`); library code never prints.
"""

from __future__ import annotations

from pathlib import Path


class ScenedError(Exception):
    """Base class for every error scened reports to a user."""

    exit_code = 1

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        return f"{self.path}: {self.message}"


class ConfigError(ScenedError):
    """The configuration file is invalid; ``key`` names the offending key."""

    exit_code = 78  # EX_CONFIG

    def __init__(self, message: str, path: Path | str | None = None, key: str | None = None):
        super().__init__(message, path)
        self.key = key

    def __str__(self) -> str:
        where = str(self.path) if self.path else "configuration"
        if self.key:
            where += f": {self.key}"
        return f"{where}: {self.message}"


class ImageError(ScenedError):
    """A photo cannot be read or decoded as an image."""

    exit_code = 65  # EX_DATAERR


class UnsupportedImageError(ImageError):
    """The file is an image, but of a type or colour mode that is not accepted."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than allowed (a decompression bomb guard)."""


class ModelError(ScenedError):
    """The model files are missing, damaged or do not match the label list."""

    exit_code = 70  # EX_SOFTWARE


class MetadataError(ScenedError):
    """Keywords could not be written to, read from or removed from a photo."""

    exit_code = 74  # EX_IOERR


class PluginError(ScenedError):
    """A plugin, sink or policy is unknown or misbehaved."""


class LibraryError(ScenedError):
    """A library folder cannot be walked: missing, unreadable, not a folder, or not the
    same folder on a Dask worker.  The library fails (exit status 1); others go on."""


class StateError(ScenedError):
    """The state database (or its folder) cannot be created, opened or read; ``path``
    names the database or the folder."""


class PhotoBusyError(MetadataError):
    """Another program is writing the photo, or changed it since scened read it.

    Not a failure of the photo: it is left exactly as the other program made it and
    looked at again by the next scan.
    """
