package template

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// templateOnly are the resource members that are not part of the body.
var templateOnly = map[string]bool{
	"type": true, "apiversion": true, "name": true, "condition": true, "copy": true,
	"dependson": true, "resources": true, "comments": true, "scope": true,
}

// expand evaluates one resource definition (all its copy iterations and
// nested children) into p.insts.
func (p *planner) expand(r value.Value, ptr string, parent *inst) ErrorList {
	c, ok := r.Get("copy")
	if !ok {
		return p.expandOne(r, ptr, parent, "", -1, 0)
	}
	n, err := p.count(c, ptr+"/copy")
	if err != nil {
		return ErrorList{exprError(ptr+"/copy", err)}
	}
	name, _ := c.Get("name")
	serial := 0
	if m, ok := c.Get("mode"); ok {
		mv, err := p.eval(m, ptr+"/copy/mode")
		if err != nil {
			return ErrorList{exprError(ptr+"/copy/mode", err)}
		}
		switch {
		case mv.Kind() == value.String && strings.EqualFold(mv.Str(), "serial"):
			serial = 1
			if bs, ok := c.Get("batchSize"); ok {
				bv, err := p.eval(bs, ptr+"/copy/batchSize")
				if err != nil {
					return ErrorList{exprError(ptr+"/copy/batchSize", err)}
				}
				if bv.Kind() != value.Int || bv.Int() < 1 || bv.Int() > maxCopy {
					return ErrorList{{Code: CodeInvalidTemplate, Pointer: ptr + "/copy/batchSize", Message: "batchSize must be an integer between 1 and 800"}}
				}
				serial = int(bv.Int())
			}
		case mv.Kind() == value.String && strings.EqualFold(mv.Str(), "parallel"):
		default:
			return ErrorList{{Code: CodeInvalidTemplate, Pointer: ptr + "/copy/mode", Message: "the copy mode must be 'serial' or 'parallel', got " + mv.JSON()}}
		}
	}
	var errs ErrorList
	p.frames = append(p.frames, frame{name: strings.ToLower(name.Str()), resource: true})
	for i := range n {
		p.frames[len(p.frames)-1].index = i
		errs = append(errs, p.expandOne(r, ptr, parent, name.Str(), i, serial)...)
	}
	p.frames = p.frames[:len(p.frames)-1]
	return errs
}

func (p *planner) str(r value.Value, key, ptr string) (string, *Error) {
	raw, _ := r.Get(key)
	v, err := p.eval(raw, ptr+"/"+key)
	if err != nil {
		return "", exprError(ptr+"/"+key, err)
	}
	if v.Kind() != value.String || v.Str() == "" {
		return "", &Error{Code: CodeInvalidTemplate, Pointer: ptr + "/" + key, Message: fmt.Sprintf("the resource %s must be a non-empty string, got %s", key, v.Kind())}
	}
	return v.Str(), nil
}

func (p *planner) expandOne(r value.Value, ptr string, parent *inst, loop string, idx, serial int) ErrorList {
	typ, e1 := p.str(r, "type", ptr)
	api, e2 := p.str(r, "apiVersion", ptr)
	name, e3 := p.str(r, "name", ptr)
	var errs ErrorList
	for _, e := range []*Error{e1, e2, e3} {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if parent != nil {
		pt := parent.res.Type
		if strings.Contains(typ, "/") {
			if !strings.HasPrefix(strings.ToLower(typ), strings.ToLower(pt)+"/") {
				return ErrorList{{Code: CodeInvalidTemplate, Pointer: ptr + "/type", Message: fmt.Sprintf("the child resource type '%s' is not a child of '%s'", typ, pt)}}
			}
		} else {
			typ = pt + "/" + typ
		}
		if strings.Contains(name, "/") {
			return ErrorList{{Code: CodeInvalidTemplate, Pointer: ptr + "/name", Message: "a child resource defined within its parent has a name of one segment, without '/'"}}
		}
		name = parent.res.Name + "/" + name
	}
	in := &inst{res: &Resource{Type: typ, APIVersion: api, Name: name, Pointer: ptr, CopyName: loop, CopyIndex: idx},
		loop: strings.ToLower(loop), serial: serial, order: len(p.insts)}
	if parent != nil && parent.skipped {
		in.skipped = true
	}
	if c, ok := r.Get("condition"); ok && !in.skipped {
		cv, err := p.eval(c, ptr+"/condition")
		if err != nil {
			return ErrorList{exprError(ptr+"/condition", err)}
		}
		b, err := expr.Truth("condition", cv)
		if err != nil {
			return ErrorList{exprError(ptr+"/condition", err)}
		}
		in.skipped = !b
	}
	// The scope of the resource: "scope", or for nested deployments
	// subscriptionId/resourceGroup.
	var scopeID string
	if s, ok := r.Get("scope"); ok {
		sv, err := p.eval(s, ptr+"/scope")
		if err != nil {
			return ErrorList{exprError(ptr+"/scope", err)}
		}
		if sv.Kind() != value.String {
			return ErrorList{{Code: CodeInvalidTemplate, Pointer: ptr + "/scope", Message: "scope must be a string"}}
		}
		scopeID = sv.Str()
		if !strings.HasPrefix(scopeID, "/") {
			id, err := p.idOf(scopeID, "", "")
			if err != nil {
				return ErrorList{{Code: CodeInvalidTemplate, Pointer: ptr + "/scope", Message: err.Error()}}
			}
			scopeID = id
		}
	}
	isDeployment := strings.EqualFold(typ, "Microsoft.Resources/deployments")
	var sub, rg string
	if isDeployment {
		for _, k := range []struct {
			key string
			dst *string
		}{{"subscriptionId", &sub}, {"resourceGroup", &rg}} {
			if raw, ok := r.Get(k.key); ok {
				v, err := p.eval(raw, ptr+"/"+k.key)
				if err != nil {
					return ErrorList{exprError(ptr+"/"+k.key, err)}
				}
				*k.dst = v.Str()
			}
		}
	}
	id, err := p.resourceID(typ, name, scopeID, sub, rg)
	if err != nil {
		return ErrorList{{Code: CodeInvalidTemplate, Pointer: ptr + "/name", Message: err.Error()}}
	}
	in.res.ID = id
	if d, ok := r.Get("dependsOn"); ok && !in.skipped {
		for j, x := range d.Elems() {
			dp := ptr + "/dependsOn/" + strconv.Itoa(j)
			v, err := p.eval(x, dp)
			if err != nil {
				errs = append(errs, exprError(dp, err))
				continue
			}
			if v.Kind() != value.String {
				errs = append(errs, &Error{Code: CodeInvalidTemplate, Pointer: dp, Message: "a dependsOn entry must be a string"})
				continue
			}
			in.deps = append(in.deps, v.Str())
			in.depPtrs = append(in.depPtrs, dp)
		}
	}
	if !in.skipped {
		// The body is evaluated now unless it reads the live state
		// (reference(), list*()): then it is evaluated when the resource
		// is written (Plan.Resolve), after what it depends on, and the
		// resources of the template it reads become dependencies.
		in.raw, in.sub, in.rg = r, sub, rg
		p.deferring, p.deferredTo = true, nil
		body, berrs := p.body(in)
		p.deferring = false
		if len(p.deferredTo) > 0 {
			in.res.Deferred = true
			in.implicit = p.deferredTo
			in.frames = slices.Clone(p.frames)
			in.res.Deployment = nil
		} else {
			errs = append(errs, berrs...)
			in.res.Body = body
		}
	}
	p.insts = append(p.insts, in)
	if cs, ok := r.Get("resources"); ok {
		for j, c := range cs.Elems() {
			errs = append(errs, p.expand(c, ptr+"/resources/"+strconv.Itoa(j), in)...)
		}
	}
	return errs
}

// body evaluates the body of a resource: its members without the
// template-only ones; for a nested deployment, its properties by
// nestedProps.
func (p *planner) body(in *inst) (value.Value, ErrorList) {
	r, ptr := in.raw, in.res.Pointer
	isDeployment := in.res.Deployment != nil || strings.EqualFold(in.res.Type, "Microsoft.Resources/deployments")
	var errs ErrorList
	b := value.NewObjectBuilder(r.Len())
	for i := range r.Len() {
		k, x := r.MemberAt(i)
		lk := strings.ToLower(k)
		if templateOnly[lk] || isDeployment && (lk == "subscriptionid" || lk == "resourcegroup") {
			continue
		}
		mp := ptrJoin(ptr, k)
		var v value.Value
		var err error
		if isDeployment && lk == "properties" {
			v, err = p.nestedProps(in.res, x, mp)
		} else {
			v, err = p.evalV(x, mp, lk == "properties")
		}
		if err != nil {
			errs = append(errs, exprError(mp, err))
			continue
		}
		b.Add(k, v)
	}
	if in.res.Deployment != nil {
		in.res.Deployment.SubscriptionID, in.res.Deployment.ResourceGroup = in.sub, in.rg
	}
	return b.Object(), errs
}

// nestedProps evaluates the properties of a nested deployment: the inline
// template stays unevaluated; with inner scope its parameters are
// evaluated here, in the outer template's context.
func (p *planner) nestedProps(res *Resource, props value.Value, ptr string) (value.Value, error) {
	n := &Nested{Scope: "outer", Mode: "Incremental"}
	if o, ok := props.Get("expressionEvaluationOptions"); ok {
		if s, ok := o.Get("scope"); ok && s.Kind() == value.String {
			switch strings.ToLower(s.Str()) {
			case "inner":
				n.Scope = "inner"
			case "outer":
			default:
				return value.Value{}, &Error{Code: CodeInvalidTemplate, Pointer: ptr + "/expressionEvaluationOptions/scope", Message: "scope must be 'inner' or 'outer'"}
			}
		}
	}
	b := value.NewObjectBuilder(props.Len())
	for i := range props.Len() {
		k, x := props.MemberAt(i)
		mp := ptrJoin(ptr, k)
		switch strings.ToLower(k) {
		case "template":
			n.Template = x
			b.Add(k, x)
			continue
		case "parameters":
			if n.Scope == "outer" && x.Len() > 0 {
				return value.Value{}, &Error{Code: CodeInvalidTemplate, Pointer: mp, Message: "a nested deployment with outer scope cannot take parameters (use expressionEvaluationOptions.scope 'inner')"}
			}
		}
		v, err := p.eval(x, mp)
		if err != nil {
			return value.Value{}, err
		}
		switch strings.ToLower(k) {
		case "parameters":
			n.Parameters = v
		case "mode":
			n.Mode = v.Str()
		}
		b.Add(k, v)
	}
	if !n.Template.IsUndefined() {
		res.Deployment = n
	}
	return b.Object(), nil
}

// resourceID builds the id of a resource of type typ ("ns/t1/t2") and
// name ("n1/n2") deployed by this template.
func (p *planner) resourceID(typ, name, scopeID, sub, rg string) (string, error) {
	if scopeID != "" {
		return extensionID(scopeID, typ, []string{name})
	}
	if sub == "" {
		sub = p.dc.SubscriptionID
	}
	if rg == "" && p.t.Scope == ResourceGroupScope {
		rg = p.dc.ResourceGroup
	}
	if p.t.Scope == SubscriptionScope && strings.EqualFold(typ, "Microsoft.Resources/resourceGroups") {
		return "/subscriptions/" + sub + "/resourceGroups/" + name, nil
	}
	prefix := "/subscriptions/" + sub
	if rg != "" {
		prefix += "/resourceGroups/" + rg
	}
	return extensionID(prefix, typ, []string{name})
}

// extensionID appends /providers/ns/t1/n1/t2/n2 to base. names may hold
// several segments each ("n1/n2").
func extensionID(base, typ string, names []string) (string, error) {
	ts := strings.Split(typ, "/")
	if len(ts) < 2 || ts[0] == "" {
		return "", fmt.Errorf("'%s' is not a resource type (namespace/type)", typ)
	}
	var ns []string
	for _, n := range names {
		ns = append(ns, strings.Split(n, "/")...)
	}
	if len(ns) != len(ts)-1 {
		return "", fmt.Errorf("the resource type '%s' needs %d name segment(s), got %d ('%s')", typ, len(ts)-1, len(ns), strings.Join(ns, "/"))
	}
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(base, "/"))
	b.WriteString("/providers/")
	b.WriteString(ts[0])
	for i, t := range ts[1:] {
		if ns[i] == "" {
			return "", fmt.Errorf("the resource name '%s' has an empty segment", strings.Join(ns, "/"))
		}
		b.WriteByte('/')
		b.WriteString(t)
		b.WriteByte('/')
		b.WriteString(ns[i])
	}
	return b.String(), nil
}

// idOf resolves "ns/type/name" (a scope written as type and name) in the
// deployment's scope.
func (p *planner) idOf(s, sub, rg string) (string, error) {
	segs := strings.Split(s, "/")
	if len(segs) < 3 || len(segs)%2 == 0 {
		return "", fmt.Errorf("'%s' is neither a resource id nor 'namespace/type/name'", s)
	}
	var typ, name []string
	typ = append(typ, segs[0])
	for i := 1; i < len(segs); i += 2 {
		typ = append(typ, segs[i])
		name = append(name, segs[i+1])
	}
	return p.resourceID(strings.Join(typ, "/"), strings.Join(name, "/"), "", sub, rg)
}
