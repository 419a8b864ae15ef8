#!/usr/bin/env bash
# Runs every test of the repository: vet, a cgo-free build, bounded fuzzing of
# every parser and the evaluator, and the whole test suite (which includes the
# conformance suites that read ../shared in place).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-10s}"

echo "== go vet"
go vet ./...

echo "== build (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -o /dev/null ./cmd/mlgov

echo "== fuzz (${FUZZTIME} each)"
while read -r pkg target; do
  [ -z "$pkg" ] && continue
  echo "-- $target ($pkg)"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "./$pkg" > /tmp/mlgov-fuzz.log 2>&1 || { cat /tmp/mlgov-fuzz.log; exit 1; }
  tail -1 /tmp/mlgov-fuzz.log
done <<'TARGETS'
policy/value FuzzDecode
policy/value FuzzEqualFold
policy/expr FuzzParseAndEval
policy/alias FuzzParse
policy/definition FuzzParse
policy FuzzCompileEvaluate
arm FuzzParseID
internal/armtest FuzzRequestBody
authn FuzzVerify
TARGETS

echo "== go test"
log=$(mktemp)
status=0
go test -count=1 -v ./... > "$log" 2>&1 || status=$?
grep -E '^(ok|FAIL|---|panic:|\?)' "$log" | grep -vE '^--- (PASS|SKIP)' || true
if [ "$status" -ne 0 ]; then
  echo "== failures in detail"
  grep -B2 -A20 -E '^\s*--- FAIL' "$log" | head -400 || true
fi
passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
grep -E '^\s*--- SKIP' -A1 "$log" | grep -vE '^\s*--- SKIP|^--$' | sed 's/^/skip reason: /' || true
rm -f "$log"
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
