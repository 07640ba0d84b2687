#!/usr/bin/env bash
# Shared by the run_server.sh / run_client.sh of each example folder:
#   run_example.sh PROGRAM server [options]
#   run_example.sh PROGRAM client RANK [NODE_RANK] [options]
# PROGRAM is one_line, five_lines or custom (build/examples/PROGRAM_torch_{server,client}).
# Runs from the calling example folder, so config/ is that folder's.
set -e
program=${1:?program}
role=${2:?server or client}
shift 2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
export FEDSILO_DATA_DIR="${FEDSILO_DATA_DIR:-$root/data}"
bin="${FEDSILO_EXAMPLES_BIN:-$root/build/examples}"
if [ "$role" = server ]; then
  exec "$bin/${program}_torch_server" --cf config/fedml_config.yaml --rank 0 "$@"
fi
RANK=${1:?usage: run_client.sh RANK [NODE_RANK]}
shift
NODE_RANK=0
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then NODE_RANK=$1; shift; fi
options=(--cf config/fedml_config.yaml --rank "$RANK" --node_rank "$NODE_RANK" "$@")
# The lean launcher first: with several trainers per node it starts the program once per trainer
# (the program never loads libtorch only to start them), else it runs the program itself.
launcher="${FEDSILO_LAUNCHER:-$root/build/fedsilo}"
if [ -x "$launcher" ]; then
  exec "$launcher" launch --or-run --exe "$bin/${program}_torch_client" -- "${options[@]}"
fi
exec "$bin/${program}_torch_client" "${options[@]}"
