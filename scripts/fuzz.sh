#!/usr/bin/env bash
# Builds the libFuzzer harnesses in fuzz/ (clang, ASan + UBSan) and runs each for SECONDS.
#   scripts/fuzz.sh SECONDS [TARGET ...]       (default: every target; SECONDS default 60)
# Each target starts from its seed corpus (fuzz/corpus/<target>, in the repo) plus what earlier
# runs found (build-fuzz/corpus/<target>); a crash, sanitizer report, uncaught exception other
# than fedsilo::Error, timeout (10 s) or allocation over 2 GiB is a finding, saved in
# build-fuzz/findings/<target>/ and reproduced with: build-fuzz/fuzz_<target> <file>.
# Prints the executions per target; exits 1 if any target had a finding.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(message safetensors config_yaml key_files idx leaf_json sa_payloads)
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz: SECONDS must be a whole number" >&2; exit 2; }
out="${FEDSILO_FUZZ_BUILD_DIR:-$root/build-fuzz}"
# Ninja for new build folders (CMake reads CMAKE_GENERATOR only when it creates one).
command -v ninja >/dev/null 2>&1 && export CMAKE_GENERATOR="${CMAKE_GENERATOR:-Ninja}"
cmake -S "$root/fuzz" -B "$out" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$out" -j"$(nproc)" >/dev/null

# UBSan reports are fatal and printed with a stack; leaks are findings too.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
failed=0
printf '%-12s %12s %10s %8s  %s\n' target execs exec/s corpus result
for t in "${targets[@]}"; do
  bin="$out/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz: no target $t" >&2; exit 2; }
  corpus="$out/corpus/$t" findings="$out/findings/$t"
  mkdir -p "$corpus" "$findings"
  log="$out/fuzz_$t.log"
  set +e
  "$bin" "$corpus" "$root/fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=4096 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" \
    >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -ao '[0-9]*$' || echo "?")
  rate=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -ao '[0-9]*$' || echo "?")
  size=$(find "$corpus" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result="FINDING (see $log)"
    failed=1
  fi
  printf '%-12s %12s %10s %8s  %s\n' "$t" "$execs" "$rate" "$size" "$result"
  [ $rc -eq 0 ] || grep -aE "ERROR|runtime error|terminate|SUMMARY" "$log" | head -5 >&2
done
exit $failed
