package sqlq

import (
	"fmt"
	"strings"
	"time"

	"github.com/mlgov/mlgov/store"
)

// Cond appends " AND (" + where + ")", where is written with ?
// placeholders for args: they are numbered on from the builder's
// arguments (Dollar), and time.Time arguments are encoded with
// Dialect.Time.
func (b *Builder) Cond(where string, args []any) error {
	if n := strings.Count(where, "?"); n != len(args) {
		return fmt.Errorf("where %q: %d placeholders for %d arguments", where, n, len(args))
	}
	b.sb.WriteString(" AND (")
	for i := 0; i < len(where); i++ {
		c := where[i]
		if c != '?' {
			b.sb.WriteByte(c)
			continue
		}
		v := args[0]
		args = args[1:]
		if t, ok := v.(time.Time); ok {
			v = b.d.Time(t)
		}
		b.Arg(v)
	}
	b.sb.WriteString(")")
	return nil
}

// policyStateWhere appends the WHERE clause of q (without After).
func policyStateWhere(b *Builder, q store.PolicyStateQuery) error {
	b.Write(" WHERE 1=1")
	b.Eq("subscription_key", q.SubscriptionKey, "resource_group_key", q.ResourceGroupKey, "resource_key", q.ResourceKey)
	b.Prefix("resource_key", q.KeyPrefix)
	if k := q.Under; k != "" {
		// The range from k to the end of the keys under k/ holds k, its
		// siblings that extend its name (k-x: '-' sorts before '/') and
		// the keys under it; the last condition drops the siblings.
		b.And("resource_key >= ", k)
		if end, ok := PrefixEnd(k + "/"); ok {
			b.And("resource_key < ", end)
		}
		b.Write(" AND (resource_key = ")
		b.Arg(k)
		b.Write(" OR resource_key >= ")
		b.Arg(k + "/")
		b.Write(")")
	}
	b.Eq("assignment_key", q.AssignmentKey, "definition_key", q.DefinitionKey, "set_key", q.SetKey)
	if q.Where != "" {
		return b.Cond(q.Where, q.Args)
	}
	return nil
}

const policyStateOrder = " ORDER BY resource_key, assignment_key, reference_key"

// ListPolicyStates builds the query for q, selecting cols (which include
// body) from policy_states, ordered by (resource_key, assignment_key,
// reference_key). MaxBytes is cut in the query with a
// Dialect.ByteLength, as in ListResources.
func ListPolicyStates(d Dialect, cols string, q store.PolicyStateQuery) (string, []any, error) {
	var b *Builder
	cut := q.MaxBytes > 0 && d.ByteLength != ""
	if cut {
		length := d.ByteLength + "(body)"
		b = NewBuilder(d, "SELECT "+cols+" FROM (SELECT "+cols+", SUM("+length+") OVER ("+policyStateOrder[1:]+" ROWS UNBOUNDED PRECEDING) - "+length+" AS bytes_before FROM policy_states")
	} else {
		b = NewBuilder(d, "SELECT "+cols+" FROM policy_states")
	}
	if err := policyStateWhere(b, q); err != nil {
		return "", nil, err
	}
	if a := q.After; a != nil {
		// A row value comparison: an index range on the key in both
		// databases.
		b.Write(" AND (resource_key, assignment_key, reference_key) > (")
		b.Arg(a.ResourceKey)
		b.Write(", ")
		b.Arg(a.AssignmentKey)
		b.Write(", ")
		b.Arg(a.ReferenceKey)
		b.Write(")")
	}
	b.Write(policyStateOrder)
	if q.Limit > 0 {
		b.Write(" LIMIT ")
		b.Arg(q.Limit)
	}
	if cut {
		b.Write(") AS page WHERE bytes_before < ")
		b.Arg(q.MaxBytes)
		b.Write(policyStateOrder)
	}
	text, args := b.SQL()
	return text, args, nil
}

// groupable are the columns CountPolicyStates may group by.
var groupable = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range store.PolicyStateGroupBy {
		m[c] = true
	}
	return m
}()

// CountPolicyStates builds the count of the records q selects grouped by
// groupBy: the group's columns, then the records and the distinct
// resources (COUNT(DISTINCT resource_key), or per resource in a subquery
// with Dialect.CountBySubquery), ordered by the group's columns.
func CountPolicyStates(d Dialect, q store.PolicyStateQuery, groupBy []string) (string, []any, error) {
	seen := map[string]bool{}
	for _, c := range groupBy {
		if !groupable[c] {
			return "", nil, fmt.Errorf("count policy states: cannot group by %q", c)
		}
		if seen[c] {
			return "", nil, fmt.Errorf("count policy states: %q twice in group by", c)
		}
		seen[c] = true
	}
	cols := strings.Join(groupBy, ", ")
	sel := "SELECT "
	if cols != "" {
		sel += cols + ", "
	}
	var b *Builder
	switch {
	case seen["resource_key"]:
		// One resource per group.
		b = NewBuilder(d, sel+"COUNT(*), 1 FROM policy_states")
		if err := policyStateWhere(b, q); err != nil {
			return "", nil, err
		}
	case d.CountBySubquery:
		inner := "resource_key"
		if cols != "" {
			inner = cols + ", resource_key"
		}
		b = NewBuilder(d, sel+"COALESCE(SUM(n), 0), COUNT(*) FROM (SELECT "+inner+", COUNT(*) AS n FROM policy_states")
		if err := policyStateWhere(b, q); err != nil {
			return "", nil, err
		}
		b.Write(" GROUP BY " + inner + ") AS per_resource")
	default:
		b = NewBuilder(d, sel+"COUNT(*), COUNT(DISTINCT resource_key) FROM policy_states")
		if err := policyStateWhere(b, q); err != nil {
			return "", nil, err
		}
	}
	if cols != "" {
		b.Write(" GROUP BY " + cols + " ORDER BY " + cols)
	}
	text, args := b.SQL()
	return text, args, nil
}
