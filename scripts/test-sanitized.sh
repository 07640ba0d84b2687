#!/usr/bin/env bash
# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (gcc), in build-asan/.
#   scripts/test-sanitized.sh [ctest options]
# Multi-process integration tests (whole runs, DDP trainers, packaging) are left to the normal
# build: they run the same code the unit tests cover, many times slower under ASan. Files with
# only such tests are not even compiled here (FEDSILO_INTEGRATION_TESTS=OFF); the rest are
# filtered out of ctest below. No benchmarks, no examples.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${FEDSILO_ASAN_BUILD_DIR:-$root/build-asan}"
# Ninja for new build folders (CMake reads CMAKE_GENERATOR only when it creates one).
command -v ninja >/dev/null 2>&1 && export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"
cmake -S "$root" -B "$out" -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE=-O1 -DFEDSILO_SANITIZE=ON -DFEDSILO_BUILD_PYTHON=OFF \
  -DFEDSILO_BUILD_BENCH=OFF -DFEDSILO_BUILD_EXAMPLES=OFF -DFEDSILO_INTEGRATION_TESTS=OFF >/dev/null
cmake --build "$out" -j"$(nproc)" --target fedsilo_tests fedsilo_cli
cd "$out"
# Leak checking stays on for our code; libtorch's and glog's process-lifetime singletons are
# suppressed by name only (tests/sanitizer/lsan.supp).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizer/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
ctest --output-on-failure -j"$(nproc)" \
  -E '^(Distributed|Launcher|CommRound|Package|Layering|RunReport|HierarchicalApi|Cli|Provision\.AWholeRun|SecureRound\.Distributed|FaultTolerance|DashboardLive)' "$@"
