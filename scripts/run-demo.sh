#!/usr/bin/env bash
# README command 1: installs what is missing, builds, fetches MNIST, and runs the seed's example
# (server + 2 silos, 50 rounds of FedAvg on MNIST with logistic regression).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
"$root/scripts/get-data.sh"
cd "$root"
exec "$root/build/fedsilo" simulate \
  --cf examples/cross_silo/mqtt_s3_fedavg_hierarchical_mnist_lr/one_line/config/fedml_config.yaml "$@"
