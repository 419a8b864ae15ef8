package resources

import (
	"errors"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/odata"
	"github.com/mlgov/mlgov/policy/value"
)

// The $filter of the resource lists (Resources_List,
// Resources_ListByResourceGroup) and of the resource-group list
// (ResourceGroups_List), as the REST specification (Microsoft.Resources
// 2025-04-01) describes it:
//
//   - eq and ne on location, resourceType, name and resourceGroup;
//   - substringof('text', name|resourceGroup);
//   - tagName eq 'n', tagName eq 'n' and tagValue eq 'v', startswith(tagName, 'prefix');
//   - and, or, parentheses.
//
// The resource-group list filters on the tags only. odata.ParseFilter
// parses the filter (its syntax, nesting and length bounds, and error
// positions); compileFilter then turns the tree into predicates, and
// refuses with InvalidFilter, naming it, what the specification does not
// list (identity, plan, other properties, not, other functions and
// operators, comparisons other than property eq|ne 'string'): a filter
// silently ignored would list what the caller meant to exclude. Strings
// compare ignoring case, as ARM compares names, types and locations
// (locations also ignoring spaces: 'East US' is eastus); tag values too,
// as the names they are stored beside. A tagName is not an ordinary
// property (a resource has many tags): tagName eq 'n' and tagValue eq
// 'v', conditions of one and-chain, mean one tag with that name and that
// value, so a tagValue needs exactly one tagName eq beside it. ARM
// itself accepts only some combinations (substringof with resourceType,
// tag filters alone); mlgov evaluates any combination of these.

// filterItem is what a predicate reads of a listed resource.
type filterItem struct {
	typ, name, group, location string
	tags                       value.Value
}

type predicate func(*filterItem) bool

// resourceFilter is a compiled $filter.
type resourceFilter struct {
	match predicate
	// typeKey is set when every match has this type (resourceType eq
	// at the top): the store lists that type only.
	typeKey string
}

// The properties the lists filter on: resourceFields for the resource
// lists, groupFields for the resource-group list.
var (
	resourceFields = stringFields("location", "resourceType", "name", "resourceGroup", "tagName", "tagValue")
	groupFields    = stringFields("tagName", "tagValue")
)

func stringFields(names ...string) *odata.Fields {
	fs := make([]odata.Field, len(names))
	for i, n := range names {
		fs[i] = odata.Field{Name: n, Type: odata.String}
	}
	return odata.NewFields(fs...)
}

// filterError is an InvalidFilter error at the byte offset pos (0-based,
// as the offsets odata's messages name).
func filterError(src string, pos int, format string, args ...any) error {
	e := arm.Errorf("InvalidFilter", "The $filter '%s' is not valid at offset %d: "+format, append([]any{arm.Clip(src, 200), pos}, args...)...)
	e.Target = "$filter"
	return e
}

// compileFilter parses and compiles a $filter ("" : nil, no filter).
func compileFilter(src string, fields *odata.Fields) (*resourceFilter, error) {
	e, err := odata.ParseFilter(src, fields)
	var oe *odata.Error
	switch {
	case errors.As(err, &oe):
		if p := strings.ToLower(oe.Property); p == "identity" || p == "plan" {
			var names []string
			for _, f := range fields.List() {
				names = append(names, f.Name)
			}
			return nil, filterError(src, oe.Pos, "filtering on '%s' is not supported by mlgov; the properties supported are %s.", oe.Property, strings.Join(names, ", "))
		}
		return nil, filterError(src, oe.Pos, "%s.", oe.Msg)
	case err != nil || e == nil:
		return nil, err
	}
	c := filterCompiler{src: src, groups: fields == groupFields}
	match, err := c.cond(e)
	if err != nil {
		return nil, err
	}
	f := &resourceFilter{match: match}
	for _, k := range conjuncts(e) {
		if t, ok := eqString(k, "resourceType"); ok {
			f.typeKey = arm.KeyOf(t)
		}
	}
	return f, nil
}

type filterCompiler struct {
	src    string
	groups bool // the resource-group list
}

func (c *filterCompiler) errorf(pos int, format string, args ...any) error {
	return filterError(c.src, pos, format, args...)
}

const (
	unpairedTagValue = "tagValue must be paired with exactly one tagName: tagName eq 'name' and tagValue eq 'value'."
	otherFunction    = "the function '%s' is not supported: use substringof(value, name|resourceGroup) or startswith(tagName, value)."
)

// cond compiles a condition.
func (c *filterCompiler) cond(e odata.Expr) (predicate, error) {
	switch e := e.(type) {
	case *odata.Logical:
		if e.Op == "and" {
			return c.and(conjuncts(e))
		}
		l, err := c.cond(e.L)
		if err != nil {
			return nil, err
		}
		r, err := c.cond(e.R)
		if err != nil {
			return nil, err
		}
		return func(it *filterItem) bool { return l(it) || r(it) }, nil
	case *odata.Compare:
		if e.Op != "eq" && e.Op != "ne" {
			return nil, c.errorf(e.At, "the operator '%s' is not supported: use eq or ne (and substringof or startswith for parts of names).", e.Op)
		}
		field, err := c.property(e.L)
		if err != nil {
			return nil, err
		}
		if e.Op == "ne" && (field == "tagName" || field == "tagValue") {
			return nil, c.errorf(e.At, "%s takes eq only.", field)
		}
		want, err := c.text(e.R)
		switch {
		case err != nil:
			return nil, err
		case field == "tagValue":
			return nil, c.errorf(e.L.Pos(), unpairedTagValue)
		case field == "tagName":
			return func(it *filterItem) bool { _, ok := it.tags.Get(want); return ok }, nil
		case field == "location":
			want = arm.NormalizeLocation(want)
		}
		get, ne := itemField(field), e.Op == "ne"
		return func(it *filterItem) bool { return strings.EqualFold(get(it), want) != ne }, nil
	case *odata.Call:
		return c.call(e)
	case *odata.Not:
		return nil, c.errorf(e.At, "'not' is not supported: use ne, or and/or.")
	}
	return nil, c.errorf(e.Pos(), "'%s' is not a condition this list supports: property eq|ne 'value', substringof or startswith.", arm.Clip(e.String(), 40))
}

// and compiles the conditions of an and-chain. A tagValue condition
// qualifies the one tagName eq beside it: the pair matches a tag of that
// name with that value.
func (c *filterCompiler) and(kids []odata.Expr) (predicate, error) {
	var names, values []odata.Expr
	for _, k := range kids {
		if _, ok := eqString(k, "tagName"); ok {
			names = append(names, k)
		}
		if _, ok := eqString(k, "tagValue"); ok {
			values = append(values, k)
		}
	}
	var preds []predicate
	if len(values) > 0 {
		if len(values) > 1 || len(names) != 1 {
			return nil, c.errorf(values[0].(*odata.Compare).L.Pos(), unpairedTagValue)
		}
		name, _ := eqString(names[0], "tagName")
		val, _ := eqString(values[0], "tagValue")
		preds = append(preds, func(it *filterItem) bool {
			v, ok := it.tags.Get(name)
			return ok && strings.EqualFold(v.Str(), val)
		})
	}
	for _, k := range kids {
		if len(values) > 0 && (k == names[0] || k == values[0]) {
			continue
		}
		p, err := c.cond(k)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p)
	}
	return func(it *filterItem) bool {
		for _, p := range preds {
			if !p(it) {
				return false
			}
		}
		return true
	}, nil
}

// call compiles substringof('text', name|resourceGroup) and
// startswith(tagName, 'prefix').
func (c *filterCompiler) call(e *odata.Call) (predicate, error) {
	switch e.Func {
	case "substringof":
		if c.groups {
			return nil, c.errorf(e.At, "the resource-group list filters on tagName and tagValue only.")
		}
		text, err := c.text(e.Args[0])
		if err != nil {
			return nil, err
		}
		field, err := c.property(e.Args[1])
		if err != nil {
			return nil, err
		}
		if field != "name" && field != "resourceGroup" {
			return nil, c.errorf(e.Args[1].Pos(), "substringof applies to name and resourceGroup only.")
		}
		text, get := strings.ToLower(text), itemField(field)
		return func(it *filterItem) bool { return strings.Contains(strings.ToLower(get(it)), text) }, nil
	case "startswith":
		field, err := c.property(e.Args[0])
		if err != nil {
			return nil, err
		}
		if field != "tagName" {
			return nil, c.errorf(e.Args[0].Pos(), "startswith applies to tagName only (substringof finds parts of names).")
		}
		prefix, err := c.text(e.Args[1])
		if err != nil {
			return nil, err
		}
		prefix = strings.ToLower(prefix)
		return func(it *filterItem) bool {
			for _, m := range it.tags.Members() {
				if strings.HasPrefix(strings.ToLower(m.Key), prefix) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, c.errorf(e.At, otherFunction, e.Func)
}

// property returns the canonical name of a property operand.
func (c *filterCompiler) property(e odata.Expr) (string, error) {
	switch e := e.(type) {
	case *odata.Property:
		return e.Field.Name, nil
	case *odata.Call: // tolower or toupper: substringof and startswith are conditions
		return "", c.errorf(e.At, otherFunction, e.Func)
	}
	return "", c.errorf(e.Pos(), "a property expected, found %s.", arm.Clip(e.String(), 40))
}

// text returns the value of a string literal operand.
func (c *filterCompiler) text(e odata.Expr) (string, error) {
	if l, ok := e.(*odata.Literal); ok {
		if s, ok := l.Value.(string); ok {
			return s, nil
		}
	}
	return "", c.errorf(e.Pos(), "a string in single quotes expected, found %s.", arm.Clip(e.String(), 40))
}

// eqString returns text when e is the condition field eq 'text'.
func eqString(e odata.Expr, field string) (string, bool) {
	c, ok := e.(*odata.Compare)
	if !ok || c.Op != "eq" {
		return "", false
	}
	if p, ok := c.L.(*odata.Property); !ok || p.Field.Name != field {
		return "", false
	}
	l, ok := c.R.(*odata.Literal)
	if !ok {
		return "", false
	}
	s, ok := l.Value.(string)
	return s, ok
}

// conjuncts are the conditions of an and-chain (e itself when it is not
// one).
func conjuncts(e odata.Expr) []odata.Expr {
	if l, ok := e.(*odata.Logical); ok && l.Op == "and" {
		return append(conjuncts(l.L), conjuncts(l.R)...)
	}
	return []odata.Expr{e}
}

func itemField(field string) func(*filterItem) string {
	switch field {
	case "location":
		return func(it *filterItem) string { return it.location }
	case "resourceType":
		return func(it *filterItem) string { return it.typ }
	case "resourceGroup":
		return func(it *filterItem) string { return it.group }
	}
	return func(it *filterItem) string { return it.name }
}
