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
	if n := strings.Count(pg.s.ps.insert[8], "$"); n != 256*(policyStateNCols+1) {
		t.Errorf("insert[8] has %d placeholders, want %d", n, 256*(policyStateNCols+1))
	}
	if !strings.Contains(pg.s.ps.claimScanTask, "LIMIT 1)") || strings.Contains(pg.s.ps.claimScanTask, "SKIP LOCKED") {
		t.Errorf("claim without RowLocks: %s", pg.s.ps.claimScanTask)
	}
	if len(policyStateColNames) != policyStateNCols || policyStateColNames[11] != "body" {
		t.Errorf("policyStateColNames = %q", policyStateColNames)
	}
}
