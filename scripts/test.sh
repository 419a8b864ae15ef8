#!/usr/bin/env bash
# Runs every test of the repository: vet, a cgo-free build, bounded fuzzing of
# every parser and the evaluator, and the whole test suite (which includes the
# conformance suites that read ../shared in place).
set -euo pipefail
cd "$(dirname "$0")/.."

# Fuzzing budgets are execution counts, not durations: with a duration, Go
# 1.26's fuzz coordinator can report a bare "context deadline exceeded" failure
# at the deadline on a loaded machine (golang/go#75804, fixed in Go 1.27). Each
# count below is about 5-10 s on the 2-core CI machine. FUZZTIME (e.g. 2m or
# 500000x) overrides them all for longer local runs.
FUZZTIME="${FUZZTIME:-}"

echo "== go vet"
go vet ./...

echo "== build (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -o /dev/null ./cmd/mlgov

echo "== fuzz"
fuzzlog=$(mktemp)
while read -r pkg target budget; do
  [ -z "$pkg" ] && continue
  budget="${FUZZTIME:-$budget}"
  echo "-- $target ($pkg, $budget)"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" -timeout 10m "./$pkg" > "$fuzzlog" 2>&1 || { cat "$fuzzlog"; exit 1; }
  grep -E '^fuzz: elapsed' "$fuzzlog" | tail -1 || true
done <<'TARGETS'
policy/value FuzzDecode 120000x
policy/value FuzzEqualFold 100000x
policy/value FuzzParseStrict 100000x
policy/expr FuzzParseAndEval 150000x
policy/alias FuzzParse 100000x
policy/definition FuzzParse 120000x
policy FuzzCompileEvaluate 120000x
arm FuzzParseID 400000x
arm FuzzEqualName 150000x
activitylog FuzzParseFilter 100000x
odata FuzzParseFilter 60000x
govern FuzzCheckRestrictionsRequest 100000x
internal/armtest FuzzRequestBody 40000x
cli FuzzH1Response 60000x
authn FuzzVerify 100000x
govern FuzzRemediationFilter 50000x
TARGETS
rm -f "$fuzzlog"

# The browser tests (e2e TestDashboardBrowser) drive Debian's chromium:
# installed here when missing; when it cannot be, they skip and say why.
echo "== chromium"
./scripts/install-chromium.sh

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
