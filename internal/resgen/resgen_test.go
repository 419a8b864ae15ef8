package resgen

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestDeterministicValidMix: the same seed gives the same bytes; every
// resource is a JSON object of realistic size with a type; the mix holds
// every kind of resource the Machine Learning built-ins evaluate.
func TestDeterministicValidMix(t *testing.T) {
	a, b := New(1), New(1)
	types := map[string]int{}
	const n = 3000
	total := 0
	for i := 0; i < n; i++ {
		x, y := a.Append(nil), b.Append(nil)
		if !bytes.Equal(x, y) {
			t.Fatalf("resource %d differs between two generators with the same seed", i)
		}
		var r struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(x, &r); err != nil {
			t.Fatalf("resource %d: %v\n%s", i, err, x)
		}
		if len(x) < 300 || len(x) > 5000 {
			t.Errorf("resource %d is %d bytes", i, len(x))
		}
		types[r.Type]++
		total += len(x)
	}
	for _, want := range []string{
		"Microsoft.MachineLearningServices/workspaces",
		"Microsoft.MachineLearningServices/workspaces/computes",
		"Microsoft.MachineLearningServices/workspaces/jobs",
		"Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
		"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
		"Microsoft.MachineLearningServices/registries",
		"Microsoft.MachineLearningServices/workspaces/datastores",
		"Microsoft.Storage/storageAccounts",
		"Microsoft.KeyVault/vaults",
		"Microsoft.Network/privateEndpoints",
		"Microsoft.Insights/diagnosticSettings",
		"Microsoft.MachineLearningServices.v2.Data/workspaces/deployments",
		"Microsoft.MachineLearningServices.Data/workspaces",
	} {
		if types[want] == 0 {
			t.Errorf("no %s among %d resources", want, n)
		}
	}
	if avg := total / n; avg < 500 || avg > 2000 {
		t.Errorf("average resource size %d bytes, want 0.5-2 KB", avg)
	}
	if bytes.Equal(New(1).Append(nil), New(2).Append(nil)) {
		t.Error("seeds 1 and 2 start with the same resource")
	}
}
