package policyres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// ErrNotFound is what a Resolver returns (or wraps) when the resource does
// not exist. Any other error means the lookup failed; Build functions
// return it unchanged.
var ErrNotFound = errors.New("policyres: not found")

// Resolver looks up the resources a request body refers to. Ids are
// compared case-insensitively (arm.KeyOf, after repeated slashes are
// collapsed). The caller implements it over its store; the values it
// returns must not be modified.
type Resolver interface {
	// PolicyDefinition resolves a built-in
	// (/providers/Microsoft.Authorization/policyDefinitions/{name}) or
	// custom (/subscriptions/{s}/providers/Microsoft.Authorization/policyDefinitions/{name})
	// definition: the parsed definition and its stored JSON.
	PolicyDefinition(ctx context.Context, id string) (*definition.Definition, value.Value, error)
	// PolicySetDefinition is PolicyDefinition for policySetDefinitions.
	PolicySetDefinition(ctx context.Context, id string) (*definition.SetDefinition, value.Value, error)
	// PolicyAssignment returns the stored body of an assignment (the ARM
	// resource: id, name, location, identity, properties).
	PolicyAssignment(ctx context.Context, id string) (value.Value, error)
}

// CanonicalID collapses repeated slashes and drops a trailing one, so that
// "//subscriptions/s/..." (what some SDK calls send) and
// "/subscriptions/s/..." name the same resource.
func CanonicalID(id string) string {
	if !strings.Contains(id, "//") && (len(id) <= 1 || !strings.HasSuffix(id, "/")) {
		return id
	}
	var b strings.Builder
	b.Grow(len(id))
	prev := byte(0)
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c == '/' && prev == '/' {
			continue
		}
		b.WriteByte(c)
		prev = c
	}
	s := b.String()
	if len(s) > 1 {
		s = strings.TrimSuffix(s, "/")
	}
	return s
}

// idKey is the comparison key of an id.
func idKey(id string) string { return arm.KeyOf(CanonicalID(id)) }

// MemResolver is an in-memory Resolver for tests and tools. It is safe for
// concurrent use.
type MemResolver struct {
	mu          sync.RWMutex
	defs        map[string]memDef
	sets        map[string]memSet
	assignments map[string]value.Value
}

type memDef struct {
	def  *definition.Definition
	body value.Value
}

type memSet struct {
	set  *definition.SetDefinition
	body value.Value
}

// NewMemResolver returns an empty MemResolver.
func NewMemResolver() *MemResolver {
	return &MemResolver{defs: map[string]memDef{}, sets: map[string]memSet{}, assignments: map[string]value.Value{}}
}

// ParseDefinition parses a stored policy definition (the ARM resource
// body, bare properties or a built-in repository file) for a Resolver,
// with its ID and Name set from id.
func ParseDefinition(id string, stored value.Value) (*definition.Definition, error) {
	doc, err := definition.FromValue(stored)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	if doc.Kind != definition.KindPolicy {
		return nil, fmt.Errorf("%s: not a policy definition", id)
	}
	doc.Policy.ID, doc.Policy.Name = id, id[strings.LastIndexByte(id, '/')+1:]
	return doc.Policy, nil
}

// ParseSetDefinition is ParseDefinition for a policy set definition.
func ParseSetDefinition(id string, stored value.Value) (*definition.SetDefinition, error) {
	doc, err := definition.FromValue(stored)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	if doc.Kind != definition.KindPolicySet {
		return nil, fmt.Errorf("%s: not a policy set definition", id)
	}
	doc.Set.ID, doc.Set.Name = id, id[strings.LastIndexByte(id, '/')+1:]
	return doc.Set, nil
}

// AddDefinition parses body (see ParseDefinition) and stores it as a
// policy definition under id.
func (m *MemResolver) AddDefinition(id string, body value.Value) error {
	d, err := ParseDefinition(id, body)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.defs[idKey(id)] = memDef{d, body}
	m.mu.Unlock()
	return nil
}

// AddSetDefinition stores an initiative under id.
func (m *MemResolver) AddSetDefinition(id string, body value.Value) error {
	s, err := ParseSetDefinition(id, body)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.sets[idKey(id)] = memSet{s, body}
	m.mu.Unlock()
	return nil
}

// AddAssignment stores an assignment's body under id.
func (m *MemResolver) AddAssignment(id string, body value.Value) {
	m.mu.Lock()
	m.assignments[idKey(id)] = body
	m.mu.Unlock()
}

// PolicyDefinition implements Resolver.
func (m *MemResolver) PolicyDefinition(_ context.Context, id string) (*definition.Definition, value.Value, error) {
	m.mu.RLock()
	d, ok := m.defs[idKey(id)]
	m.mu.RUnlock()
	if !ok {
		return nil, value.Value{}, ErrNotFound
	}
	return d.def, d.body, nil
}

// PolicySetDefinition implements Resolver.
func (m *MemResolver) PolicySetDefinition(_ context.Context, id string) (*definition.SetDefinition, value.Value, error) {
	m.mu.RLock()
	s, ok := m.sets[idKey(id)]
	m.mu.RUnlock()
	if !ok {
		return nil, value.Value{}, ErrNotFound
	}
	return s.set, s.body, nil
}

// PolicyAssignment implements Resolver.
func (m *MemResolver) PolicyAssignment(_ context.Context, id string) (value.Value, error) {
	m.mu.RLock()
	a, ok := m.assignments[idKey(id)]
	m.mu.RUnlock()
	if !ok {
		return value.Value{}, ErrNotFound
	}
	return a, nil
}
