#!/usr/bin/env bash
# README command 1: the seed's example for real. Installs what is missing, builds, fetches MNIST,
# starts mosquitto on a free loopback port, then the server and silos 1 and 2 as separate
# processes (50 rounds of FedAvg, logistic regression), and stops everything it started.
#   scripts/run-demo.sh [--python] [--s3] [--secure] [--example one_line|five_lines|custom_data_and_model]
#                       [options]
# --s3 keeps the models in a local S3 server (s3rver) instead of a directory; --secure provisions
# the federation first (`fedsilo provision`: a CA, certificates, signing keys) and runs over TLS
# with client certificates and a per-silo ACL, each party with its own keys; --example picks
# which of the seed's three example programs run (default one_line), --python the seed's Python
# programs (examples/python/) instead of the C++ ones; further options go to them,
# e.g. --set train_args.comm_round=10. The server's live dashboard is on (its URL is printed);
# --set tracking_args.dashboard_linger_s=600 keeps it up for 10 minutes after the run ends.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
store=dir
secure=0
variant=one_line
python=0
while [ $# -gt 0 ]; do
  case "$1" in
    --python) python=1; shift ;;
    --s3) store=s3; shift ;;
    --secure) secure=1; shift ;;
    --example) variant="${2:?--example needs a name}"; shift 2 ;;
    *) break ;;
  esac
done
example="$root/examples/cross_silo/mqtt_s3_fedavg_hierarchical_mnist_lr/$variant"
program_args=()
if [ $python = 1 ]; then
  # The seed's Python programs (examples/python/), their run scripts take the program first.
  example="$root/examples/python"
  [ -f "$example/$variant.py" ] || { echo "run-demo: no Python example $variant" >&2; exit 2; }
  program_args=("$variant")
fi
[ -x "$example/run_server.sh" ] || { echo "run-demo: no example $variant" >&2; exit 2; }
program=${variant%_data_and_model}
"$root/scripts/setup.sh"
# Only what the demo runs: the tool, the engine and this example's programs.
echo "run-demo: building fedsilo, fedsilo-engine and the $variant example$([ $python = 1 ] && echo " (Python)")"
if [ $python = 1 ]; then
  "$root/scripts/build.sh" fedsilo_cli fedsilo_engine fedsilo_python >/dev/null
else
  "$root/scripts/build.sh" fedsilo_cli fedsilo_engine "${program}_torch_server" "${program}_torch_client" >/dev/null
fi
"$root/scripts/get-data.sh"
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
party_sets() { :; }
if [ $secure = 1 ]; then
  "$root/build/fedsilo" provision --silos 2 --out "$work/federation" --broker-host 127.0.0.1 \
    --broker-port "$mqtt_port" --broker-bind 127.0.0.1 >/dev/null
  cp "$work/federation/broker/mosquitto.conf" "$work/mosquitto.conf"
  # As root, mosquitto would switch to user mosquitto before reading the 0600 broker key.
  [ "$(id -u)" = 0 ] && echo "user root" >>"$work/mosquitto.conf"
  # Each party joins with its own certificate, signing key and the peers' public keys.
  party_sets() {
    echo --set "comm_args.mqtt_config_path=$work/federation/$1/mqtt_config.yaml" \
      --set "security_args.key_dir=$work/federation/$1/keys"
  }
else
  cat >"$work/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
CONF
fi
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
wait_port "$mqtt_port"
printf 'BROKER_HOST: 127.0.0.1\nBROKER_PORT: %s\nMQTT_KEEPALIVE: 60\n' "$mqtt_port" >"$work/mqtt_config.yaml"
# Each demo is a new run: the same run_id would resume (or, finished, only report) that run.
run_id="demo-$(date +%Y%m%d-%H%M%S)"
dashboard_port=$(free_port)
sets=(--set "comm_args.mqtt_config_path=$work/mqtt_config.yaml" --run_id "$run_id"
  --set "tracking_args.dashboard_port=$dashboard_port")
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
echo "run-demo: live dashboard at http://127.0.0.1:$dashboard_port/ (also /api/status, /metrics)"
echo "run-demo: example $variant; mosquitto on 127.0.0.1:$mqtt_port$([ $secure = 1 ] && echo " (TLS, client certificates, per-silo ACL)"), models in $([ $store = s3 ] && echo "S3 (s3rver)" || echo "$work/blobs")"

cd "$example"
logs="$example/log/run_$run_id"
mkdir -p "$logs"
start=$(date +%s.%N)
for rank in 1 2; do
  # Both silos run on this one machine, so each gets its own process-group port.
  # shellcheck disable=SC2046  # party_sets prints words without spaces
  ./run_client.sh "${program_args[@]}" "$rank" "${sets[@]}" $(party_sets "silo_$rank") \
    --set "client_silo_args.pg_master_port=$(free_port)" "$@" \
    >"$logs/client-$rank.out" 2>&1 &
  pids+=($!)
done

set +e
# shellcheck disable=SC2046
./run_server.sh "${program_args[@]}" "${sets[@]}" $(party_sets server) "$@" 2>&1 | grep --line-buffered -E "progress:|test_acc|ERROR|WARN|finished|dashboard"
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
