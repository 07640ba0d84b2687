#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test:
#   1. ctest on the normal build (unit and integration tests, real mosquitto and s3rver);
#   2. each libFuzzer harness for FEDSILO_FUZZ_SECONDS (default 15) from its seed corpus;
#   3. the unit tests again under ASan + UBSan (scripts/test-sanitized.sh).
# Options are passed to the first ctest (e.g. -R Provision); FEDSILO_QUICK_TEST=1 skips 2 and 3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
(cd "${FEDSILO_BUILD_DIR:-$root/build}" && ctest --output-on-failure -j"$(nproc)" "$@")
[ "${FEDSILO_QUICK_TEST:-0}" = 1 ] && exit 0
echo "test: fuzzing each decoder for ${FEDSILO_FUZZ_SECONDS:-15} s"
"$root/scripts/fuzz.sh" "${FEDSILO_FUZZ_SECONDS:-15}"
echo "test: unit tests under ASan + UBSan"
"$root/scripts/test-sanitized.sh"
