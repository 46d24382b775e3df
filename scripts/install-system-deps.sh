#!/usr/bin/env bash
# Debian packages the test suite uses as independent oracles and drivers:
# exiftool and exiv2 read back what scened writes, chromium + chromedriver run the
# scraper tests, systemd provides systemd-analyze for the unit files, acl (setfacl) sets
# the ACLs that the metadata tests check are kept.
# tests/packaging/ (the NAS recipe and the container image): debootstrap makes a fresh
# Debian 12 from the Debian mirror (no image registry is reachable from CI), buildah
# builds the Containerfile on it and runs the recipe in it (chroot isolation, its
# storage in the test's temporary folder).
# tests/interop/: digikam, darktable and xvfb start digiKam 7.9 and darktable 4.2
# headless under Xvfb, which index a library scened tagged (their databases are read).
# The largest install here: about 340 packages and 1.1 GB (33 s from a near mirror).
set -euo pipefail
packages=(libimage-exiftool-perl exiv2 chromium chromium-driver systemd python3-venv acl
    debootstrap buildah digikam darktable xvfb)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
