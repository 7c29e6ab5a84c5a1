#!/usr/bin/env bash
# Nightly-run benchmark for btrfs (issue 4): on a private loop-mounted btrfs, a subvolume of
# FILES files (1-24 KiB of random data each, 1000 per directory, plus a NOCOW file); times a full
# `scan-vol`, then makes five changes of the kinds a nightly run must see (append, a file rsynced
# in, chattr, a reflink copy, an in-place NOCOW write) and times the incremental rescan (three
# rounds; the ratio uses the median), then a rescan with nothing changed. Every scan starts cold
# (the filesystem is remounted, which drops only its own cache). Prints what each rescan looked
# at (--json) and the ratio full / rescan.
#
#   sudo scripts/bench-scan-incremental.sh [FILES]        (default 100000; a few minutes)
# Environment: BENCH_TMPDIR (default /var/tmp) for the sparse image; RDD_BIN for an already
# built reflinkdedup (default: build Release into build-bench/).
set -euo pipefail

files="${1:-100000}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "needs root (loop devices, mount, tree search)" >&2; exit 1; }

bin="${RDD_BIN:-}"
if [ -z "$bin" ]; then
  build="$root/build-bench"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRDD_BUILD_TESTS=OFF > /dev/null
  cmake --build "$build" --target reflinkdedup -j"$(nproc)" > "$build/build-scan-incremental.log" 2>&1 \
    || { tail -30 "$build/build-scan-incremental.log"; exit 1; }
  bin="$build/src/cli/reflinkdedup"
fi

tmp="$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/rdd-bench-incr.XXXXXX")"
mnt="$tmp/mnt"
loop=""
cleanup() {
  # Only what this script made: our mount point, our loop device (still backed by our image).
  if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt" || umount -l "$mnt" || true; fi
  if [ -n "$loop" ] && losetup "$loop" 2>/dev/null | grep -qF "$tmp/btrfs.img"; then losetup -d "$loop" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # so the EXIT trap cleans up on a signal too

truncate -s 8G "$tmp/btrfs.img"
mkfs.btrfs -q -f "$tmp/btrfs.img" > /dev/null
loop="$(losetup --find --show "$tmp/btrfs.img")"
mkdir "$mnt"
mount "$loop" "$mnt"
remount() { umount "$mnt"; mount "$loop" "$mnt"; }  # cold cache for this filesystem only
btrfs -q subvolume create "$mnt/sv"
db="$tmp/catalog.sqlite"

echo "populating $files files ..."
python3 - "$mnt/sv" "$files" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % (i % 1000)), "wb") as f:
        f.write(rng.randbytes(rng.randint(1024, 24 * 1024)))
EOF
touch "$mnt/sv/nocow" && chattr +C "$mnt/sv/nocow"
head -c 8M /dev/urandom > "$mnt/sv/nocow"
head -c 300K /dev/urandom > "$tmp/incoming"
sync

# scan LABEL: cold scan-vol; prints "LABEL wall_s=... files_seen=... files_hashed=... bytes_read=..."
scan() {
  remount
  local start end out
  start=$(date +%s.%N)
  out=$("$bin" scan-vol --json --db "$db" "$mnt/sv")
  end=$(date +%s.%N)
  python3 -c '
import json, sys
j = json.loads(sys.argv[2]); v = j["volumes"][0]
print("%-12s wall_s=%.3f mode=%s inodes_changed=%d files_seen=%d files_hashed=%d files_unchanged=%d bytes_read=%d"
      % (sys.argv[1], float(sys.argv[3]), v["mode"], v["inodes_changed"], j["files_seen"], j["files_hashed"],
         j["files_unchanged"], j["bytes_read"]))' "$1" "$out" "$(echo "$end - $start" | bc)"
}

full=$(scan full)
echo "$full"

# Three rounds of the five changes, each followed by a cold rescan; then one with no change.
# The ratio uses the median rescan: on a loaded machine one rescan can take several times
# another.
rescans=()
for round in 1 2 3; do
  echo "round $round: one more line of log" >> "$mnt/sv/d000/f00000"                    # 1. append
  cp "$tmp/incoming" "$tmp/incoming-$round"
  rsync -a "$tmp/incoming-$round" "$mnt/sv/d050/"                                     # 2. rsync a new file in
  chattr "$([ $((round % 2)) = 1 ] && echo +d || echo -d)" "$mnt/sv/d010/f00010"     # 3. attribute change
  cp --reflink=always "$mnt/sv/d020/f00020" "$mnt/sv/d020/reflinked-$round"           # 4. reflink copy
  dd if=/dev/urandom of="$mnt/sv/nocow" bs=64K count=1 seek=$((round * 5)) conv=notrunc status=none  # 5. NOCOW in place
  sync
  line=$(scan "5 changes")
  echo "$line"
  rescans+=("$line")
done
idle=$(scan "no change")
echo "$idle"

wall() { sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' <<<"$1"; }
median=$(for l in "${rescans[@]}"; do wall "$l"; done | sort -n | sed -n 2p)
echo
printf 'full scan / median rescan after 5 changes: %sx (rescans %s s)\n' \
  "$(echo "scale=1; $(wall "$full") / $median" | bc)" \
  "$(for l in "${rescans[@]}"; do wall "$l"; done | paste -sd/)"
printf 'full scan / rescan, nothing changed: %sx (rescan %s s)\n' \
  "$(echo "scale=1; $(wall "$full") / $(wall "$idle")" | bc)" "$(wall "$idle")"
