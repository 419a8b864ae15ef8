#!/usr/bin/env bash
# Measures the control-plane targets of issue 3 with `mlgov bench`: for each
# of RUNS rounds, a fresh `mlgov serve` (SQLite, empty data directory) per
# series, so that no series inherits the database or the long-running-
# operation backlog of another. Prints every run, then the median and range
# of throughput, p50 and p99 per series.
#
#   scripts/bench-serve.sh [RUNS]        (default 5; about 75 s per round)
#
# Series (64 clients unless noted; --rate N sends N requests per second and
# times each from when it was due):
#   put-rate1000  PUT computes at 1,000/s      put-flat  PUT computes, flat out
#   get-flat      GET, flat out                get-rate1000 / 5000 / 10000
#   get-c8-flat   GET with 8 clients, flat out
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
BIN="$(mktemp -d)/mlgov"
go build -o "$BIN" ./cmd/mlgov
DATA="$(mktemp -d)"
ADDR="127.0.0.1:${PORT:-19643}"
OUT="$(mktemp)"
pid=""
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; pid=""; }
trap 'stop; rm -rf "$DATA" "$DATA.log" "$(dirname "$BIN")" "$OUT" "$OUT.t"' EXIT
fresh() {
  stop
  rm -rf "$DATA"/*
  "$BIN" serve --data "$DATA" --listen "$ADDR" > "$DATA.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -s "$DATA/bootstrap.json" ] && return; sleep 0.1; done
  echo "serve did not start" >&2; cat "$DATA.log" >&2; exit 1
}
one() { # name, bench args...
  local name=$1; shift
  "$BIN" bench --bootstrap "$DATA/bootstrap.json" --duration 10s "$@" 2>/dev/null |
    awk -v n="$name" '/^throughput/ {t=$2} /^latency/ {p50=$3; p99=$7; sub("ms","",p50); sub("ms","",p99)} END {printf "%-14s %9.1f req/s  p50 %7.2f ms  p99 %7.2f ms\n", n, t, p50, p99}' | tee -a "$OUT"
}
for run in $(seq "$RUNS"); do
  echo "== run $run (load $(cut -d' ' -f1 /proc/loadavg))"
  fresh; one put-rate1000 --concurrency 64 --op put-compute --rate 1000
  fresh; one put-flat --concurrency 64 --op put-compute
  fresh
  one get-flat --concurrency 64 --op get
  one get-rate1000 --concurrency 64 --op get --rate 1000
  one get-rate5000 --concurrency 64 --op get --rate 5000
  one get-rate10000 --concurrency 64 --op get --rate 10000
  one get-c8-flat --concurrency 8 --op get
done
stop
echo "== median [min-max] of $RUNS runs"
med() { sort -n | awk '{a[NR]=$1} END {printf "%s [%s-%s]", a[int((NR+1)/2)], a[1], a[NR]}'; }
for name in put-rate1000 put-flat get-flat get-rate1000 get-rate5000 get-rate10000 get-c8-flat; do
  awk -v n="$name" '$1 == n {print $2, $5, $8}' "$OUT" > "$OUT.t"
  printf "%-14s req/s %s  p50 ms %s  p99 ms %s\n" "$name" \
    "$(cut -d' ' -f1 "$OUT.t" | med)" "$(cut -d' ' -f2 "$OUT.t" | med)" "$(cut -d' ' -f3 "$OUT.t" | med)"
done
