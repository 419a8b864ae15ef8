package arm

import "strings"

// Management groups: the hierarchy above subscriptions. A management
// group is the tenant-level resource
// /providers/Microsoft.Management/managementGroups/{name}; each has one
// parent group but the tenant root group (named by the tenant id), and
// each subscription is in one group (the root group unless moved).
// Policy and role assignments at a management group apply to every
// group, subscription and resource below it.

const (
	// TypeManagementGroup is the type of a management group.
	TypeManagementGroup = "Microsoft.Management/managementGroups"
	mgPrefix            = "/providers/microsoft.management/managementgroups/"
)

// ManagementGroupID returns the id of the management group name.
func ManagementGroupID(name string) string {
	return "/providers/Microsoft.Management/managementGroups/" + name
}

// ManagementGroupKey returns the key of the management group name.
func ManagementGroupKey(name string) string { return mgPrefix + KeyOf(name) }

// IsManagementGroup reports whether id names a management group itself.
func (id *ID) IsManagementGroup() bool {
	return id.SubscriptionID == "" && len(id.Parts) == 1 && id.Parts[0].Namespace != "" &&
		strings.EqualFold(id.Parts[0].Namespace, "Microsoft.Management") && strings.EqualFold(id.Parts[0].Type, "managementGroups")
}

// ManagementGroup returns the name of the management group id is at or
// below ("" when id is not under one).
func (id *ID) ManagementGroup() string {
	if id.SubscriptionID != "" || len(id.Parts) == 0 {
		return ""
	}
	if g := (&ID{Parts: id.Parts[:1]}); g.IsManagementGroup() {
		return id.Parts[0].Name
	}
	return ""
}

// Tree is the management-group hierarchy at one moment: immutable, shared
// by every reader. A nil *Tree is a tenant without groups (nothing above
// a subscription but "/").
type Tree struct {
	root string // the key of the tenant root group ("" when none)
	// above: for the key of a subscription or management group, the keys
	// of the groups above it, nearest first, the root group last.
	above map[string][]string
	// parent: for a group's key, its parent group's key ("" for the root).
	parent map[string]string
	names  map[string]string   // group key → name as written
	subs   map[string]string   // subscription key → its group's key
	inRoot []string            // the root group alone
	bySub  map[string][]string // lower-cased subscription id → above (AboveID)
}

// NewTree builds the hierarchy: root is the root group's name, groups
// maps each other group's name to its parent's (an unknown or missing
// parent is the root; a cycle is broken at the root), subs each
// subscription id to its group ("" or an unknown group: the root group;
// a subscription not named is in the root group too, but Below lists
// only those named).
func NewTree(root string, groups map[string]string, subs map[string]string) *Tree {
	t := &Tree{root: ManagementGroupKey(root), above: map[string][]string{}, parent: map[string]string{}, names: map[string]string{}, subs: map[string]string{}, bySub: map[string][]string{}}
	t.names[t.root] = root
	t.parent[t.root] = ""
	t.inRoot = []string{t.root}
	for g, p := range groups {
		k := ManagementGroupKey(g)
		if k == t.root {
			continue
		}
		t.names[k] = g
		t.parent[k] = ManagementGroupKey(p)
	}
	for k, p := range t.parent {
		if _, ok := t.parent[p]; !ok && k != t.root {
			t.parent[k] = t.root
		}
	}
	// Chains, with a cycle cut at the group where it closes.
	for k := range t.parent {
		var chain []string
		seen := map[string]bool{k: true}
		for p := t.parent[k]; p != ""; p = t.parent[p] {
			if seen[p] {
				chain = append(chain, t.root)
				break
			}
			seen[p] = true
			chain = append(chain, p)
		}
		if k != t.root && (len(chain) == 0 || chain[len(chain)-1] != t.root) {
			chain = append(chain, t.root)
		}
		t.above[k] = chain
	}
	for s, g := range subs {
		gk := ManagementGroupKey(g)
		if _, ok := t.parent[gk]; !ok {
			gk = t.root
		}
		sk := "/subscriptions/" + KeyOf(s)
		t.subs[sk] = gk
		t.above[sk] = append([]string{gk}, t.above[gk]...)
		t.bySub[KeyOf(s)] = t.above[sk]
	}
	return t
}

// Root returns the name of the tenant root group ("" for a nil tree).
func (t *Tree) Root() string {
	if t == nil {
		return ""
	}
	return t.names[t.root]
}

// Above returns the keys of the management groups above the scope or
// resource key k (a key of arm.KeyOf form), nearest first. The slice is
// shared: callers must not change it.
func (t *Tree) Above(k string) []string {
	if t == nil {
		return nil
	}
	switch {
	case strings.HasPrefix(k, "/subscriptions/"):
		end := len("/subscriptions/")
		if i := strings.IndexByte(k[end:], '/'); i >= 0 {
			end += i
		} else {
			end = len(k)
		}
		if a, ok := t.above[k[:end]]; ok {
			return a
		}
		return t.inRoot // not placed: the root group
	case strings.HasPrefix(k, mgPrefix):
		end := len(mgPrefix)
		if i := strings.IndexByte(k[end:], '/'); i >= 0 {
			g := k[:end+i]
			// A resource at a group (an assignment): the group is above it.
			return t.withGroup(g)
		}
		return t.above[k]
	}
	return nil
}

// AboveID is Above for a resource id or scope as written (any case):
// only its subscription id or group name is folded, without allocating
// when it is already lower case (a GUID).
func (t *Tree) AboveID(id string) []string {
	if t == nil {
		return nil
	}
	const sp, gp = "/subscriptions/", "/providers/Microsoft.Management/managementGroups/"
	switch {
	case len(id) > len(sp) && strings.EqualFold(id[:len(sp)], sp):
		rest := id[len(sp):]
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i]
		}
		if a, ok := t.bySub[KeyOf(rest)]; ok {
			return a
		}
		return t.inRoot
	case len(id) > len(gp) && strings.EqualFold(id[:len(gp)], gp):
		return t.Above(KeyOf(id)) // rare (a group's own resources): the plain way
	}
	return nil
}

// withGroup is the group g and the groups above it.
func (t *Tree) withGroup(g string) []string {
	a, ok := t.above[g]
	if !ok {
		return nil
	}
	return append([]string{g}, a...)
}

// Parent returns the name of the parent of the group name ("" for the
// root group or a group the tree does not hold).
func (t *Tree) Parent(name string) string {
	if t == nil {
		return ""
	}
	return t.names[t.parent[ManagementGroupKey(name)]]
}

// GroupOf returns the name of the group the subscription is in (the
// root group's when it was not moved).
func (t *Tree) GroupOf(sub string) string {
	if t == nil {
		return ""
	}
	if g, ok := t.subs["/subscriptions/"+KeyOf(sub)]; ok {
		return t.names[g]
	}
	return t.names[t.root]
}

// Has reports whether the tree holds the group name.
func (t *Tree) Has(name string) bool {
	if t == nil {
		return false
	}
	_, ok := t.parent[ManagementGroupKey(name)]
	return ok
}

// Contains reports whether the scope key s is k itself or above it: a
// path prefix of k at a '/' boundary, a management group above k, or "/".
func (t *Tree) Contains(s, k string) bool {
	if s == "" || s == "/" || k == s || (strings.HasPrefix(k, s) && len(k) > len(s) && k[len(s)] == '/') {
		return true
	}
	if !strings.HasPrefix(s, mgPrefix) {
		return false
	}
	for _, g := range t.Above(k) {
		if g == s {
			return true
		}
	}
	return false
}

// Below returns the names of the groups at or below the group name and
// the subscriptions in them.
func (t *Tree) Below(name string) (groups, subs []string) {
	if t == nil {
		return nil, nil
	}
	g := ManagementGroupKey(name)
	if _, ok := t.parent[g]; !ok {
		return nil, nil
	}
	in := func(k string) bool {
		if k == g {
			return true
		}
		for _, a := range t.above[k] {
			if a == g {
				return true
			}
		}
		return false
	}
	for k := range t.parent {
		if in(k) {
			groups = append(groups, t.names[k])
		}
	}
	for s, sg := range t.subs {
		if in(sg) {
			subs = append(subs, s[len("/subscriptions/"):])
		}
	}
	return groups, subs
}
