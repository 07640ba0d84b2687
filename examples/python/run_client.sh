#!/usr/bin/env bash
# Silo RANK (1, 2, ...) on node NODE_RANK of the silo (default 0), with a Python program:
#   bash run_client.sh [one_line|five_lines|custom_data_and_model] RANK [NODE_RANK] [options]
# With client_silo_args.n_proc_per_node > 1 the lean launcher (build/fedsilo) starts the
# program once per trainer.
set -e
source "$(dirname "$0")/common.sh"
[ "${1:-}" = "$program" ] && shift
RANK=${1:?usage: run_client.sh [PROGRAM] RANK [NODE_RANK]}
shift
NODE_RANK=0
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then NODE_RANK=$1; shift; fi
run_program --cf config/fedml_config.yaml --rank "$RANK" --node_rank "$NODE_RANK" "$@"
