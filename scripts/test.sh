#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test:
#   1. ctest on the normal build (unit and integration tests, real mosquitto and s3rver);
#   2. each libFuzzer harness for FEDSILO_FUZZ_SECONDS (default 15) from its seed corpus;
#   3. the unit tests again under ASan + UBSan (scripts/test-sanitized.sh).
# Options are passed to the first ctest (e.g. -R Provision); FEDSILO_QUICK_TEST=1 skips 2 and 3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Each stage's wall time is printed at its end (docs/benchmarks.md, "Build and test").
stage() {
  local name="$1" start=$SECONDS
  shift
  echo "test: $name"
  "$@"
  echo "test: $name took $((SECONDS - start)) s"
}
stage setup "$root/scripts/setup.sh"
stage build "$root/scripts/build.sh"
stage ctest bash -c 'cd "$1" && shift && ctest --output-on-failure -j"$(nproc)" "$@"' ctest \
  "${FEDSILO_BUILD_DIR:-$root/build}" "$@"
[ "${FEDSILO_QUICK_TEST:-0}" = 1 ] && exit 0
stage "fuzzing each decoder for ${FEDSILO_FUZZ_SECONDS:-15} s" \
  "$root/scripts/fuzz.sh" "${FEDSILO_FUZZ_SECONDS:-15}"
stage "unit tests under ASan + UBSan" "$root/scripts/test-sanitized.sh"
echo "test: all stages passed in $SECONDS s"
