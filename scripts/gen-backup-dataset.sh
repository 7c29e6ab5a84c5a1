#!/bin/bash
# Nightly-backup dataset for the dedup benchmarks: two machines, DAYS nights of real
# `rsync -a --delete --link-dest=<previous night>` into TARGET/host-a/day-NN and
# TARGET/host-b/day-NN. Between nights scripts/lib/backup_dataset.py changes the source
# trees the way use does: logs and a database grow by appending, files are edited in place
# (a few bytes), renamed, deleted, added, an mbox loses messages from the middle (the rest
# moves by whole 4 KiB blocks), a sparse VM image gets a few blocks rewritten, logs rotate.
# host-b holds about half of host-a's documents, photos and projects (same bytes, other
# owner and mtime), so rsync cannot hard-link them. Small files (30% <= 2 KiB), empty files
# and sparse files are included; data is pseudo-random, never zeros except in holes.
# host-a is backed up with plain `rsync -a` (holes of the VM image arrive as written zeros,
# like rsnapshot's defaults); host-b adds --sparse (holes stay holes).
#
# usage: scripts/gen-backup-dataset.sh [--seed N] [--scale F] [--days N] [--work DIR] TARGET
#   --seed  (1)  same seed, scale and days -> byte-identical dataset (content, names, modes,
#                owners, mtimes)
#   --scale (1)  multiplies file counts and sizes; 1 gives about 1.9 GiB on disk with 6 days
#   --days  (6)  nights of backup
#   --work       where the source trees live while generating (default: a temp dir, removed)
# TARGET must be empty or missing. Needs root (rsync -a keeps owners) and rsync, python3.
set -euo pipefail

seed=1 scale=1 days=6 work=""
while (($#)); do
    case $1 in
        --seed) seed=$2; shift 2 ;;
        --scale) scale=$2; shift 2 ;;
        --days) days=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
(($# == 1)) || { echo "usage: $0 [--seed N] [--scale F] [--days N] [--work DIR] TARGET" >&2; exit 2; }
target=$1
[[ $(id -u) == 0 ]] || { echo "needs root: rsync -a must keep file owners" >&2; exit 2; }
command -v rsync >/dev/null || { echo "rsync is missing (apt-get install rsync)" >&2; exit 2; }
mkdir -p "$target"
[[ -z $(ls -A "$target") ]] || { echo "$target is not empty" >&2; exit 2; }
target=$(cd "$target" && pwd)

lib=$(cd "$(dirname "$0")" && pwd)/lib/backup_dataset.py
own_work=0
if [[ -z $work ]]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/rdd-dataset-src.XXXXXX")
    own_work=1
fi
cleanup() { ((own_work)) && rm -rf --one-file-system "$work"; return 0; }
trap cleanup EXIT

src() { python3 "$lib" "$@" --seed "$seed" --scale "$scale"; }

night() {  # machine day extra-rsync-options...: one backup night, hard-linked to the one before
    local host=$1 d=$2 dest prev
    shift 2
    dest=$target/host-$host/$(printf 'day-%02d' "$d")
    prev=$target/host-$host/$(printf 'day-%02d' $((d - 1)))
    local link=()
    ((d > 1)) && link=(--link-dest="$prev")
    mkdir -p "$(dirname "$dest")"
    rsync -a --delete "$@" "${link[@]}" "$work/$host/" "$dest/"
}

for ((d = 1; d <= days; d++)); do
    if ((d == 1)); then
        src init --machine a "$work/a"
        src init --machine b --share-from "$work/a" "$work/b"
    else
        src mutate --machine a --day "$d" "$work/a"
        src mutate --machine b --day "$d" "$work/b"
    fi
    night a "$d"
    night b "$d" --sparse
    echo "gen-backup-dataset: night $d of $days done"
done

# Summary: apparent size counts every path (hard links too); du counts each inode once.
printf 'gen-backup-dataset: %s files (%s inodes), %s apparent, %s on disk in %s\n' \
    "$(find "$target" -type f | wc -l)" "$(find "$target" -type f -printf '%i\n' | sort -u | wc -l)" \
    "$(du -sh --apparent-size "$target" | cut -f1)" "$(du -sh "$target" | cut -f1)" "$target"
