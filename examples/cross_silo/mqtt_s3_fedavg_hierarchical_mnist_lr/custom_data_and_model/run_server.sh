#!/usr/bin/env bash
# The server: bash run_server.sh [options, e.g. --run_id demo]
cd "$(dirname "$0")" && exec ../run_example.sh custom server "$@"
