package sqlq

import (
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/store"
)

// TestListPolicyStatesWhere: Where's placeholders are numbered on after
// the filters' arguments, its time arguments encoded, and a count that
// does not match the arguments refused.
func TestListPolicyStatesWhere(t *testing.T) {
	micro := func(t time.Time) any { return t.UnixMicro() }
	ts := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	q := store.PolicyStateQuery{
		SubscriptionKey: "s", KeyPrefix: "/a/",
		Where: "state = ? AND (ts >= ? OR action LIKE ? ESCAPE '\\')", Args: []any{"Compliant", ts, "de%"},
		After: &store.PolicyStateKey{ResourceKey: "r", AssignmentKey: "a"}, Limit: 10,
	}
	pg, args, err := ListPolicyStates(Dialect{Dollar: true, Time: micro, ByteLength: "octet_length"}, "resource_key, body", q)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pg, "AND (state = $4 AND (ts >= $5 OR action LIKE $6 ESCAPE '\\'))") ||
		!strings.Contains(pg, "(resource_key, assignment_id, reference_id) > ($7, $8, $9)") ||
		!strings.Contains(pg, "LIMIT $10") || strings.Contains(pg, "?") {
		t.Errorf("postgres: %s", pg)
	}
	if len(args) != 10 || args[0] != store.PolicyKeyID("s") || args[4] != ts.UnixMicro() || args[5] != "de%" ||
		args[7] != store.PolicyKeyID("a") || args[8] != int64(0) {
		t.Errorf("postgres args = %v", args)
	}
	lite, args, err := ListPolicyStates(Dialect{Time: micro}, "resource_key, body", q)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(lite, "?") != len(args) || strings.Contains(lite, "$") || strings.Contains(lite, "bytes_before") {
		t.Errorf("sqlite: %s %v", lite, args)
	}
	q.Args = q.Args[:2]
	if _, _, err := ListPolicyStates(Dialect{Time: micro}, "body", q); err == nil {
		t.Error("3 placeholders with 2 arguments accepted")
	}
	if _, _, err := CountPolicyStates(Dialect{Time: micro}, store.PolicyStateQuery{}, []string{"state", "body"}); err == nil {
		t.Error("group by body accepted")
	}
	text, _, err := CountPolicyStates(Dialect{Time: micro}, store.PolicyStateQuery{AssignmentKey: "a"}, []string{"assignment_key", "state"})
	if err != nil || !strings.HasPrefix(text, "SELECT assignment_key, state, COUNT(*), COUNT(DISTINCT resource_key), MIN(resource_key) FROM (SELECT p.*, k0.name AS assignment_key FROM policy_states AS p LEFT JOIN policy_keys AS k0 ON k0.id = p.assignment_id) AS policy_states WHERE") ||
		!strings.HasSuffix(text, "AND assignment_id = ? GROUP BY assignment_key, state ORDER BY assignment_key, state") {
		t.Errorf("count: %s, %v", text, err)
	}
	text, _, err = CountPolicyStates(Dialect{Time: micro, CountBySubquery: true}, store.PolicyStateQuery{AssignmentKey: "a"}, []string{"assignment_key", "state"})
	if err != nil || !strings.HasPrefix(text, "SELECT assignment_key, state, COALESCE(SUM(n), 0), COUNT(*), MIN(resource_key) FROM (SELECT assignment_key, state, resource_key, COUNT(*) AS n FROM (SELECT p.*, k0.name AS assignment_key FROM policy_states AS p LEFT JOIN policy_keys AS k0 ON k0.id = p.assignment_id) AS policy_states WHERE") ||
		!strings.HasSuffix(text, "GROUP BY assignment_key, state, resource_key) AS per_resource GROUP BY assignment_key, state ORDER BY assignment_key, state") {
		t.Errorf("count by subquery: %s, %v", text, err)
	}
	text, _, _ = CountPolicyStates(Dialect{Time: micro, CountBySubquery: true}, store.PolicyStateQuery{}, []string{"resource_key", "state"})
	if text != "SELECT resource_key, state, COUNT(*), 1, MIN(resource_key) FROM policy_states WHERE 1=1 GROUP BY resource_key, state ORDER BY resource_key, state" {
		t.Errorf("count by resource by subquery: %s", text)
	}
	// Grouped by the resource's own columns: per resource in key order,
	// the names joined once per group; a condition's keys joined inside.
	for _, d := range []Dialect{{Time: micro}, {Time: micro, CountBySubquery: true}} {
		text, _, _ = CountPolicyStates(d, store.PolicyStateQuery{KeyPrefix: "/subscriptions/s/", Where: "state = ?", Args: []any{"NonCompliant"}}, []string{"resource_type_key"})
		if text != "SELECT COALESCE(k0.name, '') AS resource_type_key, g.n, g.r, g.f FROM (SELECT x0, SUM(n) AS n, COUNT(*) AS r, MIN(resource_key) AS f FROM "+
			"(SELECT resource_key, MIN(resource_type_id) AS x0, COUNT(*) AS n FROM policy_states WHERE 1=1 AND resource_key >= ? AND resource_key < ? AND (state = ?) "+
			"GROUP BY resource_key) AS per_resource GROUP BY x0) AS g LEFT JOIN policy_keys AS k0 ON k0.id = g.x0 ORDER BY resource_type_key" {
			t.Errorf("count per resource: %s", text)
		}
	}
	text, _, _ = CountPolicyStates(Dialect{Time: micro}, store.PolicyStateQuery{Where: "assignment_key = ?", Args: []any{"a"}}, []string{"subscription_key", "resource_group_key"})
	if !strings.Contains(text, "FROM (SELECT p.*, k0.name AS assignment_key FROM policy_states AS p LEFT JOIN policy_keys AS k0 ON k0.id = p.assignment_id) AS policy_states WHERE") ||
		!strings.HasSuffix(text, "GROUP BY x0, x1) AS g LEFT JOIN policy_keys AS k0 ON k0.id = g.x0 LEFT JOIN policy_keys AS k1 ON k1.id = g.x1 ORDER BY subscription_key, resource_group_key") {
		t.Errorf("count per resource by two columns, a key in the condition: %s", text)
	}
}

// TestPolicyStatesFrom: a query joins the names of the keys it mentions
// as words, and no others.
func TestPolicyStatesFrom(t *testing.T) {
	for refs, want := range map[string]string{
		"state = ? AND resource_key > ?":    " FROM policy_states",
		"set_id = ? OR subset_key = ?":      " FROM policy_states",
		"(definition_key = ? OR set_key=?)": " FROM (SELECT p.*, k5.name AS definition_key, k6.name AS set_key FROM policy_states AS p LEFT JOIN policy_keys AS k5 ON k5.id = p.definition_id LEFT JOIN policy_keys AS k6 ON k6.id = p.set_id) AS policy_states",
		"resource_group_key":                " FROM (SELECT p.*, k3.name AS resource_group_key FROM policy_states AS p LEFT JOIN policy_keys AS k3 ON k3.id = p.resource_group_id) AS policy_states",
	} {
		if got := policyStatesFrom(refs); got != want {
			t.Errorf("policyStatesFrom(%q) = %q, want %q", refs, got, want)
		}
	}
}
