package govern

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/policyres"
	"github.com/mlgov/mlgov/store"
)

// Builtins are the built-in policy definitions and initiatives loaded at
// start (the full resource JSON by name, as api serves them), parsed on
// first use.
type Builtins struct {
	defs, sets map[string]json.RawMessage // by lower-cased name
	// fields are the list filter's fields of defs and sets, read once
	// (builtinFields).
	fieldsOnce sync.Once
	fields     [2]map[string]filterFields
	mu         sync.Mutex
	parsedDefs map[string]*definition.Definition
	parsedSets map[string]*definition.SetDefinition
}

// NewBuiltins indexes built-ins by name (nil maps: none).
func NewBuiltins(defs, sets map[string]json.RawMessage) *Builtins {
	b := &Builtins{defs: map[string]json.RawMessage{}, sets: map[string]json.RawMessage{},
		parsedDefs: map[string]*definition.Definition{}, parsedSets: map[string]*definition.SetDefinition{}}
	for n, d := range defs {
		b.defs[strings.ToLower(n)] = d
	}
	for n, d := range sets {
		b.sets[strings.ToLower(n)] = d
	}
	return b
}

// BuiltinResource is a built-in file of the Azure/azure-policy
// repository as the ARM resource Azure serves: its id, type and name set
// for the tenant scope (typ: policyDefinitions or policySetDefinitions).
func BuiltinResource(raw []byte, typ, name string) (json.RawMessage, error) {
	v, err := value.Parse(raw)
	if err != nil {
		return nil, err
	}
	v = v.With("id", value.StringValue("/providers/Microsoft.Authorization/"+typ+"/"+name)).
		With("type", value.StringValue("Microsoft.Authorization/"+typ)).
		With("name", value.StringValue(name))
	return json.RawMessage(v.JSON()), nil
}

const builtinPrefix = "/providers/microsoft.authorization/"

// builtinName returns the name of a tenant-level built-in id of the kind
// ("policydefinitions", "policysetdefinitions").
func builtinName(id, kind string) (string, bool) {
	k := arm.KeyOf(policyres.CanonicalID(id))
	rest, ok := strings.CutPrefix(k, builtinPrefix+kind+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	return rest, true
}

func (b *Builtins) definition(name string) (*definition.Definition, value.Value, error) {
	return builtin(b, b.defs, b.parsedDefs, name, definition.KindPolicy, "policy definition",
		func(d *definition.Document) *definition.Definition { return d.Policy })
}

func (b *Builtins) set(name string) (*definition.SetDefinition, value.Value, error) {
	return builtin(b, b.sets, b.parsedSets, name, definition.KindPolicySet, "policy set definition",
		func(d *definition.Document) *definition.SetDefinition { return d.Set })
}

// builtin parses a built-in of raw by name once (parsed caches it).
func builtin[T any](b *Builtins, raw map[string]json.RawMessage, parsed map[string]*T, name string, kind definition.Kind, what string, of func(*definition.Document) *T) (*T, value.Value, error) {
	r, ok := raw[name]
	if !ok {
		return nil, value.Value{}, policyres.ErrNotFound
	}
	v, err := value.Parse(r)
	if err != nil {
		return nil, value.Value{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if d, ok := parsed[name]; ok {
		return d, v, nil
	}
	doc, err := definition.FromValue(v)
	if err != nil || doc.Kind != kind {
		return nil, value.Value{}, fmt.Errorf("built-in %s %s does not parse: %v", what, name, err)
	}
	parsed[name] = of(doc)
	return parsed[name], v, nil
}

// getter reads a stored resource by key (nil, nil when absent).
type getter func(ctx context.Context, key string) (*store.Resource, error)

// storeGetter reads committed resources of st.
func storeGetter(st store.Store) getter {
	return func(ctx context.Context, key string) (*store.Resource, error) {
		rs, err := store.GetResources(ctx, st, key)
		if err != nil {
			return nil, err
		}
		return rs[0], nil
	}
}

// resolver is the policyres.Resolver over built-ins and stored resources.
type resolver struct {
	b    *Builtins
	get  getter
	tree func() *arm.Tree // the management-group hierarchy (nil: none)
}

// GroupsAbove implements policyres.GroupsAbove.
func (r resolver) GroupsAbove(key string) []string {
	if r.tree == nil {
		return nil
	}
	return r.tree().Above(key)
}

var _ policyres.Resolver = resolver{}

func (r resolver) stored(ctx context.Context, id string) (value.Value, error) {
	res, err := r.get(ctx, arm.KeyOf(policyres.CanonicalID(id)))
	if err != nil {
		return value.Value{}, err
	}
	if res == nil {
		return value.Value{}, policyres.ErrNotFound
	}
	return value.Parse(res.Body)
}

// PolicyDefinition implements policyres.Resolver.
func (r resolver) PolicyDefinition(ctx context.Context, id string) (*definition.Definition, value.Value, error) {
	if name, ok := builtinName(id, "policydefinitions"); ok {
		return r.b.definition(name)
	}
	if !isType(id, "policyDefinitions") {
		return nil, value.Value{}, policyres.ErrNotFound
	}
	v, err := r.stored(ctx, id)
	if err != nil {
		return nil, value.Value{}, err
	}
	doc, err := definition.FromValue(v)
	if err != nil || doc.Kind != definition.KindPolicy {
		return nil, value.Value{}, fmt.Errorf("the stored policy definition %s does not parse: %v", id, err)
	}
	doc.Policy.ID = v.Field("id").Str()
	return doc.Policy, v, nil
}

// PolicySetDefinition implements policyres.Resolver.
func (r resolver) PolicySetDefinition(ctx context.Context, id string) (*definition.SetDefinition, value.Value, error) {
	if name, ok := builtinName(id, "policysetdefinitions"); ok {
		return r.b.set(name)
	}
	if !isType(id, "policySetDefinitions") {
		return nil, value.Value{}, policyres.ErrNotFound
	}
	v, err := r.stored(ctx, id)
	if err != nil {
		return nil, value.Value{}, err
	}
	doc, err := definition.FromValue(v)
	if err != nil || doc.Kind != definition.KindPolicySet {
		return nil, value.Value{}, fmt.Errorf("the stored policy set definition %s does not parse: %v", id, err)
	}
	doc.Set.ID = v.Field("id").Str()
	return doc.Set, v, nil
}

// PolicyAssignment implements policyres.Resolver.
func (r resolver) PolicyAssignment(ctx context.Context, id string) (value.Value, error) {
	if !isType(id, "policyAssignments") {
		return value.Value{}, policyres.ErrNotFound
	}
	return r.stored(ctx, id)
}

// isType reports whether id parses as a resource of Microsoft.Authorization/{typ}.
func isType(id, typ string) bool {
	p, err := arm.ParseID(policyres.CanonicalID(id))
	return err == nil && p.IsResource() && arm.EqualName(p.Type(), "Microsoft.Authorization/"+typ)
}
