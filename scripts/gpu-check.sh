#!/usr/bin/env bash
# The GPU check (docs/benchmarks.md "GPU"): builds fedsilo against a CUDA-enabled PyTorch and
# runs the seed topology with using_gpu: true, then the large-model benchmark with the model on
# the GPU. On a machine without a CUDA device it says it skipped the GPU part and exits 0.
#
#   scripts/gpu-check.sh [out_dir]
#
# The GPU machine has PyTorch (pip, CUDA) but no apt and no network: the Debian libraries fedsilo
# needs travel as extracted packages in .gpu-deps/, made here by `scripts/gpu-check.sh --pack`
# (apt-get download + dpkg -x; carry .gpu-deps with the working tree).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEPS=$ROOT/.gpu-deps

if [[ "${1:-}" == "--pack" ]]; then
  mkdir -p "$DEPS/debs" && cd "$DEPS/debs"
  apt-get download libyaml-cpp-dev libyaml-cpp0.7 libmosquitto-dev libmosquitto1 mosquitto \
    libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 nlohmann-json3-dev libcli11-dev \
    libsodium-dev libsodium23 libcpp-httplib-dev libcurl4-openssl-dev libgtest-dev
  for d in *.deb; do dpkg -x "$d" "$DEPS/root"; done
  echo "packed into $DEPS/root; carry .gpu-deps to the GPU machine"
  exit 0
fi

OUT=${1:-${OUT:-$ROOT/build-gpu-out}}
mkdir -p "$OUT"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no CUDA device here (nvidia-smi finds none): skipped the GPU part"
  exit 0
fi
if ! python3 -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "gpu-check: a GPU is present but no CUDA-enabled PyTorch for python3: skipped the GPU part"
  exit 0
fi
nvidia-smi -L | tee "$OUT/gpu.txt"
TORCH_PREFIX=$(python3 -c "import torch;print(torch.utils.cmake_prefix_path)")
PREFIXES="$TORCH_PREFIX"
if [[ -d "$DEPS/root/usr" ]]; then
  PREFIXES="$PREFIXES;$DEPS/root/usr"
  export LD_LIBRARY_PATH="$DEPS/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  export PATH="$DEPS/root/usr/sbin:$DEPS/root/usr/bin:$PATH"
fi
BUILD=$ROOT/build-gpu
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIXES" \
  -DFEDSILO_BUILD_TESTS=OFF 2>&1 | tee "$OUT/configure.log"
cmake --build "$BUILD" -j"$(nproc)" --target fedsilo_cli fedsilo-engine bench_large_model \
  2>&1 | tail -50 | tee "$OUT/build.log"

# The seed topology on the GPU: server + 2 silos x 2 trainers, using_gpu: true, over a local
# mosquitto (MNIST in data/, carried with the tree).
PORT=$(python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$PORT" >"$OUT/mosquitto.conf"
printf 'BROKER_HOST: 127.0.0.1\nBROKER_PORT: %s\n' "$PORT" >"$OUT/mqtt.yaml"
mosquitto -c "$OUT/mosquitto.conf" >"$OUT/mosquitto.log" 2>&1 &
BROKER=$!
trap 'kill $BROKER 2>/dev/null || true' EXIT
CF=$ROOT/examples/cross_silo/mqtt_s3_fedavg_hierarchical_mnist_lr/one_line/config/fedml_config.yaml
SETS=(--set device_args.using_gpu=true --set "comm_args.mqtt_config_path=$OUT/mqtt.yaml"
  --set "comm_args.object_store=file://$OUT/blobs" --set "tracking_args.log_file_dir=$OUT/log"
  --set "data_args.data_cache_dir=$ROOT/data")
for rank in 1 2; do
  "$BUILD/fedsilo" client --cf "$CF" --rank $rank --run_id gpu "${SETS[@]}" \
    --set "client_silo_args.pg_master_port=$((29600 + rank))" >"$OUT/client$rank.out" 2>&1 &
done
"$BUILD/fedsilo" server --cf "$CF" --rank 0 --run_id gpu "${SETS[@]}" >"$OUT/server.out" 2>&1
wait
tail -5 "$OUT/server.out" | tee "$OUT/seed_gpu.log"

# Large models: 134M float32 and 1B bfloat16, directory store.
export FEDSILO_BENCH_DEVICE=cuda  # the model lives on the GPU in every process
"$BUILD/bench/bench_large_model" 134217728 f32 dir 3 2>&1 | tee "$OUT/large_134m_f32.txt"
"$BUILD/bench/bench_large_model" 1006632960 bf16 dir 3 2>&1 | tee "$OUT/large_1b_bf16.txt"
echo "gpu-check: figures in $OUT"
