#!/usr/bin/env bash
# The server, as the seed runs it, with a Python program of this folder:
#   bash run_server.sh [one_line|five_lines|custom_data_and_model] [options]
# Uses the package built into build/python (FEDSILO_PYTHONPATH for another) and Debian's python3.
set -e
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"
export PYTHONPATH="${FEDSILO_PYTHONPATH:-$root/build/python}${PYTHONPATH:+:$PYTHONPATH}"
export FEDSILO_DATA_DIR="${FEDSILO_DATA_DIR:-$root/data}"
program=one_line
case "${1:-}" in one_line | five_lines | custom_data_and_model) program=$1; shift ;; esac
# The engine's start-up treatment (docs/architecture.md): libtorch's many small heap steps on
# transparent huge pages. A value the user set is kept.
case "${GLIBC_TUNABLES:-}" in
  *glibc.malloc.hugetlb=*) ;;
  *) export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1" ;;
esac
exec /usr/bin/python3 "$program.py" --cf config/fedml_config.yaml --rank 0 "$@"
