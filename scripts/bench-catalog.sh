#!/usr/bin/env bash
# Catalog insert benchmark: builds rdd_bench_catalog (Release, in build-bench/) if needed, runs
# it into a fresh catalog under a temporary directory (removed afterwards) and prints a table:
# insert rate over the last 10^6 rows (wall clock, and CPU time per row, which other load on
# the machine does not change) and bytes per block row at 10^6, 10^7, ... up to MAX_ROWS, plus
# the duplicate-block query times at 10^7 rows.
#
#   scripts/bench-catalog.sh [MAX_ROWS]        (default 1e8: about 3 minutes and 9 GB of disk)
# Environment: BENCH_TMPDIR (default /var/tmp: the catalog takes ~4 GB at 1e8 rows, the duplicate
# query's sort as much again), BENCH_ARGS (more arguments, e.g. --naive-digest-index,
# --query-at 1e7,1e8; see rdd_bench_catalog's usage).
set -euo pipefail

max_rows="${1:-1e8}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${root}/build-bench"

mkdir -p "$build"
include=""
if ! grep -q 'add_subdirectory(bench)' "$root/tests/CMakeLists.txt"; then
  # tests/bench is not wired into the tree yet: add it from a project include.
  include="$build/bench-include.cmake"
  printf 'add_subdirectory("%s/tests/bench" "%s/tests/bench")\n' "$root" "$build" > "$include"
fi
# Always (re)configured, so the include is dropped once tests/CMakeLists.txt adds the directory.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PROJECT_INCLUDE=$include" \
  > "$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" --target rdd_bench_catalog -j"$(nproc)" > "$build/build.log" 2>&1 \
  || { tail -50 "$build/build.log"; exit 1; }

tmp="$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/rdd-bench-catalog.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# The duplicate query spills its sort beside the catalog; SQLite's own temp files go here too
# rather than to a possibly RAM-backed /tmp.
export SQLITE_TMPDIR="$tmp"
# shellcheck disable=SC2086
"$build/tests/bench/rdd_bench_catalog" --dir "$tmp" --max-rows "$max_rows" ${BENCH_ARGS:-}
