#!/usr/bin/env bash
# Fault injection on the seed topology: server + 2 silos x 2 trainers, mosquitto and s3rver on
# loopback, the seed's config (MNIST, logistic regression) cut to a few rounds. Run 0 is
# fault-free; each of the N runs after it SIGKILLs one random process -- the server, a silo
# launcher, a trainer, the broker or s3rver -- after a random number of rounds plus a random
# delay, restarts it as docs/deployment.md ("Outages") says, and checks that the run completed
# and that its final model is bit-identical to run 0's. The sixth fault is an attacker on the
# broker: a tap records every message of every run (mosquitto_sub), and `replay` publishes the
# last 400 of them again onto the running run's topics -- earlier runs' traffic signed with the
# same keys (all runs share one key folder), this run's own, old last wills included.
#   [CHAOS_VICTIMS="replay ..."] scripts/chaos.sh [N=30] [--rounds R=20] [--epochs E=20]
# (E local epochs make a round last long enough for a kill to land inside the run.)
# Prints one line per run and then: runs, faults injected, completed, identical, lost.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=30
rounds=20
epochs=20
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    *) runs="$1"; shift ;;
  esac
done
"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null
"$root/scripts/get-data.sh"
bin="$root/build/fedsilo"
config="$root/examples/cross_silo/mqtt_s3_fedavg_hierarchical_mnist_lr/one_line/config/fedml_config.yaml"
work="$(mktemp -d /tmp/fedsilo-chaos.XXXXXX)"
declare -A pid pg_port
cleanup() {
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pkill -9 -P $$ 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Below Linux's ephemeral range (32768-60999), so no outgoing connection takes it meanwhile;
# never one handed out before in this script. Sets `port` (not $(...): the memory must stay).
declare -A used_port
free_port() {
  while :; do
    port=$((20000 + RANDOM % 12000))
    [ -n "${used_port[$port]:-}" ] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { used_port[$port]=1; return; }
  done
}
wait_port() {
  for _ in $(seq 1 400); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "chaos: nothing listens on port $1" >&2
  return 1
}
rounds_done() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

free_port; mqtt_port=$port
free_port; s3_port=$port
printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n' "$mqtt_port" >"$work/mosquitto.conf"
printf 'BROKER_HOST: 127.0.0.1\nBROKER_PORT: %s\nMQTT_KEEPALIVE: 10\n' "$mqtt_port" >"$work/mqtt_config.yaml"
sed "s#^S3_ENDPOINT:.*#S3_ENDPOINT: http://127.0.0.1:$s3_port#" \
  "$(dirname "$config")/s3_config.yaml" >"$work/s3_config.yaml"
mkdir -p "$work/s3"
start_broker() {
  mosquitto -c "$work/mosquitto.conf" >>"$work/mosquitto.log" 2>&1 &
  pid[broker]=$!
  wait_port "$mqtt_port"
  # The attacker's tap: everything published under fedsilo/, topic and payload in hex.
  [ -n "${pid[tap]:-}" ] && { kill "${pid[tap]}" 2>/dev/null || true; wait "${pid[tap]}" 2>/dev/null || true; }
  mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -t 'fedsilo/#' -q 1 -F '%t %x' >>"$work/captured" 2>/dev/null &
  pid[tap]=$!
}
# Publishes the last 400 captured messages again onto run $1's topics; prints how many.
replay_into() {
  local n=0 topic hex
  while read -r topic hex; do
    case $topic in */probe/*) continue ;; esac
    [ -n "$hex" ] || continue
    topic="fedsilo/chaos$1/${topic#fedsilo/*/}"
    printf '%s' "$hex" | xxd -r -p | mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -t "$topic" -q 1 -s
    n=$((n + 1))
  done < <(tail -n 400 "$work/captured")
  replayed=$n
}
start_s3() {
  "$root/node_modules/.bin/s3rver" -d "$work/s3" -a 127.0.0.1 -p "$s3_port" -s \
    --configure-bucket fedsilo >>"$work/s3rver.log" 2>&1 &
  pid[s3]=$!
  wait_port "$s3_port"
}
start_broker
start_s3

# One process of run $1: server, silo1 or silo2; a restart appends to the same log.
start_party() {
  local run=$1 who=$2 role rank extra=()
  case $who in server) role=server rank=0 ;; silo1) role=client rank=1 ;; silo2) role=client rank=2 ;; esac
  # Both silos run on this machine: each its own process-group port.
  [ "$role" = client ] && extra=(--set "client_silo_args.pg_master_port=${pg_port[$who]}")
  "$bin" "$role" --cf "$config" --rank "$rank" --run_id "chaos$run" "${extra[@]}" \
    --set "data_args.data_cache_dir=$root/data" \
    --set "train_args.comm_round=$rounds" --set "train_args.epochs=$epochs" \
    --set "comm_args.mqtt_config_path=$work/mqtt_config.yaml" \
    --set "comm_args.s3_config_path=$work/s3_config.yaml" --set comm_args.object_store=s3 \
    --set comm_args.round_timeout_s=60 --set comm_args.online_timeout_s=120 \
    --set comm_args.resend_interval_s=2 \
    --set "tracking_args.log_file_dir=$work/run$run" --set "security_args.key_dir=$work/keys" \
    >>"$work/run$run/$who.out" 2>&1 &
  pid[$who]=$!
}

# Waits for a party's process and sets `rc` to its exit code (124 when it outlived the
# deadline). Not in a $(...) subshell: only this shell can wait for its children.
await() {
  local p=$1 limit=$2 waited=0
  while kill -0 "$p" 2>/dev/null; do
    sleep 0.2
    waited=$((waited + 1))
    if [ $waited -gt $((limit * 5)) ]; then
      kill -9 "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
      rc=124
      return
    fi
  done
  rc=0
  wait "$p" 2>/dev/null || rc=$?
}

# CHAOS_VICTIMS="replay broker" limits the faults drawn.
read -r -a victims <<<"${CHAOS_VICTIMS:-server silo_launcher trainer broker s3rver replay}"
completed=0 identical=0 lost=0 injected=0
reference=""
for run in $(seq 0 "$runs"); do
  mkdir -p "$work/run$run"
  free_port; pg_port[silo1]=$port
  free_port; pg_port[silo2]=$port
  for who in silo1 silo2 server; do start_party "$run" "$who"; done
  metrics="$work/run$run/run_chaos$run/metrics.jsonl"
  fault="none"
  if [ "$run" -gt 0 ]; then
    victim=${victims[$((RANDOM % ${#victims[@]}))]}
    after=$((RANDOM % (rounds - 2)))
    delay_ms=$((RANDOM % 100))
    for _ in $(seq 1 1200); do [ "$(rounds_done "$metrics")" -ge "$after" ] && break; sleep 0.1; done
    sleep "$(printf '0.%03d' "$delay_ms")"
    fault="$victim after round $after + ${delay_ms} ms"
    # Still a fault: a process killed as the run ends must not turn a finished run into a lost one.
    [ "$(rounds_done "$metrics")" -ge "$rounds" ] && fault="$fault (as the run ended)"
    case $victim in
      server)
        kill -9 "${pid[server]}" 2>/dev/null || true; wait "${pid[server]}" 2>/dev/null || true
        start_party "$run" server ;;
      silo_launcher)
        who=silo$((1 + RANDOM % 2)); fault="$fault ($who)"
        kill -9 "${pid[$who]}" 2>/dev/null || true; wait "${pid[$who]}" 2>/dev/null || true
        # Its trainers die with it (PR_SET_PDEATHSIG); wait until they are gone.
        for _ in $(seq 1 100); do pgrep -f -- "--rank ${who#silo} --run_id chaos$run " >/dev/null || break; sleep 0.1; done
        start_party "$run" "$who" ;;
      trainer)
        who=silo$((1 + RANDOM % 2))
        trainers=($(pgrep -P "${pid[$who]}" || true))
        if [ ${#trainers[@]} -gt 0 ]; then
          t=${trainers[$((RANDOM % ${#trainers[@]}))]}
          fault="$fault ($who, pid $t)"
          kill -9 "$t" 2>/dev/null || true
          # The launcher stops its other trainers and exits non-zero: restart the silo.
          await "${pid[$who]}" 30
          start_party "$run" "$who"
        else
          fault="$fault ($who had no trainers: no fault)"
        fi ;;
      broker)
        kill -9 "${pid[broker]}" 2>/dev/null || true; wait "${pid[broker]}" 2>/dev/null || true
        start_broker ;;
      s3rver)
        kill -9 "${pid[s3]}" 2>/dev/null || true; wait "${pid[s3]}" 2>/dev/null || true
        start_s3 ;;
      replay)
        replay_into "$run"
        fault="$fault ($replayed messages)" ;;
    esac
    case $fault in *"no fault"*) ;; *) injected=$((injected + 1)) ;; esac
  fi
  codes=""
  ok=1
  for who in server silo1 silo2; do
    await "${pid[$who]}" 600
    codes="$codes $who=$rc"
    [ "$rc" = 0 ] || ok=0
  done
  model="$work/run$run/run_chaos$run/final_model.safetensors"
  same="-"
  if [ $ok = 1 ] && [ -f "$model" ]; then
    sum=$(sha256sum "$model" | cut -d' ' -f1)
    if [ "$run" = 0 ]; then
      reference=$sum
    else
      completed=$((completed + 1))
      if [ "$sum" = "$reference" ]; then same=yes; identical=$((identical + 1)); else same=no; fi
    fi
  elif [ "$run" = 0 ]; then
    echo "chaos: the fault-free run failed:$codes (logs in $work/run0)" >&2
    trap - EXIT
    exit 1
  else
    lost=$((lost + 1))
    mkdir -p "$root/build/chaos-lost" && cp -r "$work/run$run" "$root/build/chaos-lost/"
  fi
  echo "run $run: fault: $fault; exit codes:$codes; identical: $same"
done
echo "runs $runs, faults injected $injected, completed $completed, identical $identical, lost $lost"
[ $lost = 0 ]
