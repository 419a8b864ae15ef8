package generic

import (
	"strings"
	"testing"
)

// TestChunkLog2: a batch is cut into statements of 256, 128, ..., 1 rows.
func TestChunkLog2(t *testing.T) {
	for n, want := range map[int]int{1: 0, 2: 1, 3: 1, 255: 7, 256: 8, 257: 8, 100000: 8} {
		if got := chunkLog2(n); got != want {
			t.Errorf("chunkLog2(%d) = %d, want %d", n, got, want)
		}
	}
	pg := testDialect(true, "")
	if n := strings.Count(pg.s.ps.insert[8], "$"); n != 256*policyStateNCols {
		t.Errorf("insert[8] has %d placeholders, want %d", n, 256*policyStateNCols)
	}
	if n := strings.Count(pg.s.ps.addTotals[3], "$"); n != 8*10 || !strings.Contains(pg.s.ps.addTotals[3], "n = policy_state_totals.n + excluded.n") {
		t.Errorf("addTotals[3] has %d placeholders: %s", n, pg.s.ps.addTotals[3])
	}
	if pg.s.ps.lockKeys != "" {
		t.Errorf("lockKeys without RowLocks: %s", pg.s.ps.lockKeys)
	}
	if !strings.Contains(pg.s.ps.claimScanTask, "LIMIT 1)") || strings.Contains(pg.s.ps.claimScanTask, "SKIP LOCKED") {
		t.Errorf("claim without RowLocks: %s", pg.s.ps.claimScanTask)
	}
	if len(policyStateColNames) != policyStateNCols || policyStateColNames[11] != "body" {
		t.Errorf("policyStateColNames = %q", policyStateColNames)
	}
}
