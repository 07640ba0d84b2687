#!/usr/bin/env bash
# The server: bash run_server.sh [extra options, e.g. --run_id demo]
cd "$(dirname "$0")"
root="$(cd ../../../.. && pwd)"
export FEDSILO_DATA_DIR="${FEDSILO_DATA_DIR:-$root/data}"
exec "${FEDSILO_EXAMPLES_BIN:-$root/build/examples}/custom_torch_server" --cf config/fedml_config.yaml --rank 0 "$@"
