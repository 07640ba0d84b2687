#!/usr/bin/env bash
# Silo RANK (1, 2, ...) on node NODE_RANK of the silo (default 0), with a Python program:
#   bash run_client.sh [one_line|five_lines|custom_data_and_model] RANK [NODE_RANK] [options]
# With client_silo_args.n_proc_per_node > 1 the lean launcher (build/fedsilo) starts the
# program once per trainer.
set -e
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"
export PYTHONPATH="${FEDSILO_PYTHONPATH:-$root/build/python}${PYTHONPATH:+:$PYTHONPATH}"
export FEDSILO_DATA_DIR="${FEDSILO_DATA_DIR:-$root/data}"
program=one_line
case "${1:-}" in one_line | five_lines | custom_data_and_model) program=$1; shift ;; esac
RANK=${1:?usage: run_client.sh [PROGRAM] RANK [NODE_RANK]}
shift
NODE_RANK=0
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then NODE_RANK=$1; shift; fi
options=(--cf config/fedml_config.yaml --rank "$RANK" --node_rank "$NODE_RANK" "$@")
# The lean launcher first: with several trainers per node it starts the program once per trainer
# (no interpreter or torch just to start them), else it runs the program itself.
launcher="${FEDSILO_LAUNCHER:-$root/build/fedsilo}"
if [ -x "$launcher" ]; then
  exec "$launcher" launch --or-run --exe /usr/bin/python3 "$program.py" -- "${options[@]}"
fi
exec /usr/bin/python3 "$program.py" "${options[@]}"
