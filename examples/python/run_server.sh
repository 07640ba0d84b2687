#!/usr/bin/env bash
# The server, as the seed runs it, with a Python program of this folder:
#   bash run_server.sh [one_line|five_lines|custom_data_and_model] [options]
set -e
source "$(dirname "$0")/common.sh"
[ "${1:-}" = "$program" ] && shift
run_program --cf config/fedml_config.yaml --rank 0 "$@"
