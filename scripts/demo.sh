#!/usr/bin/env bash
# Sets up reflinkdedup and shows what it does.
#   scripts/demo.sh                   build, make a loop-mounted btrfs image holding backup-like
#                                     duplicates, run dedup-vol on it, print the space before/after
#   scripts/demo.sh PATH...           build, then run dedup-vol on your PATHs (catalog under
#                                     /var/lib/reflinkdedup)
# Needs root for the loop-image demo (losetup, mount). Everything it creates lives in one
# temporary directory and is unmounted, detached and removed on exit, even on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target reflinkdedup >/dev/null
bin=$PWD/build/src/cli/reflinkdedup

if [ "$#" -gt 0 ]; then
  exec "$bin" dedup-vol "$@"
fi

[ "$(id -u)" -eq 0 ] || { echo "demo: the loop-image demo needs root (losetup, mount)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/reflinkdedup-demo.XXXXXX")
dev="" mnt="$work/mnt"
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  [ -n "$dev" ] && losetup -d "$dev"
  rm -rf "$work"
}
trap cleanup EXIT

truncate -s 2G "$work/backup.img"
mkfs.btrfs -q -f "$work/backup.img" >/dev/null  # its only output is a note on 5.15 defaults
dev=$(losetup --find --show "$work/backup.img")
mkdir "$mnt" && mount "$dev" "$mnt"

echo "== a backup server: two machines, two nights (loop-mounted btrfs at $mnt)"
mkdir -p "$mnt"/{alpha,beta}/{mon,tue}
head -c 96M /dev/urandom >"$mnt/alpha/mon/vm.img"        # a VM image
head -c 48M /dev/urandom >"$mnt/alpha/mon/app.log"       # a log that grows
cp --reflink=never "$mnt/alpha/mon/vm.img" "$mnt/beta/mon/vm.img"      # same image, other machine
cp --reflink=never "$mnt/alpha/mon/vm.img" "$mnt/alpha/tue/vm.img"     # rsync's fresh copy
cp --reflink=never "$mnt/alpha/mon/app.log" "$mnt/alpha/tue/app.log"
head -c 8M /dev/urandom >>"$mnt/alpha/tue/app.log"      # ... plus one day of log
sync
used() { btrfs filesystem sync "$mnt" >/dev/null; df -B1 --output=used "$mnt" | tail -1; }
before=$(used)
echo "used before: $(numfmt --to=iec-i --suffix=B "$before")"

echo "== reflinkdedup dedup-vol $mnt"
"$bin" dedup-vol --db "$work/catalog.sqlite" "$mnt"
after=$(used)
echo "used after:  $(numfmt --to=iec-i --suffix=B "$after")  (freed $(numfmt --to=iec-i --suffix=B $((before - after))))"
echo "== reflinkdedup report (what the catalog knows now)"
"$bin" report --db "$work/catalog.sqlite"
echo "== a second run: nothing left to do (no dedupe call, no data read)"
"$bin" dedup-vol --db "$work/catalog.sqlite" "$mnt"
