#!/usr/bin/env bash
# Soak: what CI runs briefly, run for hours, stopping at the first failure.
#
#   scripts/soak.sh [--duration 8h] [--scale 20] [--fuzz-seconds 600] [--build-dir build]
#
# Each round runs the `reliability` ctest label once with RDD_RELIABILITY_SCALE=SCALE (the
# reliability tests multiply their kill points and race rounds by it), then every fuzz
# target of tests/fuzz for FUZZ_SECONDS from its checked-in corpus plus what earlier rounds
# found (kept in BUILD_DIR-fuzz/tests/fuzz/work/). Rounds repeat until DURATION (s, m, h or
# d; default 8h) is spent. It needs root, like the reliability suite. The release build is
# BUILD_DIR, the fuzz build BUILD_DIR-fuzz (clang); both are configured and built if needed.
# At the end, or at the first failure, it prints rounds, reliability tests, crash points
# hit, and fuzz executions and time; a fuzz crash leaves its input in .../work/T/artifacts/.
# Logs: BUILD_DIR/soak/.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=8h scale=20 fuzz_seconds=600 build_dir=build
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --fuzz-seconds) fuzz_seconds=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

seconds() {  # 90, 90s, 30m, 8h, 2d -> seconds
  local n=${1%[smhd]} unit=${1##*[0-9]}
  [[ $n =~ ^[0-9]+$ ]] || { echo "soak: bad duration '$1'" >&2; exit 2; }
  case $unit in ''|s) echo "$n" ;; m) echo $((n * 60)) ;; h) echo $((n * 3600)) ;; d) echo $((n * 86400)) ;;
    *) echo "soak: bad duration '$1'" >&2; exit 2 ;; esac
}
deadline=$(($(date +%s) + $(seconds "$duration")))
fuzz_dir=$build_dir-fuzz
logdir=$build_dir/soak
jobs=$(nproc)
export RDD_REQUIRE_ROOT_TESTS=1 RDD_RELIABILITY_SCALE=$scale

./scripts/install-deps.sh
echo "== soak: building $build_dir (release) and $fuzz_dir (fuzz targets)"
mkdir -p "$build_dir" "$fuzz_dir"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$jobs" >"$build_dir/build.log" 2>&1 || { tail -50 "$build_dir/build.log"; exit 1; }
cmake -S . -B "$fuzz_dir" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DRDD_FUZZ=ON >/dev/null
cmake --build "$fuzz_dir" -j "$jobs" --target rdd_fuzz >"$fuzz_dir/build.log" 2>&1 || { tail -50 "$fuzz_dir/build.log"; exit 1; }
mkdir -p "$logdir"
trap './scripts/cleanup-test-mounts.sh >/dev/null 2>&1 || true; summary' EXIT

rounds=0 tests=0 kill_points=0 kills=0 races=0 fuzz_execs=0 fuzz_time=0 result="time is up"
summary() {
  echo "== soak summary: $result"
  echo "rounds: $rounds (RDD_RELIABILITY_SCALE=$scale)"
  echo "reliability: $tests tests passed, $kills of $kill_points crash points hit a running process, $races race runs"
  echo "fuzz: $fuzz_execs executions in $fuzz_time s over $(ls tests/fuzz/corpus | wc -l) targets"
  echo "logs: $logdir"
}
left() { echo $((deadline - $(date +%s))); }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
while [ "$(left)" -gt 0 ]; do
  rounds=$((rounds + 1))
  log=$logdir/reliability-$rounds.log
  echo "== round $rounds: reliability (scale $scale), $(left) s left"
  # -V: the tests print their kill points and race runs, summed below.
  if ! (cd "$build_dir" && ctest -L reliability -V --timeout 86400 -j "$jobs") >"$log" 2>&1; then
    result="reliability FAILED in round $rounds (see $log)"
    grep -E 'Failed|\*\*\*' "$log" | tail -20 || true
    exit 1
  fi
  tests=$((tests + $(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed' "$log" || true)))
  # "[ crash    ] btrfs: 17 of 18 random kill points hit a running process (...), kill_and_recover: 4 killed, ..."
  while read -r hit of kr; do
    kills=$((kills + hit + ${kr:-0})); kill_points=$((kill_points + of + ${kr:-0}))
  done < <(sed -nE 's/.*\[ crash +\] [^:]*: ([0-9]+) of ([0-9]+) random kill points[^,]*(, kill_and_recover: ([0-9]+) killed)?.*/\1 \2 \4/p' "$log")
  races=$((races + $(grep -c '\[ race ' "$log" || true)))

  for target in tests/fuzz/corpus/*/; do
    target=$(basename "$target")
    t=$(left)
    [ "$t" -gt "$fuzz_seconds" ] && t=$fuzz_seconds
    [ "$t" -gt 0 ] || break
    work=$fuzz_dir/tests/fuzz/work/$target
    mkdir -p "$work/corpus" "$work/artifacts"
    flog=$logdir/$target-$rounds.log
    echo "== round $rounds: $target for $t s"
    if ! "$fuzz_dir/tests/fuzz/$target" -max_total_time="$t" -timeout=10 -rss_limit_mb=2048 \
         -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "tests/fuzz/corpus/$target" \
         >"$flog" 2>&1; then
      result="$target FAILED in round $rounds (input in $work/artifacts/, log $flog)"
      grep -E 'ERROR|invariant|runtime error|SUMMARY' "$flog" | head -10 || true
      exit 1
    fi
    fuzz_execs=$((fuzz_execs + $(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$flog" | tail -1)))
    fuzz_time=$((fuzz_time + t))
  done
done
