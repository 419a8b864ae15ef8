#!/usr/bin/env bash
# Measures what the policy stages add to a compute PUT with `mlgov bench`:
# for each of RUNS rounds, a fresh `mlgov serve` (SQLite, empty data
# directory, the Machine Learning built-ins loaded) takes PUTs of computes at
# --rate 1000 with no assignment, then another fresh one with 200 assignments in force
# (the ML built-ins that need no parameter, at the subscription and at the
# bench's resource group; `mlgov bench --assignments 200`). Prints every run,
# then the median and range of p50 and p99 per series and the median of the
# per-round p99 differences.
#
#   scripts/bench-policy.sh [RUNS] [BUILTINS]
#     RUNS      rounds (default 5; about 40 s each)
#     BUILTINS  folder of built-in definitions (default: the Machine Learning
#               folder of ../shared/corpus/azure-policy)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
BUILTINS="${2:-../shared/corpus/azure-policy/policyDefinitions/Machine Learning}"
[ -d "$BUILTINS" ] || { echo "no built-ins at $BUILTINS" >&2; exit 2; }
BIN="$(mktemp -d)/mlgov"
go build -o "$BIN" ./cmd/mlgov
DATA="$(mktemp -d)"
ADDR="127.0.0.1:${PORT:-19644}"
OUT="$(mktemp)"
pid=""
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; pid=""; }
trap 'stop; rm -rf "$DATA" "$DATA.log" "$(dirname "$BIN")" "$OUT" "$OUT.t"' EXIT
fresh() {
  stop
  rm -rf "$DATA"/*
  "$BIN" serve --data "$DATA" --listen "$ADDR" --policy-definitions "$BUILTINS" > "$DATA.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -s "$DATA/bootstrap.json" ] && return; sleep 0.1; done
  echo "serve did not start" >&2; cat "$DATA.log" >&2; exit 1
}
one() { # name, bench args...
  local name=$1; shift
  "$BIN" bench --bootstrap "$DATA/bootstrap.json" --duration 10s --concurrency 64 --op put-compute --rate "${RATE:-1000}" "$@" 2>/dev/null |
    awk -v n="$name" -v r="$run" '/^throughput/ {t=$2} /^latency/ {p50=$3; p99=$7; sub("ms","",p50); sub("ms","",p99)} END {printf "%-16s run %s %9.1f req/s  p50 %7.2f ms  p99 %7.2f ms\n", n, r, t, p50, p99}' | tee -a "$OUT"
}
for run in $(seq "$RUNS"); do
  echo "== run $run (load $(cut -d' ' -f1 /proc/loadavg))"
  fresh; one put-0-assign
  fresh; one put-200-assign --assignments 200
done
stop
echo "== median [min-max] of $RUNS runs"
med() { sort -n | awk '{a[NR]=$1} END {printf "%s [%s-%s]", a[int((NR+1)/2)], a[1], a[NR]}'; }
for name in put-0-assign put-200-assign; do
  awk -v n="$name" '$1 == n {print $7, $10}' "$OUT" > "$OUT.t"
  printf "%-16s p50 ms %s  p99 ms %s\n" "$name" "$(cut -d' ' -f1 "$OUT.t" | med)" "$(cut -d' ' -f2 "$OUT.t" | med)"
done
join <(awk '$1 == "put-0-assign" {print $3, $10}' "$OUT" | sort) <(awk '$1 == "put-200-assign" {print $3, $10}' "$OUT" | sort) |
  awk '{print $3 - $2}' | med | sed 's/^/p99 added by 200 assignments, ms: /'
echo
