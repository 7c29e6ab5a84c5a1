#!/bin/bash
# Scan throughput against `cat` on the same files, cold cache, on loop-mounted btrfs and XFS
# (DESIGN.md "Performance yardsticks": near 1.0). Also prints the hasher's CPU throughput per
# block size and a warm-cache scan per block size, to choose the default block size.
#
# usage: scripts/bench-scan-vs-cat.sh [path/to/hash_bench]
#   env: RUNS=5 (cold rounds per fs), DATASET=full|small, TMPDIR (where the images go),
#        FS="btrfs xfs", BLOCK=131072 (block size of the cold runs), LOOP_DIRECT_IO=on|off
# Needs root (loop devices, mount, drop_caches). Everything it creates lives in one temp dir
# and is unmounted / detached / removed on exit, also on failure; nothing else is touched.
# Note: drop_caches empties the page cache of the whole machine, as a cold run requires.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bench=${1:-}
if [[ -z $bench ]]; then
    for b in "$here"/build-hash/tests/hash/hash_bench "$here"/build/tests/hash/hash_bench; do
        [[ -x $b ]] && bench=$b && break
    done
fi
[[ -x ${bench:-} ]] || { echo "hash_bench not found; build target hash_bench and pass its path" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "needs root (loop devices, mount, drop_caches)" >&2; exit 2; }

RUNS=${RUNS:-5}
DATASET=${DATASET:-full}
FS=${FS:-"btrfs xfs"}
BLOCK=${BLOCK:-131072}
LOOP_DIRECT_IO=${LOOP_DIRECT_IO:-on}

work=$(mktemp -d "${TMPDIR:-/tmp}/rdd-bench.XXXXXX")
mounts=()   # mount points we mounted
loops=()    # "device image" pairs we attached

cleanup() {
    local rc=$? m pair dev img
    for m in "${mounts[@]}"; do
        mountpoint -q "$m" && { umount "$m" || umount -l "$m" || echo "warning: cannot unmount $m" >&2; }
    done
    for pair in "${loops[@]}"; do
        read -r dev img <<<"$pair"
        # Detach only while the device is still backed by our image.
        if [[ $(losetup --noheadings --output BACK-FILE "$dev" 2>/dev/null | sed 's/ *$//') == "$img" ]]; then
            losetup -d "$dev" || echo "warning: cannot detach $dev" >&2
        fi
    done
    rm -rf --one-file-system "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

make_fs() {  # kind: image, loop device and mount under $work/kind.*
    local kind=$1 img=$work/$1.img mnt=$work/$1.mnt dev
    truncate -s 6G "$img"
    if [[ $kind == btrfs ]]; then mkfs.btrfs -q "$img" >/dev/null; else mkfs.xfs -q -m reflink=1 "$img"; fi
    # Direct I/O on the backing file, as a real disk: otherwise every block is cached twice (in
    # the loop fs and in the image file) and the second copy makes "cold" reads half warm.
    dev=$(losetup --find --show --direct-io="$LOOP_DIRECT_IO" "$img")
    loops+=("$dev $img")
    mkdir "$mnt"
    mount "$dev" "$mnt"
    mounts+=("$mnt")
}

# Random data: 1000 files of 4-64 KiB, 100 of 1-8 MiB, 5 of 256 MiB (about 1.8 GiB).
write_dataset() {
    local dir=$1 i n_small=1000 n_mid=100 n_big=5 big_mib=256
    if [[ $DATASET == small ]]; then n_small=200 n_mid=10 n_big=1 big_mib=64; fi
    mkdir -p "$dir/small" "$dir/mid" "$dir/big"
    for ((i = 0; i < n_small; i++)); do
        head -c $(( (RANDOM % 61 + 4) * 1024 )) /dev/urandom >"$dir/small/$i"
    done
    for ((i = 0; i < n_mid; i++)); do
        head -c $(( (RANDOM % (7 * 1024) + 1024) * 1024 )) /dev/urandom >"$dir/mid/$i"
    done
    for ((i = 0; i < n_big; i++)); do
        head -c $(( big_mib << 20 )) /dev/urandom >"$dir/big/$i"
    done
    sync
}

cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now() { date +%s.%N; }

time_cat() {  # dir -> seconds
    local t0 t1
    t0=$(now)
    find "$1" -type f -print0 | xargs -0 cat >/dev/null
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}

# The whole product path: walk, hash, write a fresh catalog (its own temp file each time).
rdd=${RDD_BINARY:-$here/build/src/cli/reflinkdedup}
[[ -x $rdd ]] || { echo "reflinkdedup not found at $rdd (build it or set RDD_BINARY)" >&2; exit 2; }
scan_vol_time() {
    local t0 t1 db=$work/catalog.sqlite
    rm -f "$db" "$db-wal" "$db-shm" "$db.lock"
    t0=$(now)
    "$rdd" scan-vol --db "$db" --block-size "$BLOCK" --json "$mnt/data" >/dev/null
    t1=$(now)
    echo "$t1 - $t0" | bc -l
}

scan_time() {  # hash_bench scan options... -> seconds; fails when hash_bench does
    local out
    out=$("$bench" scan "$@" --block "$BLOCK" "$mnt/data") || return 1
    sed -n 's/.* seconds=\([0-9.]*\) .*/\1/p' <<<"$out"
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "== hash CPU throughput (data in memory, GB/s)"
for bs in 4096 65536 131072; do "$bench" cpu --block $bs --gib 4; done

src=""
for kind in $FS; do
    make_fs "$kind"
    mnt=$work/$kind.mnt
    if [[ -z $src ]]; then
        echo "== writing dataset ($DATASET) on $kind"
        write_dataset "$mnt/data"
        src=$mnt/data
    else
        echo "== copying dataset to $kind"
        cp -a "$src" "$mnt/data"
        sync
    fi
    bytes=$(du -sb --apparent-size "$mnt/data" | cut -f1)
    files=$(find "$mnt/data" -type f | wc -l)
    echo "== $kind: $files files, $bytes bytes; cold cache, $RUNS rounds, block $BLOCK"
    t_cat=() t_uring=() t_pread=() t_drop=() t_vol=()
    for ((r = 0; r < RUNS; r++)); do
        # Rotate the order each round: the host under a loop device caches too, and whatever
        # runs first after a write or a drop behaves differently.
        line="$kind round $((r + 1)):"
        for ((k = 0; k < 5; k++)); do
            cold
            case $(( (r + k) % 5 )) in
                0) t=$(time_cat "$mnt/data"); t_cat+=("$t"); line+=$(printf ' cat %.2f s' "$t") ;;
                1) t=$(scan_time --engine io_uring)
                   t_uring+=("$t"); line+=$(printf ' io_uring %.2f s' "$t") ;;
                2) t=$(scan_time --engine pread)
                   t_pread+=("$t"); line+=$(printf ' pread %.2f s' "$t") ;;
                3) t=$(scan_time --engine io_uring --drop-cache)
                   t_drop+=("$t"); line+=$(printf ' io_uring+DONTNEED %.2f s' "$t") ;;
                4) t=$(scan_vol_time); t_vol+=("$t"); line+=$(printf ' scan-vol %.2f s' "$t") ;;
            esac
        done
        echo "$line"
    done
    m_cat=$(printf '%s\n' "${t_cat[@]}" | median)
    m_uring=$(printf '%s\n' "${t_uring[@]}" | median)
    m_pread=$(printf '%s\n' "${t_pread[@]}" | median)
    printf '%s median seconds: cat %.2f (%.0f MB/s), io_uring %.2f (%.0f MB/s), pread %.2f (%.0f MB/s)\n' "$kind" \
        "$m_cat" "$(echo "$bytes / $m_cat / 1000000" | bc -l)" \
        "$m_uring" "$(echo "$bytes / $m_uring / 1000000" | bc -l)" \
        "$m_pread" "$(echo "$bytes / $m_pread / 1000000" | bc -l)"
    m_drop=$(printf '%s\n' "${t_drop[@]}" | median)
    m_vol=$(printf '%s\n' "${t_vol[@]}" | median)
    printf 'RESULT %s ratio scan-vol/cat (medians, fresh catalog each run): %.3f\n' "$kind" \
        "$(echo "$m_vol / $m_cat" | bc -l)"
    printf 'RESULT %s ratio hasher/cat (medians): io_uring %.3f, pread %.3f, io_uring with drop_cache %.3f\n' \
        "$kind" "$(echo "$m_uring / $m_cat" | bc -l)" "$(echo "$m_pread / $m_cat" | bc -l)" \
        "$(echo "$m_drop / $m_cat" | bc -l)"

    echo "== $kind: warm cache scan (files already cached, io_uring)"
    cat_warm=$(time_cat "$mnt/data")
    cat_warm=$(time_cat "$mnt/data")
    printf '%s warm cat %.2f s (%.0f MB/s)\n' "$kind" "$cat_warm" "$(echo "$bytes / $cat_warm / 1000000" | bc -l)"
    for bs in 4096 65536 131072; do
        out=$("$bench" scan --engine io_uring --block $bs "$mnt/data")
        echo "$kind warm block=$bs: $out"
    done
done
