"""README.md's NAS recipe ("With systemd"), line by line, on a fresh Debian 12.

The lines are read from README.md itself (the ``sh`` block after the ``nas-recipe``
marker), so the README stays true: each one runs as written, with ``sudo``, in a
debootstrap'ed Debian 12 (a buildah container, chroot isolation) whose /srv/photos is
a temporary library owned by another user ("alice"), as on a family NAS.  Only the
lines that need a running systemd (``systemctl``) or a person (``sudoedit``: the
example configuration is kept as installed) are left out; a new kind of line in the
recipe fails this test until it is classified here.

Then scened runs as the installed unit says (its User=, AmbientCapabilities=,
StateDirectory= and ExecStart= binary) and exiftool on the host checks the keywords,
and ``systemd-analyze verify`` checks the installed units against the virtualenv the
recipe made.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from .conftest import (
    REPO,
    Buildah,
    checkout_tar,
    example_library,
    host_ca_bundle,
    keywords,
    need,
)

MARKER = "<!-- nas-recipe:"
#: Commands of the recipe this test does not run, and why.
NOT_RUN_HERE = {
    "systemctl": "needs a running systemd: the units are checked with systemd-analyze verify",
    "sudoedit": "interactive: the example configuration is used as installed",
}


def recipe_lines() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert text.count(MARKER) == 1, "README.md must mark its NAS recipe once"
    after = text[text.index(MARKER) :]
    block = re.search(r"```sh\n(.*?)```", after, re.DOTALL)
    assert block, "no ```sh block after the nas-recipe marker"
    lines = block.group(1).splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def command_name(line: str) -> str:
    """The command a line runs, past ``sudo`` and its options (``-u USER``)."""
    words = shlex.split(line, comments=True)
    if words and words[0] == "sudo":
        words = words[1:]
        while words and words[0].startswith("-"):
            words = words[2:] if words[0] in ("-u", "-g") else words[1:]
    assert words, f"an empty command in the recipe: {line!r}"
    return words[0]


def unit_settings(path: Path) -> dict[str, str]:
    return {
        key: value
        for key, _, value in (line.partition("=") for line in path.read_text().splitlines())
        if value and not key.startswith(("#", "["))
    }


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.jpg"))
    }


def test_recipe_is_the_virtualenv_one() -> None:
    lines = recipe_lines()
    assert "sudo python3 -m venv /opt/scened" in lines
    assert not any(re.match(r"(sudo )?pip3? install", line) for line in lines), (
        "pip outside the virtualenv fails on Debian 12 (externally-managed-environment)"
    )
    unknown = {command_name(line) for line in lines} - {
        *NOT_RUN_HERE, "apt", "useradd", "install", "python3", "/opt/scened/bin/pip",
        "/opt/scened/bin/scened", "setfacl", "env",
    }  # fmt: skip
    assert not unknown, f"new commands in the recipe: {unknown}"


@pytest.mark.slow
def test_readme_nas_recipe_on_fresh_debian(
    buildah: Buildah, debian_base: str, tmp_path: Path
) -> None:
    lines = recipe_lines()
    photos = example_library(tmp_path)
    chelsea = photos / "family" / "chelsea.jpg"
    os.setxattr(chelsea, "user.xdg.tags", b"mine")  # KDE's tags: must survive the re-write
    volumes = [f"{photos}:/srv/photos", f"{host_ca_bundle()}:/run/host-ca.pem:ro"]
    container = buildah("from", "--name", "scened-recipe", debian_base).stdout.strip()

    # What a fresh Debian 12 server has and minbase lacks (sudo), a checkout of scened,
    # and the photos' owner.  pip is pointed at this machine's CA bundle, for CI's
    # TLS-inspecting proxy (/etc/pip.conf, so that it holds under sudo too).
    buildah.run(
        container,
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        "--no-install-recommends sudo >/dev/null && "
        "printf '[global]\\ncert = /run/host-ca.pem\\n' > /etc/pip.conf && "
        "useradd --create-home alice && chown -R alice: /srv/photos && mkdir /root/scened",
        volumes=volumes,
    )
    buildah("run", "--isolation", "chroot", container, "--", "tar", "-C", "/root/scened", "-x",
            stdin=checkout_tar())  # fmt: skip
    alice = chelsea.stat().st_uid
    before = digests(photos)

    outputs: dict[str, str] = {}
    for line in lines:
        if command_name(line) in NOT_RUN_HERE:
            continue
        result = buildah.run(container, line, volumes=volumes, workdir="/root/scened", check=False)
        assert result.returncode == 0, (
            f"README line failed ({result.returncode}): {line}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        outputs[command_name(line) + (" --dry-run" if "--dry-run" in line else "")] = result.stdout

    assert "OK, 2 libraries" in outputs["/opt/scened/bin/scened"]  # config check
    assert "would tag" in outputs["env --dry-run"]
    assert digests(photos) == before, "the dry run changed a photo"

    # scened as the installed unit runs it: its user, capabilities and state folder.
    root = buildah.mount(container)
    unit = unit_settings(root / "etc/systemd/system/scened.service")
    executable, *arguments = shlex.split(unit["ExecStart"])
    assert executable == "/opt/scened/bin/scened" and (root / executable[1:]).is_file()
    config = arguments[arguments.index("--config") + 1]
    caps = ",".join(
        "+" + cap.removeprefix("CAP_").lower() for cap in unit["AmbientCapabilities"].split()
    )
    cap_options = [f"--cap-add={cap}" for cap in unit["AmbientCapabilities"].split()]
    state = f"/var/lib/{unit['StateDirectory']}"
    command = (
        f"setpriv --reuid {unit['User']} --regid {unit['Group']} --init-groups "
        f"--inh-caps {caps} --ambient-caps {caps} "
        f"env STATE_DIRECTORY={state} {executable} run --once --config {config}"
    )
    result = buildah(
        "run", "--isolation", "chroot", *cap_options, "--volume", volumes[0], container,
        "--", "bash", "-c", command, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    assert "family: 2 found" in result.stdout and "archive: 2 found" in result.stdout

    # exiftool, on the host: the keyword landed beside the photo's own, and the photo
    # still belongs to its owner, with its ACL (the recipe's setfacl) and attributes.
    assert keywords(chelsea) == ["Chelsea", "Cat"]
    assert chelsea.stat().st_uid == alice
    assert "system.posix_acl_access" in os.listxattr(chelsea)
    assert os.getxattr(chelsea, "user.xdg.tags") == b"mine"

    # The installed units verify against the virtualenv the recipe installed.
    analyze = need("systemd-analyze")
    units = []
    for name in ("scened.service", "scened-once.service", "scened-once.timer"):
        text = (REPO / "systemd" / name).read_text(encoding="utf-8")
        copy = tmp_path / name
        copy.write_text(text.replace(executable, str(root / executable[1:])), encoding="utf-8")
        units.append(str(copy))
    verify = subprocess.run(
        [analyze, "verify", *units], capture_output=True, text=True, check=False, timeout=120
    )
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    buildah("umount", container)
    buildah("rm", container)
