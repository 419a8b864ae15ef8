package policy

import (
	"slices"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// This file applies the Append and Modify effects to a request body
// (policy-language.md §10.3, §10.4): Program.Evaluate decides the effect
// and evaluates the details; Apply carries them out.

// Conflict effects of a Modify definition (details.conflictEffect); an
// Append conflict always acts as ConflictDeny.
const (
	ConflictDeny     = "deny"
	ConflictAudit    = "audit"
	ConflictDisabled = "disabled"
)

// ApplyOptions say how the details of a Result apply to a request.
type ApplyOptions struct {
	// APIVersion is the request's api-version: it selects the alias paths
	// (alias.Alias.PathFor) and their Modifiable metadata. Empty: the
	// default paths.
	APIVersion string
	// Aliases is the catalog the program was compiled with. Nil means raw
	// mode (as in Compile): fields other than tags and identity.type are
	// JSON paths from the resource root.
	Aliases *alias.Catalog
}

// Change is one change made to the body, for the caller's log.
type Change struct {
	// Operation is addOrReplace, add or remove (Modify) or append (Append).
	Operation string `json:"operation"`
	// Field is the field as the policy names it (resolved when the
	// definition computes it with an expression).
	Field string `json:"field"`
	// Path is the concrete location changed in the body, e.g.
	// properties.disableLocalAuth, tags.env, properties.ipRules (a whole
	// array for [*] operations) or properties.ipRules[1].action.
	Path string `json:"path"`
	// Old is the value before (Undefined when absent), New the value after
	// (Undefined when removed).
	Old value.Value `json:"old"`
	New value.Value `json:"new"`
}

// Conflict is an operation that could not be applied as the policy asks:
// the caller turns it into the Mutation's ConflictEffect.
type Conflict struct {
	Operation string `json:"operation"`
	Field     string `json:"field"`
	// Path is where the conflict was found ("" when the field itself is
	// the problem, e.g. an alias that is not modifiable).
	Path   string `json:"path,omitempty"`
	Reason string `json:"reason"`
}

func (c Conflict) Error() string {
	if c.Path != "" {
		return c.Operation + " " + c.Field + " at " + c.Path + ": " + c.Reason
	}
	return c.Operation + " " + c.Field + ": " + c.Reason
}

// Skip is an operation that was not applied and is no conflict: its
// condition is false, or the parent of the property is absent from the
// request (Azure then assumes the property is left out on purpose).
type Skip struct {
	Operation string `json:"operation"`
	Field     string `json:"field"`
	Reason    string `json:"reason"`
}

// Mutation is the outcome of applying one program's Append or Modify.
type Mutation struct {
	// Effect is Append or Modify.
	Effect Effect
	// ConflictEffect is details.conflictEffect for Modify (deny, audit or
	// disabled), deny for Append.
	ConflictEffect string
	// Body is the body to store: the input with Changes applied; the input
	// unchanged when Denied.
	Body value.Value
	// Changes are the changes made, in order (none when Denied).
	Changes []Change
	// Conflicts are the operations that could not be applied. With
	// conflictEffect deny the request must be refused (Denied); with audit
	// the operations are skipped and the caller records an audit; with
	// disabled they are skipped silently.
	Conflicts []Conflict
	// Skipped are the operations not applied for another reason.
	Skipped []Skip
}

// Denied reports whether the request must be refused: a conflict under
// conflictEffect deny (Append always).
func (m *Mutation) Denied() bool {
	return len(m.Conflicts) > 0 && m.ConflictEffect == ConflictDeny
}

// Apply applies the evaluated details of res, a Result whose Effect is
// Append or Modify, to body, the resource as it will be stored (the ARM
// envelope: properties, tags, identity, ...). body is not modified: the
// result holds a new value sharing the unchanged parts.
//
// Modify: each operation whose conditionResult is not false applies in
// order to the body as changed by the operations before it. The field is a
// tag (tags['x'], tags.x, tags[x]), identity.type (virtual machines and
// scale sets only; other types skip it) or an alias, resolved with the
// catalog and opts.APIVersion (the declaration on the body's type first).
// An alias the catalog marks not Modifiable for the api-version, a value
// whose JSON kind is not the alias's type, an unknown alias, remove on
// anything but a tag, or add over a different existing value is a
// Conflict. A property whose parent (below the top-level member:
// properties, tags, identity) is absent is skipped. Arrays: a path without
// [*] sets the whole array; a path ending in [*] appends the value's
// members (add) or replaces all members by them (addOrReplace); [*].p sets
// p on every member.
//
// Append: each {field, value} sets the field where it is absent (or null);
// an existing different value is a Conflict (Append acts as deny); a path
// ending in [*] appends the members, creating the array.
//
// A null existing value counts as absent; equal values (value.Equal) are
// left alone. The error is for a Result Apply cannot use: an evaluation
// error, another effect, missing or malformed details (Input.SkipDetails).
func Apply(body value.Value, res *Result, opts ApplyOptions) (Mutation, error) {
	if res.Err != nil {
		return Mutation{}, res.Err
	}
	switch res.Effect {
	case Modify, Append:
	default:
		return Mutation{}, expr.Errorf("Apply: effect %s does not change requests (only Append and Modify)", res.Effect)
	}
	if body.Kind() != value.Object {
		return Mutation{}, expr.Errorf("Apply: the body must be an object, got %s", body.Kind())
	}
	ops, conflictEffect, err := mutateOps(res)
	if err != nil {
		return Mutation{}, err
	}
	m := Mutation{Effect: res.Effect, ConflictEffect: conflictEffect, Body: body}
	m.apply(ops, opts)
	return m, nil
}

// mutateOp is one operation read from the details.
type mutateOp struct {
	operation string // addOrReplace, add, remove, append
	field     string
	val       value.Value
	skip      bool // conditionResult false
}

// mutateOps reads the evaluated details built by Program.evalDetails.
func mutateOps(res *Result) ([]mutateOp, string, error) {
	d := res.Details
	fieldOf := func(e value.Value) (string, error) {
		f := e.Field("field")
		if rf, ok := e.Get("resolvedField"); ok {
			f = rf
		}
		if f.Kind() != value.String || f.Str() == "" {
			return "", expr.Errorf("Apply: the field %s is not a field name", short(f))
		}
		return f.Str(), nil
	}
	if res.Effect == Append {
		if d.Kind() != value.Array {
			return nil, "", expr.Errorf("Apply: Append details must be an array of {field, value}, got %s (evaluated with SkipDetails?)", d.Kind())
		}
		ops := make([]mutateOp, 0, d.Len())
		for _, e := range d.Elems() {
			f, err := fieldOf(e)
			if err != nil {
				return nil, "", err
			}
			v, ok := e.Get("value")
			if !ok {
				return nil, "", expr.Errorf("Apply: the Append entry for %s has no value", f)
			}
			ops = append(ops, mutateOp{operation: "append", field: f, val: v})
		}
		return ops, ConflictDeny, nil
	}
	if d.Kind() != value.Object {
		return nil, "", expr.Errorf("Apply: Modify details must be an object, got %s (evaluated with SkipDetails?)", d.Kind())
	}
	ce := ConflictDeny
	if c := d.Field("conflictEffect"); c.Kind() == value.String {
		switch strings.ToLower(c.Str()) {
		case ConflictDeny, ConflictAudit, ConflictDisabled:
			ce = strings.ToLower(c.Str())
		default:
			return nil, "", expr.Errorf("Apply: conflictEffect must be audit, deny or disabled, got %s", short(c))
		}
	}
	list := d.Field("operations")
	if list.Kind() != value.Array {
		return nil, "", expr.Errorf("Apply: Modify details have no operations")
	}
	ops := make([]mutateOp, 0, list.Len())
	for _, e := range list.Elems() {
		o := mutateOp{}
		switch opn := e.Field("operation").Str(); {
		case strings.EqualFold(opn, "addOrReplace"):
			o.operation = "addOrReplace"
		case strings.EqualFold(opn, "add"):
			o.operation = "add"
		case strings.EqualFold(opn, "remove"):
			o.operation = "remove"
		default:
			return nil, "", expr.Errorf("Apply: unknown operation %s", short(e.Field("operation")))
		}
		f, err := fieldOf(e)
		if err != nil {
			return nil, "", err
		}
		o.field = f
		v, ok := e.Get("value")
		if !ok && o.operation != "remove" {
			return nil, "", expr.Errorf("Apply: operation %s of %s has no value", o.operation, f)
		}
		o.val = v
		if c, ok := e.Get("conditionResult"); ok && c.Kind() == value.Bool && !c.Bool() {
			o.skip = true
		}
		ops = append(ops, o)
	}
	return ops, ce, nil
}

// apply runs the operations on m.Body.
func (m *Mutation) apply(ops []mutateOp, opts ApplyOptions) {
	orig := m.Body
	for i := range ops {
		o := &ops[i]
		if o.skip {
			m.Skipped = append(m.Skipped, Skip{Operation: o.operation, Field: o.field, Reason: "the operation's condition is false"})
			continue
		}
		target, c, skip := resolveMutateField(o, m.Body, opts)
		if c != "" {
			m.Conflicts = append(m.Conflicts, Conflict{Operation: o.operation, Field: o.field, Reason: c})
			continue
		}
		if skip != "" {
			m.Skipped = append(m.Skipped, Skip{Operation: o.operation, Field: o.field, Reason: skip})
			continue
		}
		r := opRun{op: o.operation, field: o.field, val: o.val}
		nb, changed := r.apply(m.Body, target, 0, "")
		switch {
		case r.conflict != "":
			m.Conflicts = append(m.Conflicts, Conflict{Operation: o.operation, Field: o.field, Path: r.conflictPath, Reason: r.conflict})
		case changed:
			m.Body = nb
			if m.Changes == nil {
				m.Changes = r.changes
			} else {
				m.Changes = append(m.Changes, r.changes...)
			}
		case r.skipped != "":
			m.Skipped = append(m.Skipped, Skip{Operation: o.operation, Field: o.field, Reason: r.skipped})
		}
	}
	if m.Denied() {
		m.Body, m.Changes = orig, nil
	}
}

// resolveMutateField finds the path an operation changes. It returns a
// conflict reason or a skip reason instead when the operation cannot apply.
func resolveMutateField(o *mutateOp, body value.Value, opts ApplyOptions) (p value.Path, conflict, skip string) {
	isModify := o.operation != "append"
	if tp, ok := tagField(o.field); ok {
		if tp[len(tp)-1].Any {
			return nil, "tags[*] cannot be changed: name one tag", ""
		}
		if len(tp) == 1 && o.operation == "remove" {
			return nil, "remove needs one tag (tags['name'])", ""
		}
		return tp, "", ""
	}
	if o.operation == "remove" {
		return nil, "remove applies only to tags", ""
	}
	if !strings.Contains(o.field, "/") { // not an alias
		lower := strings.ToLower(o.field)
		if lower == "identity.type" {
			if isModify && !identityModifiable(body.Field("type").Str()) {
				return nil, "", "identity.type can be modified only on virtual machines and virtual machine scale sets"
			}
			return value.Path{{Key: "identity"}, {Key: "type"}}, "", ""
		}
		if _, ok := specialFields[lower]; ok || lower == "identity" || strings.HasPrefix(lower, "identity.") {
			return nil, "the field " + quote(o.field) + " cannot be changed (only tags, identity.type and aliases)", ""
		}
	}
	if opts.Aliases == nil {
		p, err := value.ParsePath(o.field)
		if err != nil {
			return nil, "invalid field " + quote(o.field) + ": " + err.Error(), ""
		}
		return p, "", ""
	}
	a, ok := opts.Aliases.LookupIn(body.Field("type").Str(), o.field)
	if !ok {
		a, ok = opts.Aliases.Lookup(o.field)
	}
	if !ok {
		// X without an alias of its own, where X[*] has one, is the array
		// (as in conditions).
		if ax, okx := opts.Aliases.Lookup(o.field + "[*]"); okx {
			p := ax.PathFor(opts.APIVersion)
			if len(p) > 0 && p[len(p)-1].Any {
				if isModify && ax.MetadataKnown && !ax.ModifiableFor(opts.APIVersion) {
					return nil, notModifiable(o.field, opts.APIVersion), ""
				}
				if isModify && !kindMatches("Array", o.val) {
					return nil, "the value is " + kindName(o.val) + ", the property is Array", ""
				}
				return p[:len(p)-1], "", ""
			}
		}
		return nil, "unknown alias " + quote(o.field) + ": it is not in the alias catalog", ""
	}
	p = a.PathFor(opts.APIVersion)
	if len(a.Alternatives) > 0 && !present(body.At(p)) {
		// A namespace-level name of a catalog without types: the first
		// path present in the body, as conditions read it.
		for _, alt := range a.Alternatives {
			if present(body.At(alt)) {
				p = alt
				break
			}
		}
	}
	if len(p) == 0 {
		return nil, "the alias " + quote(o.field) + " has no path", ""
	}
	if isModify {
		if a.MetadataKnown && !a.ModifiableFor(opts.APIVersion) {
			return nil, notModifiable(o.field, opts.APIVersion), ""
		}
		// The type of a path ending in [*] is its members'.
		if p[len(p)-1].Any && o.val.Kind() == value.Array {
			for _, e := range o.val.Elems() {
				if !kindMatches(a.Type, e) {
					return nil, "a member of the value is " + kindName(e) + ", the property's members are " + a.Type, ""
				}
			}
		} else if !kindMatches(a.Type, o.val) {
			return nil, "the value is " + kindName(o.val) + ", the property is " + a.Type, ""
		}
	}
	return p, "", ""
}

func notModifiable(field, apiVersion string) string {
	s := "the alias " + quote(field) + " is not modifiable"
	if apiVersion != "" {
		s += " in api-version " + apiVersion
	}
	return s
}

// identityModifiable: the types whose identity.type Modify may change.
func identityModifiable(typ string) bool {
	return value.EqualFold(typ, "Microsoft.Compute/virtualMachines") || value.EqualFold(typ, "Microsoft.Compute/virtualMachineScaleSets")
}

// kindMatches reports whether v's JSON kind is the alias metadata type t.
// Null fits every type (a built-in sets an Object property to null); an
// unknown or unspecified type accepts anything.
func kindMatches(t string, v value.Value) bool {
	k := v.Kind()
	if k == value.Null {
		return true
	}
	switch strings.ToLower(t) {
	case "string":
		return k == value.String
	case "boolean", "bool":
		return k == value.Bool
	case "integer":
		return k == value.Int
	case "number":
		return k == value.Int || k == value.Float
	case "object":
		return k == value.Object
	case "array":
		return k == value.Array
	}
	return true
}

func kindName(v value.Value) string { return v.Kind().String() }

// opRun applies one operation along a path.
type opRun struct {
	op      string
	field   string
	val     value.Value
	changes []Change
	// conflict is set on the first conflict; the operation is then not
	// applied at all.
	conflict, conflictPath string
	// skipped is why a location was left alone (absent parent, no members).
	skipped string
}

func (r *opRun) fail(path, reason string) {
	if r.conflict == "" {
		r.conflict, r.conflictPath = reason, path
	}
}

func (r *opRun) skip(reason string) {
	if r.skipped == "" {
		r.skipped = reason
	}
}

func (r *opRun) record(path string, old, new value.Value) {
	r.changes = append(r.changes, Change{Operation: r.op, Field: r.field, Path: path, Old: old, New: new})
}

// apply applies the operation at step i of p to v (found at loc) and
// returns the new v and whether it changed.
func (r *opRun) apply(v value.Value, p value.Path, i int, loc string) (value.Value, bool) {
	s := p[i]
	last := i == len(p)-1
	if s.Any {
		if last {
			return r.setMembers(v, loc)
		}
		if v.Kind() != value.Array || v.Len() == 0 {
			r.skip("the array " + loc + " has no members")
			return v, false
		}
		elems := v.Elems()
		var out []value.Value
		for j, e := range elems {
			ne, ch := r.apply(e, p, i+1, loc+"["+strconv.Itoa(j)+"]")
			if r.conflict != "" {
				return v, false
			}
			if ch {
				if out == nil {
					out = slices.Clone(elems)
				}
				out[j] = ne
			}
		}
		if out == nil {
			return v, false
		}
		return value.ArrayValue(out), true
	}
	if v.Kind() != value.Object {
		where := loc
		if where == "" {
			where = "the body"
		}
		r.fail(loc, where+" is "+kindName(v)+", not an object")
		return v, false
	}
	cloc := joinPath(loc, s.Key)
	child, ok := v.Get(s.Key)
	present := ok && child.Kind() != value.Null
	if last {
		return r.setLeaf(v, s.Key, child, ok, present, cloc)
	}
	if !present {
		switch {
		case p[i+1].Any && i+1 == len(p)-1:
			// The array itself: created by add, addOrReplace and append.
			child = value.Value{}
		case i == 0:
			// A top-level member (properties, tags, identity) is created.
			child = value.ObjectValue()
		default:
			r.skip("the parent " + cloc + " is absent from the request")
			return v, false
		}
	}
	nc, ch := r.apply(child, p, i+1, cloc)
	if !ch {
		return v, false
	}
	return v.With(s.Key, nc), true
}

// setLeaf sets member key of object v (child is its current value).
func (r *opRun) setLeaf(v value.Value, key string, child value.Value, exists, present bool, loc string) (value.Value, bool) {
	switch r.op {
	case "remove":
		if !exists {
			return v, false
		}
		r.record(loc, child, value.Value{})
		return v.Without(key), true
	case "add", "append":
		if present {
			if !value.Equal(child, r.val) {
				r.fail(loc, "the request already has a different value ("+short(child)+")")
			}
			return v, false
		}
	default: // addOrReplace
		if present && value.Equal(child, r.val) {
			return v, false
		}
	}
	r.record(loc, child, r.val)
	return v.With(key, r.val), true
}

// setMembers applies a path ending in [*] to the array v.
func (r *opRun) setMembers(v value.Value, loc string) (value.Value, bool) {
	if v.Kind() != value.Array && !v.IsNullish() {
		r.fail(loc, loc+" is "+kindName(v)+", not an array")
		return v, false
	}
	members := []value.Value{r.val}
	if r.val.Kind() == value.Array {
		members = r.val.Elems()
	}
	var out []value.Value
	switch r.op {
	case "addOrReplace":
		if v.Kind() == value.Array && value.Equal(v, value.ArrayValue(members)) {
			return v, false
		}
		out = slices.Clone(members)
	default: // add, append
		if len(members) == 0 && v.Kind() == value.Array {
			return v, false
		}
		out = make([]value.Value, 0, v.Len()+len(members))
		out = append(out, v.Elems()...)
		out = append(out, members...)
	}
	nv := value.ArrayValue(out)
	r.record(loc, v, nv)
	return nv, true
}

// joinPath extends a rendered path by a key, the way value.Path renders.
func joinPath(loc, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]'") {
		return loc + "['" + strings.ReplaceAll(key, "'", "''") + "']"
	}
	if loc == "" {
		return key
	}
	return loc + "." + key
}
