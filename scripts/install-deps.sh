#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, test and demo reflinkdedup.
# Safe to run twice: apt-get skips what is already installed; `apt-get update` runs only
# when a package is actually missing.
set -euo pipefail

packages=(
  g++ cmake make pkg-config git
  clang libclang-rt-14-dev  # the fuzz targets: clang with its libFuzzer runtime
  libbtrfsutil-dev liburing-dev libsqlite3-dev libxxhash-dev nlohmann-json3-dev
  libboost-program-options-dev libgtest-dev
  btrfs-progs xfsprogs xfslibs-dev
  util-linux e2fsprogs coreutils attr rsync
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
