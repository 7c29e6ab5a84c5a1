#!/usr/bin/env bash
# Installs what is missing, builds reflinkdedup twice and runs the test suite:
# - ASan+UBSan (library at -Og): the whole suite: unit tests, and integration and reliability
#   tests on real loop-mounted btrfs and XFS images (these need root; without it they are
#   skipped with the reason, unless RDD_REQUIRE_ROOT_TESTS=1, which CI sets, turns that into a
#   failure), except the memory bound at scale, which release measures;
# - release (-O2 without debug info, -Werror): the unit tests, the command line, packaging and the scale test.
# Then two short suites that build only what they need: the libFuzzer targets (clang,
# ctest label fuzz, tests/fuzz/README.md) and the threaded code under ThreadSanitizer.
#
# RDD_SUITES picks suites (comma-separated; default release,asan,fuzz,tsan), e.g.
#   RDD_SUITES=fuzz,tsan ./scripts/test.sh
# RDD_FUZZ_SECONDS: how long each fuzz target runs (default 5; scripts/soak.sh runs long).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc)
export RDD_REQUIRE_ROOT_TESTS="${RDD_REQUIRE_ROOT_TESTS:-0}"
suites=",${RDD_SUITES:-release,asan,fuzz,tsan},"
wanted() { [[ $suites == *",$1,"* ]]; }
# A test that crashes skips its destructors: detach whatever images our tests left behind.
trap './scripts/cleanup-test-mounts.sh >/dev/null 2>&1 || true' EXIT

# What runs threads: the hash module's pread engine (worker threads) and the lock module's
# lease-break watcher (leases broken by real writer processes on loop btrfs and XFS). The
# ManyFiles cases are left out: minutes under TSan, the same code paths as the small ones.
tsan_targets=(hash_unit_test lock_unit_test lock_integration_test lock_test_helper)
tsan_ctest='-R ^(HasherTest|PlanReads|RddIoEnv|LeaseTest|ImmutableTest|WriterScanTest|RecoverTest|FakeProc)\. -E ManyFiles'

status=0
logs=()
run_suite() {  # NAME BUILD_DIR "BUILD_TARGETS" "CTEST_ARGS" CMAKE_ARGS... (no targets: all)
  local name=$1 dir=$2 targets=$3 ctest_args=$4
  shift 4
  echo "== $name: configure and build ($dir)"
  logs+=("$dir/ctest.log")
  rm -f "$dir/ctest.log"
  cmake -S . -B "$dir" -DRDD_WERROR=ON "$@" >/dev/null
  local target_args=()
  for t in $targets; do target_args+=(--target "$t"); done
  local t0=$SECONDS
  cmake --build "$dir" -j "$jobs" "${target_args[@]}" >"$dir/build.log" 2>&1 || { tail -50 "$dir/build.log"; return 1; }
  echo "== $name: built in $((SECONDS - t0)) s; ctest $ctest_args"
  local log="$dir/ctest.log"
  # shellcheck disable=SC2086  # ctest_args is a list of words
  t0=$SECONDS
  ( cd "$dir" && ctest --output-on-failure --timeout 600 -j "$jobs" $ctest_args ) 2>&1 | tee "$log" || return 1
  echo "== $name: tests took $((SECONDS - t0)) s"
  if [ "$RDD_REQUIRE_ROOT_TESTS" = 1 ] && grep -q '\*\*\*Skipped\|Not Run' "$log"; then
    echo "== $name: tests were skipped although RDD_REQUIRE_ROOT_TESTS=1" >&2
    return 1
  fi
}

# release: what the sanitizers change or cannot measure: the pure logic at -O2 (unit), the
# command line, the package, and the memory bound at scale (label scale; ASan's shadow memory
# would count in it). Every other test runs in the ASan+UBSan suite, against that binary.
if wanted release; then
  run_suite "release" build "rdd_unit_tests rdd_cli_tests rdd_scale_tests reflinkdedup_man" \
    "-L unit|cli|packaging|scale" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" || status=1
fi
if wanted asan; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite "asan+ubsan" build-asan "" "-LE scale" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-Og -g" \
    -DRDD_SANITIZE=ON || status=1
fi
if wanted fuzz; then
  run_suite "fuzz" build-fuzz rdd_fuzz "-L fuzz" \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DRDD_FUZZ=ON \
    -DRDD_FUZZ_SECONDS="${RDD_FUZZ_SECONDS:-5}" || status=1
fi
if wanted tsan; then
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_suite "tsan" build-tsan "${tsan_targets[*]}" "$tsan_ctest" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRDD_TSAN=ON || status=1
fi

# One closing line over every suite that ran, from ctest's own summaries.
total=0 failed=0
for log in "${logs[@]}"; do
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" 2>/dev/null | tail -1) || true
  [ -n "$line" ] || { status=1; continue; }
  failed=$((failed + $(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")))
  total=$((total + $(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")))
done
echo "# ctest runs together ($(tr ',' ' ' <<<"${suites:1:-1}")):"
echo "total: $((total - failed)) passed, $failed failed"
exit "$status"
