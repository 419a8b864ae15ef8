#!/usr/bin/env bash
# Measures what the policy stages add to a compute PUT with `mlgov bench`.
# For each of RUNS rounds, a fresh `mlgov serve` (SQLite, empty data
# directory, the Machine Learning built-ins loaded) takes PUTs of computes at
# --rate RATE (default 200) with 200 assignments in force (the ML built-ins
# that need no parameter, then custom definitions, at the subscription and at
# the bench's resource group; `mlgov bench --assignments 200`). Every other
# PUT goes to a control resource group that no assignment covers: the two
# series share the server, the load and the compliance work of one run, and
# differ only by the policy stages. For reference, each round also runs a
# fresh server with no assignment at all.
#
# Prints every run, then the median and range of p50 and p99 per series and
# of the per-run p99 differences (assigned minus unassigned, same run).
#
#   RATE=N scripts/bench-policy.sh [RUNS] [BUILTINS]
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
# one NAME [bench args...]: one bench run; a line per series of its table
# ("NAME/OP run R req/s p50 p99").
one() {
  local name=$1; shift
  "$BIN" bench --bootstrap "$DATA/bootstrap.json" --duration 10s --concurrency 64 --op put-compute --rate "${RATE:-200}" "$@" 2>/dev/null |
    awk -v n="$name" -v r="$run" '$1 ~ /^put-compute/ && $2 ~ /^[0-9]+$/ {p50=$5; p99=$7; sub("ms","",p50); sub("ms","",p99);
      printf "%-32s run %s %9.1f req/s  p50 %7.2f ms  p99 %7.2f ms\n", n "/" $1, r, $4, p50, p99}' | tee -a "$OUT"
}
for run in $(seq "$RUNS"); do
  echo "== run $run (load $(cut -d' ' -f1 /proc/loadavg))"
  fresh; one no-assignments
  fresh; one 200-assignments --assignments 200
done
stop
echo "== median [min-max] of $RUNS runs"
med() { sort -n | awk '{a[NR]=$1} END {printf "%s [%s-%s]", a[int((NR+1)/2)], a[1], a[NR]}'; }
for name in no-assignments/put-compute 200-assignments/put-compute 200-assignments/put-compute-unassigned; do
  awk -v n="$name" '$1 == n {print $7, $10}' "$OUT" > "$OUT.t"
  printf "%-40s p50 ms %s  p99 ms %s\n" "$name" "$(cut -d' ' -f1 "$OUT.t" | med)" "$(cut -d' ' -f2 "$OUT.t" | med)"
done
join <(awk '$1 == "200-assignments/put-compute-unassigned" {print $3, $10}' "$OUT" | sort) <(awk '$1 == "200-assignments/put-compute" {print $3, $10}' "$OUT" | sort) |
  awk '{print $3 - $2}' | med | sed 's/^/p99 added by the policy stages (same run), ms: /'
echo
