#!/usr/bin/env bash
# README command 1: the seed's example for real. Installs what is missing, builds, fetches MNIST,
# starts mosquitto on a free loopback port, then the server and silos 1 and 2 as separate
# processes (50 rounds of FedAvg, logistic regression), and stops everything it started.
#   scripts/run-demo.sh [--s3] [--example one_line|five_lines|custom_data_and_model] [options]
# --s3 keeps the models in a local S3 server (s3rver) instead of a directory; --example picks
# which of the seed's three example programs run (default one_line); further options go to them,
# e.g. --set train_args.comm_round=10.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
store=dir
variant=one_line
while [ $# -gt 0 ]; do
  case "$1" in
    --s3) store=s3; shift ;;
    --example) variant="${2:?--example needs a name}"; shift 2 ;;
    *) break ;;
  esac
done
"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null
"$root/scripts/get-data.sh"

example="$root/examples/cross_silo/mqtt_s3_fedavg_hierarchical_mnist_lr/$variant"
[ -x "$example/run_server.sh" ] || { echo "run-demo: no example $variant" >&2; exit 2; }
work="$(mktemp -d /tmp/fedsilo-demo.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
wait_port() {
  for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "run-demo: nothing listens on port $1" >&2; return 1
}

mqtt_port=$(free_port)
cat >"$work/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
CONF
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
wait_port "$mqtt_port"
printf 'BROKER_HOST: 127.0.0.1\nBROKER_PORT: %s\nMQTT_KEEPALIVE: 60\n' "$mqtt_port" >"$work/mqtt_config.yaml"
sets=(--set "comm_args.mqtt_config_path=$work/mqtt_config.yaml" --run_id demo)
if [ $store = s3 ]; then
  s3_port=$(free_port)
  mkdir -p "$work/s3"
  "$root/node_modules/.bin/s3rver" -d "$work/s3" -a 127.0.0.1 -p "$s3_port" -s --configure-bucket fedsilo >"$work/s3rver.log" 2>&1 &
  pids+=($!)
  wait_port "$s3_port"
  sed "s#^S3_ENDPOINT:.*#S3_ENDPOINT: http://127.0.0.1:$s3_port#" "$example/config/s3_config.yaml" >"$work/s3_config.yaml"
  sets+=(--set comm_args.object_store=s3 --set "comm_args.s3_config_path=$work/s3_config.yaml")
else
  sets+=(--set "comm_args.object_store=file://$work/blobs")
fi
echo "run-demo: example $variant; mosquitto on 127.0.0.1:$mqtt_port, models in $([ $store = s3 ] && echo "S3 (s3rver)" || echo "$work/blobs")"

cd "$example"
logs="$example/log/run_demo"
mkdir -p "$logs"
start=$(date +%s.%N)
for rank in 1 2; do
  # Both silos run on this one machine, so each gets its own process-group port.
  ./run_client.sh "$rank" "${sets[@]}" --set "client_silo_args.pg_master_port=$(free_port)" "$@" \
    >"$logs/client-$rank.out" 2>&1 &
  pids+=($!)
done

set +e
./run_server.sh "${sets[@]}" "$@" 2>&1 | grep --line-buffered -E "progress:|test_acc|ERROR|WARN|finished"
server_rc=${PIPESTATUS[0]}
rc=$server_rc
for i in 1 2; do
  wait "${pids[-$i]}"; c=$?
  [ $c -eq 0 ] || { echo "run-demo: silo exited with $c (see $logs/client-*.out)"; rc=1; }
done
set -e
end=$(date +%s.%N)
echo "run-demo: server exit $server_rc; wall time $(echo "$end - $start" | bc) s; outputs in $logs"
exit $rc
