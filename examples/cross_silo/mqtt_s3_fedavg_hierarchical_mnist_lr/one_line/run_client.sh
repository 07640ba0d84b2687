#!/usr/bin/env bash
# Silo RANK (1, 2, ...) on node NODE_RANK of the silo (default 0):
#   bash run_client.sh RANK [NODE_RANK] [options]
cd "$(dirname "$0")" && exec ../run_example.sh one_line client "$@"
