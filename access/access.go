// Package access is Azure RBAC on the control plane: it serves the
// Microsoft.Authorization role assignments and custom role definitions
// as resources of the write path (types.go), and decides every request
// from them (the resources.Authorizer: docs/rbac.md).
//
// The decisions come from a snapshot, an rbac.Authorizer of the
// built-in roles, the custom roles and every role assignment, plus the
// administrators' Owner at "/". A snapshot is never changed: a
// committed write of a role assignment makes the next one, with that
// assignment added or removed, at once on the replica that wrote it
// (Committed) and from the change feed on the others (Follow); a custom
// role's write rebuilds it whole. Decisions are cached per caller in the
// snapshot, so a new snapshot starts with none.
package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/rbac"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
)

// OwnerRole is the GUID of the built-in Owner role.
const OwnerRole = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"

// Config configures an Access.
type Config struct {
	// Roles are the built-in role definitions.
	Roles []*rbac.RoleDefinition
	// Admins are the object ids that are Owner at "/" (the bootstrap
	// administrator): assignments of the snapshot, not stored.
	Admins []string
	// MemberOf returns the groups an object is a direct member of (nil:
	// there are no groups). Memberships are read again after
	// GroupsTTL.
	MemberOf func(ctx context.Context, objectID string) ([]string, error)
	// Principal returns the directory type of an object id (User, Group,
	// ServicePrincipal), ok false when the directory has none (nil: role
	// assignments are not checked against the directory).
	Principal func(ctx context.Context, objectID string) (typ string, ok bool, err error)
	// GroupsTTL is how long a caller's groups are kept (default 5 s).
	GroupsTTL time.Duration
	// GroupsVersion, when set, changes whenever this replica's directory
	// changes a group's members (authn.Service.GroupsVersion): the
	// callers' groups read before are read again at once.
	GroupsVersion func() uint64
	Now           func() time.Time
	Log           *slog.Logger
	// Tree is the management-group hierarchy in force (nil: none): the
	// role assignments at a group apply below it.
	Tree func() *arm.Tree
}

// Access decides and serves Azure RBAC.
type Access struct {
	st      store.Store
	cfg     Config
	builtin map[string]*rbac.RoleDefinition // by lower-cased GUID

	mu   sync.Mutex // serializes snapshot changes
	snap atomic.Pointer[snapshot]
	// stale is set when custom roles changed: the next snapshot is
	// built whole.
	stale atomic.Bool
}

var (
	_ resources.Authorizer          = (*Access)(nil)
	_ resources.Committer           = (*Access)(nil)
	_ resources.ValidatingAdmission = (*Access)(nil)
)

// New returns an Access over st. Load builds the first snapshot.
func New(st store.Store, cfg Config) *Access {
	if cfg.GroupsTTL <= 0 {
		cfg.GroupsTTL = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	b := make(map[string]*rbac.RoleDefinition, len(cfg.Roles)+1)
	for _, d := range cfg.Roles {
		b[strings.ToLower(d.Name)] = d
	}
	if b[OwnerRole] == nil {
		// The administrators are Owner even without the built-in roles'
		// file: Owner is Azure's, all actions at every scope.
		owner := &rbac.RoleDefinition{ID: "/providers/Microsoft.Authorization/roleDefinitions/" + OwnerRole, Name: OwnerRole, RoleName: "Owner", RoleType: "BuiltInRole",
			Description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.", AssignableScopes: []string{"/"},
			Permissions: []rbac.Permission{{Actions: []string{"*"}, NotActions: []string{}, DataActions: []string{}, NotDataActions: []string{}}}}
		b[OwnerRole] = owner
		cfg.Roles = append(slices.Clip(cfg.Roles), owner)
	}
	a := &Access{st: st, cfg: cfg, builtin: b}
	a.stale.Store(true)
	return a
}

// snapshot is the decisions in force.
type snapshot struct {
	authz *rbac.Authorizer
	// custom are the custom role definitions by lower-cased GUID.
	custom map[string]*rbac.RoleDefinition
	// callers caches, per object id, the caller's groups and decisions.
	callers sync.Map // string -> *caller
	// tree is the hierarchy the decisions were made in.
	tree *arm.Tree
}

// tree returns the hierarchy in force.
func (a *Access) tree() *arm.Tree {
	if a.cfg.Tree == nil {
		return nil
	}
	return a.cfg.Tree()
}

// caller is one principal's groups and the decisions made for it.
type caller struct {
	principals []string
	expires    time.Time
	// groupsVersion is Config.GroupsVersion's when the groups were read.
	groupsVersion uint64
	decisions     sync.Map // action + "\n" + scope -> verdict
	n             atomic.Int32
}

// verdict is a cached decision made without the request's attributes.
type verdict uint8

const (
	denied verdict = iota
	allowed
	// conditional: only an assignment whose condition reads the
	// request's attributes grants the action (rbac.Decision.Conditional).
	conditional
)

// maxDecisions bounds each caller's cache of decisions.
const maxDecisions = 1 << 14

// current returns the snapshot, building it whole when it is stale.
func (a *Access) current(ctx context.Context) (*snapshot, error) {
	t := a.tree()
	if s := a.snap.Load(); s != nil && !a.stale.Load() && s.tree == t {
		return s, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.snap.Load(); s != nil && !a.stale.Load() {
		if s.tree != t {
			// The hierarchy changed: the same assignments, decided anew.
			s = &snapshot{authz: s.authz, custom: s.custom, tree: t}
			a.snap.Store(s)
		}
		return s, nil
	}
	a.stale.Store(false)
	s, err := a.build(ctx)
	if err != nil {
		a.stale.Store(true)
		return nil, err
	}
	a.snap.Store(s)
	return s, nil
}

// Load builds the snapshot from the store (at start).
func (a *Access) Load(ctx context.Context) error {
	a.stale.Store(true)
	_, err := a.current(ctx)
	return err
}

// build reads the custom roles and the role assignments.
func (a *Access) build(ctx context.Context) (*snapshot, error) {
	s := &snapshot{custom: map[string]*rbac.RoleDefinition{}, tree: a.tree()}
	defs := append([]*rbac.RoleDefinition(nil), a.cfg.Roles...)
	for r, err := range store.ListAll(ctx, a.st, store.ListQuery{TypeKey: arm.KeyOf(TypeRoleDefinition)}) {
		if err != nil {
			return nil, err
		}
		d, err := storedRole(r)
		if err != nil {
			a.cfg.Log.Warn("a stored custom role definition is skipped", "id", r.ID, "error", err)
			continue
		}
		s.custom[strings.ToLower(d.Name)] = d
		defs = append(defs, d)
	}
	s.authz = rbac.New(defs)
	for i, oid := range a.cfg.Admins {
		if err := s.authz.Add(&rbac.Assignment{ID: fmt.Sprintf("admin-%d", i), Scope: "/", RoleDefinitionID: OwnerRole, PrincipalID: oid, PrincipalType: "ServicePrincipal"}); err != nil {
			return nil, fmt.Errorf("access: the administrator %s: %w", oid, err)
		}
	}
	for r, err := range store.ListAll(ctx, a.st, store.ListQuery{TypeKey: arm.KeyOf(TypeRoleAssignment)}) {
		if err != nil {
			return nil, err
		}
		a.add(s.authz, r)
	}
	return s, nil
}

// add adds a stored role assignment to authz; one that no longer holds
// (its custom role deleted) is skipped and logged.
func (a *Access) add(authz *rbac.Authorizer, r *store.Resource) {
	as, err := storedAssignment(r)
	if err == nil {
		err = authz.Add(as)
	}
	if err != nil {
		a.cfg.Log.Warn("a stored role assignment is not in force", "id", r.ID, "error", err)
	}
}

// apply makes the next snapshot with the role assignments of keys as
// the store has them now (added, replaced or removed).
func (a *Access) apply(ctx context.Context, keys []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.snap.Load()
	if old == nil || a.stale.Load() {
		return nil // the next current() builds it whole
	}
	rs, err := store.GetResources(ctx, a.st, keys...)
	if err != nil {
		a.stale.Store(true)
		return err
	}
	authz := old.authz.Clone()
	for i, k := range keys {
		authz.Remove(k)
		if rs[i] != nil {
			a.add(authz, rs[i])
		}
	}
	a.snap.Store(&snapshot{authz: authz, custom: old.custom, tree: old.tree})
	return nil
}

// Committed implements resources.Committer: a committed write of a role
// assignment or a custom role makes the next snapshot at once, so that
// the next request is decided by it.
func (a *Access) Committed(at *resources.Attributes) {
	if at == nil || at.Spec == nil {
		return
	}
	if arm.EqualName(at.Spec.Type, typeWorkspace) {
		// Its identity's role table, written with it.
		if keys := identityKeys(at); len(keys) > 0 {
			if err := a.apply(context.Background(), keys); err != nil {
				a.cfg.Log.Warn("access: the role assignments could not be read again; the next request rebuilds them", "error", err)
			}
		}
		return
	}
	a.changed(context.Background(), at.Spec.Type, at.ID.Key())
}

func (a *Access) changed(ctx context.Context, typ, key string) {
	switch {
	case arm.EqualName(typ, TypeRoleDefinition):
		a.stale.Store(true)
	case arm.EqualName(typ, TypeRoleAssignment):
		if err := a.apply(ctx, []string{key}); err != nil {
			a.cfg.Log.Warn("access: the role assignments could not be read again; the next request rebuilds them", "error", err)
		}
	}
}

// Follow keeps the snapshot current with the changes other replicas
// commit.
func (a *Access) Follow(f *feed.Feed) (unsubscribe func()) {
	ra, rd := arm.KeyOf(TypeRoleAssignment), arm.KeyOf(TypeRoleDefinition)
	return f.Subscribe(func(ctx context.Context, batch []*store.Change) {
		var keys []string
		for _, c := range batch {
			switch {
			case c.Filler():
			case c.TypeKey == rd:
				a.stale.Store(true)
			case c.TypeKey == ra:
				keys = append(keys, c.Key)
			}
		}
		if len(keys) > 0 {
			if err := a.apply(ctx, keys); err != nil {
				a.cfg.Log.Warn("access: the role assignments could not be read again; the next request rebuilds them", "error", err)
			}
		}
	})
}

// Decider implements resources.Authorizer: the caller's decisions in the
// current snapshot.
func (a *Access) Decider(ctx context.Context, c *activitylog.Caller) (resources.Decider, error) {
	s, err := a.current(ctx)
	if err != nil {
		return nil, err
	}
	if c == nil || c.ObjectID == "" {
		return denyAll{}, nil
	}
	return a.caller(ctx, s, c.ObjectID, c.Groups)
}

type denyAll struct{}

func (denyAll) Allowed(string, string) bool { return false }

// caller returns the cached state of a caller, reading its groups again
// when they are older than GroupsTTL.
func (a *Access) caller(ctx context.Context, s *snapshot, oid string, tokenGroups []string) (*decider, error) {
	now := a.cfg.Now()
	key := oid
	if len(tokenGroups) > 0 {
		key = oid + "|" + strings.Join(tokenGroups, ",")
	}
	var version uint64
	if a.cfg.GroupsVersion != nil {
		version = a.cfg.GroupsVersion()
	}
	if v, ok := s.callers.Load(key); ok {
		if c := v.(*caller); now.Before(c.expires) && c.groupsVersion == version {
			return &decider{s: s, c: c}, nil
		}
	}
	// The caller, its token's groups (a federated issuer's), and every
	// group of the directory any of them is a member of.
	var ferr error
	memberOf := func(id string) []string {
		var gs []string
		if id == oid {
			gs = append(gs, tokenGroups...)
		}
		if a.cfg.MemberOf != nil {
			more, err := a.cfg.MemberOf(ctx, id)
			if err != nil && ferr == nil {
				ferr = err
			}
			gs = append(gs, more...)
		}
		return gs
	}
	principals := rbac.ExpandGroups(oid, memberOf)
	if ferr != nil {
		return nil, ferr
	}
	c := &caller{principals: principals, expires: now.Add(a.cfg.GroupsTTL), groupsVersion: version}
	s.callers.Store(key, c)
	return &decider{s: s, c: c}, nil
}

// decider is one caller's resources.Decider.
type decider struct {
	s *snapshot
	c *caller
}

// Allowed implements resources.Decider. A conditional decision is
// allowed here, at the write path's authorize stage, which knows the
// action and the scope only: conditions constrain
// Microsoft.Authorization/roleAssignments/write and /delete alone (rbac
// compiles them so), and those writes are decided again with the
// request's attributes by the role assignments' hooks, buildAssignment
// and Validate (authorizeAssignment), which refuse them when no
// condition holds. The cache keeps the verdict, never a conditional
// one as allowed.
func (d *decider) Allowed(action, scope string) bool {
	key := action + "\n" + scope
	if v, ok := d.c.decisions.Load(key); ok {
		return v.(verdict) != denied
	}
	dec, err := d.s.authz.Decide(rbac.Request{Principals: d.c.principals, Action: action, Scope: scope, Above: d.s.tree.AboveID(scope)})
	v := denied
	switch {
	case err != nil:
	case dec.Allowed:
		v = allowed
	case dec.Conditional:
		v = conditional
	}
	if d.c.n.Add(1) <= maxDecisions {
		d.c.decisions.Store(key, v)
	}
	return v != denied
}

// authorizeAssignment decides a write or delete of a role assignment
// with the request's attributes (the assignment written, or the one
// deleted): 403 AuthorizationFailed, as the authorize stage refuses,
// unless an assignment of the caller without a condition, or with one
// that holds for these attributes, grants the action at the
// assignment's id. It is never cached.
func (a *Access) authorizeAssignment(ctx context.Context, c *activitylog.Caller, verb string, id *arm.ID, at *rbac.Attributes) error {
	action := TypeRoleAssignment + "/" + verb
	scope := id.String()
	d, err := a.Decider(ctx, c)
	if err != nil {
		return err
	}
	cd, ok := d.(*decider)
	if !ok {
		return resources.AuthorizationFailed(c, action, scope)
	}
	dec, err := cd.s.authz.Decide(rbac.Request{Principals: cd.c.principals, Action: action, Scope: scope, Above: cd.s.tree.AboveID(scope), Attributes: at})
	if err != nil || !dec.Allowed {
		return resources.AuthorizationFailed(c, action, scope)
	}
	return nil
}

// Role returns a role definition, built-in or custom, by GUID or id.
func (a *Access) Role(ctx context.Context, id string) (*rbac.RoleDefinition, bool) {
	s, err := a.current(ctx)
	if err != nil {
		return nil, false
	}
	return s.authz.Role(id)
}

// CustomRoles returns the custom role definitions (for the role
// definitions' reads).
func (a *Access) CustomRoles(ctx context.Context) ([]*rbac.RoleDefinition, error) {
	s, err := a.current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*rbac.RoleDefinition, 0, len(s.custom))
	for _, d := range s.custom {
		out = append(out, d)
	}
	return out, nil
}

// Assignments is the number of role assignments in force (the
// administrators' included).
func (a *Access) Assignments(ctx context.Context) (int, error) {
	s, err := a.current(ctx)
	if err != nil {
		return 0, err
	}
	return s.authz.Len(), nil
}

// storedAssignment reads a stored role assignment.
func storedAssignment(r *store.Resource) (*rbac.Assignment, error) {
	var b struct {
		Properties assignmentProps `json:"properties"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return nil, err
	}
	p := b.Properties
	if p.Scope == "" || p.RoleDefinitionID == "" || p.PrincipalID == "" {
		return nil, errors.New("the stored role assignment lacks its scope, role or principal")
	}
	return &rbac.Assignment{ID: r.Key, Scope: p.Scope, RoleDefinitionID: p.RoleDefinitionID, PrincipalID: p.PrincipalID, PrincipalType: p.PrincipalType,
		Condition: p.Condition, ConditionVersion: p.ConditionVersion}, nil
}

// storedRole reads a stored custom role definition.
func storedRole(r *store.Resource) (*rbac.RoleDefinition, error) {
	var b struct {
		ID         string    `json:"id"`
		Name       string    `json:"name"`
		Properties roleProps `json:"properties"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return nil, err
	}
	p := b.Properties
	d := &rbac.RoleDefinition{ID: b.ID, Name: b.Name, RoleName: p.RoleName, RoleType: "CustomRole", Description: p.Description, AssignableScopes: p.AssignableScopes, Permissions: p.Permissions}
	return d, d.Validate()
}
