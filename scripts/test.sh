#!/usr/bin/env bash
# Installs what is missing, builds reflinkdedup twice (release with -Werror, and ASan+UBSan),
# and runs the whole test suite in both: unit tests, and integration tests on real
# loop-mounted btrfs and XFS images (these need root; without it they are skipped with the
# reason, unless RDD_REQUIRE_ROOT_TESTS=1, which CI sets, turns that into a failure).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc)
export RDD_REQUIRE_ROOT_TESTS="${RDD_REQUIRE_ROOT_TESTS:-0}"
# A test that crashes skips its destructors: detach whatever images our tests left behind.
trap './scripts/cleanup-test-mounts.sh >/dev/null 2>&1 || true' EXIT

status=0
run_suite() {  # NAME BUILD_DIR CMAKE_ARGS...
  local name=$1 dir=$2
  shift 2
  echo "== $name: configure and build ($dir)"
  cmake -S . -B "$dir" -DRDD_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1 || { tail -50 "$dir/build.log"; return 1; }
  echo "== $name: ctest"
  local log="$dir/ctest.log"
  ( cd "$dir" && ctest --output-on-failure --timeout 600 -j "$jobs" ) 2>&1 | tee "$log" || return 1
  if [ "$RDD_REQUIRE_ROOT_TESTS" = 1 ] && grep -q '\*\*\*Skipped\|Not Run' "$log"; then
    echo "== $name: tests were skipped although RDD_REQUIRE_ROOT_TESTS=1" >&2
    return 1
  fi
}

run_suite "release" build -DCMAKE_BUILD_TYPE=RelWithDebInfo || status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite "asan+ubsan" build-asan -DCMAKE_BUILD_TYPE=Debug -DRDD_SANITIZE=ON || status=1

# One closing line over both builds, from ctest's own summaries.
total=0 failed=0
for log in build/ctest.log build-asan/ctest.log; do
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" 2>/dev/null | tail -1) || true
  [ -n "$line" ] || { status=1; continue; }
  failed=$((failed + $(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")))
  total=$((total + $(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")))
done
echo "# release and asan+ubsan ctest runs together:"
echo "total: $((total - failed)) passed, $failed failed"
exit "$status"
