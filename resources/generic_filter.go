package resources

import (
	"strings"

	"github.com/mlgov/mlgov/arm"
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
// What it does not list (identity, plan, other properties, other
// functions and operators) is refused with InvalidFilter naming it: a
// filter silently ignored would list what the caller meant to exclude.
// Strings compare ignoring case, as ARM compares names, types and
// locations (locations also ignoring spaces: 'East US' is eastus);
// tag values too, as the names they are stored beside. ARM itself
// accepts only some combinations (substringof with resourceType, tag
// filters alone); mlgov evaluates any combination of these.
//
// The filter is compiled once per request into a tree of predicates.

// maxFilterDepth bounds the nesting of parentheses (the parser recurses).
const maxFilterDepth = 32

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

// filterFields are the properties a list may filter on.
type filterFields uint8

const (
	resourceFields filterFields = iota // the resource lists
	groupFields                        // the resource-group list: tags only
)

// fnode is a parsed $filter.
type fnode struct {
	op    string // "and", "or", "eq", "ne", "substringof", "startswith"
	kids  []*fnode
	field string // canonical property name
	text  string // the string literal
	pos   int
}

type filterParser struct {
	src    string
	pos    int
	fields filterFields
	depth  int
}

func filterError(src string, pos int, format string, args ...any) error {
	e := arm.Errorf("InvalidFilter", "The $filter '%s' is not valid at position %d: "+format, append([]any{arm.Clip(src, 200), pos + 1}, args...)...)
	e.Target = "$filter"
	return e
}

// compileFilter parses and compiles a $filter ("" : nil, no filter).
func compileFilter(src string, fields filterFields) (*resourceFilter, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	p := &filterParser{src: src, fields: fields}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.skip(); p.pos < len(src) {
		return nil, filterError(src, p.pos, "unexpected '%s' (expected 'and', 'or' or the end).", arm.Clip(src[p.pos:], 40))
	}
	match, err := p.compile(n)
	if err != nil {
		return nil, err
	}
	f := &resourceFilter{match: match}
	for _, k := range append([]*fnode{n}, andKids(n)...) {
		if k.op == "eq" && k.field == "resourceType" {
			f.typeKey = arm.KeyOf(k.text)
		}
	}
	return f, nil
}

func andKids(n *fnode) []*fnode {
	if n.op == "and" {
		return n.kids
	}
	return nil
}

func (p *filterParser) skip() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// word reads an identifier (letters, digits, '_', '/'); "" when none.
func (p *filterParser) word() (string, int) {
	p.skip()
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '_' || c == '/' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			p.pos++
			continue
		}
		break
	}
	return p.src[start:p.pos], start
}

// keyword consumes kw (ignoring case) when it is the next word.
func (p *filterParser) keyword(kw string) bool {
	save := p.pos
	if w, _ := p.word(); strings.EqualFold(w, kw) {
		return true
	}
	p.pos = save
	return false
}

func (p *filterParser) punct(c byte) bool {
	p.skip()
	if p.pos < len(p.src) && p.src[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *filterParser) or() (*fnode, error) {
	n, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		pos := p.pos
		if !p.keyword("or") {
			return n, nil
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		n = &fnode{op: "or", kids: []*fnode{n, r}, pos: pos}
	}
}

func (p *filterParser) and() (*fnode, error) {
	n, err := p.primary()
	if err != nil {
		return nil, err
	}
	var kids []*fnode
	for {
		if !p.keyword("and") {
			break
		}
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		if kids == nil {
			kids = []*fnode{n}
		}
		kids = append(kids, r)
	}
	if kids == nil {
		return n, nil
	}
	return &fnode{op: "and", kids: kids, pos: n.pos}, nil
}

func (p *filterParser) primary() (*fnode, error) {
	p.skip()
	start := p.pos
	if p.punct('(') {
		if p.depth++; p.depth > maxFilterDepth {
			return nil, filterError(p.src, start, "parentheses nest deeper than %d.", maxFilterDepth)
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.punct(')') {
			return nil, filterError(p.src, p.pos, "')' expected.")
		}
		p.depth--
		return n, nil
	}
	w, pos := p.word()
	if w == "" {
		if p.pos >= len(p.src) {
			return nil, filterError(p.src, p.pos, "a condition is missing at the end.")
		}
		return nil, filterError(p.src, p.pos, "a property, a function or '(' expected, found '%s'.", arm.Clip(p.src[p.pos:], 40))
	}
	if p.punct('(') {
		return p.call(w, pos)
	}
	field, err := p.field(w, pos)
	if err != nil {
		return nil, err
	}
	opPos := p.pos
	op, _ := p.word()
	op = strings.ToLower(op)
	if op != "eq" && op != "ne" {
		if op == "" {
			return nil, filterError(p.src, opPos, "'eq' or 'ne' expected after '%s'.", w)
		}
		return nil, filterError(p.src, opPos, "the operator '%s' is not supported: use eq or ne (and substringof or startswith for parts of names).", arm.Clip(op, 20))
	}
	if op == "ne" && (field == "tagName" || field == "tagValue") {
		return nil, filterError(p.src, opPos, "%s takes eq only.", field)
	}
	s, err := p.str()
	if err != nil {
		return nil, err
	}
	return &fnode{op: op, field: field, text: s, pos: pos}, nil
}

// call parses substringof('text', name|resourceGroup) and
// startswith(tagName, 'prefix') after the '('.
func (p *filterParser) call(fn string, pos int) (*fnode, error) {
	switch strings.ToLower(fn) {
	case "substringof":
		if p.fields == groupFields {
			return nil, filterError(p.src, pos, "the resource-group list filters on tagName and tagValue only.")
		}
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		if !p.punct(',') {
			return nil, filterError(p.src, p.pos, "',' expected: substringof('text', name).")
		}
		w, wpos := p.word()
		field, err := p.field(w, wpos)
		if err != nil {
			return nil, err
		}
		if field != "name" && field != "resourceGroup" {
			return nil, filterError(p.src, wpos, "substringof applies to name and resourceGroup only.")
		}
		if !p.punct(')') {
			return nil, filterError(p.src, p.pos, "')' expected.")
		}
		return &fnode{op: "substringof", field: field, text: s, pos: pos}, nil
	case "startswith":
		w, wpos := p.word()
		field, err := p.field(w, wpos)
		if err != nil {
			return nil, err
		}
		if field != "tagName" {
			return nil, filterError(p.src, wpos, "startswith applies to tagName only (substringof finds parts of names).")
		}
		if !p.punct(',') {
			return nil, filterError(p.src, p.pos, "',' expected: startswith(tagName, 'prefix').")
		}
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		if !p.punct(')') {
			return nil, filterError(p.src, p.pos, "')' expected.")
		}
		return &fnode{op: "startswith", field: field, text: s, pos: pos}, nil
	}
	return nil, filterError(p.src, pos, "the function '%s' is not supported: use substringof(value, name|resourceGroup) or startswith(tagName, value).", arm.Clip(fn, 40))
}

// field returns the canonical name of a property the list filters on.
func (p *filterParser) field(w string, pos int) (string, error) {
	known := []string{"location", "resourceType", "name", "resourceGroup", "tagName", "tagValue"}
	if p.fields == groupFields {
		known = []string{"tagName", "tagValue"}
	}
	for _, k := range known {
		if strings.EqualFold(w, k) {
			return k, nil
		}
	}
	lw := strings.ToLower(w)
	if p.fields == resourceFields && (lw == "identity" || lw == "plan" || strings.HasPrefix(lw, "identity/") || strings.HasPrefix(lw, "plan/")) {
		return "", filterError(p.src, pos, "filtering on '%s' is not supported by mlgov; the properties supported are %s.", w, strings.Join(known, ", "))
	}
	if w == "" {
		return "", filterError(p.src, pos, "a property expected; the properties supported are %s.", strings.Join(known, ", "))
	}
	return "", filterError(p.src, pos, "'%s' is not a property this list filters on; the properties supported are %s.", arm.Clip(w, 40), strings.Join(known, ", "))
}

// str reads a string literal ('...', a quote inside doubled).
func (p *filterParser) str() (string, error) {
	p.skip()
	if p.pos >= len(p.src) || p.src[p.pos] != '\'' {
		return "", filterError(p.src, p.pos, "a string in single quotes expected.")
	}
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		if c != '\'' {
			b.WriteByte(c)
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == '\'' {
			b.WriteByte('\'')
			p.pos++
			continue
		}
		return b.String(), nil
	}
	return "", filterError(p.src, start, "the string is not closed.")
}

// compile turns a parsed filter into a predicate. A tagValue condition
// is only meaningful with the tagName it qualifies: it must stand in an
// and beside exactly one tagName eq, the pair then matching a tag of
// that name with that value.
func (p *filterParser) compile(n *fnode) (predicate, error) {
	switch n.op {
	case "or":
		l, err := p.compile(n.kids[0])
		if err != nil {
			return nil, err
		}
		r, err := p.compile(n.kids[1])
		if err != nil {
			return nil, err
		}
		return func(it *filterItem) bool { return l(it) || r(it) }, nil
	case "and":
		var names, values []*fnode
		for _, k := range n.kids {
			switch {
			case k.op == "eq" && k.field == "tagName":
				names = append(names, k)
			case k.op == "eq" && k.field == "tagValue":
				values = append(values, k)
			}
		}
		var preds []predicate
		if len(values) > 0 {
			if len(values) > 1 || len(names) != 1 {
				return nil, filterError(p.src, values[0].pos, "tagValue must be paired with exactly one tagName: tagName eq 'name' and tagValue eq 'value'.")
			}
			name, val := names[0].text, values[0].text
			preds = append(preds, func(it *filterItem) bool {
				v, ok := it.tags.Get(name)
				return ok && it.tags.Kind() == value.Object && strings.EqualFold(v.Str(), val)
			})
		}
		for _, k := range n.kids {
			if len(values) > 0 && (k == names[0] || k == values[0]) {
				continue
			}
			c, err := p.compile(k)
			if err != nil {
				return nil, err
			}
			preds = append(preds, c)
		}
		return func(it *filterItem) bool {
			for _, c := range preds {
				if !c(it) {
					return false
				}
			}
			return true
		}, nil
	case "substringof":
		text := strings.ToLower(n.text)
		get := itemField(n.field)
		return func(it *filterItem) bool { return strings.Contains(strings.ToLower(get(it)), text) }, nil
	case "startswith":
		prefix := strings.ToLower(n.text)
		return func(it *filterItem) bool {
			for _, m := range it.tags.Members() {
				if strings.HasPrefix(strings.ToLower(m.Key), prefix) {
					return true
				}
			}
			return false
		}, nil
	}
	// eq, ne
	switch n.field {
	case "tagValue":
		return nil, filterError(p.src, n.pos, "tagValue must be paired with exactly one tagName: tagName eq 'name' and tagValue eq 'value'.")
	case "tagName":
		name := n.text
		return func(it *filterItem) bool {
			_, ok := it.tags.Get(name)
			return ok && it.tags.Kind() == value.Object
		}, nil
	}
	want := n.text
	if n.field == "location" {
		want = arm.NormalizeLocation(want)
	}
	get := itemField(n.field)
	if n.op == "ne" {
		return func(it *filterItem) bool { return !strings.EqualFold(get(it), want) }, nil
	}
	return func(it *filterItem) bool { return strings.EqualFold(get(it), want) }, nil
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
