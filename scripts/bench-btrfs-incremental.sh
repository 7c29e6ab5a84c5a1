#!/usr/bin/env bash
# Incremental btrfs scan benchmark: on a private loop-mounted btrfs, FILES small files in a
# subvolume (100 directories of 1000 by default); times the full INODE_ITEM pass (every inode,
# what deletion reconciliation needs), then makes 5 changes and times the incremental search
# (min_transid = G+1 plus the changed inodes' extents). Cold = right after a remount of that
# filesystem (only its cache is dropped), warm = best of 3. Prints both and the ratio.
#
#   sudo scripts/bench-btrfs-incremental.sh [FILES]        (default 100000; about a minute)
# Environment: BENCH_TMPDIR (default /var/tmp) for the sparse image, RDD_BENCH_BIN to use an
# already built rdd_bench_btrfs_scan instead of building one (Release, in build-bench/).
set -euo pipefail

files="${1:-100000}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "needs root (loop devices, mount, tree search)" >&2; exit 1; }

bench="${RDD_BENCH_BIN:-}"
if [ -z "$bench" ]; then
  build="${root}/build-bench"
  mkdir -p "$build"
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > "$build/configure-btrfs-bench.log" 2>&1 \
      || { cat "$build/configure-btrfs-bench.log"; exit 1; }
  fi
  cmake --build "$build" --target rdd_bench_btrfs_scan -j"$(nproc)" > "$build/build-btrfs-bench.log" 2>&1 \
    || { tail -30 "$build/build-btrfs-bench.log"; exit 1; }
  bench="$build/tests/btrfs/rdd_bench_btrfs_scan"
fi

tmp="$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/rdd-bench-btrfs.XXXXXX")"
mnt="$tmp/mnt"
loop=""
cleanup() {
  # Only what this script made: our mount point, our loop device (still backed by our image).
  if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt" || umount -l "$mnt" || true; fi
  if [ -n "$loop" ] && losetup "$loop" 2>/dev/null | grep -qF "$tmp/btrfs.img"; then
    losetup -d "$loop" || true
  fi
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

echo "populating $files files ..."
start=$(date +%s.%N)
"$bench" populate "$mnt/sv" "$files"
gen=$("$bench" generation "$mnt/sv")
echo "populated in $(echo "$(date +%s.%N) - $start" | bc) s; generation G=$gen"

field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" | sort -n | head -1; }  # smallest of the runs

remount
full_cold=$("$bench" full "$mnt/sv" 1)
full_warm=$("$bench" full "$mnt/sv" 3)

# Five changes of the kinds a nightly run must see (three of them invisible to btrfs find-new).
echo "one more line" >> "$mnt/sv/d0/f00000"                      # append
echo "a new file" > "$mnt/sv/d50/new-file"                        # new file
chattr +i "$mnt/sv/d10/f00010"                                    # attribute change
cp --reflink=always "$mnt/sv/d20/f00020" "$mnt/sv/d20/reflinked"  # reflink copy
mv "$mnt/sv/d30/f00030" "$mnt/sv/d30/renamed"                     # rename
"$bench" generation "$mnt/sv" > /dev/null                         # commit

remount
inc_cold=$("$bench" incremental "$mnt/sv" "$gen" 1)
inc_warm=$("$bench" incremental "$mnt/sv" "$gen" 3)
chattr -i "$mnt/sv/d10/f00010"

echo
echo "$full_cold" | sed 's/^/cold  /'
echo "$full_warm" | sed 's/^/warm  /'
echo "$inc_cold" | sed 's/^/cold  /'
echo "$inc_warm" | sed 's/^/warm  /'
fc=$(echo "$full_cold" | field ms); fw=$(echo "$full_warm" | field ms)
ic=$(echo "$inc_cold" | field ms); iw=$(echo "$inc_warm" | field ms)
echo
printf '%-34s %12s %12s\n' "" "cold (ms)" "warm (ms)"
printf '%-34s %12s %12s\n' "full INODE_ITEM pass ($files files)" "$fc" "$fw"
printf '%-34s %12s %12s\n' "incremental search (5 changes)" "$ic" "$iw"
printf '%-34s %12s %12s\n' "ratio full / incremental" \
  "$(echo "scale=0; $fc / $ic" | bc)x" "$(echo "scale=0; $fw / $iw" | bc)x"
