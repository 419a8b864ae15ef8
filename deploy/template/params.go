package template

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mlgov/mlgov/policy/value"
)

var paramTypes = map[string]value.Kind{
	"string": value.String, "securestring": value.String, "int": value.Int, "bool": value.Bool,
	"object": value.Object, "secureobject": value.Object, "array": value.Array,
}

// checkType returns why v is not of the template type typ ("" if it is).
func checkType(typ string, v value.Value) string {
	k, ok := paramTypes[strings.ToLower(typ)]
	if !ok {
		return fmt.Sprintf("unknown type '%s'", typ)
	}
	got := v.Kind()
	if got == value.Float && k == value.Int && v.Float() == float64(int64(v.Float())) {
		got = value.Int
	}
	if got != k {
		return fmt.Sprintf("expected a value of type '%s', got %s", typ, got)
	}
	return ""
}

// bindParams records the given values and evaluates every declared
// parameter (defaults may be expressions over other parameters).
func (p *planner) bindParams(given value.Value) ErrorList {
	var errs ErrorList
	if given.Kind() == value.Object {
		for i := range given.Len() {
			k, gv := given.MemberAt(i)
			ptr := ptrJoin("/parameters", k)
			if _, ok := p.decl.Get(k); !ok {
				errs = append(errs, &Error{Code: CodeInvalidParameter, Pointer: ptr, Message: fmt.Sprintf("the parameter '%s' is not declared by the template", k)})
				continue
			}
			if gv.Kind() == value.Object {
				if _, isRef := gv.Get("reference"); isRef {
					errs = append(errs, &Error{Code: CodeNotSupported, Pointer: ptr, Message: "Key Vault parameter references are not supported yet"})
					continue
				}
				if v, ok := gv.Get("value"); ok {
					p.given[strings.ToLower(k)] = v
					continue
				}
			}
			errs = append(errs, &Error{Code: CodeInvalidParameter, Pointer: ptr, Message: fmt.Sprintf("the value of parameter '%s' must be an object with a 'value'", k)})
		}
	} else if !given.IsNullish() {
		errs = append(errs, &Error{Code: CodeInvalidParameter, Message: "the parameters must be an object"})
	}
	for i := range p.decl.Len() {
		k, _ := p.decl.MemberAt(i)
		if _, err := p.param(k); err != nil {
			errs = append(errs, exprError(ptrJoin("/parameters", k), err))
		}
	}
	return errs
}

// param returns the value of parameter name, evaluating and checking it
// on first use.
func (p *planner) param(name string) (value.Value, error) {
	lk := strings.ToLower(name)
	s := p.params[lk]
	if s == nil {
		s = &slot{}
		p.params[lk] = s
	}
	switch s.state {
	case 2:
		return s.v, s.err
	case 1:
		return value.Value{}, &Error{Code: CodeInvalidTemplate, Pointer: ptrJoin("/parameters", name) + "/defaultValue", Message: fmt.Sprintf("the default value of parameter '%s' refers to itself", name)}
	}
	s.state = 1
	s.v, s.err = p.evalParam(name)
	s.state = 2
	return s.v, s.err
}

func (p *planner) evalParam(name string) (value.Value, error) {
	decl, ok := p.decl.Get(name)
	if !ok {
		return value.Value{}, fmt.Errorf("the template has no parameter '%s'", name)
	}
	ptr := ptrJoin("/parameters", name)
	typ, _ := decl.Get("type")
	v, ok := p.given[strings.ToLower(name)]
	if !ok {
		def, has := decl.Get("defaultValue")
		if !has {
			return value.Value{}, &Error{Code: CodeInvalidParameter, Pointer: ptr, Message: fmt.Sprintf("the value for the template parameter '%s' is not provided", name)}
		}
		saved := p.inDefault
		p.inDefault = true
		dv, err := p.eval(def, ptr+"/defaultValue")
		p.inDefault = saved
		if err != nil {
			return value.Value{}, err
		}
		v = dv
	}
	if msg := checkType(typ.Str(), v); msg != "" {
		return value.Value{}, &Error{Code: CodeInvalidParameter, Pointer: ptr + "/type", Message: fmt.Sprintf("the template parameter '%s': %s", name, msg)}
	}
	if av, ok := decl.Get("allowedValues"); ok {
		members := []value.Value{v}
		if v.Kind() == value.Array {
			members = v.Elems()
		}
		for _, m := range members {
			if !slicesContain(av.Elems(), m) {
				return value.Value{}, &Error{Code: CodeInvalidParameter, Pointer: ptr + "/allowedValues", Message: fmt.Sprintf("the provided value %s for the template parameter '%s' is not one of the allowed values %s", m.JSON(), name, av.JSON())}
			}
		}
	}
	for _, lim := range []struct {
		key string
		min bool
	}{{"minValue", true}, {"maxValue", false}} {
		lv, ok := decl.Get(lim.key)
		if !ok {
			continue
		}
		if v.Kind() != value.Int || lv.Kind() != value.Int {
			return value.Value{}, &Error{Code: CodeInvalidTemplate, Pointer: ptr + "/" + lim.key, Message: lim.key + " applies to int parameters and must be an integer"}
		}
		if lim.min && v.Int() < lv.Int() || !lim.min && v.Int() > lv.Int() {
			return value.Value{}, &Error{Code: CodeInvalidParameter, Pointer: ptr + "/" + lim.key, Message: fmt.Sprintf("the value %d of the template parameter '%s' is outside the %s %d", v.Int(), name, lim.key, lv.Int())}
		}
	}
	for _, lim := range []struct {
		key string
		min bool
	}{{"minLength", true}, {"maxLength", false}} {
		lv, ok := decl.Get(lim.key)
		if !ok {
			continue
		}
		var n int
		switch v.Kind() {
		case value.String:
			n = utf8.RuneCountInString(v.Str())
		case value.Array:
			n = v.Len()
		default:
			return value.Value{}, &Error{Code: CodeInvalidTemplate, Pointer: ptr + "/" + lim.key, Message: lim.key + " applies to string and array parameters"}
		}
		if lv.Kind() != value.Int {
			return value.Value{}, &Error{Code: CodeInvalidTemplate, Pointer: ptr + "/" + lim.key, Message: lim.key + " must be an integer"}
		}
		if lim.min && int64(n) < lv.Int() || !lim.min && int64(n) > lv.Int() {
			return value.Value{}, &Error{Code: CodeInvalidParameter, Pointer: ptr + "/" + lim.key, Message: fmt.Sprintf("the length %d of the template parameter '%s' is outside the %s %d", n, name, lim.key, lv.Int())}
		}
	}
	return v, nil
}

func slicesContain(list []value.Value, v value.Value) bool {
	for _, x := range list {
		if value.Equal(x, v) {
			return true
		}
	}
	return false
}

// variable returns the value of variable name, evaluating it on first use.
// The "copy" member of variables declares array variables.
func (p *planner) variable(name string) (value.Value, error) {
	lk := strings.ToLower(name)
	s := p.vars[lk]
	if s == nil {
		s = &slot{}
		p.vars[lk] = s
	}
	switch s.state {
	case 2:
		return s.v, s.err
	case 1:
		return value.Value{}, &Error{Code: CodeCircularReference, Pointer: ptrJoin("/variables", name), Message: fmt.Sprintf("the variable '%s' refers to itself", name)}
	}
	s.state = 1
	saved := p.frames
	p.frames = nil // variables see no resource loop
	s.v, s.err = p.evalVariable(name)
	p.frames = saved
	s.state = 2
	return s.v, s.err
}

func (p *planner) evalVariable(name string) (value.Value, error) {
	if cp, ok := p.varDecl.Get("copy"); ok && cp.Kind() == value.Array {
		for j, c := range cp.Elems() {
			n, _ := c.Get("name")
			if n.Kind() == value.String && strings.EqualFold(n.Str(), name) {
				return p.copyArray(n.Str(), c, fmt.Sprintf("/variables/copy/%d", j), false)
			}
		}
	}
	if !strings.EqualFold(name, "copy") {
		if raw, ok := p.varDecl.Get(name); ok {
			return p.eval(raw, ptrJoin("/variables", name))
		}
	}
	return value.Value{}, fmt.Errorf("the template has no variable '%s'", name)
}

// checkVariables evaluates every variable once, so that a bad variable is
// reported even when nothing uses it.
func (p *planner) checkVariables() ErrorList {
	var errs ErrorList
	for i := range p.varDecl.Len() {
		k, v := p.varDecl.MemberAt(i)
		if strings.EqualFold(k, "copy") && v.Kind() == value.Array {
			for _, c := range v.Elems() {
				if n, _ := c.Get("name"); n.Kind() == value.String {
					if _, err := p.variable(n.Str()); err != nil {
						errs = append(errs, exprError("/variables/copy", err))
					}
				}
			}
			continue
		}
		if _, err := p.variable(k); err != nil {
			e := exprError(ptrJoin("/variables", k), err)
			if !slices.Contains(errs, e) { // a cycle is reported once
				errs = append(errs, e)
			}
		}
	}
	return errs
}
