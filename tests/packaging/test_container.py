"""The container image: Containerfile built from the checkout, then tagging photos.

CI reaches no image registry, so the image is built on a debootstrap'ed Debian 12
(``BASE=``, see conftest.py), which also proves that the Containerfile installs
Debian's Python where the base has none; users build on python:3.11-slim-bookworm,
which brings its own.  The photos are a temporary library bind-mounted at /srv/photos,
as compose.yaml mounts a NAS's, and exiftool on the host reads the keywords back.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, Buildah, example_library, host_ca_bundle, keywords

COMPOSE = REPO / "compose.yaml"


def compose_default(value: str) -> str:
    """``${NAME:-default}`` → ``default`` (compose's interpolation, for the defaults)."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_compose_file() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    daemon, api = compose["services"]["scened"], compose["services"]["api"]
    assert daemon["command"] == ["run", "--config", "/etc/scened/config.toml"]
    assert daemon["build"]["dockerfile"] == "Containerfile"
    assert "profiles" not in daemon and api["profiles"] == ["api"]
    assert api["command"][0] == "serve"
    for service in (daemon, api):
        mounts = {compose_default(v).split(":")[1]: compose_default(v) for v in service["volumes"]}
        assert set(mounts) == {"/srv/photos", "/etc/scened/config.toml", "/var/lib/scened"}
        assert mounts["/srv/photos"].count(":") == 1, "the libraries are mounted read-write"
        assert mounts["/etc/scened/config.toml"].endswith(":ro")
        assert mounts["/var/lib/scened"].split(":")[0] in compose["volumes"]  # a named volume
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in service["security_opt"]
        assert service["init"] is True and service["stop_grace_period"] == "60s"
        uid = compose_default(str(service["build"]["args"]["UID"]))
        assert int(uid) != 0
    assert all(port.startswith("127.0.0.1:") for port in api["ports"])


@pytest.mark.slow
def test_image_tags_a_library(buildah: Buildah, debian_base: str, tmp_path: Path) -> None:
    image = "localhost/scened-test:latest"
    buildah(
        "bud", "--isolation", "chroot", "--layers=false",
        "--build-arg", f"BASE={debian_base}",
        # CI's TLS-inspecting proxy: pip trusts this machine's CA bundle while building.
        "--volume", f"{host_ca_bundle()}:/run/ca.pem:ro", "--build-arg", "PIP_CERT=/run/ca.pem",
        "-f", str(REPO / "Containerfile"), "-t", image, str(REPO),
        timeout=900,
    )  # fmt: skip
    config = json.loads(buildah("inspect", "--type", "image", image).stdout)["OCIv1"]["config"]
    assert config["User"] == "1000:1000"
    assert config["Entrypoint"] == ["/opt/scened/bin/scened"]
    assert config["Cmd"] == ["run", "--config", "/etc/scened/config.toml"]
    assert "STATE_DIRECTORY=/var/lib/scened" in config["Env"]
    assert "PIP_CERT" not in json.dumps(config), "a build-time setting leaked into the image"

    # A NAS library owned by the image's user, and the example configuration, which
    # names /srv/photos/family and /srv/photos/archive.
    photos = example_library(tmp_path)
    for path in [photos, *photos.rglob("*")]:
        os.chown(path, 1000, 1000)
    volumes = [
        f"{photos}:/srv/photos",
        f"{REPO / 'config' / 'scened.example.toml'}:/etc/scened/config.toml:ro",
    ]
    container = buildah("from", "--name", "scened-test", image).stdout.strip()
    result = buildah.run(container, "id -u; scened config check", volumes=volumes)
    assert result.stdout.splitlines()[0] == "1000", "runs as the image's non-root user"
    assert "/etc/scened/config.toml: OK, 2 libraries" in result.stdout

    # The image's own command, made a single scan (`--once`), on both libraries.
    command = " ".join(["/opt/scened/bin/scened", *config["Cmd"], "--once"])
    result = buildah.run(container, command, volumes=volumes, check=False)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    assert "family: 2 found" in result.stdout and "archive: 2 found" in result.stdout
    assert keywords(photos / "family" / "chelsea.jpg") == ["Chelsea", "Cat"]
    assert (photos / "family" / "chelsea.jpg").stat().st_uid == 1000

    # The state is where the named volume goes, and `scened status` reads it.
    result = buildah.run(container, "ls /var/lib/scened; scened status", volumes=volumes)
    assert "state.sqlite3" in result.stdout
    assert "family" in result.stdout and "archive" in result.stdout

    # A one-off scan of a folder, without any configuration (README's podman example).
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "cat.jpg").write_bytes((REPO / "examples/photos/chelsea.jpg").read_bytes())
    os.chown(loose, 1000, 1000)
    os.chown(loose / "cat.jpg", 1000, 1000)
    buildah.run(container, "scened run --once /srv/photos", volumes=[f"{loose}:/srv/photos"])
    assert "Cat" in keywords(loose / "cat.jpg")
    buildah("rm", container)
    buildah("rmi", image)
