"""A fresh Debian 12 to install scened into, the way a NAS owner would.

No image registry is reachable from CI, so the base is made here: ``debootstrap
--variant=minbase bookworm`` from the Debian mirror, turned into a local image with
``buildah from scratch`` + ``buildah copy`` + ``buildah commit``.  buildah keeps
everything (images, containers, layers) in a storage folder under the session's
temporary directory, which is emptied and removed at the end: nothing is cached
outside it, nothing touches the machine's own container storage.

Both the NAS recipe test and the container test use this one base (~35 s to make).
The tools are installed by scripts/install-system-deps.sh; a missing one fails the
tests, it never skips them.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MIRROR = os.environ.get("SCENED_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def need(tool: str) -> str:
    found = shutil.which(tool)
    assert found, f"{tool} is needed (bash scripts/install-system-deps.sh installs it)"
    return found


def host_ca_bundle() -> Path:
    """The machine's CA bundle, lent to pip inside the containers.

    Where outgoing TLS goes through an inspecting proxy (this CI's does), only the
    machine's own bundle knows the proxy's CA; elsewhere it is the ordinary bundle.
    """
    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise AssertionError("no CA bundle found on this machine (apt install ca-certificates)")


@dataclass
class Buildah:
    """buildah with its own storage under ``root`` and chroot isolation."""

    root: Path

    def args(self, *args: str) -> list[str]:
        return [
            need("buildah"),
            "--root", str(self.root / "storage"),
            "--runroot", str(self.root / "run"),
            "--storage-driver", "overlay",
            *args,
        ]  # fmt: skip

    def __call__(
        self, *args: str, timeout: float = 600, stdin: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        raw = subprocess.run(
            self.args(*args),
            input=stdin if stdin is not None else b"",
            capture_output=True, timeout=timeout, check=False,
            env={**os.environ, "BUILDAH_ISOLATION": "chroot"},
        )  # fmt: skip
        result = subprocess.CompletedProcess(
            raw.args, raw.returncode, raw.stdout.decode(errors="replace"),
            raw.stderr.decode(errors="replace"),
        )  # fmt: skip
        if check:
            assert result.returncode == 0, (
                f"buildah {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def run(
        self, container: str, command: str, *, volumes: Sequence[str] = (), user: str | None = None,
        workdir: str | None = None, check: bool = True, timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """``bash -c command`` in ``container`` (chroot isolation, the host's network)."""
        options = ["--isolation", "chroot", "--hostname", "localhost"]
        for volume in volumes:
            options += ["--volume", volume]
        if user is not None:
            options += ["--user", user]
        if workdir is not None:
            options += ["--workingdir", workdir]
        return self("run", *options, container, "--", "bash", "-c", command,
                    check=check, timeout=timeout)  # fmt: skip

    def mount(self, container: str) -> Path:
        return Path(self("mount", container).stdout.strip())

    def clean(self) -> None:
        """Remove every container and image, then the storage itself."""
        self("rm", "--all", check=False, timeout=120)
        self("rmi", "--all", "--force", check=False, timeout=120)
        subprocess.run(
            ["umount", "--recursive", "--lazy", str(self.root / "storage" / "overlay")],
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    assert os.geteuid() == 0, "the packaging tests need root (buildah, debootstrap, chroot)"
    tool = Buildah(tmp_path_factory.mktemp("buildah"))
    try:
        yield tool
    finally:
        tool.clean()


@pytest.fixture(scope="session")
def debian_base(buildah: Buildah, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``localhost/scened-test-debian:12``: a bare Debian 12 (minbase), made here."""
    rootfs = tmp_path_factory.mktemp("debootstrap") / "rootfs"
    result = subprocess.run(
        [need("debootstrap"), "--variant=minbase", "bookworm", str(rootfs), MIRROR],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"debootstrap failed:\n{result.stdout[-3000:]}\n{result.stderr}"
    container = buildah("from", "scratch").stdout.strip()
    buildah("copy", container, str(rootfs), "/")
    image = "localhost/scened-test-debian:12"
    buildah("commit", "--rm", container, image)
    shutil.rmtree(rootfs)
    return image


def example_library(root: Path) -> Path:
    """``root/photos`` laid out for config/scened.example.toml's two libraries."""
    photos = root / "photos"
    examples = REPO / "examples" / "photos"
    layout = {"family": ("chelsea", "coffee"), "archive": ("astronaut", "rocket")}
    for library, names in layout.items():
        (photos / library).mkdir(parents=True)
        for name in names:
            shutil.copy2(examples / f"{name}.jpg", photos / library / f"{name}.jpg")
    return photos


def keywords(photo: Path) -> list[str]:
    """The photo's XMP ``dc:subject``, as exiftool (an independent reader) sees it."""
    result = subprocess.run(
        [need("exiftool"), "-json", "-XMP-dc:Subject", str(photo)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    subject = json.loads(result.stdout)[0].get("Subject", [])
    return [str(k) for k in subject] if isinstance(subject, list) else [str(subject)]


def checkout_tar() -> bytes:
    """The checkout's files as a clone has them (tracked and not ignored), as a tar."""
    files = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    present = b"\0".join(f for f in files.split(b"\0") if f and (REPO / os.fsdecode(f)).exists())
    return subprocess.run(
        ["tar", "-C", str(REPO), "--null", "-T", "-", "-c"],
        input=present, capture_output=True, check=True, timeout=120,
    ).stdout  # fmt: skip
