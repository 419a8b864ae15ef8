package govern_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/arm"
)

// TestSnapshotReusesUnchanged: a rebuild after one assignment changes
// keeps the others' compiled programs, and recompiles an assignment whose
// custom definition changed, was deleted or came back, with enforcement
// following each change.
func TestSnapshotReusesUnchanged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sub := "/subscriptions/" + f.sub
	f.must(t, "PUT", sub+"/resourceGroups/rg0?api-version=2021-04-01", `{"location":"eastus"}`)
	ws := sub + "/resourceGroups/rg0/providers/Microsoft.MachineLearningServices/workspaces/ws1"
	f.must(t, "PUT", ws+"?api-version=2024-04-01", `{"location":"eastus"}`)
	def := sub + "/providers/Microsoft.Authorization/policyDefinitions/deny-team"
	rule := func(team string) string {
		return `{"properties":{"mode":"Indexed","policyRule":{"if":{"allOf":[` +
			`{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces/computes"},` +
			`{"field":"tags['team']","equals":"` + team + `"}]},"then":{"effect":"Deny"}}}}`
	}
	f.must(t, "PUT", def+"?api-version=2025-03-01", rule("blocked"))
	asg := sub + "/providers/Microsoft.Authorization/policyAssignments/deny-team"
	f.must(t, "PUT", asg+"?api-version=2025-03-01", `{"properties":{"policyDefinitionId":"`+def+`"}}`)
	idle := sub + "/providers/Microsoft.Authorization/policyAssignments/idle"
	f.must(t, "PUT", idle+"?api-version=2025-03-01", `{"properties":{"policyDefinitionId":"`+f.builtin(t, "679ddf89-ab8f-48a5-9029-e76054077449")+`"}}`)
	n := 0
	put := func(team string) error {
		n++
		_, err := f.do(t, "PUT", fmt.Sprintf("%s/computes/c%d?api-version=2024-04-01", ws, n),
			`{"location":"eastus","tags":{"team":"`+team+`"},"properties":{"computeType":"AmlCompute","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2"}}}`)
		return err
	}
	denied := func(team string) bool {
		err := put(team)
		return err != nil && strings.Contains(err.Error(), "RequestDisallowedByPolicy")
	}
	if !denied("blocked") || denied("other") {
		t.Fatal("the first definition is not enforced as written")
	}
	kDeny, kIdle := arm.KeyOf(asg), arm.KeyOf(idle)
	p1, i1 := f.gov.FirstProgram(ctx, kDeny), f.gov.FirstProgram(ctx, kIdle)
	if p1 == nil || i1 == nil {
		t.Fatal("no compiled programs")
	}
	// Another assignment changes: the others are not compiled again.
	f.must(t, "PUT", sub+"/providers/Microsoft.Authorization/policyAssignments/other?api-version=2025-03-01",
		`{"properties":{"policyDefinitionId":"`+f.builtin(t, "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f")+`"}}`)
	if f.gov.FirstProgram(ctx, kDeny) != p1 || f.gov.FirstProgram(ctx, kIdle) != i1 {
		t.Error("an unrelated assignment's change compiled the others again")
	}
	// Its definition changes: compiled again, and enforced as changed.
	f.must(t, "PUT", def+"?api-version=2025-03-01", rule("other"))
	if f.gov.FirstProgram(ctx, kDeny) == p1 {
		t.Error("the assignment kept the program of its old definition")
	}
	if f.gov.FirstProgram(ctx, kIdle) != i1 {
		t.Error("a built-in's assignment was compiled again for another definition's change")
	}
	if denied("blocked") || !denied("other") {
		t.Error("the changed definition is not enforced as changed")
	}
	// Its definition goes: the assignment refuses what it covers (it
	// cannot be evaluated); it comes back: enforced again.
	if _, err := f.do(t, "DELETE", def+"?api-version=2025-03-01", ""); err != nil {
		t.Fatalf("deleting the definition: %v", err)
	}
	if !denied("anyone") {
		t.Error("an assignment whose definition is gone does not refuse")
	}
	f.must(t, "PUT", def+"?api-version=2025-03-01", rule("blocked"))
	if !denied("blocked") || denied("other") {
		t.Error("the definition created again is not enforced")
	}
}

// BenchmarkAssignmentPut measures writing one more assignment while 200
// are in force, the snapshot rebuilt for the next request included.
func BenchmarkAssignmentPut(b *testing.B) {
	f := newFixture(b)
	sub := "/subscriptions/" + f.sub
	f.must(b, "PUT", sub+"/resourceGroups/rg0?api-version=2021-04-01", `{"location":"eastus"}`)
	f.assignInScope(b, 200)
	def := f.builtin(b, "679ddf89-ab8f-48a5-9029-e76054077449")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.must(b, "PUT", fmt.Sprintf("%s/providers/Microsoft.Authorization/policyAssignments/more%d?api-version=2025-03-01", sub, i),
			`{"properties":{"policyDefinitionId":"`+def+`"}}`)
		if _, err := f.gov.Assignments(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
