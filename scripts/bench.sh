#!/usr/bin/env bash
# Bot swarm benchmark: the real server and the bots, each pinned to its own
# core, in a private network namespace whose loopback carries only their
# traffic. Sweeps N upward over WebTransport and WebSocket, AOI off and on,
# until the 30 Hz loop no longer holds, and writes a markdown table.
#
#   scripts/bench.sh                                   # the full sweep
#   scripts/bench.sh -n "50 100 200" -d 20s            # a small one
#   scripts/bench.sh -t ws -a 400 -n "500 1000 2000" -o /tmp/aoi.md
#
# Options: -n "N..." (default "50 100 200 500 1000 2000 3000 5000"),
# -t "wt ws" transports, -a "0 400" AOI radii (0: off), -d window per run
# (default 20s), -w warm-up (default 3s), -o output markdown (default
# bench-results.md), -r per-run JSON directory (default a temporary one),
# -m min snapshot ratio for "holds" (default 0.98), -k keep sweeping N
# after a run that does not hold, -b DIR use the server, bots and loopfloor
# binaries in DIR instead of building them (to compare two builds), -p DIR
# write each run's CPU profiles (server and swarm, whole run) into DIR.
# A sweep stops growing N for a transport/AOI pair after the first N whose
# run does not hold: snapshot ratio below -m, missed ticks above 1 % of
# ticks, or bots failing to connect.
# Needs root (unshare -n), taskset, ip; installs nftables to split wire
# bytes by direction (without it, both directions are counted together).
set -euo pipefail
# The whole script is one block, read before it runs: editing this file
# while a sweep runs cannot change what the running sweep does.
{
cd "$(dirname "$0")/.."
source scripts/lib.sh

NS="50 100 200 500 1000 2000 3000 5000"
TRANSPORTS="wt ws"
AOIS="0 400"
DURATION=20s
WARMUP=3s
OUT=bench-results.md
RUNDIR=""
MINRATIO=0.98
KEEP=no
BIN=""
PROF=""
while getopts "n:t:a:d:w:o:r:m:b:p:kh" opt; do
  case $opt in
    n) NS=$OPTARG ;; t) TRANSPORTS=$OPTARG ;; a) AOIS=$OPTARG ;; d) DURATION=$OPTARG ;;
    w) WARMUP=$OPTARG ;; o) OUT=$OPTARG ;; r) RUNDIR=$OPTARG ;; m) MINRATIO=$OPTARG ;; k) KEEP=yes ;;
    b) BIN=$(realpath "$OPTARG") ;; p) mkdir -p "$OPTARG"; PROF=$(realpath "$OPTARG") ;;
    *) sed -n "2,/^set -euo/p" "$0" | sed "\$d"; exit 2 ;;
  esac
done

ensure_go
ensure_debs nftables
[ "$(id -u)" = 0 ] || { echo "bench.sh needs root (unshare -n, nft)"; exit 1; }
cores=$(nproc)
[ "$cores" -ge 2 ] || echo "warning: $cores core(s): server and bots share a core"

work=$(mktemp -d /tmp/tickwire-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -n "$RUNDIR" ] || RUNDIR="$work/runs"
mkdir -p "$RUNDIR"

if [ -n "$BIN" ]; then
  step "using the binaries in $BIN"
  cp "$BIN/server" "$BIN/bots" "$BIN/loopfloor" "$work/"
else
  step "building server and bots"
  go build -o "$work/" ./cmd/server ./cmd/bots ./scripts/loopfloor
fi

# The kernel's own price of a small message over this loopback, reader
# and writer on their own cores as the server and the bots will be: the
# floor under every per-client figure below.
step "kernel floor: CPU per loopback message"
cat >"$work/floor.sh" <<'FLOOR'
#!/usr/bin/env bash
set -euo pipefail
ip link set lo up
for proto in tcp udp; do
  taskset -c 0 "$WORK/loopfloor" -listen 127.0.0.1:5555 -proto $proto -for 10s >"$WORK/floor-reader" &
  taskset -c "$BOT_CORE" "$WORK/loopfloor" -dial 127.0.0.1:5555 -proto $proto -n 1000 -rate 30 -for 8s 2>/dev/null
  wait
  cat "$WORK/floor-reader"
done
FLOOR
chmod +x "$work/floor.sh"
floor=$(WORK=$work BOT_CORE=$([ "$cores" -ge 2 ] && echo 1 || echo 0) unshare -n "$work/floor.sh" | paste -sd ';' | sed 's/;/; /g')
echo "$floor"

# The byte counter the swarm reads at the start and end of its window:
# nft counters on the namespace's output hook split server->client (source
# port 4433) from client->server (destination port 4433); IP packets,
# every protocol overhead included.
# It also appends the packet counts to $PKTLOG: the swarm reads the
# counter exactly at the window's start and end, so the last two lines
# give the packets of the window.
cat >"$work/wirebytes.sh" <<'WIRE'
#!/bin/sh
nft list chain inet twbench out | awk -v pktlog="${PKTLOG:-/dev/null}" '
  /sport 4433/ { for (i = 1; i < NF; i++) { if ($i == "bytes") down += $(i+1); if ($i == "packets") dp += $(i+1) } }
  /dport 4433/ { for (i = 1; i < NF; i++) { if ($i == "bytes") up += $(i+1); if ($i == "packets") upk += $(i+1) } }
  END { printf "%d %d\n", down, up; printf "%d %d\n", dp, upk >> pktlog }'
WIRE
chmod +x "$work/wirebytes.sh"

# One run inside a fresh network namespace. Prints nothing; the swarm's
# JSON report goes to $json and the logs beside it.
cat >"$work/run-in-ns.sh" <<'RUN'
#!/usr/bin/env bash
set -euo pipefail
ip link set lo up
# quic-go wants 7 MiB socket buffers; a fresh namespace may have less.
sysctl -qw net.core.rmem_max=7500000 net.core.wmem_max=7500000 2>/dev/null || true
wire=(-wire-dev lo)
if command -v nft >/dev/null 2>&1; then
  nft add table inet twbench
  nft add chain inet twbench out '{ type filter hook output priority 0; policy accept; }'
  for p in udp tcp; do
    nft add rule inet twbench out $p sport 4433 counter
    nft add rule inet twbench out $p dport 4433 counter
  done
  wire=(-wire-cmd "PKTLOG=$LOG.pkts $WORK/wirebytes.sh")
fi
srv_core=0 bot_core=1
[ "$(nproc)" -ge 2 ] || bot_core=0
srvprof=() botprof=()
if [ -n "$PROF" ]; then
  srvprof=(-cpuprofile "$PROF/$NAME.server.pprof") botprof=(-cpuprofile "$PROF/$NAME.bots.pprof")
fi
taskset -c $srv_core "$WORK/server" -addr 127.0.0.1:4433 -max-players "$N" -aoi "$AOI" "${srvprof[@]}" 2>"$LOG.server" &
srv=$!
for _ in $(seq 100); do
  grep -q "tickwire server listening" "$LOG.server" 2>/dev/null && break
  sleep 0.1
done
set +e
taskset -c $bot_core "$WORK/bots" -server http://127.0.0.1:4433 -n "$N" -transport "$TRANSPORT" \
  -ramp "$RAMP" -warmup "$WARMUP" -duration "$DURATION" -server-pid $srv "${wire[@]}" "${botprof[@]}" \
  -json "$JSON" >"$LOG.report" 2>"$LOG.progress"
code=$?
set -e
# Packets and bytes each way over the whole run (ramp included), for
# packets per player-tick.
[ "${wire[0]}" = -wire-dev ] || nft list chain inet twbench out >"$LOG.nft" 2>/dev/null || true
kill -TERM $srv 2>/dev/null || true
wait $srv 2>/dev/null || true
exit $code
RUN
chmod +x "$work/run-in-ns.sh"

# jget KEY FILE: a number (or null) from the report's indented JSON.
jget() { sed -n "s/^ *\"$1\": \([^,]*\),\{0,1\}$/\1/p" "$2" | head -1; }
fmt() { local v=$1 f=$2; if [ -z "$v" ] || [ "$v" = null ]; then echo "n/a"; else printf "$f" "$v"; fi; }

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $cores cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
{
  echo "Date: $(date -u +%Y-%m-%dT%H:%MZ). Machine: $machine. $(go version | cut -d' ' -f3-4)."
  echo "Load average before the sweep: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Kernel floor (scripts/loopfloor, 1000 connections × 30 messages/s of 100 B, writer and reader on their own cores): $floor."
  echo "Command: scripts/bench.sh -n \"$NS\" -t \"$TRANSPORTS\" -a \"$AOIS\" -d $DURATION -w $WARMUP -m $MINRATIO$([ $KEEP = yes ] && echo ' -k')$([ -n "$BIN" ] && echo " -b $BIN")$([ -n "$PROF" ] && echo " -p $PROF")"
  echo
  echo "\"holds\": the server's 30 Hz loop held (missed ticks ≤ 1 %), snapshots received ≥ $MINRATIO of expected, no connect failure. \"goal\": it holds and input→ack p99 < 100 ms (docs/GAME.md)."
  echo
  echo "| transport | AOI | N | holds | goal | snapshots recv/exp | input→ack p50 / p99 ms | inputs late | wire B/client/s down / up | wire packets/client/s down / up | app B/client/s down / up | server tick p50 / p99 / max ms | missed ticks | server CPU | server peak MiB | bots CPU | bots µs/bot/s | bots µs/snapshot | connect fails |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT"

for AOI in $AOIS; do
  for TRANSPORT in $TRANSPORTS; do
    for N in $NS; do
      ramp=$(( N / 100 )); [ $ramp -ge 2 ] || ramp=2
      json="$RUNDIR/$TRANSPORT-aoi$AOI-n$N.json"
      step "N=$N transport=$TRANSPORT aoi=$AOI (ramp ${ramp}s, warm-up $WARMUP, window $DURATION)"
      set +e
      WORK=$work N=$N AOI=$AOI TRANSPORT=$TRANSPORT RAMP=${ramp}s WARMUP=$WARMUP DURATION=$DURATION \
        JSON=$json LOG="$RUNDIR/$TRANSPORT-aoi$AOI-n$N" PROF=$PROF NAME="$TRANSPORT-aoi$AOI-n$N" timeout -k 10 900 unshare -n "$work/run-in-ns.sh"
      code=$?
      set -e
      if [ ! -s "$json" ]; then
        echo "run failed (exit $code); see $RUNDIR/$TRANSPORT-aoi$AOI-n$N.*"
        echo "| $TRANSPORT | $AOI | $N | run failed (exit $code) | | | | | | | | | | | | | | | |" >>"$OUT"
        break
      fi
      cat "$RUNDIR/$TRANSPORT-aoi$AOI-n$N.report"
      ratio=$(jget snapshot_ratio "$json")
      missed=$(jget missed_ticks "$json"); ticks=$(jget ticks "$json")
      # Until the server serves /metrics: its log's running total of
      # missed ticks (whole run, logged at most every 10 s).
      logmissed=$(grep -o 'total_missed=[0-9]*' "$RUNDIR/$TRANSPORT-aoi$AOI-n$N.server" | tail -1 | cut -d= -f2 || true)
      missedcol=$(fmt "$missed" %.0f)
      [ "$missedcol" != n/a ] || missedcol="log: ${logmissed:-0}"
      fails=$(jget connect_failures "$json")
      holds=yes
      awk -v r="$ratio" -v m="$MINRATIO" 'BEGIN { exit !(r < m) }' && holds=no
      if [ "$missed" != null ] && [ -n "$missed" ] && [ "$ticks" != null ]; then
        awk -v a="$missed" -v t="$ticks" 'BEGIN { exit !(a > 0.01 * t) }' && holds=no
      fi
      [ "$fails" = 0 ] || holds=no
      goal=no
      if [ $holds = yes ] && awk -v p="$(jget input_ack_p99_ms "$json")" 'BEGIN { exit !(p != "null" && p < 100) }'; then
        goal=yes
      fi
      # Packets per client per second each way, over the window.
      pkts="n/a"
      if [ -s "$RUNDIR/$TRANSPORT-aoi$AOI-n$N.pkts" ]; then
        pkts=$(tail -2 "$RUNDIR/$TRANSPORT-aoi$AOI-n$N.pkts" | paste -sd' ' | awk -v n="$N" -v w="$(jget window_seconds "$json")" \
          '{ if (w > 0 && NF == 4) printf "%.1f / %.1f", ($3-$1)/n/w, ($4-$2)/n/w; else printf "n/a" }')
      fi
      # Inputs the server applied after their tick, of all it applied
      # in the window: how well the bots' input lead keeps them on time.
      late=$(jget inputs_late_share "$json")
      [ -z "$late" ] || [ "$late" = null ] || late=$(awk -v s="$late" 'BEGIN { printf "%.2f", 100 * s }')
      printf '| %s | %s | %s | %s | %s | %s / %s (%s) | %s / %s | %s | %s / %s | %s | %s / %s | %s / %s / %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$TRANSPORT" "$([ "$AOI" = 0 ] && echo off || echo "$AOI")" "$N" "$holds" "$goal" \
        "$(jget snapshots_received "$json")" "$(jget snapshots_expected "$json")" "$(fmt "$ratio" %.3f)" \
        "$(fmt "$(jget input_ack_p50_ms "$json")" %.0f)" "$(fmt "$(jget input_ack_p99_ms "$json")" %.0f)" "$(fmt "$late" "%s %%")" \
        "$(fmt "$(jget wire_down_bytes_per_client_sec "$json")" %.0f)" "$(fmt "$(jget wire_up_bytes_per_client_sec "$json")" %.0f)" "$pkts" \
        "$(fmt "$(jget app_down_bytes_per_client_sec "$json")" %.0f)" "$(fmt "$(jget app_up_bytes_per_client_sec "$json")" %.0f)" \
        "$(fmt "$(jget tick_p50_ms "$json")" %.2f)" "$(fmt "$(jget tick_p99_ms "$json")" %.2f)" "$(fmt "$(jget tick_max_ms "$json")" %.1f)" \
        "$missedcol" "$(fmt "$(jget cpu_per_sec "$json")" %.2f)" "$(fmt "$(jget peak_rss_mib "$json")" %.0f)" \
        "$(fmt "$(jget swarm_cpu_per_sec "$json")" %.2f)" "$(fmt "$(jget swarm_cpu_per_bot_us_per_sec "$json")" %.0f)" "$(fmt "$(jget swarm_cpu_per_snapshot_us "$json")" %.0f)" "$fails" >>"$OUT"
      [ $holds = yes ] || [ $KEEP = yes ] || { echo "N=$N does not hold; stopping this sweep"; break; }
    done
  done
done
step "wrote $OUT"
cat "$OUT"
exit
}
