package odata

import (
	"fmt"
	"iter"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Apply is a parsed $apply: transformations applied in order.
type Apply struct {
	Steps []Transform
	in    *Fields // the fields ParseApply was given
	out   *Fields // the fields of the result rows
}

// Transform is one transformation of an $apply.
type Transform struct {
	// Kind is "filter", "groupby" or "aggregate".
	Kind string
	// Filter is the condition of filter(...).
	Filter Expr
	// GroupBy holds the canonical names of groupby((...)).
	GroupBy []string
	// CountAs is the alias of aggregate($count as Alias), alone or inside
	// groupby; empty for a groupby without aggregate.
	CountAs string
}

// Fields returns the properties of the rows the $apply produces: after a
// groupby, its fields and its count alias (a number); after an aggregate,
// the alias; otherwise the input fields. $orderby and $select of a query
// with $apply are parsed against these.
func (a *Apply) Fields() *Fields { return a.out }

// ParseApply parses an $apply over fields: transformations separated by
// '/', each one of
//
//	filter(<condition>)
//	groupby((<field>, ...))
//	groupby((<field>, ...), aggregate($count as <alias>))
//	aggregate($count as <alias>)
//
// Each transformation sees the properties the previous one produced. An
// empty $apply is nil. Errors are *Error with Param "$apply".
func ParseApply(s string, fields *Fields) (*Apply, error) {
	if len(s) > MaxLen {
		return nil, &Error{Param: "$apply", Pos: MaxLen, Msg: fmt.Sprintf("the value is %d bytes long; at most %d are accepted", len(s), MaxLen)}
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := newParser("$apply", s, 0, fields)
	a := &Apply{in: fields, out: fields}
	for {
		if err := p.lexErr(); err != nil {
			return nil, err
		}
		t := p.tok
		if t.kind != tIdent {
			return nil, p.errf(t.pos, "expected a transformation (filter, groupby, aggregate), found %s", t.describe())
		}
		kind := lowerASCII(t.text)
		p.advance()
		if err := p.expect(tLParen, "'(' after "+kind); err != nil {
			return nil, err
		}
		var st Transform
		switch kind {
		case "filter":
			p.fields = a.out
			e, err := p.condition()
			if err != nil {
				return nil, err
			}
			st = Transform{Kind: "filter", Filter: e}
		case "groupby":
			names, err := p.groupFields(a.out)
			if err != nil {
				return nil, err
			}
			st = Transform{Kind: "groupby", GroupBy: names}
			if p.tok.kind == tComma {
				p.advance()
				if !p.keyword("aggregate") {
					return nil, p.errf(p.tok.pos, "expected aggregate(...) after the grouping fields, found %s", p.tok.describe())
				}
				p.advance()
				if err := p.expect(tLParen, "'(' after aggregate"); err != nil {
					return nil, err
				}
				var aliasAt int
				if st.CountAs, aliasAt, err = p.countAs(); err != nil {
					return nil, err
				}
				for _, n := range names {
					if lowerASCII(n) == lowerASCII(st.CountAs) {
						return nil, p.errf(aliasAt, "the alias '%s' is also a grouping property", clip(st.CountAs, 60))
					}
				}
				if err := p.expect(tRParen, "')' to close aggregate"); err != nil {
					return nil, err
				}
			}
		case "aggregate":
			alias, _, err := p.countAs()
			if err != nil {
				return nil, err
			}
			st = Transform{Kind: "aggregate", CountAs: alias}
		default:
			return nil, p.errf(t.pos, "unsupported transformation '%s'. Transformations: filter, groupby, aggregate", clip(t.text, 40))
		}
		if err := p.expect(tRParen, "')' to close "+kind); err != nil {
			return nil, err
		}
		a.out = stepFields(st, a.out)
		a.Steps = append(a.Steps, st)
		if p.tok.kind == tEOF {
			if err := p.lexErr(); err != nil {
				return nil, err
			}
			return a, nil
		}
		if p.tok.kind != tSlash {
			return nil, p.errf(p.tok.pos, "expected '/' between transformations or the end, found %s", p.tok.describe())
		}
		p.advance()
	}
}

func (p *parser) expect(k tokKind, what string) error {
	if err := p.lexErr(); err != nil {
		return err
	}
	if p.tok.kind != k {
		return p.errf(p.tok.pos, "expected %s, found %s", what, p.tok.describe())
	}
	p.advance()
	return nil
}

// groupFields parses "(f1, f2, ...)" after "groupby(".
func (p *parser) groupFields(fields *Fields) ([]string, error) {
	if err := p.expect(tLParen, "'(' around the grouping fields: groupby((f1, f2))"); err != nil {
		return nil, err
	}
	var names []string
	seen := map[string]bool{}
	for {
		if err := p.lexErr(); err != nil {
			return nil, err
		}
		t := p.tok
		if t.kind != tIdent {
			return nil, p.errf(t.pos, "expected a property to group by, found %s", t.describe())
		}
		f, ok := fields.Lookup(t.text)
		if !ok {
			return nil, p.unknown(t, fields)
		}
		if !seen[f.Name] {
			seen[f.Name] = true
			names = append(names, f.Name)
		}
		p.advance()
		if p.tok.kind == tComma {
			p.advance()
			continue
		}
		return names, p.expect(tRParen, "',' or ')' after a grouping property")
	}
}

// countAs parses "$count as Alias" after "aggregate(".
func (p *parser) countAs() (alias string, at int, err error) {
	if err := p.lexErr(); err != nil {
		return "", 0, err
	}
	if !p.keyword("$count") {
		return "", 0, p.errf(p.tok.pos, "only '$count as <alias>' is supported in aggregate, found %s", p.tok.describe())
	}
	p.advance()
	if !p.keyword("as") {
		return "", 0, p.errf(p.tok.pos, "expected 'as <alias>' after $count, found %s", p.tok.describe())
	}
	p.advance()
	if err := p.lexErr(); err != nil {
		return "", 0, err
	}
	t := p.tok
	if t.kind != tIdent || t.text[0] == '$' {
		return "", 0, p.errf(t.pos, "expected an alias name after 'as', found %s", t.describe())
	}
	p.advance()
	return t.text, t.pos, nil
}

// stepFields returns the properties after st.
func stepFields(st Transform, in *Fields) *Fields {
	switch st.Kind {
	case "filter":
		return in
	case "aggregate":
		return NewFields(Field{Name: st.CountAs, Type: Number})
	}
	out := &Fields{index: map[string]int{}}
	for _, n := range st.GroupBy {
		f, _ := in.Lookup(n)
		out.add(f)
	}
	if st.CountAs != "" {
		out.add(Field{Name: st.CountAs, Type: Number})
	}
	return out
}

// Run applies the transformations to records and returns the result rows
// (each a Row). Groups come out in the order their first record came in;
// sort them with an OrderBy. Counts are int64. A groupby of no records is
// no rows; an aggregate of no records is one row with a count of 0.
// Without any groupby or aggregate the rows hold every input field the
// record has. An error of records ends the run with that error.
func (a *Apply) Run(records iter.Seq2[Record, error]) ([]map[string]any, error) {
	src := records
	in := a.in // nil once the records are group rows, already normalized
	for _, st := range a.Steps {
		switch st.Kind {
		case "filter":
			src = filterSeq(src, st.Filter)
		default:
			rows, err := group(src, st, in)
			if err != nil {
				return nil, err
			}
			src = rowSeq(rows)
			in = nil
		}
	}
	var out []map[string]any
	for rec, err := range src {
		if err != nil {
			return nil, err
		}
		if r, ok := rec.(Row); ok {
			out = append(out, r)
			continue
		}
		row := map[string]any{}
		for _, f := range a.in.List() {
			if v, ok := rec.Get(f.Name); ok {
				row[f.Name] = v
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// Records returns a sequence over rs, for Run.
func Records[R Record](rs []R) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func rowSeq(rows []Row) iter.Seq2[Record, error] { return Records(rows) }

func filterSeq(src iter.Seq2[Record, error], e Expr) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for rec, err := range src {
			if err != nil {
				yield(nil, err)
				return
			}
			ok, err := Eval(e, rec)
			if err != nil {
				yield(nil, err)
				return
			}
			if ok && !yield(rec, nil) {
				return
			}
		}
	}
}

// group runs a groupby or aggregate. Group keys compare strings ignoring
// ASCII case, like eq; a group row keeps the first record's values.
func group(src iter.Seq2[Record, error], st Transform, fields *Fields) ([]Row, error) {
	type agg struct {
		row   Row
		count int64
	}
	var groups []*agg
	byKey := map[string]*agg{}
	var key strings.Builder
	vals := make([]any, len(st.GroupBy))
	for rec, err := range src {
		if err != nil {
			return nil, err
		}
		key.Reset()
		for i, name := range st.GroupBy {
			f := Field{Name: name, Type: String}
			if fields != nil {
				f, _ = fields.Lookup(name)
			}
			v, _ := rec.Get(name)
			if fields != nil {
				var err error
				if v, err = normalize(f, v); err != nil {
					return nil, err
				}
			}
			vals[i] = v
			writeKey(&key, v)
		}
		g := byKey[key.String()]
		if g == nil {
			g = &agg{row: make(Row, len(st.GroupBy)+1)}
			for i, name := range st.GroupBy {
				g.row[name] = vals[i]
			}
			byKey[key.String()] = g
			groups = append(groups, g)
		}
		g.count++
	}
	if st.Kind == "aggregate" && len(groups) == 0 {
		groups = append(groups, &agg{row: Row{}})
	}
	rows := make([]Row, len(groups))
	for i, g := range groups {
		if st.CountAs != "" {
			g.row[st.CountAs] = g.count
		}
		rows[i] = g.row
	}
	return rows, nil
}

// writeKey appends an unambiguous encoding of v to b.
func writeKey(b *strings.Builder, v any) {
	var s string
	switch v := v.(type) {
	case nil:
		b.WriteString("z;")
		return
	case string:
		s = "s" + lowerASCII(v)
	case bool:
		s = "b" + strconv.FormatBool(v)
	case time.Time:
		s = "t" + v.UTC().Format(time.RFC3339Nano)
	default:
		if n, ok := toFloat(v); ok {
			if n == 0 {
				n = 0 // -0 and 0 are one group
			}
			s = "n" + strconv.FormatFloat(n, 'g', -1, 64)
		} else {
			s = fmt.Sprintf("?%T%v", v, v)
		}
	}
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteByte(':')
	b.WriteString(s)
}

// OrderKey is one key of an $orderby.
type OrderKey struct {
	Field Field
	Desc  bool
}

// OrderBy is a parsed $orderby.
type OrderBy []OrderKey

// ParseOrderBy parses an $orderby over fields (for a query with $apply,
// Apply.Fields): comma-separated properties, each optionally followed by
// asc or desc; the default is asc (OData 4.0). An empty $orderby is nil.
// Errors are *Error with Param "$orderby".
func ParseOrderBy(s string, fields *Fields) (OrderBy, error) {
	names, dirs, err := parseList("$orderby", s, fields, true)
	if err != nil {
		return nil, err
	}
	var o OrderBy
	for i, f := range names {
		o = append(o, OrderKey{Field: f, Desc: dirs[i]})
	}
	return o, nil
}

// ParseSelect parses a $select over fields: comma-separated properties,
// returned canonical, each once, in the order given. An empty $select is
// nil. Errors are *Error with Param "$select".
func ParseSelect(s string, fields *Fields) ([]string, error) {
	names, _, err := parseList("$select", s, fields, false)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range names {
		if !seen[f.Name] {
			seen[f.Name] = true
			out = append(out, f.Name)
		}
	}
	return out, nil
}

func parseList(param, s string, fields *Fields, directions bool) ([]Field, []bool, error) {
	if len(s) > MaxLen {
		return nil, nil, &Error{Param: param, Pos: MaxLen, Msg: fmt.Sprintf("the value is %d bytes long; at most %d are accepted", len(s), MaxLen)}
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil, nil
	}
	p := newParser(param, s, 0, fields)
	var out []Field
	var desc []bool
	for {
		if err := p.lexErr(); err != nil {
			return nil, nil, err
		}
		t := p.tok
		if t.kind != tIdent {
			return nil, nil, p.errf(t.pos, "expected a property, found %s", t.describe())
		}
		f, ok := fields.Lookup(t.text)
		if !ok {
			return nil, nil, p.unknown(t, fields)
		}
		p.advance()
		d := false
		if directions && (p.keyword("asc") || p.keyword("desc")) {
			d = lowerASCII(p.tok.text) == "desc"
			p.advance()
		}
		out, desc = append(out, f), append(desc, d)
		if err := p.lexErr(); err != nil {
			return nil, nil, err
		}
		switch p.tok.kind {
		case tEOF:
			return out, desc, nil
		case tComma:
			p.advance()
			continue
		}
		want := "',' or the end"
		if directions {
			want = "asc, desc, ',' or the end"
		}
		return nil, nil, p.errf(p.tok.pos, "expected %s after '%s', found %s", want, f.Name, p.tok.describe())
	}
}

// Compare orders a and b by o: -1, 0 or +1. Null (absent) sorts before
// any value (OData), strings compare ignoring ASCII case, false before
// true; a value of the wrong type counts as null.
func (o OrderBy) Compare(a, b Record) int {
	for _, k := range o {
		av, _ := a.Get(k.Field.Name)
		bv, _ := b.Get(k.Field.Name)
		av, errA := normalize(k.Field, av)
		bv, errB := normalize(k.Field, bv)
		if errA != nil {
			av = nil
		}
		if errB != nil {
			bv = nil
		}
		c := 0
		switch {
		case av == nil && bv == nil:
		case av == nil:
			c = -1
		case bv == nil:
			c = 1
		default:
			c, _ = order(av, bv)
			if fa, ok := av.(float64); ok && math.IsNaN(fa) {
				c = 0
			}
		}
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// Sort sorts rows by o, keeping the order of rows o finds equal.
func (o OrderBy) Sort(rows []map[string]any) {
	if len(o) == 0 {
		return
	}
	sort.SliceStable(rows, func(i, j int) bool { return o.Compare(Row(rows[i]), Row(rows[j])) < 0 })
}
