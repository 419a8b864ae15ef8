package govern_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
)

// TestSummarizeFromTotals: summarize at subscription, resource group and
// assignment scope, answered from the totals the store keeps with the
// records, is
// the summary worked out from the records themselves, after a scan of
// the 26 built-ins and an initiative and again after a rescan that
// changes states; and the counts it gives are not empty.
func TestSummarizeFromTotals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.seed(t, f.st, 600, 3)
	f.assignAll(t, nil)
	// An initiative of three Audit built-ins (idle shutdown, local
	// authentication, public network access), assigned at one resource
	// group.
	var members []string
	for i, name := range []string{"679ddf89-ab8f-48a5-9029-e76054077449", "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f", "438c38d2-3772-465a-a9cc-7a6666a275ce"} {
		members = append(members, fmt.Sprintf(`{"policyDefinitionId":%q,"policyDefinitionReferenceId":"Member%d"}`, f.builtin(t, name), i))
	}
	sub := "/subscriptions/" + f.sub
	f.must(t, "PUT", sub+"/providers/Microsoft.Authorization/policySetDefinitions/ml-set?api-version=2025-03-01",
		`{"properties":{"policyDefinitions":[`+strings.Join(members, ",")+`]}}`)
	f.must(t, "PUT", sub+"/resourceGroups/bench-rg001/providers/Microsoft.Authorization/policyAssignments/set?api-version=2025-03-01",
		`{"properties":{"policyDefinitionId":"`+sub+`/providers/Microsoft.Authorization/policySetDefinitions/ml-set"}}`)
	compare := func(step string) {
		t.Helper()
		for _, scope := range []string{sub, sub + "/resourceGroups/bench-rg000", sub + "/resourceGroups/bench-rg001",
			sub + "/resourceGroups/bench-rg001/providers/Microsoft.Authorization/policyAssignments/set",
			sub + "/providers/Microsoft.Authorization/policyAssignments/all10"} {
			id, err := arm.ParseID(scope)
			if err != nil {
				t.Fatal(err)
			}
			p := scope + "/providers/Microsoft.PolicyInsights/policyStates/latest/summarize"
			pid, _ := arm.ParseID(p)
			resp, err := f.gov.Handle(ctx, &resources.Request{Method: "POST", Path: p, ID: pid, APIVersion: "2024-10-01", Caller: f.caller})
			if err != nil {
				t.Fatalf("%s: summarize %s: %v", step, scope, err)
			}
			want, err := f.gov.SummaryCounted(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.Body, want) {
				t.Errorf("%s: summarize %s from the totals:\n%s\nfrom the records:\n%s", step, scope, resp.Body, want)
			}
			if bytes.Contains(resp.Body, []byte(`"policyAssignments":null`)) {
				t.Errorf("%s: summarize %s counts nothing: %s", step, scope, resp.Body)
			}
			if (strings.HasSuffix(scope, "rg001") || strings.HasSuffix(scope, "/set")) && !bytes.Contains(resp.Body, []byte(`policySetDefinitions/ml-set","results":{"compliancePercentage"`)) {
				t.Errorf("%s: summarize %s has no initiative: %s", step, scope, resp.Body)
			}
		}
	}
	log := slog.New(slog.DiscardHandler)
	if err := f.gov.Scan(ctx, sub, log); err != nil {
		t.Fatal(err)
	}
	compare("after the scan")
	// Every workspace's public network access disabled: their states
	// change under the rescan.
	f.publicAccess = "Disabled"
	f.seed(t, f.st, 600, 3)
	if err := f.gov.Scan(ctx, sub, log); err != nil {
		t.Fatal(err)
	}
	compare("after the rescan")
}
