#!/bin/bash
# Space freed by `reflinkdedup dedup-vol` against `duperemove -dr --hashfile` and
# `jdupes -r -B` on the same nightly-backup dataset (scripts/gen-backup-dataset.sh), on fresh
# loop-mounted btrfs and XFS (reflink=1) images, measured against the exact 4 KiB maximum
# (scripts/exact-max-reclaim). For each filesystem the dataset is written once into a master
# image by real rsync runs; every tool then gets a byte-for-byte copy of that image (same
# files, same extents, nothing shared), so all tools start from the same layout.
# Per tool: wall time, CPU (user+sys), peak RSS (GNU time), bytes freed (statfs used before
# and after, after sync and once background freeing has stopped), the duplicates it left
# (exact-max-reclaim run again), and a sha256+metadata manifest before/after (any difference
# is reported loudly and makes the script exit 1). For reflinkdedup also: what a --dry-run
# predicted (own catalog, before the measured run) and whether a second run with nothing
# changed makes no dedupe call and reads no data. "What is left" is broken down by file
# category and reason (exact-max-reclaim --analyze) to show which kinds of duplicates a tool misses.
#
# usage: scripts/bench-dedup-vs-peers.sh [options]
#   --fs "btrfs xfs"         filesystems to test
#   --tools "reflinkdedup duperemove jdupes"   (also: duperemove-partial = --dedupe-options=partial,
#                            reflinkdedup-4k = reflinkdedup with --block-size=4K)
#   --seed N --scale F --days N   dataset (see gen-backup-dataset.sh; defaults 1, 1, 6)
#   --rdd-opt OPT            extra dedup-vol option, repeatable (e.g. --rdd-opt=--block-size=4K;
#                            give --block-size in this one-word form so the analysis uses it)
#   --timeout SECONDS        per tool run (default 3600)
#   --keep                   keep the work dir (logs, manifests, JSON); images are always removed
# env: RDD_BINARY (default build-bench/, then build/), TMPDIR (where images go: ~2x 5 GiB sparse).
# Needs root (loop devices, mount, drop_caches). Installs rsync, duperemove, jdupes and GNU time
# with apt-get when missing. Everything it creates lives in one temp dir and is unmounted,
# detached and removed on exit, also on failure; nothing else is touched.
# Note: drop_caches empties the page cache of the whole machine before each tool (cold start).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
FS="btrfs xfs" TOOLS="reflinkdedup duperemove jdupes" seed=1 scale=1 days=6 timeout_s=3600 keep=0
rdd_opts=()
while (($#)); do
    case $1 in
        --fs) FS=$2; shift 2 ;;
        --tools) TOOLS=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --scale) scale=$2; shift 2 ;;
        --days) days=$2; shift 2 ;;
        --rdd-opt) rdd_opts+=("$2"); shift 2 ;;
        --rdd-opt=*) rdd_opts+=("${1#--rdd-opt=}"); shift ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || { echo "needs root (loop devices, mount, drop_caches)" >&2; exit 2; }

rdd=${RDD_BINARY:-}
if [[ -z $rdd ]]; then
    for b in "$here"/build-bench/src/cli/reflinkdedup "$here"/build/src/cli/reflinkdedup; do
        [[ -x $b ]] && rdd=$b && break
    done
fi
[[ " $TOOLS " != *" reflinkdedup "* || -x ${rdd:-} ]] ||
    { echo "reflinkdedup not found (build it or set RDD_BINARY)" >&2; exit 2; }

need=()
command -v rsync >/dev/null || need+=(rsync)
command -v duperemove >/dev/null || need+=(duperemove)
command -v jdupes >/dev/null || need+=(jdupes)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
    echo "== installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rdd-bench-peers.XXXXXX")
mounts=()   # mount points we mounted
loops=()    # "device image" pairs we attached

unmount_ours() {
    local m
    for m in "${mounts[@]}"; do
        mountpoint -q "$m" && { umount "$m" || umount -l "$m" || echo "warning: cannot unmount $m" >&2; }
    done
    mounts=()
}
detach_ours() {
    local pair dev img
    for pair in "${loops[@]}"; do
        read -r dev img <<<"$pair"
        # Detach only while the device is still backed by our image.
        if [[ $(losetup --noheadings --output BACK-FILE "$dev" 2>/dev/null | sed 's/ *$//') == "$img" ]]; then
            losetup -d "$dev" || echo "warning: cannot detach $dev" >&2
        fi
    done
    loops=()
}
cleanup() {
    local rc=$?
    unmount_ours
    detach_ours
    rm -f "$work"/*.img
    if ((keep)); then echo "work dir kept: $work"; else rm -rf --one-file-system "$work"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

attach_mount() {  # kind image mountpoint
    local kind=$1 img=$2 mnt=$3 dev opts=()
    # Direct I/O on the backing file, as a real disk: no second cache of every block in the host.
    dev=$(losetup --find --show --direct-io=on "$img")
    loops+=("$dev $img")
    [[ $kind == xfs ]] && opts=(-o nouuid)  # the copies share the master's UUID
    mkdir -p "$mnt"
    mount "${opts[@]}" "$dev" "$mnt"
    mounts+=("$mnt")
}
release() { unmount_ours; detach_ours; }

cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
used_bytes() { stat -f -c '%b %f %S' "$1" | awk '{printf "%d\n", ($1 - $2) * $3}'; }
btrfs_data_used() { btrfs filesystem df -b "$1" | sed -n 's/^Data, [^:]*: total=[0-9]*, used=\([0-9]*\).*/\1/p'; }

settle() {  # kind mnt -> used bytes once writeback and background freeing have stopped
    local kind=$1 mnt=$2 prev=-1 cur i
    for ((i = 0; i < 60; i++)); do
        sync
        if [[ $kind == btrfs ]]; then
            btrfs filesystem sync "$mnt" >/dev/null
        else
            # Post-EOF speculative preallocation would count as used until reclaimed.
            xfs_spaceman -c 'prealloc -s' "$mnt" >/dev/null
        fi
        cur=$(used_bytes "$mnt")
        [[ $cur == "$prev" ]] && break
        prev=$cur
        sleep 1
    done
    echo "$cur"
}

json_get() {  # file key -> value of a top-level JSON key
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"
}

rdd_extra() {  # tool -> the options that make this reflinkdedup variant
    case $1 in reflinkdedup-4k) echo --block-size=4K ;; esac
}
run_tool() {  # tool mnt kind -> runs it under GNU time; sets rc
    local tool=$1 mnt=$2 kind=$3 cmd
    case $tool in
        reflinkdedup*) cmd=("$rdd" dedup-vol --db "$work/rdd-$kind-$tool.sqlite" --json $(rdd_extra "$tool") "${rdd_opts[@]}" "$mnt") ;;
        duperemove) cmd=(duperemove -dr --hashfile="$work/duperemove-$kind.hash" "$mnt") ;;
        # Not in the default set: duperemove also comparing parts of extents (slower, frees more).
        duperemove-partial) cmd=(duperemove -dr --dedupe-options=partial --hashfile="$work/dp-$kind.hash" "$mnt") ;;
        jdupes) cmd=(jdupes -r -B "$mnt") ;;
        *) echo "unknown tool $tool" >&2; exit 2 ;;
    esac
    echo "   $ ${cmd[*]}"
    rc=0
    /usr/bin/time -f '%e %U %S %M' -o "$work/$kind-$tool.time" \
        timeout "$timeout_s" "${cmd[@]}" >"$work/$kind-$tool.out" 2>"$work/$kind-$tool.err" || rc=$?
}

show_survey() {  # exact-max-reclaim JSON, title: totals and the category x reason table
    python3 - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
m = lambda k: f"{d[k] / 2**20:.1f}"
print(f"   {d['paths']} paths, {d['inodes']} inodes; data {m('logical_data_bytes')} MiB, distinct "
      f"{m('distinct_content_bytes')} MiB, holes {m('hole_bytes')} MiB, written zeros {m('zero_block_bytes')} MiB, "
      f"inline {m('inline_bytes')} MiB; duplicates {m('max_reclaimable_bytes')} MiB")
rows = d["analysis"]
reasons = sorted({r for t in rows.values() for r in t})
print(f"   {sys.argv[2]} by category and reason (MiB; window {d['analysis_window']} B):")
print("     " + f"{'category':<20}" + "".join(f"{r:>15}" for r in reasons) + f"{'total':>10}")
for cat, t in rows.items():
    print("     " + f"{cat:<20}" + "".join(f"{t.get(r, 0) / 2**20:>15.1f}" for r in reasons)
          + f"{sum(t.values()) / 2**20:>10.1f}")
EOF
}

mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0) print "-"; else printf "%.1f%%", 100 * a / b}'; }

rdd_block=65536  # dedup-vol's default; --rdd-opt=--block-size=N[K|M] changes it
for o in "${rdd_opts[@]}"; do
    if [[ $o == --block-size=* ]]; then
        rdd_block=$(numfmt --from=iec "${o#--block-size=}")
    fi
done
[[ -n ${rdd:-} ]] && echo "== reflinkdedup binary: $rdd ($(date -r "$rdd" '+%F %T'))"
results=$work/results.tsv   # fs tool wall cpu rss freed max left bookend data_freed content rc zero_dup
: >"$results"
failed=0
t_start=$(date +%s)

for kind in $FS; do
    master=$work/$kind-master.img
    truncate -s 5G "$master"
    if [[ $kind == btrfs ]]; then mkfs.btrfs -q "$master" >/dev/null; else mkfs.xfs -q -m reflink=1 "$master"; fi
    attach_mount "$kind" "$master" "$work/mnt-$kind-master"
    mnt=$work/mnt-$kind-master
    echo "== $kind: generating the dataset (seed $seed, scale $scale, $days days)"
    t0=$(date +%s)
    "$here/scripts/gen-backup-dataset.sh" --seed "$seed" --scale "$scale" --days "$days" "$mnt/data" | tail -1
    settle "$kind" "$mnt" >/dev/null
    echo "   generated in $(($(date +%s) - t0)) s; exact maximum:"
    "$here/scripts/exact-max-reclaim" --json --analyze --window 65536 \
        --manifest "$work/$kind.pre.manifest" "$mnt/data" >"$work/$kind.pre.json"
    show_survey "$work/$kind.pre.json" "the maximum"
    max=$(json_get "$work/$kind.pre.json" max_reclaimable_bytes)
    # The part of the maximum that is written zero blocks (only hole punching or sharing zeros gets it).
    zero_dup=$(python3 -c 'import json,sys; print(sum(t.get("zero", 0) for t in json.load(open(sys.argv[1]))["analysis"].values()))' \
        "$work/$kind.pre.json")
    release

    for tool in $TOOLS; do
        img=$work/$kind-$tool.img
        mnt=$work/mnt-$kind-$tool
        cp --sparse=always --reflink=never "$master" "$img"
        attach_mount "$kind" "$img" "$mnt"
        before=$(settle "$kind" "$mnt")
        data_before=0
        [[ $kind == btrfs ]] && data_before=$(btrfs_data_used "$mnt")
        echo "== $kind: $tool"
        if [[ $tool == reflinkdedup* ]]; then
            # The plan's prediction, from a catalog of its own so the measured run starts cold.
            "$rdd" dedup-vol --dry-run --db "$work/rdd-$kind-$tool-dry.sqlite" --json $(rdd_extra "$tool") "${rdd_opts[@]}" "$mnt" \
                >"$work/$kind-$tool-dry.json" 2>/dev/null || true
        fi
        cold
        run_tool "$tool" "$mnt" "$kind"
        after=$(settle "$kind" "$mnt")
        data_freed=-
        [[ $kind == btrfs ]] && data_freed=$((data_before - $(btrfs_data_used "$mnt")))
        # GNU time puts "Command exited with non-zero status N" before the format line.
        read -r wall usr sys rss_kib < <(tail -1 "$work/$kind-$tool.time")
        if ((rc != 0)); then
            echo "   exit status $rc"
            tail -n 5 "$work/$kind-$tool.err" | sed 's/^/   | /'
        fi
        # Explain what is left against the tool's own block size.
        window=65536
        [[ $tool == duperemove* ]] && window=131072
        [[ $tool == reflinkdedup ]] && window=$rdd_block
        [[ $tool == reflinkdedup-4k ]] && window=4096
        "$here/scripts/exact-max-reclaim" --json --analyze --window "$window" \
            --manifest "$work/$kind-$tool.post.manifest" "$mnt/data" >"$work/$kind-$tool.post.json"
        left=$(json_get "$work/$kind-$tool.post.json" max_reclaimable_bytes)
        bookend=-
        if [[ $kind == btrfs ]]; then
            # Data extents still allocated that no file references any more (partly shared extents).
            bookend=$(($(btrfs_data_used "$mnt") - $(json_get "$work/$kind-$tool.post.json" referenced_bytes)))
        fi
        content=ok
        if ! cmp -s "$work/$kind.pre.manifest" "$work/$kind-$tool.post.manifest"; then
            content=CHANGED failed=1
            echo "!!!!!! $kind $tool CHANGED FILE CONTENT OR METADATA (manifest diff, first lines):"
            diff "$work/$kind.pre.manifest" "$work/$kind-$tool.post.manifest" | head -20
        fi
        if [[ $tool == reflinkdedup* ]]; then
            python3 -c '
import collections, json, sys
try:
    d = json.loads(open(sys.argv[1]).read())
    print("   reflinkdedup says:", {k: v for k, v in d.items() if not isinstance(v, (list, dict))})
    why = collections.Counter(s["reason"] for s in d.get("skipped", []))
    if why:
        print("   skipped (listed ones):", dict(why))
except ValueError:
    print("   (no JSON from reflinkdedup)")' "$work/$kind-$tool.out"
        fi
        if [[ $tool == reflinkdedup* ]]; then
            # Convergence: nothing changed, so a second run should make no dedupe call, read nothing.
            "$rdd" dedup-vol --db "$work/rdd-$kind-$tool.sqlite" --json $(rdd_extra "$tool") "${rdd_opts[@]}" "$mnt" \
                >"$work/$kind-$tool-second.json" 2>/dev/null || true
            python3 - "$work/$kind-$tool-dry.json" "$work/$kind-$tool-second.json" $((before - after)) <<'EOF'
import json, sys
def load(p):
    try:
        return json.load(open(p))
    except ValueError:
        return {}
dry, second, freed = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
keys = [k for k, v in dry.items() if isinstance(v, int) and "free" in k and any(w in k for w in ("expect", "predict", "plan"))]
if keys:
    p = dry[keys[0]]
    print(f"   dry run predicted {keys[0]}={p / 2**20:.1f} MiB; real statfs freed {freed / 2**20:.1f} MiB "
          f"({(p - freed) / freed * 100 if freed else 0:+.1f}%)")
else:
    print(f"   dry run: no predicted-freed field; bytes_dedupable={dry.get('bytes_dedupable', 0) / 2**20:.1f} MiB")
print(f"   second run: dedupe_calls={second.get('dedupe_calls')}, bytes read={second.get('scan', {}).get('bytes_read')}, "
      f"bytes_freed={second.get('bytes_freed')}")
EOF
        fi
        printf '   freed %s MiB of max %s MiB (%s); left %s MiB of duplicates; %s s wall\n' \
            "$(mib $((before - after)))" "$(mib "$max")" "$(pct $((before - after)) "$max")" "$(mib "$left")" "$wall"
        show_survey "$work/$kind-$tool.post.json" "what is left"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$tool" "$wall" \
            "$(awk -v u="$usr" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')" "$rss_kib" \
            $((before - after)) "$max" "$left" "$bookend" "$data_freed" "$content" "$rc" "$zero_dup" >>"$results"
        release
        rm -f "$img"
    done
    rm -f "$master"
done

echo
echo "== results (dataset seed $seed, scale $scale, $days days; ratios against reflinkdedup on the same fs)"
awk -F'\t' '
function mib(b) { return sprintf("%.1f", b / 1048576) }
function r(a, b) { return (b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
{ n++; for (i = 1; i <= NF; i++) v[n, i] = $i; if ($2 == "reflinkdedup") { rw[$1] = $3; rc[$1] = $4; rr[$1] = $5; rf[$1] = $6 } }
END {
    printf "%-6s %-18s %8s %8s %8s %10s %8s %10s %9s %7s %7s %7s %7s %9s %9s %8s\n", "fs", "tool", "wall s", "CPU s", "RSS MiB",
        "freed MiB", "% of max", "max MiB", "% nonzero", "freed/", "wall/", "CPU/", "RSS/", "left MiB", "bookend", "content"
    for (k = 1; k <= n; k++) {
        fs = v[k, 1]
        printf "%-6s %-18s %8.1f %8.1f %8.1f %10s %7.1f%% %10s %8.1f%% %7s %7s %7s %7s %9s %9s %8s%s\n", fs, v[k, 2], v[k, 3], v[k, 4],
            v[k, 5] / 1024, mib(v[k, 6]), 100 * v[k, 6] / v[k, 7], mib(v[k, 7]), 100 * v[k, 6] / (v[k, 7] - v[k, 13]),
            r(v[k, 6], rf[fs]), r(v[k, 3], rw[fs]),
            r(v[k, 4], rc[fs]), r(v[k, 5], rr[fs]), mib(v[k, 8]), (v[k, 9] == "-") ? "-" : mib(v[k, 9]), v[k, 11],
            (v[k, 12] != 0) ? "  (exit " v[k, 12] ")" : ""
    }
    print "freed = statfs used before - after; % nonzero = freed / (max - its written zero blocks);"
    print "left = duplicates still unshared (exact-max-reclaim after the run);"
    print "bookend = btrfs data extents still allocated but referenced by no file (data used - referenced)."
    print "(exit N) = the tool'"'"'s exit status; reflinkdedup exits 1 when it skipped files (e.g. btrfs inline files)."
}' "$results"
awk -F'\t' '$1 == "btrfs" {printf "btrfs %-18s data freed (btrfs filesystem df) %.1f MiB\n", $2, $10 / 1048576}' "$results"
echo "total time $(($(date +%s) - t_start)) s"
if ((failed)); then
    echo "!!!!!! CONTENT OR METADATA CHANGED: see the diffs above" >&2
    exit 1
fi
