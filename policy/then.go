package policy

import (
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// effectSpec is the compiled then.effect.
type effectSpec struct {
	e      expr.Evaluable
	isCon  bool
	eff    Effect
	name   string // as written / as evaluated
	family Effect // effect family decided by the details shape when dynamic
}

// detailsSpec is the compiled then.details.
type detailsSpec struct {
	raw  value.Value
	tmpl expr.Evaluable // the evaluated details (without existenceCondition)
	// modify
	ops      []*modifyOp
	conflict string
	roles    value.Value
	// append
	appends []*appendOp
	// constUndef: tmpl is a constant holding an undefined value.
	constUndef bool
}

type modifyOp struct {
	operation string // addOrReplace, add, remove (canonical)
	field     expr.Evaluable
	fieldText string
	value     expr.Evaluable
	hasValue  bool
	condition expr.Evaluable
	condText  string
}

type appendOp struct {
	field     expr.Evaluable
	fieldText string
	value     expr.Evaluable
}

// existenceSpec is the compiled AINE/DINE existence check.
type existenceSpec struct {
	typ            expr.Evaluable
	name           expr.Evaluable
	resourceGroup  expr.Evaluable
	existenceScope string
	cond           cond
}

func (c *compiler) then(p *Program, v value.Value, ptr definition.Pointer) {
	if v.Kind() != value.Object {
		c.errs.Add(ptr.String(), definition.CodeInvalidType, "'then' must be an object, got %s", strings.ToLower(v.Kind().String()))
		return
	}
	var effV, detV value.Value
	var hasEff, hasDet bool
	for i := 0; i < v.Len(); i++ {
		k, e := v.MemberAt(i)
		switch {
		case value.EqualFold(k, "effect"):
			effV, hasEff = e, true
		case value.EqualFold(k, "details"):
			detV, hasDet = e, true
		default:
			c.errs.Add(ptr.Key(k).String(), definition.CodeUnknownProperty, "unexpected property %q in 'then' (only 'effect' and 'details')", k)
		}
	}
	if !hasEff {
		c.errs.Add(ptr.Key("effect").String(), definition.CodeMissingProperty, "'then' has no effect")
		return
	}
	ep := ptr.Key("effect")
	if c.opts.Effect != "" {
		// An assignment's override replaces the effect as written.
		effV = value.StringValue(c.opts.Effect)
	}
	if effV.Kind() != value.String {
		c.errs.Add(ep.String(), definition.CodeInvalidEffect, "effect must be a string, got %s", strings.ToLower(effV.Kind().String()))
		return
	}
	es := effectSpec{}
	if expr.IsExpression(effV.Str()) {
		e, ok := c.expression(effV.Str(), ep)
		if !ok {
			return
		}
		es.e = e
		if cv, ok := expr.IsConst(e); ok && !cv.IsUndefined() {
			if cv.Kind() != value.String {
				c.errs.Add(ep.String(), definition.CodeInvalidEffect, "effect %q evaluated to %s, expected an effect name", effV.Str(), short(cv))
				return
			}
			es.isCon, es.name = true, cv.Str()
		}
	} else {
		es.isCon, es.name = true, expr.Literal(effV.Str())
	}
	if es.isCon {
		eff, ok := ParseEffect(es.name)
		if !ok && c.fromRefused(effV.Str()) {
			// The parameter's refused value is the one error.
			return
		}
		if !ok {
			c.errs.Add(ep.String(), definition.CodeInvalidEffect, "unknown effect %q (expected one of Append, Audit, AuditIfNotExists, Deny, DenyAction, DeployIfNotExists, Disabled, Manual, Modify, or a resource-provider effect)", es.name)
			return
		}
		es.eff = eff
	}
	// Decide the effect family for details compilation: the constant
	// effect, else the details' shape.
	fam := es.eff
	if !es.isCon || fam == Disabled {
		// The details' shape tells how to compile them (and validates
		// them even when the assignment disables the policy).
		fam = familyFromDetails(detV)
	}
	es.family = fam
	p.effect = es
	if !hasDet {
		switch fam {
		case Append, Modify, AuditIfNotExists, DeployIfNotExists, DenyAction:
			if es.isCon {
				if fam == Modify || fam == Append {
					c.Warn(0, fmt.Sprintf("effect %s has no 'details': Azure requires them; mlgov reports the effect without changes", fam))
				} else {
					c.errs.Add(ptr.Key("details").String(), definition.CodeInvalidDetails, "effect %s requires 'details'", fam)
				}
			}
		}
		return
	}
	dp := ptr.Key("details")
	switch fam {
	case Modify:
		p.details = c.modifyDetails(detV, dp)
	case Append:
		p.details = c.appendDetails(detV, dp)
	case AuditIfNotExists, DeployIfNotExists:
		p.details, p.exist = c.ifNotExistsDetails(detV, dp, fam)
	default:
		if t := c.template(detV, dp); t != nil {
			p.details = &detailsSpec{raw: detV, tmpl: t}
			if v, ok := expr.IsConst(t); ok {
				p.details.constUndef = hasUndefined(v)
			}
		}
	}
}

func familyFromDetails(d value.Value) Effect {
	switch d.Kind() {
	case value.Array:
		return Append
	case value.Object:
		if _, ok := d.Get("operations"); ok {
			return Modify
		}
		if _, ok := d.Get("deployment"); ok {
			return DeployIfNotExists
		}
		if _, ok := d.Get("existenceCondition"); ok {
			return AuditIfNotExists
		}
		if _, ok := d.Get("type"); ok {
			return AuditIfNotExists
		}
	}
	return None
}

func (c *compiler) modifyDetails(d value.Value, ptr definition.Pointer) *detailsSpec {
	if d.Kind() != value.Object {
		c.errs.Add(ptr.String(), definition.CodeInvalidDetails, "modify details must be an object, got %s", strings.ToLower(d.Kind().String()))
		return nil
	}
	ds := &detailsSpec{raw: d, conflict: "deny"}
	if rv, ok := d.Get("roleDefinitionIds"); ok {
		ds.roles = rv
	}
	if cv, ok := d.Get("conflictEffect"); ok {
		s := cv.Str()
		if expr.IsExpression(s) {
			if e, ok := c.expression(s, ptr.Key("conflictEffect")); ok {
				if v, isC := expr.IsConst(e); isC {
					s = v.Str()
				}
			}
		}
		switch strings.ToLower(s) {
		case "audit", "deny", "disabled":
			ds.conflict = strings.ToLower(s)
		default:
			c.errs.Add(ptr.Key("conflictEffect").String(), definition.CodeInvalidDetails, "conflictEffect must be audit, deny or disabled, got %s", short(cv))
		}
	}
	ov, ok := d.Get("operations")
	op := ptr.Key("operations")
	if !ok || ov.Kind() != value.Array || ov.Len() == 0 {
		c.errs.Add(op.String(), definition.CodeInvalidDetails, "modify details need a non-empty 'operations' array")
		return nil
	}
	for i, o := range ov.Elems() {
		ip := op.Index(i)
		if o.Kind() != value.Object {
			c.errs.Add(ip.String(), definition.CodeInvalidDetails, "an operation must be an object")
			continue
		}
		mo := &modifyOp{}
		opn := o.Field("operation")
		switch strings.ToLower(opn.Str()) {
		case "addorreplace":
			mo.operation = "addOrReplace"
		case "add":
			mo.operation = "add"
		case "remove":
			mo.operation = "remove"
		default:
			c.errs.Add(ip.Key("operation").String(), definition.CodeInvalidDetails, "operation must be addOrReplace, add or remove, got %s", short(opn))
			continue
		}
		fv, ok := o.Get("field")
		if !ok || fv.Kind() != value.String {
			c.errs.Add(ip.Key("field").String(), definition.CodeInvalidDetails, "operation needs a 'field' string")
			continue
		}
		mo.fieldText = fv.Str()
		mo.field = c.template(fv, ip.Key("field"))
		if cf, isC := expr.IsConst(mo.field); isC && cf.Kind() == value.String {
			c.checkModifiable(cf.Str(), ip.Key("field"))
		}
		if vv, ok := o.Get("value"); ok {
			mo.value, mo.hasValue = c.template(vv, ip.Key("value")), true
		} else if mo.operation != "remove" {
			c.errs.Add(ip.Key("value").String(), definition.CodeInvalidDetails, "operation %s needs a 'value'", mo.operation)
		}
		if cv, ok := o.Get("condition"); ok {
			mo.condText = exprText(cv)
			c.inModify = true
			mo.condition = c.template(cv, ip.Key("condition"))
			c.inModify = false
		}
		ds.ops = append(ds.ops, mo)
	}
	return ds
}

// checkModifiable rejects modify operations on aliases the catalog marks as
// not modifiable (only when the catalog carries that metadata).
func (c *compiler) checkModifiable(field string, ptr definition.Pointer) {
	if c.opts.Aliases == nil {
		return
	}
	if _, ok := tagField(field); ok {
		return
	}
	a, ok := c.opts.Aliases.Lookup(field)
	if !ok || !metadataKnown(a) || a.Modifiable {
		return
	}
	c.errs.Add(ptr.String(), definition.CodeNotModifiable, "alias %q is not modifiable: the modify effect can only change aliases marked Modifiable", field)
}

func (c *compiler) appendDetails(d value.Value, ptr definition.Pointer) *detailsSpec {
	if d.Kind() != value.Array || d.Len() == 0 {
		c.errs.Add(ptr.String(), definition.CodeInvalidDetails, "append details must be a non-empty array of {field, value}")
		return nil
	}
	ds := &detailsSpec{raw: d}
	for i, e := range d.Elems() {
		ip := ptr.Index(i)
		fv, okF := e.Get("field")
		vv, okV := e.Get("value")
		if e.Kind() != value.Object || !okF || !okV || fv.Kind() != value.String {
			c.errs.Add(ip.String(), definition.CodeInvalidDetails, "append entry needs 'field' (string) and 'value'")
			continue
		}
		ao := &appendOp{fieldText: fv.Str(), field: c.template(fv, ip.Key("field")), value: c.template(vv, ip.Key("value"))}
		if ao.field == nil || ao.value == nil {
			continue
		}
		ds.appends = append(ds.appends, ao)
	}
	return ds
}

func (c *compiler) ifNotExistsDetails(d value.Value, ptr definition.Pointer, fam Effect) (*detailsSpec, *existenceSpec) {
	if d.Kind() != value.Object {
		c.errs.Add(ptr.String(), definition.CodeInvalidDetails, "%s details must be an object", fam)
		return nil, nil
	}
	ex := &existenceSpec{existenceScope: "resourcegroup"}
	var kept []value.Member
	for i := 0; i < d.Len(); i++ {
		k, v := d.MemberAt(i)
		kp := ptr.Key(k)
		switch strings.ToLower(k) {
		case "existencecondition":
			c.inExist = true
			saved := c.nconds
			c.nconds = 0
			ex.cond = c.cond(v, kp, 0)
			if c.nconds > maxExistenceConds {
				c.errs.Add(kp.String(), definition.CodeLimitExceeded, "the existenceCondition has %d condition expressions; the limit is %d", c.nconds, maxExistenceConds)
			}
			c.nconds = saved
			c.inExist = false
			continue
		case "type":
			ex.typ = c.template(v, kp)
		case "name":
			ex.name = c.template(v, kp)
		case "resourcegroupname":
			ex.resourceGroup = c.template(v, kp)
		case "existencescope":
			ex.existenceScope = strings.ToLower(v.Str())
		case "deployment":
			// Only deployment.properties.parameters values are evaluated;
			// the template goes to ARM as it is.
			kept = append(kept, value.Member{Key: k, Value: v})
			continue
		}
		kept = append(kept, value.Member{Key: k, Value: v})
	}
	if ex.typ == nil {
		c.errs.Add(ptr.Key("type").String(), definition.CodeInvalidDetails, "%s details need a 'type'", fam)
		return nil, nil
	}
	ds := &detailsSpec{raw: d}
	var keys []string
	var vals []expr.Evaluable
	for _, m := range kept {
		var e expr.Evaluable
		if value.EqualFold(m.Key, "deployment") {
			e = c.deploymentTmpl(m.Value, ptr.Key(m.Key))
		} else {
			e = c.template(m.Value, ptr.Key(m.Key))
		}
		if e == nil {
			return nil, nil
		}
		keys, vals = append(keys, m.Key), append(vals, e)
	}
	ds.tmpl = newObjectTmpl(keys, vals)
	return ds, ex
}

// deploymentTmpl evaluates deployment.properties.parameters.*.value and
// leaves everything else (the template) untouched.
func (c *compiler) deploymentTmpl(v value.Value, ptr definition.Pointer) expr.Evaluable {
	props, ok := v.Get("properties")
	if !ok || props.Kind() != value.Object {
		return expr.Const{V: v}
	}
	params, ok := props.Get("parameters")
	if !ok || params.Kind() != value.Object {
		return expr.Const{V: v}
	}
	pp := ptr.Key("properties").Key("parameters")
	var pk []string
	var pv []expr.Evaluable
	for i := 0; i < params.Len(); i++ {
		k, e := params.MemberAt(i)
		if e.Kind() != value.Object {
			pk, pv = append(pk, k), append(pv, expr.Const{V: e})
			continue
		}
		var ik []string
		var iv []expr.Evaluable
		for j := 0; j < e.Len(); j++ {
			k2, e2 := e.MemberAt(j)
			if value.EqualFold(k2, "value") {
				t := c.template(e2, pp.Key(k).Key(k2))
				if t == nil {
					return nil
				}
				ik, iv = append(ik, k2), append(iv, t)
			} else {
				ik, iv = append(ik, k2), append(iv, expr.Const{V: e2})
			}
		}
		pk, pv = append(pk, k), append(pv, &deployParam{objectTmpl{keys: ik, vals: iv}})
	}
	var propKeys []string
	var propVals []expr.Evaluable
	for i := 0; i < props.Len(); i++ {
		k, e := props.MemberAt(i)
		if value.EqualFold(k, "parameters") {
			propKeys, propVals = append(propKeys, k), append(propVals, &objectTmpl{keys: pk, vals: pv})
		} else {
			propKeys, propVals = append(propKeys, k), append(propVals, expr.Const{V: e})
		}
	}
	var topKeys []string
	var topVals []expr.Evaluable
	for i := 0; i < v.Len(); i++ {
		k, e := v.MemberAt(i)
		if value.EqualFold(k, "properties") {
			topKeys, topVals = append(topKeys, k), append(topVals, &objectTmpl{keys: propKeys, vals: propVals})
		} else {
			topKeys, topVals = append(topKeys, k), append(topVals, expr.Const{V: e})
		}
	}
	// The constants here are the definition's JSON (the template and the
	// other members), which holds no undefined value: constUndef is false.
	return &objectTmpl{keys: topKeys, vals: topVals}
}

// metadataKnown reports whether the catalog said anything about the alias's
// modifiability (catalogs without defaultMetadata cannot be checked).
func metadataKnown(a *alias.Alias) bool { return a.MetadataKnown }

// deployParam is one deployment parameter {"value": ...}. Azure evaluates
// deployment parameters when it deploys; a value that cannot be evaluated
// for this resource does not change the policy's effect, so it is reported
// as {"error": "..."} in the details instead of failing the evaluation.
type deployParam struct{ objectTmpl }

func (d *deployParam) Eval(a *expr.Activation) (value.Value, error) {
	b := value.NewObjectBuilder(len(d.keys))
	for i, e := range d.vals {
		v, err := e.Eval(a)
		switch {
		case err != nil:
			b.Add("error", value.StringValue(err.Error()))
		case v.IsUndefined() || hasUndefined(v):
			b.Add("error", value.StringValue("the value does not exist for this resource (a missing parameter or property)"))
		default:
			b.Add(d.keys[i], v)
		}
	}
	return b.Object(), nil
}
