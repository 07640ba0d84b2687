#!/usr/bin/env bash
# Silo RANK (1, 2, ...), on node NODE_RANK of that silo (default 0):
#   bash run_client.sh RANK [NODE_RANK] [extra options]
set -e
RANK=${1:?usage: run_client.sh RANK [NODE_RANK]}
shift
NODE_RANK=0
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then NODE_RANK=$1; shift; fi
cd "$(dirname "$0")"
root="$(cd ../../../.. && pwd)"
export FEDSILO_DATA_DIR="${FEDSILO_DATA_DIR:-$root/data}"
exec "${FEDSILO_EXAMPLES_BIN:-$root/build/examples}/one_line_torch_client" --cf config/fedml_config.yaml --rank "$RANK" --node_rank "$NODE_RANK" "$@"
