package arm

import (
	"slices"
	"testing"
)

func TestTree(t *testing.T) {
	tr := NewTree("Root", map[string]string{
		"Platform": "", "LandingZones": "platform", "Corp": "landingzones",
		"Orphan": "nosuch",      // an unknown parent: under the root
		"A":      "B", "B": "A", // a cycle: cut at the root
	}, map[string]string{"S1": "corp", "s2": "", "s3": "nosuch"})
	mg := func(n string) string { return ManagementGroupKey(n) }
	for _, c := range []struct {
		key  string
		want []string
	}{
		{"/subscriptions/s1/resourcegroups/rg/providers/x/y/z", []string{mg("corp"), mg("landingzones"), mg("platform"), mg("root")}},
		{"/subscriptions/s1", []string{mg("corp"), mg("landingzones"), mg("platform"), mg("root")}},
		{"/subscriptions/s2/resourcegroups/rg", []string{mg("root")}},
		{"/subscriptions/s3", []string{mg("root")}},
		{"/subscriptions/unplaced/resourcegroups/x", []string{mg("root")}},
		{mg("corp"), []string{mg("landingzones"), mg("platform"), mg("root")}},
		{mg("corp") + "/providers/microsoft.authorization/policyassignments/a", []string{mg("corp"), mg("landingzones"), mg("platform"), mg("root")}},
		{mg("root"), nil},
		{mg("orphan"), []string{mg("root")}},
		{"/providers/microsoft.subscription/aliases/x", nil},
	} {
		if got := tr.Above(c.key); !slices.Equal(got, c.want) {
			t.Errorf("Above(%s) = %v, want %v", c.key, got, c.want)
		}
	}
	for _, c := range []struct{ id, key string }{
		{"/subscriptions/S1/resourceGroups/RG/providers/X/y/Z", "/subscriptions/s1/resourcegroups/rg/providers/x/y/z"},
		{"/SUBSCRIPTIONS/s2", "/subscriptions/s2"},
		{"/subscriptions/unplaced", "/subscriptions/unplaced"},
		{"/providers/Microsoft.Management/managementGroups/Corp/providers/Microsoft.Authorization/policyAssignments/a", mg("corp") + "/providers/microsoft.authorization/policyassignments/a"},
		{"/providers/Microsoft.Subscription/aliases/x", "/providers/microsoft.subscription/aliases/x"},
	} {
		if got, want := tr.AboveID(c.id), tr.Above(c.key); !slices.Equal(got, want) {
			t.Errorf("AboveID(%s) = %v, Above of its key %v", c.id, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { tr.AboveID("/subscriptions/s1/resourceGroups/rg") }); n != 0 {
		t.Errorf("AboveID of a lower-case subscription allocates %v times", n)
	}
	if a := tr.Above(mg("a")); len(a) == 0 || a[len(a)-1] != mg("root") {
		t.Errorf("cycle: %v", a)
	}
	if !tr.Contains(mg("platform"), "/subscriptions/s1/resourcegroups/rg") || tr.Contains(mg("platform"), "/subscriptions/s2") ||
		!tr.Contains("/subscriptions/s2", "/subscriptions/s2/resourcegroups/x") || tr.Contains("/subscriptions/s2", "/subscriptions/s22") || !tr.Contains("/", "/subscriptions/x") {
		t.Error("Contains")
	}
	groups, subs := tr.Below("landingzones")
	slices.Sort(groups)
	if !slices.Equal(groups, []string{"Corp", "LandingZones"}) || !slices.Equal(subs, []string{"s1"}) {
		t.Errorf("Below(landingzones) = %v %v", groups, subs)
	}
	if _, subs := tr.Below("Root"); len(subs) != 3 {
		t.Errorf("Below(root) subscriptions = %v", subs)
	}
	if tr.GroupOf("S1") != "Corp" || tr.GroupOf("s2") != "Root" || tr.Parent("corp") != "LandingZones" || tr.Parent("root") != "" || !tr.Has("ORPHAN") || tr.Has("x") {
		t.Error("GroupOf/Parent/Has")
	}
	var nilTree *Tree
	if nilTree.Above("/subscriptions/x") != nil || nilTree.Root() != "" || nilTree.Contains(mg("x"), "/subscriptions/y") {
		t.Error("nil tree")
	}
}
