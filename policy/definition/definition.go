package definition

import (
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// Kind tells what a loaded document is.
type Kind int

// Document kinds.
const (
	KindPolicy    Kind = iota + 1 // a policy definition
	KindPolicySet                 // an initiative (policy set definition)
	KindRule                      // a bare policyRule {"if":..., "then":...}
)

// Definition is a policy definition. Rule holds the raw policyRule; the
// policy compiler turns it into a program. RulePointer is the JSON pointer
// of the rule within the source document (for error messages).
type Definition struct {
	ID          string
	Name        string
	DisplayName string
	Description string
	PolicyType  string
	Mode        string
	Version     string
	Metadata    value.Value
	Parameters  []*Parameter
	Rule        value.Value
	RulePointer Pointer
	// ParamsPointer is the pointer of the parameters object.
	ParamsPointer Pointer
}

// Parameter is one parameter declaration.
type Parameter struct {
	Name          string
	Type          ParamType
	TypeName      string // as written
	Default       value.Value
	HasDefault    bool
	AllowedValues []value.Value
	Schema        value.Value
	// Check is Schema compiled, for object-typed parameters (Azure uses
	// the schema of those only); nil when there is none.
	Check    *Schema
	Metadata value.Value
	Pointer  Pointer
	// DefaultMismatch describes a defaultValue whose kind differs from
	// Type (a warning: Azure's own built-ins have some).
	DefaultMismatch string
}

// ParamType is a parameter's declared type.
type ParamType int

// Parameter types.
const (
	TypeString ParamType = iota + 1
	TypeArray
	TypeObject
	TypeBoolean
	TypeInteger
	TypeFloat
	TypeDateTime
)

var paramTypeNames = map[string]ParamType{
	"string": TypeString, "array": TypeArray, "object": TypeObject, "boolean": TypeBoolean,
	"integer": TypeInteger, "float": TypeFloat, "datetime": TypeDateTime,
}

func (t ParamType) String() string {
	for k, v := range paramTypeNames {
		if v == t {
			return k
		}
	}
	return "unknown"
}

// Accepts reports whether v is a valid value for the type (Azure is lenient
// with numbers: an integer is a valid float, an integral float a valid
// integer).
func (t ParamType) Accepts(v value.Value) bool {
	switch t {
	case TypeString, TypeDateTime:
		return v.Kind() == value.String
	case TypeArray:
		return v.Kind() == value.Array
	case TypeObject:
		return v.Kind() == value.Object
	case TypeBoolean:
		return v.Kind() == value.Bool
	case TypeInteger:
		return v.Kind() == value.Int || (v.Kind() == value.Float && v.Float() == float64(int64(v.Float())))
	case TypeFloat:
		return v.IsNumber()
	}
	return false
}

// Param returns the parameter named name (case-insensitive).
func (d *Definition) Param(name string) (int, *Parameter) {
	for i, p := range d.Parameters {
		if value.EqualFold(p.Name, name) {
			return i, p
		}
	}
	return -1, nil
}

// SetDefinition is an initiative.
type SetDefinition struct {
	ID          string
	Name        string
	DisplayName string
	Description string
	PolicyType  string
	Version     string
	Metadata    value.Value
	Parameters  []*Parameter
	Members     []*Reference
	Groups      []value.Value
}

// Reference is one member of an initiative.
type Reference struct {
	DefinitionID      string
	ReferenceID       string
	DefinitionVersion string
	Parameters        []ParamBinding // values are expressions over the initiative's parameters
	GroupNames        []string
	Pointer           Pointer
}

// ParamBinding is a parameter value passed to a member definition.
type ParamBinding struct {
	Name    string
	Value   value.Value
	Pointer Pointer
}

// Document is a loaded file: exactly one of Policy, Set is set.
type Document struct {
	Kind   Kind
	Policy *Definition
	Set    *SetDefinition
}

// Parse loads a policy definition, initiative or bare policy rule from JSON,
// in any of the shapes found in the wild: a full resource
// {"properties": {...}, "id", "name", "type"}, bare properties
// {"policyRule": ...}, a built-in repository file, or a bare rule
// {"if": ..., "then": ...}. All problems are reported together.
func Parse(data []byte) (*Document, error) {
	v, err := value.Parse(data)
	if err != nil {
		return nil, ErrorList{{Pointer: "", Code: CodeInvalidJSON, Message: err.Error()}}
	}
	return FromValue(v)
}

// FromValue is Parse for an already decoded document.
func FromValue(v value.Value) (*Document, error) {
	var errs ErrorList
	if v.Kind() != value.Object {
		errs.Add("", CodeInvalidShape, "expected a JSON object, got %s", kindName(v))
		return nil, errs
	}
	checkDuplicates(v, "", &errs, 0)
	root := Pointer("")
	props := v
	ptr := root
	if p, ok := v.Get("properties"); ok {
		if p.Kind() != value.Object {
			errs.Add(root.Key("properties").String(), CodeInvalidType, "properties must be an object, got %s", kindName(p))
			return nil, errs
		}
		props, ptr = p, root.Key("properties")
		// A definition property both beside and inside "properties" is
		// ambiguous.
		for _, k := range []string{"displayName", "description", "mode", "parameters", "policyRule", "policyDefinitions", "metadata", "policyType", "version"} {
			if _, dup := v.Get(k); dup {
				if _, in := p.Get(k); in {
					errs.Add(root.Key(k).String(), CodeDuplicateKey, "%q appears both at the top level and under \"properties\"; keep one", k)
				}
			}
		}
		if len(errs) > 0 {
			return nil, errs
		}
	}
	doc := &Document{}
	switch {
	case has(props, "policyRule"):
		doc.Kind = KindPolicy
		doc.Policy = parsePolicy(v, props, ptr, &errs)
	case has(props, "policyDefinitions"):
		doc.Kind = KindPolicySet
		doc.Set = parseSet(v, props, ptr, &errs)
	case has(v, "if") || has(v, "then"):
		doc.Kind = KindRule
		doc.Policy = &Definition{Rule: v, RulePointer: root, Mode: "All"}
	default:
		errs.Add(ptr.String(), CodeInvalidShape, "not a policy definition (no policyRule), initiative (no policyDefinitions) or policy rule (no if/then)")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return doc, nil
}

func has(v value.Value, k string) bool { _, ok := v.Get(k); return ok }

func kindName(v value.Value) string {
	if v.Kind() == value.Undefined {
		return "nothing"
	}
	return strings.ToLower(v.Kind().String())
}

// checkDuplicates reports keys that appear twice in one object (compared
// case-insensitively, as ARM does).
func checkDuplicates(v value.Value, ptr Pointer, errs *ErrorList, depth int) {
	if depth > 200 {
		return
	}
	switch v.Kind() {
	case value.Object:
		n := v.Len()
		for i := 0; i < n; i++ {
			k, c := v.MemberAt(i)
			for j := 0; j < i; j++ {
				if k2, _ := v.MemberAt(j); value.EqualFold(k, k2) {
					errs.Add(ptr.Key(k).String(), CodeDuplicateKey, "duplicate key %q (keys are case-insensitive; first seen as %q)", k, k2)
					break
				}
			}
			checkDuplicates(c, ptr.Key(k), errs, depth+1)
		}
	case value.Array:
		for i, e := range v.Elems() {
			checkDuplicates(e, ptr.Index(i), errs, depth+1)
		}
	}
}

func str(obj value.Value, key string, ptr Pointer, errs *ErrorList) string {
	v, ok := obj.Get(key)
	if !ok || v.Kind() == value.Null {
		return ""
	}
	if v.Kind() != value.String {
		errs.Add(ptr.Key(key).String(), CodeInvalidType, "%s must be a string, got %s", key, kindName(v))
		return ""
	}
	return v.Str()
}

func parsePolicy(top, props value.Value, ptr Pointer, errs *ErrorList) *Definition {
	d := &Definition{
		ID:          str(top, "id", "", errs),
		Name:        str(top, "name", "", errs),
		DisplayName: str(props, "displayName", ptr, errs),
		Description: str(props, "description", ptr, errs),
		PolicyType:  str(props, "policyType", ptr, errs),
		Mode:        str(props, "mode", ptr, errs),
		Version:     str(props, "version", ptr, errs),
		Metadata:    props.Field("metadata"),
	}
	if d.Name == "" && d.ID != "" {
		d.Name = d.ID[strings.LastIndexByte(d.ID, '/')+1:]
	}
	if m := d.Metadata; m.Kind() != value.Undefined && m.Kind() != value.Null && m.Kind() != value.Object {
		errs.Add(ptr.Key("metadata").String(), CodeInvalidType, "metadata must be an object, got %s", kindName(m))
	}
	if d.Version != "" && !validVersion(d.Version) {
		errs.Add(ptr.Key("version").String(), CodeInvalidType, "version %q is not of the form major.minor.patch", d.Version)
	}
	d.ParamsPointer = ptr.Key("parameters")
	d.Parameters = parseParams(props.Field("parameters"), d.ParamsPointer, errs)
	rule, _ := props.Get("policyRule")
	d.Rule = rule
	d.RulePointer = ptr.Key("policyRule")
	if rule.Kind() != value.Object {
		errs.Add(d.RulePointer.String(), CodeInvalidType, "policyRule must be an object, got %s", kindName(rule))
	}
	return d
}

func validVersion(s string) bool {
	core := s
	if i := strings.IndexByte(s, '-'); i >= 0 {
		core = s[:i]
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		for _, c := range p {
			if (c < '0' || c > '9') && c != '*' {
				return false
			}
		}
	}
	return true
}

func parseParams(v value.Value, ptr Pointer, errs *ErrorList) []*Parameter {
	if v.IsNullish() {
		return nil
	}
	if v.Kind() != value.Object {
		errs.Add(ptr.String(), CodeInvalidType, "parameters must be an object, got %s", kindName(v))
		return nil
	}
	var out []*Parameter
	for i := 0; i < v.Len(); i++ {
		name, pv := v.MemberAt(i)
		pp := ptr.Key(name)
		if pv.Kind() != value.Object {
			errs.Add(pp.String(), CodeInvalidParameter, "parameter %q must be an object, got %s", name, kindName(pv))
			continue
		}
		p := &Parameter{Name: name, Pointer: pp, Metadata: pv.Field("metadata"), Schema: pv.Field("schema")}
		tv, ok := pv.Get("type")
		if !ok || tv.Kind() != value.String {
			errs.Add(pp.Key("type").String(), CodeInvalidParameter, "parameter %q has no type (one of string, array, object, boolean, integer, float, dateTime)", name)
		} else if t, ok := paramTypeNames[strings.ToLower(tv.Str())]; !ok {
			errs.Add(pp.Key("type").String(), CodeInvalidParameter, "parameter %q has unknown type %q (want one of string, array, object, boolean, integer, float, dateTime)", name, tv.Str())
		} else {
			p.Type, p.TypeName = t, tv.Str()
		}
		if sv, ok := pv.Get("schema"); ok && p.Type == TypeObject {
			p.Check = CompileSchema(sv, pp.Key("schema"), errs)
		}
		if dv, ok := pv.Get("defaultValue"); ok {
			p.Default, p.HasDefault = dv, true
			if p.Check != nil && dv.Kind() == value.Object {
				if vs := p.Check.Validate(dv); len(vs) > 0 {
					// Checked only when used, like a value of the wrong kind.
					p.DefaultMismatch = fmt.Sprintf("%s: defaultValue of parameter %q does not match its schema: %s", pp.Key("defaultValue"), name, Violations(vs))
				}
			}
			if p.Type != 0 && dv.Kind() != value.Null && !p.Type.Accepts(dv) {
				// Azure accepts such defaults in built-in initiatives
				// (e.g. CMMC_L3); a value given at assignment is checked.
				p.DefaultMismatch = fmt.Sprintf("%s: defaultValue of parameter %q is %s, but the parameter's type is %s", pp.Key("defaultValue"), name, kindName(dv), p.TypeName)
			}
		}
		if av, ok := pv.Get("allowedValues"); ok && !av.IsNullish() {
			if av.Kind() != value.Array {
				errs.Add(pp.Key("allowedValues").String(), CodeInvalidParameter, "allowedValues of parameter %q must be an array, got %s", name, kindName(av))
			} else {
				p.AllowedValues = av.Elems()
				for j, a := range p.AllowedValues {
					if p.Type != 0 && a.Kind() != value.Null && !p.Type.Accepts(a) && !(p.Type == TypeArray) {
						errs.Add(pp.Key("allowedValues").Index(j).String(), CodeInvalidParameter, "allowed value %s of parameter %q does not match its type %s", a.JSON(), name, p.TypeName)
					}
				}
			}
		}
		out = append(out, p)
	}
	return out
}

func parseSet(top, props value.Value, ptr Pointer, errs *ErrorList) *SetDefinition {
	s := &SetDefinition{
		ID:          str(top, "id", "", errs),
		Name:        str(top, "name", "", errs),
		DisplayName: str(props, "displayName", ptr, errs),
		Description: str(props, "description", ptr, errs),
		PolicyType:  str(props, "policyType", ptr, errs),
		Version:     str(props, "version", ptr, errs),
		Metadata:    props.Field("metadata"),
	}
	if s.Name == "" && s.ID != "" {
		s.Name = s.ID[strings.LastIndexByte(s.ID, '/')+1:]
	}
	s.Parameters = parseParams(props.Field("parameters"), ptr.Key("parameters"), errs)
	if g := props.Field("policyDefinitionGroups"); g.Kind() == value.Array {
		s.Groups = g.Elems()
	}
	mp := ptr.Key("policyDefinitions")
	members := props.Field("policyDefinitions")
	if members.Kind() != value.Array {
		errs.Add(mp.String(), CodeInvalidType, "policyDefinitions must be an array, got %s", kindName(members))
		return s
	}
	if members.Len() == 0 {
		errs.Add(mp.String(), CodeInvalidSetDefinition, "policyDefinitions is empty")
	}
	seen := map[string]int{}
	for i, m := range members.Elems() {
		p := mp.Index(i)
		if m.Kind() != value.Object {
			errs.Add(p.String(), CodeInvalidType, "member must be an object, got %s", kindName(m))
			continue
		}
		r := &Reference{
			DefinitionID:      str(m, "policyDefinitionId", p, errs),
			ReferenceID:       str(m, "policyDefinitionReferenceId", p, errs),
			DefinitionVersion: str(m, "definitionVersion", p, errs),
			Pointer:           p,
		}
		if r.DefinitionID == "" {
			errs.Add(p.Key("policyDefinitionId").String(), CodeMissingProperty, "member has no policyDefinitionId")
		}
		if r.ReferenceID == "" {
			r.ReferenceID = fmt.Sprintf("%d", i)
		}
		if j, dup := seen[strings.ToLower(r.ReferenceID)]; dup {
			errs.Add(p.Key("policyDefinitionReferenceId").String(), CodeInvalidSetDefinition, "policyDefinitionReferenceId %q is also used by member %d", r.ReferenceID, j)
		}
		seen[strings.ToLower(r.ReferenceID)] = i
		if pv := m.Field("parameters"); pv.Kind() == value.Object {
			for k := 0; k < pv.Len(); k++ {
				name, b := pv.MemberAt(k)
				bp := p.Key("parameters").Key(name)
				val, ok := b.Get("value")
				if b.Kind() != value.Object || !ok {
					errs.Add(bp.String(), CodeInvalidParameter, "parameter value for %q must be an object {\"value\": ...}", name)
					continue
				}
				r.Parameters = append(r.Parameters, ParamBinding{Name: name, Value: val, Pointer: bp.Key("value")})
			}
		} else if !pv.IsNullish() {
			errs.Add(p.Key("parameters").String(), CodeInvalidType, "parameters must be an object, got %s", kindName(pv))
		}
		if gv := m.Field("groupNames"); gv.Kind() == value.Array {
			for _, g := range gv.Elems() {
				r.GroupNames = append(r.GroupNames, g.Str())
			}
		}
		s.Members = append(s.Members, r)
	}
	return s
}
