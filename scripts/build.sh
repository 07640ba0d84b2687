#!/usr/bin/env bash
# Configures (once) and builds fedsilo in ./build (FEDSILO_BUILD_DIR), Release, incremental.
#   scripts/build.sh [TARGET ...]     (default: everything: library, tools, examples, tests,
#                                      benchmarks)
# Uses Ninja and ccache when installed (scripts/setup.sh installs both); without them, make and
# no cache, only slower.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FEDSILO_BUILD_DIR:-$root/build}"
# Ninja for new build folders (CMake reads CMAKE_GENERATOR only when it creates one).
command -v ninja >/dev/null 2>&1 && export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$build" -j"$(nproc)" "${targets[@]}"
