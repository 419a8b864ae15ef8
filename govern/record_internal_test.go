package govern

import (
	"testing"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
)

// TestStoredResourceID: the resource id as written comes back from the
// stored row, through the positions of its capitals when its key is its
// lower case, and whole otherwise (non-ASCII names).
func TestStoredResourceID(t *testing.T) {
	for _, id := range []string{
		"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/RG-One/providers/Microsoft.MachineLearningServices/workspaces/WS/computes/c1",
		"/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg",
		"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/Grüne/providers/Microsoft.MachineLearningServices/workspaces/Wß",
	} {
		st := &State{ResourceID: id, Timestamp: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ComplianceState: Compliant}
		ps := storedAs(st, resourceRowOf(st))
		if ps.ResourceKey != arm.KeyOf(id) {
			t.Errorf("%s: key %s", id, ps.ResourceKey)
		}
		b, err := value.Parse(ps.Body)
		if err != nil {
			t.Fatal(err)
		}
		rid := b.Field("id").Str()
		if u, ok := b.Get("u"); ok {
			rid = withCapitals(ps.ResourceKey, u.Elems())
		}
		if rid != id {
			t.Errorf("%s: stored as %s, read back as %s", id, ps.Body, rid)
		}
		if len(ps.Body) >= len(id) && b.Field("id").IsUndefined() {
			t.Errorf("%s: body %d bytes, no shorter than the id", id, len(ps.Body))
		}
	}
	if _, ok := capitals("/A/b", "/a/c"); ok {
		t.Error("capitals of an id whose key is not its lower case")
	}
}

// TestStoredRowsShareResource: the rows of one resource's States are made
// from one resourceRow, each with a body of its own (an exemption list
// in one does not show in another).
func TestStoredRowsShareResource(t *testing.T) {
	id := "/subscriptions/s/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/W"
	tags, _ := value.Parse([]byte(`{"team":"ml"}`))
	a := &State{ResourceID: id, ResourceLocation: "eastus", ResourceTags: tags, SubscriptionID: "s", ResourceGroup: "RG",
		ResourceType: "Microsoft.MachineLearningServices/workspaces", ComplianceState: Compliant}
	b := *a
	b.ComplianceState, b.ExemptionIDs = Exempt, []string{"/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/x"}
	rr := resourceRowOf(a)
	pa, pb, pa2 := storedAs(a, rr), storedAs(&b, rr), storedAs(a, rr)
	if string(pa.Body) != string(pa2.Body) || pa.ResourceKey != arm.KeyOf(id) || pb.ResourceGroupKey != "rg" || pb.SubscriptionKey != "s" {
		t.Errorf("rows: %+v %+v", pa, pb)
	}
	va, err := value.Parse(pa.Body)
	if err != nil {
		t.Fatalf("%s: %v", pa.Body, err)
	}
	vb, err := value.Parse(pb.Body)
	if err != nil {
		t.Fatalf("%s: %v", pb.Body, err)
	}
	if _, ok := va.Get("x"); ok || vb.Field("x").Len() != 1 || vb.Field("loc").Str() != "eastus" || va.Field("tags").Field("team").Str() != "ml" {
		t.Errorf("bodies: %s and %s", pa.Body, pb.Body)
	}
}
