#!/usr/bin/env bash
# Installs what fedsilo needs to build, test and run, on Debian 12. Idempotent: installs only
# what is missing, so a second run takes a second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(
  build-essential cmake pkg-config git curl ca-certificates clang-format bc python3
  ccache ninja-build                       # compiler cache (used when present), fast builds
  libtorch-dev libgloo-dev                 # models, autograd, optimizers, c10d + Gloo
  libopenblas0-openmp                      # libtorch otherwise runs on the reference BLAS: 7x slower GEMM
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libmosquitto-dev mosquitto               # MQTT client library and broker
  mosquitto-clients xxd                    # scripts/chaos.sh records and replays traffic
  libcurl4-openssl-dev libssl-dev zlib1g-dev
  libsodium-dev                            # Ed25519 signatures, X25519, ChaCha20 (secure aggregation)
  libcpp-httplib-dev                       # the server's live dashboard (HTTP)
  clang libclang-rt-14-dev                 # libFuzzer + sanitizers for scripts/fuzz.sh
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist                    # Fashion-MNIST for scripts/get-data.sh
  chromium                                 # renders report.html and the dashboard in tests
  python3-torch pybind11-dev python3-dev   # the Python package (python/): same libtorch 1.13
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere with npm bundled; install Debian's only when npm is absent.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm test tools, pinned by package-lock.json, into ./node_modules.
if [ -f "$root/package.json" ] && { [ ! -d "$root/node_modules" ] || [ "$root/package-lock.json" -nt "$root/node_modules" ]; }; then
  echo "setup: installing npm test tools"
  (cd "$root" && npm ci --silent --no-audit --no-fund && touch node_modules)
fi
echo "setup: ok"
