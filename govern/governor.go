package govern

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/policyres"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// Config configures a Governor.
type Config struct {
	// Builtins are the built-in definitions and initiatives (nil: none).
	Builtins *Builtins
	// Aliases is the alias catalog definitions are compiled with.
	Aliases *alias.Catalog
	// Compliance is the store of the compliance records and scan tasks
	// (nil: the resources' store). mlgov serve on SQLite gives them a
	// database of their own, so that their writing does not queue
	// behind, or hold, the requests' write lock.
	Compliance store.Store
	Now        func() time.Time
	NewID      func() string
	// Tree is the management-group hierarchy in force (nil: none): the
	// assignments at a group apply below it.
	Tree func() *arm.Tree
}

// Governor serves the policy types and enforces the assignments: it is
// the write path's MutatingAdmission, ValidatingAdmission, Committer and
// AdmissionVersioner.
type Governor struct {
	st       store.Store
	cs       store.Store // compliance records and scan tasks
	builtins *Builtins
	catalog  *alias.Catalog
	now      func() time.Time
	newID    func() string
	tree     func() *arm.Tree // the hierarchy in force (nil: none)

	wake    chan struct{} // RunScans: look for scan tasks now
	pmu     sync.Mutex
	pending map[string]pending // scans of changed scopes, by id, until due

	mu   sync.Mutex // serializes rebuilds
	snap atomic.Pointer[snapshot]
	// compiled are the last build's assignments by store key, reused by
	// the next build while unchanged (under mu).
	compiled map[string]*compiledAssignment
	version  atomic.Uint64 // bumped by every change of a policy resource
	// moves counts the hierarchy's changes: part of the admission
	// version (a write prepared before one is prepared again), without
	// compiling the snapshot again (it reads the tree when it decides).
	moves atomic.Uint64
	// lastRequest is when a request's write last committed (UnixNano):
	// compliance yields to requests (yield).
	lastRequest atomic.Int64
	// rem is the Remediator (NewRemediator), whose deployment records
	// listDeployments reads.
	rem atomic.Pointer[Remediator]
	// onCompliance is told the resources whose records Reevaluate or a
	// scan wrote (OnCompliance; nil: no one).
	onCompliance atomic.Pointer[func(keys []string)]
}

// OnCompliance makes fn be told, after each commit, the keys of the
// resources whose compliance records a re-evaluation of changed
// resources (Follow, Reevaluate) or a scan (its batches, on the replica
// that wrote them: a changed assignment's or exemption's, a full one)
// wrote: the dashboard's live stream. Every replica re-evaluates every
// changed resource, so each tells its own. fn must not block.
func (g *Governor) OnCompliance(fn func(keys []string)) { g.onCompliance.Store(&fn) }

var (
	_ resources.MutatingAdmission   = (*Governor)(nil)
	_ resources.ValidatingAdmission = (*Governor)(nil)
	_ resources.Committer           = (*Governor)(nil)
	_ resources.AdmissionVersioner  = (*Governor)(nil)
)

// New returns a Governor over st.
func New(st store.Store, cfg Config) *Governor {
	if cfg.Builtins == nil {
		cfg.Builtins = NewBuiltins(nil, nil)
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.Compliance == nil {
		cfg.Compliance = st
	}
	return &Governor{st: st, cs: cfg.Compliance, builtins: cfg.Builtins, catalog: cfg.Aliases, now: cfg.Now, newID: cfg.NewID, tree: cfg.Tree, wake: make(chan struct{}, 1)}
}

// snapshot is the assignments and exemptions in force, compiled.
type snapshot struct {
	version    uint64
	byScope    map[string][]*assigned  // scope key → assignments at it
	byKey      map[string]*assigned    // assignment key → assignment
	exemptions map[string][]*exemption // scope key → exemptions at it
	// attestations of Manual policies by the key of the scope attested
	// (attestations.go).
	attestations map[string][]*attestation
	count        int
	// tree is the management-group hierarchy in force (Config.Tree).
	tree func() *arm.Tree
}

// assigned is one compiled assignment.
type assigned struct {
	a       *policyres.Assignment
	members []*member
	// err is why the assignment could not be compiled (its definition
	// deleted or changed): it refuses what it covers.
	err error
	// params is policyAssignmentParameters ({name: {value: v}}).
	params value.Value
	// byRef are the members by lower-cased reference id.
	byRef map[string]*member
	// key and defKey are the store keys of the assignment and its
	// definition (or set).
	key, defKey string
	// created is when the assignment was first stored: automatic
	// deployments are for resources written after it (autodeploy.go).
	created time.Time
}

type member struct {
	refID    string
	def      *definition.Definition
	prog     *policy.Program
	setID    string
	setName  string
	groups   []string      // policyDefinitionGroupNames of the set's reference
	effect   policy.Effect // the effect when static
	static   bool
	policyIn value.Value // what policy() returns
	// the store keys of the definition, set and reference, and the
	// effect lower-cased (the record's policyDefinitionAction)
	defKey, setKey, refKey, action string
}

type exemption struct {
	x *policyres.Exemption
}

// AdmissionVersion implements resources.AdmissionVersioner.
func (g *Governor) AdmissionVersion() uint64 { return g.version.Load() + g.moves.Load() }

// Committed implements resources.Committer: a committed write of a
// policy resource rebuilds the snapshot at once, so that the next
// request sees it.
func (g *Governor) Committed(a *resources.Attributes) {
	if a == nil {
		return
	}
	g.lastRequest.Store(time.Now().UnixNano())
	if policyTypes[arm.KeyOf(a.Spec.Type)] {
		g.Invalidate()
	}
	if a.Operation == resources.OpCreate || a.Operation == resources.OpUpdate {
		g.noteWrite(a) // automatic DeployIfNotExists (autodeploy.go)
	}
}

// Invalidate marks the snapshot stale (a policy resource changed,
// possibly on another replica) and rebuilds it.
func (g *Governor) Invalidate() {
	g.version.Add(1)
	_, _ = g.current(context.Background())
}

// Refresh rebuilds the snapshot from the store now.
func (g *Governor) Refresh(ctx context.Context) error {
	g.version.Add(1)
	_, err := g.current(ctx)
	return err
}

// current returns the snapshot of the current version, rebuilding it when
// stale.
func (g *Governor) current(ctx context.Context) (*snapshot, error) {
	v := g.version.Load()
	if s := g.snap.Load(); s != nil && s.version == v {
		return s, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	v = g.version.Load()
	if s := g.snap.Load(); s != nil && s.version == v {
		return s, nil
	}
	s, err := g.build(ctx)
	if err != nil {
		return nil, err
	}
	s.version = v
	g.snap.Store(s)
	return s, nil
}

// Assignments is how many assignments the current snapshot holds.
func (g *Governor) Assignments(ctx context.Context) (int, error) {
	s, err := g.current(ctx)
	if err != nil {
		return 0, err
	}
	return s.count, nil
}

// listType calls fn for every stored resource of typ.
func listType(ctx context.Context, st store.Store, typ string, fn func(*store.Resource) error) error {
	for r, err := range store.ListAll(ctx, st, store.ListQuery{TypeKey: arm.KeyOf(typ)}) {
		if err == nil {
			err = fn(r)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// compiledAssignment is an assignment as a build compiled it, with what
// the compilation read from the store: the next build reuses it while
// the assignment's body and those resources are unchanged, so that a
// change of one assignment does not compile all the others again.
type compiledAssignment struct {
	body []byte
	deps map[string]string // store key -> ETag ("": absent) of each resource read
	as   *assigned
}

// unchanged reports whether every resource c read still has its ETag.
func (c *compiledAssignment) unchanged(etags map[string]string) bool {
	for k, e := range c.deps {
		if etags[k] != e {
			return false
		}
	}
	return true
}

func (g *Governor) build(ctx context.Context) (*snapshot, error) {
	s := &snapshot{byScope: map[string][]*assigned{}, byKey: map[string]*assigned{}, exemptions: map[string][]*exemption{}, tree: g.tree}
	cache := policy.NewCache()
	// The current ETags of what the kept compilations read (the custom
	// definitions and initiatives; built-ins do not change).
	prev, next := g.compiled, map[string]*compiledAssignment{}
	var depKeys []string
	seen := map[string]bool{}
	for _, c := range prev {
		for k := range c.deps {
			if !seen[k] {
				seen[k] = true
				depKeys = append(depKeys, k)
			}
		}
	}
	etags := make(map[string]string, len(depKeys))
	if len(depKeys) > 0 {
		rs, err := store.GetResources(ctx, g.st, depKeys...)
		if err != nil {
			return nil, err
		}
		for i, r := range rs {
			if r != nil {
				etags[depKeys[i]] = r.ETag
			}
		}
	}
	add := func(as *assigned) {
		k := arm.KeyOf(policyres.CanonicalID(as.a.Scope))
		s.byScope[k] = append(s.byScope[k], as)
		s.byKey[arm.KeyOf(as.a.ID)] = as
		s.count++
	}
	err := listType(ctx, g.st, TypeAssignment, func(res *store.Resource) error {
		if c := prev[res.Key]; c != nil && bytes.Equal(c.body, res.Body) && c.unchanged(etags) {
			next[res.Key] = c
			add(c.as)
			return nil
		}
		v, err := value.Parse(res.Body)
		if err != nil {
			return nil // not an assignment mlgov wrote; nothing to enforce
		}
		pa, err := policyres.ParseAssignment(v)
		if err != nil {
			return nil
		}
		if pa.ID == "" {
			pa.ID = res.ID
		}
		// What the compilation reads is recorded; a failed read keeps it
		// from being reused.
		deps, readOK := map[string]string{}, true
		get := storeGetter(g.st)
		r := resolver{b: g.builtins, tree: g.tree, get: func(ctx context.Context, key string) (*store.Resource, error) {
			res, err := get(ctx, key)
			switch {
			case err != nil:
				readOK = false
			case res == nil:
				deps[key] = ""
			default:
				deps[key] = res.ETag
			}
			return res, err
		}}
		as := g.compile(ctx, r, pa, cache)
		as.created = res.CreatedAt
		as.byRef = map[string]*member{}
		for _, m := range as.members {
			as.byRef[strings.ToLower(m.refID)] = m
		}
		if readOK {
			next[res.Key] = &compiledAssignment{body: res.Body, deps: deps, as: as}
		}
		add(as)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = listType(ctx, g.st, TypeExemption, func(res *store.Resource) error {
		v, err := value.Parse(res.Body)
		if err != nil {
			return nil
		}
		x, err := policyres.ParseExemption(v)
		if err != nil {
			return nil
		}
		if x.ID == "" {
			x.ID = res.ID
		}
		k := arm.KeyOf(policyres.CanonicalID(x.Scope))
		s.exemptions[k] = append(s.exemptions[k], &exemption{x: x})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := g.loadAttestations(ctx, s); err != nil {
		return nil, err
	}
	g.compiled = next
	return s, nil
}

// compile compiles an assignment's definition or initiative with its
// parameters and effect overrides.
func (g *Governor) compile(ctx context.Context, r resolver, pa *policyres.Assignment, cache *policy.Cache) *assigned {
	as := &assigned{a: pa, params: wrapParams(pa.Parameters), key: arm.KeyOf(pa.ID), defKey: arm.KeyOf(pa.PolicyDefinitionID)}
	opts := policy.Options{Aliases: g.catalog, Parameters: pa.Parameters}
	if pa.IsSet {
		set, _, err := r.PolicySetDefinition(ctx, pa.PolicyDefinitionID)
		if err != nil {
			as.err = fmt.Errorf("its policy set definition '%s' could not be loaded: %v", pa.PolicyDefinitionID, err)
			return as
		}
		defs := map[string]*definition.Definition{}
		resolve := func(id string) (*definition.Definition, bool) {
			if d, ok := defs[id]; ok {
				return d, true
			}
			d, _, err := r.PolicyDefinition(ctx, id)
			if err != nil {
				return nil, false
			}
			defs[id] = d
			return d, true
		}
		opts.MemberEffect = func(ref string) string {
			e, _ := pa.EffectOverride(ref)
			return e
		}
		members, err := policy.CompileSet(set, resolve, opts, cache)
		if err != nil {
			as.err = fmt.Errorf("its policy set definition '%s' does not compile: %v", pa.PolicyDefinitionID, firstLine(err))
			return as
		}
		groups := map[string][]string{}
		for _, r := range set.Members {
			groups[r.ReferenceID] = r.GroupNames
		}
		for _, m := range members {
			mm := g.member(pa, m.ReferenceID, m.Program, set.ID, set.Name)
			mm.groups = groups[m.ReferenceID]
			as.members = append(as.members, mm)
		}
		return as
	}
	d, _, err := r.PolicyDefinition(ctx, pa.PolicyDefinitionID)
	if err != nil {
		as.err = fmt.Errorf("its policy definition '%s' could not be loaded: %v", pa.PolicyDefinitionID, err)
		return as
	}
	if e, ok := pa.EffectOverride(""); ok {
		opts.Effect = e
	}
	prog, err := policy.Compile(d, opts)
	if err != nil {
		as.err = fmt.Errorf("its policy definition '%s' does not compile with the assignment's parameters: %v", pa.PolicyDefinitionID, firstLine(err))
		return as
	}
	as.members = []*member{g.member(pa, "", prog, "", "")}
	return as
}

func (g *Governor) member(pa *policyres.Assignment, ref string, prog *policy.Program, setID, setName string) *member {
	m := &member{refID: ref, def: prog.Definition, prog: prog, setID: setID, setName: setName}
	m.effect, m.static = prog.Effect()
	m.defKey, m.setKey, m.refKey = arm.KeyOf(prog.Definition.ID), arm.KeyOf(setID), strings.ToLower(ref)
	if m.static {
		m.action = strings.ToLower(m.effect.String())
	}
	m.policyIn = value.ObjectValue(
		value.Member{Key: "assignmentId", Value: value.StringValue(pa.ID)},
		value.Member{Key: "definitionId", Value: value.StringValue(prog.Definition.ID)},
		value.Member{Key: "setDefinitionId", Value: value.StringValue(setID)},
		value.Member{Key: "definitionReferenceId", Value: value.StringValue(ref)})
	return m
}

func wrapParams(ps map[string]value.Value) value.Value {
	out := value.ObjectValue()
	for k, v := range ps {
		out = out.With(k, value.ObjectValue(value.Member{Key: "value", Value: v}))
	}
	return out
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (and more)"
	}
	return s
}

// governed reports whether writes of a type are evaluated: resources of
// Microsoft.Resources are not, except resource groups (Azure's rule), nor
// the tenant's own (management groups and where subscriptions are,
// subscription aliases).
func governed(typ string) bool {
	ns, _, _ := strings.Cut(typ, "/")
	if arm.EqualName(ns, "Microsoft.Management") || arm.EqualName(ns, "Microsoft.Subscription") {
		return false
	}
	return !arm.EqualName(ns, "Microsoft.Resources") || arm.EqualName(typ, "Microsoft.Resources/resourceGroups")
}

// repairsPolicy reports whether a is a write of a policy resource
// (definition, initiative, assignment, exemption): an assignment that
// cannot be evaluated (its definition deleted or broken) refuses what it
// covers, but not these, or it would refuse the writes that repair it.
func repairsPolicy(a *resources.Attributes) bool {
	return policyTypes[arm.KeyOf(a.Spec.Type)]
}

// denyActionExempt are the types DenyAction never blocks (lockout).
var denyActionExempt = map[string]bool{
	"microsoft.authorization/policyassignments": true,
	"microsoft.authorization/denyassignments":   true,
	"microsoft.blueprint/blueprintassignments":  true,
	"microsoft.resources/deploymentstacks":      true,
	"microsoft.resources/subscriptions":         true,
	"microsoft.authorization/locks":             true,
}

// hit is one member that applies to a request, with its result.
type hit struct {
	as  *assigned
	m   *member
	res policy.Result
}

// each calls fn for every member of the enforced assignments whose scope
// contains the resource, that select it, and that no exemption covers;
// broken is called for the enforced assignments that could not be
// compiled.
func (s *snapshot) each(id *arm.ID, obj value.Value, now time.Time, fn func(as *assigned, m *member), broken func(as *assigned)) {
	key := policyres.Key(id.String())
	typ := obj.Field("type").Str()
	if typ == "" {
		typ = id.Type()
	}
	loc := obj.Field("location").Str()
	above := s.above(key)
	var exempts []*exemption
	forScopes(key, above, func(scope string) {
		exempts = append(exempts, s.exemptions[scope]...)
	})
	forScopes(key, above, func(scope string) {
		for _, as := range s.byScope[scope] {
			if !as.a.Enforce || !as.a.AppliesToKey(key, above, loc, typ) {
				continue
			}
			if as.err != nil {
				broken(as)
				continue
			}
		members:
			for _, m := range as.members {
				for _, x := range exempts {
					if x.x.Covers(as.a.ID, m.refID, now) && x.x.AppliesToKey(key, above, loc, typ) {
						continue members
					}
				}
				fn(as, m)
			}
		}
	})
}

// forScopes calls fn with every scope key that contains the resource key
// (its prefixes at '/' boundaries, itself included, then the management
// groups above it).
func forScopes(key string, above []string, fn func(string)) {
	for i := 1; i < len(key); i++ {
		if key[i] == '/' {
			fn(key[:i])
		}
	}
	fn(key)
	for _, g := range above {
		fn(g)
	}
}

// above returns the keys of the management groups above the resource key
// in the hierarchy in force.
func (s *snapshot) above(key string) []string {
	if s.tree == nil {
		return nil
	}
	return s.tree().Above(key)
}

// input is the evaluation input of a request (its policy() object
// m's, when m is given).
func input(a *resources.Attributes, obj value.Value, m *member) *policy.Input {
	in := &policy.Input{Resource: obj, ResourceGroup: a.ResourceGroup, Subscription: a.Subscription,
		RequestContext: value.ObjectValue(value.Member{Key: "apiVersion", Value: value.StringValue(a.APIVersion)}),
		APIVersion:     a.APIVersion, Now: a.Now}
	if m != nil {
		in.Policy = m.policyIn
	}
	return in
}

// tagsOnly reports whether a is a PATCH whose body changes only the tags:
// such a request is evaluated against the definitions whose condition
// inspects tags only (policy.Program.InspectsTags; policy-language.md
// §17).
func tagsOnly(a *resources.Attributes) bool {
	if a.Request == nil || a.Request.Method != "PATCH" || a.Body.Kind() != value.Object {
		return false
	}
	ms := a.Body.Members()
	return len(ms) == 1 && value.EqualFold(ms[0].Key, "tags")
}

// Admit implements resources.MutatingAdmission: Append and Modify.
func (g *Governor) Admit(ctx context.Context, a *resources.Attributes) error {
	if (a.Operation != resources.OpCreate && a.Operation != resources.OpUpdate) || !governed(a.Spec.Type) {
		return nil
	}
	s, err := g.current(ctx)
	if err != nil {
		return err
	}
	var hits []*hit
	var failed []*hit
	tags := tagsOnly(a)
	sub := policy.NewSubject(input(a, a.Object, nil))
	defer sub.Close()
	s.each(a.ID, a.Object, a.Now, func(as *assigned, m *member) {
		if m.static && m.effect != policy.Append && m.effect != policy.Modify || tags && !m.prog.InspectsTags() {
			return
		}
		res := sub.Evaluate(m.prog, m.policyIn)
		switch {
		case res.Err != nil:
			failed = append(failed, &hit{as: as, m: m, res: res})
		case res.Effect == policy.Append || res.Effect == policy.Modify:
			hits = append(hits, &hit{as: as, m: m, res: res})
		}
	}, func(as *assigned) {
		if !repairsPolicy(a) {
			failed = append(failed, &hit{as: as})
		}
	})
	if len(failed) > 0 {
		return g.refuse(a, a.Object, nil, failed)
	}
	if len(hits) == 0 {
		return nil
	}
	results := make([]*policy.Result, len(hits))
	for i, h := range hits {
		results[i] = &h.res
	}
	muts, err := policy.ApplyAll(a.Object, results, policy.ApplyOptions{APIVersion: a.APIVersion, Aliases: g.catalog})
	if err != nil {
		for _, h := range hits {
			h.res.Err = err
		}
		return g.refuse(a, a.Object, nil, hits)
	}
	if muts.Denied {
		var denying []*hit
		for i, mu := range muts.Mutations {
			if mu.Denied() {
				hits[i].res.Err = nil
				denying = append(denying, hits[i])
			}
		}
		return g.refuse(a, a.Object, denying, nil)
	}
	a.Object = muts.Body
	var modified, appended, audited []*hit
	for i, mu := range muts.Mutations {
		switch {
		case len(mu.Conflicts) > 0 && mu.ConflictEffect == policy.ConflictAudit:
			audited = append(audited, hits[i])
		case len(mu.Changes) == 0:
		case mu.Effect == policy.Modify:
			modified = append(modified, hits[i])
		default:
			appended = append(appended, hits[i])
		}
	}
	g.record(a, &a.Events, "modify", modified)
	g.record(a, &a.Events, "append", appended)
	g.record(a, &a.Events, "audit", audited)
	return nil
}

// Validate implements resources.ValidatingAdmission: Deny and Audit on
// writes, DenyAction on deletes.
func (g *Governor) Validate(ctx context.Context, a *resources.Attributes) error {
	var obj value.Value
	switch a.Operation {
	case resources.OpCreate, resources.OpUpdate:
		obj = a.Object
	case resources.OpDelete:
		if a.ID.IsResourceGroup() {
			return g.validateGroupDelete(ctx, a)
		}
		if denyActionExempt[arm.KeyOf(a.Spec.Type)] {
			return nil
		}
		obj = a.OldObject
	default:
		return nil
	}
	if !governed(a.Spec.Type) {
		return nil
	}
	s, err := g.current(ctx)
	if err != nil {
		return err
	}
	del := a.Operation == resources.OpDelete
	tags := tagsOnly(a)
	var denies, audits, failed []*hit
	sub := policy.NewSubject(input(a, obj, nil))
	defer sub.Close()
	s.each(a.ID, obj, a.Now, func(as *assigned, m *member) {
		if tags && !m.prog.InspectsTags() {
			return
		}
		if m.static {
			switch m.effect {
			case policy.Deny, policy.Audit:
				if del {
					return
				}
			case policy.DenyAction:
				if !del {
					return
				}
			default:
				return
			}
		}
		// Most members pass: a hit is made only for those that do not.
		res := sub.Evaluate(m.prog, m.policyIn)
		switch {
		case res.Err != nil:
			if !del {
				failed = append(failed, &hit{as: as, m: m, res: res})
			}
		case res.Effect == policy.Deny && !del:
			denies = append(denies, &hit{as: as, m: m, res: res})
		case res.Effect == policy.Audit && !del:
			audits = append(audits, &hit{as: as, m: m, res: res})
		case res.Effect == policy.DenyAction && del && deniesDelete(res.Details):
			denies = append(denies, &hit{as: as, m: m, res: res})
		}
	}, func(as *assigned) {
		if !del && !repairsPolicy(a) {
			failed = append(failed, &hit{as: as})
		}
	})
	if len(denies) > 0 || len(failed) > 0 {
		return g.refuse(a, obj, denies, failed)
	}
	g.record(a, &a.Events, "audit", audits)
	return nil
}

// validateGroupDelete is DenyAction for a resource group's deletion
// (policy-language.md §10.8): the resources in it that support location
// and tags are evaluated against the DenyAction policies of mode Indexed
// whose cascadeBehaviors.resourceGroup is deny (the default); one that
// denies blocks the deletion. Policies of mode All never block it.
func (g *Governor) validateGroupDelete(ctx context.Context, a *resources.Attributes) error {
	s, err := g.current(ctx)
	if err != nil {
		return err
	}
	for r, err := range store.ListAll(ctx, g.st, store.ListQuery{KeyPrefix: a.ID.Key() + "/"}) {
		if err != nil {
			return err
		}
		obj, err := value.Parse(r.Body)
		if err != nil || obj.Field("location").IsUndefined() || obj.Field("tags").IsUndefined() {
			continue
		}
		id, err := arm.ParseID(obj.Field("id").Str())
		if err != nil {
			continue
		}
		var denies []*hit
		in := input(a, obj, nil)
		in.ResourceGroup = a.OldObject
		sub := policy.NewSubject(in)
		s.each(id, obj, a.Now, func(as *assigned, m *member) {
			if (m.static && m.effect != policy.DenyAction) || !strings.EqualFold(m.def.Mode, "Indexed") {
				return
			}
			res := sub.Evaluate(m.prog, m.policyIn)
			if res.Effect == policy.DenyAction && deniesDelete(res.Details) &&
				!strings.EqualFold(res.Details.Field("cascadeBehaviors").Field("resourceGroup").Str(), "allow") {
				denies = append(denies, &hit{as: as, m: m, res: res})
			}
		}, func(*assigned) {})
		sub.Close()
		if len(denies) > 0 {
			return g.refuse(a, obj, denies, nil)
		}
	}
	return nil
}

// deniesDelete reports whether DenyAction details name the delete action.
func deniesDelete(details value.Value) bool {
	names := details.Field("actionNames")
	for i := 0; i < names.Len(); i++ {
		if strings.EqualFold(names.Index(i).Str(), "delete") {
			return true
		}
	}
	return false
}

// policiesJSON is the properties.policies of a policy event.
func policiesJSON(hits []*hit) []byte {
	out := make([]map[string]any, 0, len(hits))
	for _, h := range hits {
		out = append(out, policyIdentity(h))
	}
	b, _ := json.Marshal(out)
	return b
}

// policyIdentity names the assignment, definition and (when assigned
// through an initiative) set and reference of a hit.
func policyIdentity(h *hit) map[string]any {
	a := h.as.a
	m := map[string]any{
		"policyAssignmentId":         a.ID,
		"policyAssignmentName":       a.Name,
		"policyAssignmentScope":      a.Scope,
		"policyAssignmentParameters": h.as.params,
	}
	if h.m != nil {
		m["policyDefinitionId"] = h.m.def.ID
		m["policyDefinitionName"] = h.m.def.Name
		m["policyDefinitionEffect"] = effectName(h)
		if h.m.setID != "" {
			m["policySetDefinitionId"] = h.m.setID
			m["policySetDefinitionName"] = h.m.setName
			m["policyDefinitionReferenceId"] = h.m.refID
		}
	} else {
		m["policyDefinitionId"] = a.PolicyDefinitionID
	}
	return m
}

func effectName(h *hit) string {
	if h.res.Effect != policy.None {
		return h.res.Effect.String()
	}
	if h.res.EffectName != "" {
		if e, ok := policy.ParseEffect(h.res.EffectName); ok {
			return e.String()
		}
	}
	if h.m != nil && h.m.static {
		return h.m.effect.String()
	}
	return ""
}
