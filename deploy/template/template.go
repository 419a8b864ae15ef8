package template

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// Scope is the deployment scope a template's schema declares.
type Scope int

// The scopes.
const (
	ResourceGroupScope Scope = iota
	SubscriptionScope
)

// Template is a parsed, structurally valid deployment template.
type Template struct {
	Raw   value.Value
	Scope Scope
}

var topLevel = map[string]bool{
	"$schema": true, "contentversion": true, "apiprofile": true, "parameters": true,
	"variables": true, "functions": true, "resources": true, "outputs": true, "metadata": true,
}

// Parse decodes and checks a template: JSON (duplicate keys refused),
// $schema and contentVersion present, no unknown top-level property,
// every resource with type, apiVersion and name. All problems are
// returned together as an ErrorList.
func Parse(data []byte) (*Template, error) {
	v, err := value.ParseStrict(data)
	if err != nil {
		ptr := ""
		if se, ok := err.(*value.SyntaxError); ok {
			ptr = se.Pointer
		}
		return nil, ErrorList{{Code: CodeInvalidTemplate, Pointer: ptr, Message: "the template is not valid JSON: " + err.Error()}}
	}
	return FromValue(v)
}

// FromValue checks a decoded template (as found inside a policy
// definition's deployment).
func FromValue(v value.Value) (*Template, error) {
	var errs ErrorList
	add := func(ptr, format string, args ...any) {
		errs = append(errs, &Error{Code: CodeInvalidTemplate, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}
	if v.Kind() != value.Object {
		add("", "the template must be a JSON object")
		return nil, errs
	}
	t := &Template{Raw: v}
	schema, ok := v.Get("$schema")
	switch {
	case !ok || schema.Kind() != value.String:
		add("/$schema", "the template has no $schema")
	default:
		s := strings.ToLower(schema.Str())
		switch {
		case strings.Contains(s, "/subscriptiondeploymenttemplate.json"):
			t.Scope = SubscriptionScope
		case strings.Contains(s, "/deploymenttemplate.json"):
		default:
			add("/$schema", "unsupported template schema '%s' (deploymentTemplate.json and subscriptionDeploymentTemplate.json are)", schema.Str())
		}
	}
	if cv, ok := v.Get("contentVersion"); !ok || cv.Kind() != value.String {
		add("/contentVersion", "the template has no contentVersion")
	}
	for i := range v.Len() {
		k, m := v.MemberAt(i)
		lk := strings.ToLower(k)
		switch {
		case lk == "languageversion":
			errs = append(errs, &Error{Code: CodeNotSupported, Pointer: ptrJoin("", k), Message: "languageVersion 2.0 templates (symbolic resource names) are not supported yet"})
		case lk == "functions":
			if m.Len() > 0 {
				errs = append(errs, &Error{Code: CodeNotSupported, Pointer: "/functions", Message: "user-defined functions are not supported yet"})
			}
		case !topLevel[lk]:
			add(ptrJoin("", k), "unknown top-level template property '%s'", k)
		}
	}
	for _, sec := range []string{"parameters", "variables", "outputs"} {
		if s, ok := v.Get(sec); ok && s.Kind() != value.Object {
			add("/"+sec, "'%s' must be an object", sec)
		}
	}
	if ps, ok := v.Get("parameters"); ok && ps.Kind() == value.Object {
		for i := range ps.Len() {
			k, p := ps.MemberAt(i)
			ptr := ptrJoin("/parameters", k)
			if p.Kind() != value.Object {
				add(ptr, "a parameter must be an object")
				continue
			}
			typ, ok := p.Get("type")
			if !ok || typ.Kind() != value.String {
				add(ptr+"/type", "parameter '%s' has no type", k)
			} else if _, ok := paramTypes[strings.ToLower(typ.Str())]; !ok {
				add(ptr+"/type", "parameter '%s' has the unknown type '%s'", k, typ.Str())
			}
			if av, ok := p.Get("allowedValues"); ok && av.Kind() != value.Array {
				add(ptr+"/allowedValues", "allowedValues must be an array")
			}
		}
	}
	rs, ok := v.Get("resources")
	switch {
	case !ok:
		add("/resources", "the template has no resources")
	case rs.Kind() != value.Array:
		add("/resources", "'resources' must be an array")
	default:
		checkResources(rs, "/resources", 0, add)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return t, nil
}

func checkResources(rs value.Value, ptr string, depth int, add func(string, string, ...any)) {
	if depth > 5 {
		add(ptr, "child resources can only be nested five levels deep")
		return
	}
	for i, r := range rs.Elems() {
		rp := ptr + "/" + strconv.Itoa(i)
		if r.Kind() != value.Object {
			add(rp, "a resource must be an object")
			continue
		}
		for _, k := range []string{"type", "apiVersion", "name"} {
			if f, ok := r.Get(k); !ok || f.Kind() != value.String || f.Str() == "" {
				add(rp+"/"+k, "the resource has no %s", k)
			}
		}
		if c, ok := r.Get("copy"); ok {
			if c.Kind() != value.Object {
				add(rp+"/copy", "copy must be an object")
			} else {
				if n, ok := c.Get("name"); !ok || n.Kind() != value.String || n.Str() == "" {
					add(rp+"/copy/name", "the copy loop has no name")
				}
				if _, ok := c.Get("count"); !ok {
					add(rp+"/copy/count", "the copy loop has no count")
				}
			}
		}
		if d, ok := r.Get("dependsOn"); ok && d.Kind() != value.Array {
			add(rp+"/dependsOn", "dependsOn must be an array")
		}
		if cs, ok := r.Get("resources"); ok {
			if cs.Kind() != value.Array {
				add(rp+"/resources", "'resources' must be an array")
			} else {
				checkResources(cs, rp+"/resources", depth+1, add)
			}
		}
	}
}
