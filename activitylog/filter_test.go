package activitylog

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/store"
)

func TestParseFilterRefuses(t *testing.T) {
	for _, f := range []string{
		"resourceGroupName eq 'a'b'",
		"resourceGroupName eq 'rg1' and resourceGroupName eq 'rg2'",
		"resourceId eq '/a' and resourceUri eq '/b'",
		"eventTimestamp ge '2026-01-01T00:00:00Z' and eventTimestamp gt '2026-01-02T00:00:00Z'",
		"eventTimestamp ge 'yesterday'",
		"status eq 'Failed'",
		"resourceGroupName eq rg1",
		"and",
		"resourceGroupName eq '" + strings.Repeat("x", 5000) + "'' and status eq '1'",
	} {
		var q store.EventQuery
		err := ParseFilter(f, &q)
		var ae *arm.Error
		if !errors.As(err, &ae) || ae.Code != "InvalidFilter" {
			t.Errorf("ParseFilter(%.80q) = %v, want an InvalidFilter error", f, err)
			continue
		}
		if len(ae.Message) > 400 {
			t.Errorf("ParseFilter(%.80q): message of %d bytes, want the echo clipped", f, len(ae.Message))
		}
	}
	var q store.EventQuery
	if err := ParseFilter("resourceGroupName eq 'it''s' and eventTimestamp ge '2026-01-01T00:00:00Z' and eventTimestamp le '2026-01-02T00:00:00Z'", &q); err != nil || q.ResourceGroup != "it's" {
		t.Errorf("a valid filter: %v, resource group %q", err, q.ResourceGroup)
	}
}

func FuzzParseFilter(f *testing.F) {
	f.Add("resourceGroupName eq 'rg1' and eventTimestamp ge '2026-01-01T00:00:00Z'")
	f.Add("correlationId eq 'a''b'")
	f.Fuzz(func(t *testing.T, filter string) {
		var q store.EventQuery
		err := ParseFilter(filter, &q)
		var ae *arm.Error
		if err != nil && (!errors.As(err, &ae) || ae.Code != "InvalidFilter") {
			t.Fatalf("ParseFilter(%q) = %v, want nil or an InvalidFilter error", filter, err)
		}
	})
}
