package definition

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/mlgov/mlgov/policy/value"
)

// Schema is the compiled `schema` of an object-typed parameter: a JSON
// Schema (draft 2019-09, the dialect Azure validates assignments with)
// checked when a value is given for the parameter.
//
// Supported: type, enum, const, the numeric bounds (minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, multipleOf), minLength, maxLength,
// pattern, items (one schema or a tuple) with additionalItems, minItems,
// maxItems, uniqueItems, contains, properties, patternProperties,
// additionalProperties, required, minProperties, maxProperties,
// propertyNames, dependentRequired, allOf, anyOf, oneOf, not, and
// if/then/else. Annotations (title, description, default, examples,
// format, $schema, $id, $comment, x-ms-*, ...) are ignored, as the draft
// says. Keywords that would change the result but are not implemented
// ($ref and its relatives, dependentSchemas, unevaluated*) are refused
// when the definition is loaded, rather than silently ignored.
type Schema struct {
	bool_   *bool // the schema true or false
	types   []string
	enum    []value.Value
	konst   *value.Value
	min     *float64
	max     *float64
	exMin   *float64
	exMax   *float64
	multOf  *float64
	minLen  int
	maxLen  int
	pattern *regexp.Regexp
	patSrc  string

	items       *Schema
	tuple       []*Schema
	addItems    *Schema
	minItems    int
	maxItems    int
	unique      bool
	contains    *Schema
	props       map[string]*Schema
	patProps    []patternSchema
	addProps    *Schema
	required    []string
	minProps    int
	maxProps    int
	propNames   *Schema
	depReq      map[string][]string
	allOf       []*Schema
	anyOf       []*Schema
	oneOf       []*Schema
	not         *Schema
	if_         *Schema
	then, else_ *Schema
}

type patternSchema struct {
	src    string
	re     *regexp.Regexp
	schema *Schema
}

// maxSchemaDepth bounds the nesting of a schema.
const maxSchemaDepth = 64

var schemaTypes = map[string]bool{"object": true, "array": true, "string": true, "number": true, "integer": true, "boolean": true, "null": true}

var unsupportedSchemaKeywords = []string{"$ref", "$recursiveRef", "$recursiveAnchor", "$anchor", "$defs", "definitions", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems", "minContains", "maxContains"}

// CompileSchema compiles the JSON Schema v (found at ptr), adding every
// problem to errs; it returns nil if there was one.
func CompileSchema(v value.Value, ptr Pointer, errs *ErrorList) *Schema {
	n := len(*errs)
	s := compileSchema(v, ptr, errs, 0)
	if len(*errs) > n {
		return nil
	}
	return s
}

func compileSchema(v value.Value, ptr Pointer, errs *ErrorList, depth int) *Schema {
	bad := func(p Pointer, format string, args ...any) {
		errs.Add(p.String(), CodeInvalidParameter, "invalid schema: "+format, args...)
	}
	if depth > maxSchemaDepth {
		bad(ptr, "nested deeper than %d", maxSchemaDepth)
		return nil
	}
	s := &Schema{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1, minProps: -1, maxProps: -1}
	switch v.Kind() {
	case value.Bool:
		b := v.Bool()
		s.bool_ = &b
		return s
	case value.Object:
	default:
		bad(ptr, "a schema must be an object or a boolean, got %s", kindName(v))
		return nil
	}
	for _, k := range unsupportedSchemaKeywords {
		if _, ok := v.GetExact(k); ok {
			bad(ptr.Key(k), "the keyword %q is not supported", k)
		}
	}
	sub := func(key string) *Schema {
		if x, ok := v.GetExact(key); ok {
			return compileSchema(x, ptr.Key(key), errs, depth+1)
		}
		return nil
	}
	subs := func(key string) []*Schema {
		x, ok := v.GetExact(key)
		if !ok {
			return nil
		}
		if x.Kind() != value.Array || x.Len() == 0 {
			bad(ptr.Key(key), "%s must be a non-empty array of schemas", key)
			return nil
		}
		var out []*Schema
		for i, e := range x.Elems() {
			out = append(out, compileSchema(e, ptr.Key(key).Index(i), errs, depth+1))
		}
		return out
	}
	num := func(key string) *float64 {
		x, ok := v.GetExact(key)
		if !ok {
			return nil
		}
		if !x.IsNumber() {
			bad(ptr.Key(key), "%s must be a number, got %s", key, kindName(x))
			return nil
		}
		f := x.Float()
		return &f
	}
	count := func(key string) int {
		x, ok := v.GetExact(key)
		if !ok {
			return -1
		}
		if !x.IsNumber() || x.Float() < 0 || x.Float() != math.Trunc(x.Float()) || x.Float() > math.MaxInt32 {
			bad(ptr.Key(key), "%s must be a non-negative integer, got %s", key, x.JSON())
			return -1
		}
		return int(x.Float())
	}
	strs := func(key string) []string {
		x, ok := v.GetExact(key)
		if !ok {
			return nil
		}
		if x.Kind() != value.Array {
			bad(ptr.Key(key), "%s must be an array of strings, got %s", key, kindName(x))
			return nil
		}
		var out []string
		for i, e := range x.Elems() {
			if e.Kind() != value.String {
				bad(ptr.Key(key).Index(i), "%s must hold strings, got %s", key, kindName(e))
				continue
			}
			out = append(out, e.Str())
		}
		return out
	}
	regex := func(p Pointer, src string) *regexp.Regexp {
		re, err := regexp.Compile(src)
		if err != nil {
			bad(p, "pattern %q: %v", src, err)
		}
		return re
	}

	if t, ok := v.GetExact("type"); ok {
		switch t.Kind() {
		case value.String:
			s.types = []string{t.Str()}
		case value.Array:
			s.types = strs("type")
		default:
			bad(ptr.Key("type"), "type must be a string or an array of strings, got %s", kindName(t))
		}
		for _, name := range s.types {
			if !schemaTypes[name] {
				bad(ptr.Key("type"), "unknown type %q (want object, array, string, number, integer, boolean or null)", name)
			}
		}
	}
	if e, ok := v.GetExact("enum"); ok {
		if e.Kind() != value.Array {
			bad(ptr.Key("enum"), "enum must be an array, got %s", kindName(e))
		} else {
			s.enum = e.Elems()
			if s.enum == nil {
				s.enum = []value.Value{}
			}
		}
	}
	if c, ok := v.GetExact("const"); ok {
		s.konst = &c
	}
	s.min, s.max, s.exMin, s.exMax = num("minimum"), num("maximum"), num("exclusiveMinimum"), num("exclusiveMaximum")
	if s.multOf = num("multipleOf"); s.multOf != nil && *s.multOf <= 0 {
		bad(ptr.Key("multipleOf"), "multipleOf must be greater than 0")
	}
	s.minLen, s.maxLen = count("minLength"), count("maxLength")
	if p, ok := v.GetExact("pattern"); ok {
		if p.Kind() != value.String {
			bad(ptr.Key("pattern"), "pattern must be a string, got %s", kindName(p))
		} else {
			s.patSrc, s.pattern = p.Str(), regex(ptr.Key("pattern"), p.Str())
		}
	}
	if it, ok := v.GetExact("items"); ok {
		if it.Kind() == value.Array {
			s.tuple = subs("items")
		} else {
			s.items = sub("items")
		}
	}
	s.addItems = sub("additionalItems")
	s.minItems, s.maxItems = count("minItems"), count("maxItems")
	if u, ok := v.GetExact("uniqueItems"); ok {
		if u.Kind() != value.Bool {
			bad(ptr.Key("uniqueItems"), "uniqueItems must be a boolean, got %s", kindName(u))
		}
		s.unique = u.Bool()
	}
	s.contains = sub("contains")
	if p, ok := v.GetExact("properties"); ok {
		if p.Kind() != value.Object {
			bad(ptr.Key("properties"), "properties must be an object, got %s", kindName(p))
		} else {
			s.props = map[string]*Schema{}
			for i := 0; i < p.Len(); i++ {
				name, ps := p.MemberAt(i)
				s.props[name] = compileSchema(ps, ptr.Key("properties").Key(name), errs, depth+1)
			}
		}
	}
	if p, ok := v.GetExact("patternProperties"); ok {
		if p.Kind() != value.Object {
			bad(ptr.Key("patternProperties"), "patternProperties must be an object, got %s", kindName(p))
		} else {
			for i := 0; i < p.Len(); i++ {
				src, ps := p.MemberAt(i)
				pp := ptr.Key("patternProperties").Key(src)
				s.patProps = append(s.patProps, patternSchema{src: src, re: regex(pp, src), schema: compileSchema(ps, pp, errs, depth+1)})
			}
		}
	}
	s.addProps = sub("additionalProperties")
	s.required = strs("required")
	s.minProps, s.maxProps = count("minProperties"), count("maxProperties")
	s.propNames = sub("propertyNames")
	if d, ok := v.GetExact("dependentRequired"); ok {
		if d.Kind() != value.Object {
			bad(ptr.Key("dependentRequired"), "dependentRequired must be an object, got %s", kindName(d))
		} else {
			s.depReq = map[string][]string{}
			for i := 0; i < d.Len(); i++ {
				name, names := d.MemberAt(i)
				if names.Kind() != value.Array {
					bad(ptr.Key("dependentRequired").Key(name), "must be an array of strings, got %s", kindName(names))
					continue
				}
				for _, n := range names.Elems() {
					s.depReq[name] = append(s.depReq[name], n.Str())
				}
			}
		}
	}
	s.allOf, s.anyOf, s.oneOf = subs("allOf"), subs("anyOf"), subs("oneOf")
	s.not = sub("not")
	s.if_, s.then, s.else_ = sub("if"), sub("then"), sub("else")
	return s
}

// Violation is one way a value fails a schema: where in the value (a JSON
// pointer, "" for the value itself) and why.
type Violation struct {
	At      string
	Message string
}

func (v Violation) String() string {
	if v.At == "" {
		return v.Message
	}
	return v.At + ": " + v.Message
}

// Violations joins the first few violations for a message.
func Violations(vs []Violation) string {
	var parts []string
	for i, v := range vs {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(vs)-i))
			break
		}
		parts = append(parts, v.String())
	}
	return strings.Join(parts, "; ")
}

// Validate returns the ways v fails the schema (none: it conforms).
func (s *Schema) Validate(v value.Value) []Violation {
	var out []Violation
	s.validate(v, "", &out)
	return out
}

func (s *Schema) valid(v value.Value) bool {
	var out []Violation
	s.validate(v, "", &out)
	return len(out) == 0
}

func typeOf(v value.Value) string {
	switch v.Kind() {
	case value.Object:
		return "object"
	case value.Array:
		return "array"
	case value.String:
		return "string"
	case value.Bool:
		return "boolean"
	case value.Null, value.Undefined:
		return "null"
	case value.Int:
		return "integer"
	}
	if f := v.Float(); f == math.Trunc(f) && !math.IsInf(f, 0) {
		return "integer"
	}
	return "number"
}

func (s *Schema) validate(v value.Value, at string, out *[]Violation) {
	if s == nil {
		return
	}
	add := func(format string, args ...any) {
		*out = append(*out, Violation{At: at, Message: fmt.Sprintf(format, args...)})
	}
	if s.bool_ != nil {
		if !*s.bool_ {
			add("no value is allowed here")
		}
		return
	}
	if len(s.types) > 0 {
		t := typeOf(v)
		ok := false
		for _, want := range s.types {
			if want == t || (want == "number" && t == "integer") {
				ok = true
				break
			}
		}
		if !ok {
			add("the value is %s, but the schema wants %s", t, strings.Join(s.types, " or "))
			return // the other keywords would only repeat it
		}
	}
	if s.enum != nil {
		ok := false
		for _, e := range s.enum {
			if value.Equal(e, v) {
				ok = true
				break
			}
		}
		if !ok {
			var vals []string
			for _, e := range s.enum {
				vals = append(vals, e.JSON())
			}
			add("the value %s is not one of %s", short(v), strings.Join(vals, ", "))
		}
	}
	if s.konst != nil && !value.Equal(*s.konst, v) {
		add("the value %s is not %s", short(v), s.konst.JSON())
	}
	if v.IsNumber() {
		f := v.Float()
		switch {
		case s.min != nil && f < *s.min:
			add("%s is less than the minimum %g", v.JSON(), *s.min)
		case s.max != nil && f > *s.max:
			add("%s is greater than the maximum %g", v.JSON(), *s.max)
		case s.exMin != nil && f <= *s.exMin:
			add("%s is not greater than %g", v.JSON(), *s.exMin)
		case s.exMax != nil && f >= *s.exMax:
			add("%s is not less than %g", v.JSON(), *s.exMax)
		}
		if s.multOf != nil {
			if q := f / *s.multOf; math.Abs(q-math.Round(q)) > 1e-9 {
				add("%s is not a multiple of %g", v.JSON(), *s.multOf)
			}
		}
	}
	if v.Kind() == value.String {
		n := utf8.RuneCountInString(v.Str())
		if s.minLen >= 0 && n < s.minLen {
			add("the string is %d characters long, shorter than %d", n, s.minLen)
		}
		if s.maxLen >= 0 && n > s.maxLen {
			add("the string is %d characters long, longer than %d", n, s.maxLen)
		}
		if s.pattern != nil && !s.pattern.MatchString(v.Str()) {
			add("the string %s does not match the pattern %q", short(v), s.patSrc)
		}
	}
	if v.Kind() == value.Array {
		s.validateArray(v, at, out, add)
	}
	if v.Kind() == value.Object {
		s.validateObject(v, at, out, add)
	}
	for _, x := range s.allOf {
		x.validate(v, at, out)
	}
	if s.anyOf != nil {
		ok := false
		for _, x := range s.anyOf {
			if x.valid(v) {
				ok = true
				break
			}
		}
		if !ok {
			add("the value matches none of the anyOf schemas")
		}
	}
	if s.oneOf != nil {
		n := 0
		for _, x := range s.oneOf {
			if x.valid(v) {
				n++
			}
		}
		if n != 1 {
			add("the value matches %d of the oneOf schemas, not exactly one", n)
		}
	}
	if s.not != nil && s.not.valid(v) {
		add("the value matches the schema under not")
	}
	if s.if_ != nil {
		if s.if_.valid(v) {
			s.then.validate(v, at, out)
		} else {
			s.else_.validate(v, at, out)
		}
	}
}

func (s *Schema) validateArray(v value.Value, at string, out *[]Violation, add func(string, ...any)) {
	elems := v.Elems()
	if s.minItems >= 0 && len(elems) < s.minItems {
		add("the array has %d items, fewer than %d", len(elems), s.minItems)
	}
	if s.maxItems >= 0 && len(elems) > s.maxItems {
		add("the array has %d items, more than %d", len(elems), s.maxItems)
	}
	for i, e := range elems {
		p := at + "/" + fmt.Sprint(i)
		switch {
		case s.items != nil:
			s.items.validate(e, p, out)
		case i < len(s.tuple):
			s.tuple[i].validate(e, p, out)
		case s.tuple != nil:
			s.addItems.validate(e, p, out)
		}
	}
	if s.unique {
		for i := range elems {
			for j := i + 1; j < len(elems); j++ {
				if value.Equal(elems[i], elems[j]) {
					add("items %d and %d are equal, but the items must be unique", i, j)
				}
			}
		}
	}
	if s.contains != nil {
		ok := false
		for _, e := range elems {
			if s.contains.valid(e) {
				ok = true
				break
			}
		}
		if !ok {
			add("no item matches the contains schema")
		}
	}
}

func (s *Schema) validateObject(v value.Value, at string, out *[]Violation, add func(string, ...any)) {
	n := v.Len()
	if s.minProps >= 0 && n < s.minProps {
		add("the object has %d properties, fewer than %d", n, s.minProps)
	}
	if s.maxProps >= 0 && n > s.maxProps {
		add("the object has %d properties, more than %d", n, s.maxProps)
	}
	for _, r := range s.required {
		if _, ok := v.GetExact(r); !ok {
			add("the required property %q is missing", r)
		}
	}
	var names []string
	for i := 0; i < n; i++ {
		name, _ := v.MemberAt(i)
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m, _ := v.GetExact(name)
		p := at + "/" + escapePointer(name)
		matched := false
		if ps, ok := s.props[name]; ok {
			ps.validate(m, p, out)
			matched = true
		}
		for _, pp := range s.patProps {
			if pp.re != nil && pp.re.MatchString(name) {
				pp.schema.validate(m, p, out)
				matched = true
			}
		}
		if !matched && s.addProps != nil {
			if s.addProps.bool_ != nil && !*s.addProps.bool_ {
				*out = append(*out, Violation{At: p, Message: fmt.Sprintf("the property %q is not allowed (additionalProperties is false)", name)})
			} else {
				s.addProps.validate(m, p, out)
			}
		}
		if s.propNames != nil && !s.propNames.valid(value.StringValue(name)) {
			*out = append(*out, Violation{At: p, Message: fmt.Sprintf("the property name %q does not match propertyNames", name)})
		}
		for _, dep := range s.depReq[name] {
			if _, ok := v.GetExact(dep); !ok {
				add("the property %q requires the property %q", name, dep)
			}
		}
	}
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// short renders a value for a message, shortened.
func short(v value.Value) string {
	s := v.JSON()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
