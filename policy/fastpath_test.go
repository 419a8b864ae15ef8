package policy

import (
	"strings"
	"testing"
)

// TestRelationAndResourceGroupWithoutAllocating: the allocation-free
// relationOf and resourceGroupOf agree with the plain definitions.
func TestRelationAndResourceGroupWithoutAllocating(t *testing.T) {
	for _, tc := range []struct {
		rt, lt string
		want   Relation
	}{
		{"Microsoft.MachineLearningServices/workspaces", "microsoft.machinelearningservices/WORKSPACES", Self},
		{"Microsoft.MachineLearningServices/workspaces", "Microsoft.MachineLearningServices/workspaces/computes", Child},
		{"Microsoft.MachineLearningServices/workspaces", "Microsoft.MachineLearningServices/workspacesX", Sibling},
		{"Microsoft.MachineLearningServices/workspaces", "Microsoft.Insights/diagnosticSettings", Extension},
		{"Microsoft.Storage/storageAccounts", "Microsoft.Authorization/roleAssignments", Extension},
		{"Microsoft.Storage/storageAccounts", "Microsoft.Authorization", Sibling},
		{"", "Microsoft.Network/privateEndpoints", Sibling},
		{"", "", Sibling},
	} {
		if got := relationOf(tc.rt, tc.lt); got != tc.want {
			t.Errorf("relationOf(%q, %q) = %d, want %d", tc.rt, tc.lt, got, tc.want)
		}
	}
	for _, tc := range []struct{ id, want string }{
		{"/subscriptions/s/resourceGroups/rg-1/providers/Microsoft.X/y/z", "rg-1"},
		{"/subscriptions/s/RESOURCEGROUPS/Rg/providers/p", "Rg"},
		{"subscriptions/s/resourceGroups/rg/", "rg"},
		{"/subscriptions/s/resourceGroups", ""},
		{"/subscriptions/s/resourceGroups//x", ""},
		{"/a/resourceGroups/first/resourceGroups/second", "first"},
		{"", ""},
		{"resourceGroups", ""},
	} {
		segs := strings.Split(strings.Trim(tc.id, "/"), "/")
		want := ""
		for i := 0; i+1 < len(segs); i++ {
			if strings.EqualFold(segs[i], "resourceGroups") {
				want = segs[i+1]
				break
			}
		}
		if want != tc.want {
			t.Fatalf("bad case %q: reference gives %q", tc.id, want)
		}
		if got := resourceGroupOf(tc.id); got != tc.want {
			t.Errorf("resourceGroupOf(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
	n := testing.AllocsPerRun(100, func() {
		relationOf("Microsoft.MachineLearningServices/workspaces", "Microsoft.Insights/diagnosticSettings")
		resourceGroupOf("/subscriptions/s/resourceGroups/rg-1/providers/Microsoft.X/y/z")
	})
	if n != 0 {
		t.Errorf("relationOf and resourceGroupOf allocate %v times", n)
	}
}

// TestLikeASCIIAgreesWithFolding: like on an ASCII subject matches without
// lower-casing it, exactly as matching the folded subject does.
func TestLikeASCIIAgreesWithFolding(t *testing.T) {
	patterns := []string{"azureml://registries/*", "AzureML://Registries/azureml/*", "*", "**", "a*b*c", "*Workspaces", "Microsoft.*/*s", "*é*", "x*", "*X", "ab*ba"}
	subjects := []string{"azureml://registries/azureml/models/Phi-4/versions/3", "AZUREML://REGISTRIES/AzureML/x", "", "abc", "ABBA", "aXbYc", "Microsoft.MachineLearningServices/workspaces", "ab", "aba", "xX"}
	for _, pt := range patterns {
		p := compilePattern(opLike, pt)
		for _, s := range subjects {
			got := p.match(s)
			want := likeMatchFolded(p.parts, s)
			if got != want {
				t.Errorf("%q like %q = %v, folded matching says %v", s, pt, got, want)
			}
		}
	}
	p := compilePattern(opLike, "azureml://registries/*/models/*")
	if n := testing.AllocsPerRun(100, func() { p.match("AzureML://Registries/HuggingFace/models/bert") }); n != 0 {
		t.Errorf("like on an ASCII subject allocates %v times", n)
	}
}

// likeMatchFolded is the reference: match the folded subject.
func likeMatchFolded(parts []string, s string) bool {
	if len(parts) == 1 {
		return strings.EqualFold(s, parts[0])
	}
	s = strings.ToLower(s)
	first, last := parts[0], parts[len(parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(mid, part)
		if i < 0 {
			return false
		}
		mid = mid[i+len(part):]
	}
	return true
}
