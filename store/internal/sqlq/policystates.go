package sqlq

import (
	"fmt"
	"slices"
	"strconv"
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
	b.eqID("subscription_id", q.SubscriptionKey)
	b.eqID("resource_group_id", q.ResourceGroupKey)
	b.Eq("resource_key", q.ResourceKey)
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
	b.eqID("assignment_id", q.AssignmentKey)
	if q.AssignmentKeys != nil {
		if len(q.AssignmentKeys) == 0 {
			b.Write(" AND 1=0")
		} else {
			b.Write(" AND assignment_id IN (")
			for i, k := range q.AssignmentKeys {
				if i > 0 {
					b.Write(", ")
				}
				b.Arg(store.PolicyKeyID(k))
			}
			b.Write(")")
		}
	}
	b.eqID("definition_id", q.DefinitionKey)
	b.eqID("set_id", q.SetKey)
	if q.Where != "" {
		return b.Cond(q.Where, q.Args)
	}
	return nil
}

// eqID adds "AND col = ?" with the store.PolicyKeyID of key, unless key is empty.
func (b *Builder) eqID(col, key string) {
	if key != "" {
		b.And(col+" = ", store.PolicyKeyID(key))
	}
}

// keyColumns are the key columns of store.PolicyStateColumns that
// policy_states holds as ids (store.PolicyKeyID), with their id columns.
var keyColumns = [][2]string{
	{"assignment_key", "assignment_id"}, {"reference_key", "reference_id"},
	{"subscription_key", "subscription_id"}, {"resource_group_key", "resource_group_id"},
	{"resource_type_key", "resource_type_id"}, {"definition_key", "definition_id"}, {"set_key", "set_id"},
}

// policyStatesFrom returns the FROM of a query over the records whose
// text (select list, condition, grouping) is refs: policy_states, with
// the key columns refs names joined from policy_keys when it names any.
// A query that reads keys as ids joins none, and one that filters or
// groups by a key joins only that key's name.
func policyStatesFrom(refs string) string { return recordsFrom("policy_states", refs) }

// recordsFrom is policyStatesFrom of table (policy_states or
// policy_state_history), named policy_states in the query.
func recordsFrom(table, refs string) string {
	var sel, join strings.Builder
	for i, c := range keyColumns {
		if !mentions(refs, c[0]) {
			continue
		}
		k := "k" + strconv.Itoa(i)
		sel.WriteString(", " + k + ".name AS " + c[0])
		join.WriteString(" LEFT JOIN policy_keys AS " + k + " ON " + k + ".id = p." + c[1])
	}
	if sel.Len() == 0 {
		if table == "policy_states" {
			return " FROM policy_states"
		}
		return " FROM " + table + " AS policy_states"
	}
	return " FROM (SELECT p.*" + sel.String() + " FROM " + table + " AS p" + join.String() + ") AS policy_states"
}

// mentions reports whether text has the identifier name as a word.
func mentions(text, name string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(name)
		if (j == 0 || !identByte(text[j-1])) && (end == len(text) || !identByte(text[end])) {
			return true
		}
		i = end
	}
}

func identByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// policyStateOrder is the order of records: by resource, then by the ids
// of the assignment and reference (the primary key's order).
const policyStateOrder = " ORDER BY resource_key, assignment_id, reference_id"

// ListPolicyStates builds the query for q, selecting cols (which include
// body, assignment_id, reference_id and ts) from policy_states (with the
// keys q.Where names, policyStatesFrom), in policyStateOrder. MaxBytes is
// cut in the query with a Dialect.ByteLength, as in ListResources (not
// with History: the caller stops reading instead).
func ListPolicyStates(d Dialect, cols string, q store.PolicyStateQuery) (string, []any, error) {
	if q.History {
		return listWithHistory(d, cols, q)
	}
	var b *Builder
	cut := q.MaxBytes > 0 && d.ByteLength != ""
	if cut {
		length := d.ByteLength + "(body)"
		b = NewBuilder(d, "SELECT "+cols+" FROM (SELECT "+cols+", SUM("+length+") OVER ("+
			policyStateOrder[1:]+" ROWS UNBOUNDED PRECEDING) - "+length+" AS bytes_before"+policyStatesFrom(q.Where))
	} else {
		b = NewBuilder(d, "SELECT "+cols+policyStatesFrom(q.Where))
	}
	if err := policyStateWhere(b, q); err != nil {
		return "", nil, err
	}
	if a := q.After; a != nil {
		b.after(a, false)
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

// after adds the condition of the records after the cursor a (with its
// timestamp, for a query of the history): a row value comparison, an
// index range on the key in both databases.
func (b *Builder) after(a *store.PolicyStateKey, withTS bool) {
	b.Write(" AND (resource_key, assignment_id, reference_id")
	if withTS {
		b.Write(", ts")
	}
	b.Write(") > (")
	b.Arg(a.ResourceKey)
	b.Write(", ")
	b.Arg(store.PolicyKeyID(a.AssignmentKey))
	b.Write(", ")
	b.Arg(store.PolicyKeyID(a.ReferenceKey))
	if withTS {
		b.Write(", ")
		b.Arg(b.d.Time(a.Timestamp))
	}
	b.Write(")")
}

// listWithHistory is ListPolicyStates of the current records and the
// earlier ones: both tables' selections, each in its key order, merged by
// (key, ts).
func listWithHistory(d Dialect, cols string, q store.PolicyStateQuery) (string, []any, error) {
	b := NewBuilder(d, "SELECT "+cols+" FROM (")
	for i, table := range []string{"policy_states", "policy_state_history"} {
		if i > 0 {
			b.Write(" UNION ALL ")
		}
		b.Write("SELECT " + cols + recordsFrom(table, q.Where))
		if err := policyStateWhere(b, q); err != nil {
			return "", nil, err
		}
		if a := q.After; a != nil {
			b.after(a, true)
		}
	}
	b.Write(") AS records" + policyStateOrder + ", ts")
	if q.Limit > 0 {
		b.Write(" LIMIT ")
		b.Arg(q.Limit)
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

// ofResource are the key columns whose value is the resource's own (every
// record of a resource has the same), by their id columns.
var ofResource = map[string]string{
	"subscription_key": "subscription_id", "resource_group_key": "resource_group_id", "resource_type_key": "resource_type_id",
}

// CountPolicyStates builds the count of the records q selects grouped by
// groupBy: the group's columns, then the records and the distinct
// resources (COUNT(DISTINCT resource_key), or per resource in a subquery
// with Dialect.CountBySubquery), ordered by the group's columns, and the
// least resource key of each group. A grouping by columns of ofResource
// only is countPerResource's.
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
	if len(groupBy) > 0 && !slices.ContainsFunc(groupBy, func(c string) bool { return ofResource[c] == "" }) {
		return countPerResource(d, q, groupBy)
	}
	cols := strings.Join(groupBy, ", ")
	refs := cols + " " + q.Where
	sel := "SELECT "
	if cols != "" {
		sel += cols + ", "
	}
	var b *Builder
	switch {
	case seen["resource_key"]:
		// One resource per group.
		b = NewBuilder(d, sel+"COUNT(*), 1, MIN(resource_key)"+policyStatesFrom(refs))
		if err := policyStateWhere(b, q); err != nil {
			return "", nil, err
		}
	case d.CountBySubquery:
		inner := "resource_key"
		if cols != "" {
			inner = cols + ", resource_key"
		}
		b = NewBuilder(d, sel+"COALESCE(SUM(n), 0), COUNT(*), MIN(resource_key) FROM (SELECT "+inner+", COUNT(*) AS n"+policyStatesFrom(refs))
		if err := policyStateWhere(b, q); err != nil {
			return "", nil, err
		}
		b.Write(" GROUP BY " + inner + ") AS per_resource")
	default:
		b = NewBuilder(d, sel+"COUNT(*), COUNT(DISTINCT resource_key), MIN(resource_key)"+policyStatesFrom(refs))
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

// countPerResource is CountPolicyStates grouped by columns that are the
// resource's own (ofResource): the records are counted per resource
// first, in the order of the key (a scan of the primary key, no sort of
// the records), and the resources then per group of ids; the ids are
// mapped to their keys last, once per group.
//
//	SELECT k0.name AS resource_type_key, g.n, g.r, g.f FROM (
//	  SELECT x0, SUM(n) AS n, COUNT(*) AS r, MIN(resource_key) AS f FROM (
//	    SELECT resource_key, MIN(resource_type_id) AS x0, COUNT(*) AS n
//	    FROM policy_states WHERE ... GROUP BY resource_key
//	  ) AS per_resource GROUP BY x0
//	) AS g LEFT JOIN policy_keys AS k0 ON k0.id = g.x0 ORDER BY resource_type_key
func countPerResource(d Dialect, q store.PolicyStateQuery, groupBy []string) (string, []any, error) {
	var inner, xs, names, joins []string
	for i, c := range groupBy {
		x, k := "x"+strconv.Itoa(i), "k"+strconv.Itoa(i)
		inner = append(inner, "MIN("+ofResource[c]+") AS "+x)
		xs = append(xs, x)
		names = append(names, "COALESCE("+k+".name, '') AS "+c)
		joins = append(joins, " LEFT JOIN policy_keys AS "+k+" ON "+k+".id = g."+x)
	}
	b := NewBuilder(d, "SELECT "+strings.Join(names, ", ")+", g.n, g.r, g.f FROM (SELECT "+strings.Join(xs, ", ")+
		", SUM(n) AS n, COUNT(*) AS r, MIN(resource_key) AS f FROM (SELECT resource_key, "+strings.Join(inner, ", ")+
		", COUNT(*) AS n"+policyStatesFrom(q.Where))
	if err := policyStateWhere(b, q); err != nil {
		return "", nil, err
	}
	b.Write(" GROUP BY resource_key) AS per_resource GROUP BY " + strings.Join(xs, ", ") + ") AS g" + strings.Join(joins, "") +
		" ORDER BY " + strings.Join(groupBy, ", "))
	text, args := b.SQL()
	return text, args, nil
}
