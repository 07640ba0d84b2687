#!/usr/bin/env bash
# Installs the build in $1 into a temporary prefix and builds the example project in $2 against
# it with find_package(fedsilo), then runs the result.
set -euo pipefail
build="$1"
project="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/fedsilo/fedsilo.h"
test -f "$work/prefix/lib/cmake/fedsilo/fedsiloConfig.cmake"
cmake -S "$project" -B "$work/app" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/app" --target five_lines_torch_client -j"$(nproc)" >/dev/null
app="$work/app/five_lines_torch_client"
# It links and runs: --help exits 0; a missing config is one clear line and exit code 2.
"$app" --help | grep -q -- "--cf"
set +e
out="$("$app" --cf "$work/missing.yaml" --rank 1 2>&1)"
code=$?
set -e
echo "$out"
[ "$code" -eq 2 ] || { echo "expected exit code 2, got $code"; exit 1; }
echo "$out" | grep -q "config file $work/missing.yaml: cannot be opened"
# It links the installed library, not the build tree's.
# (ldd into a file: `ldd | grep -q` fails under pipefail when grep exits before ldd finishes.)
ldd "$app" >"$work/ldd.txt"
grep -q "libfedsilo.so" "$work/ldd.txt"
# The installed tool: the lean fedsilo hands commands to libexec/fedsilo/fedsilo-engine, which
# finds the installed libfedsilo.so by itself.
"$work/prefix/bin/fedsilo" provision --help | grep -q -- "--silos"
ldd "$work/prefix/bin/fedsilo" >"$work/ldd-lean.txt"
if grep -q "libtorch" "$work/ldd-lean.txt"; then echo "the installed fedsilo links libtorch"; exit 1; fi
# The installed Python package imports and finds the installed engine (when it was built).
if [ -d "$work/prefix/lib/python3/dist-packages/fedsilo" ]; then
  PYTHONPATH="$work/prefix/lib/python3/dist-packages" /usr/bin/python3 -c \
    'import fedsilo, sys; sys.exit(0 if fedsilo._core.__file__.startswith(sys.argv[1]) else 1)' \
    "$work/prefix"
  ldd "$work/prefix/lib/python3/dist-packages/fedsilo/"_core*.so >"$work/ldd-py.txt"
  grep -q "libfedsilo.so.* => $work/prefix/" "$work/ldd-py.txt" ||
    { echo "the installed Python package does not use the installed libfedsilo"; cat "$work/ldd-py.txt"; exit 1; }
fi
echo "out-of-tree build against the installed fedsilo: ok"
