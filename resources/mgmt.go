package resources

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
)

// Management groups and subscription aliases: the tenant-level
// resources above subscriptions (docs/management-groups.md).
//
//   - Microsoft.Management/managementGroups/{name}: a group, with its
//     parent (properties.details.parent.id; the tenant root group, named
//     by the tenant id, when none is given);
//   - .../managementGroups/{name}/subscriptions/{subscriptionId}: the
//     subscription is in that group (a PUT moves it there, out of the
//     group it was in; a DELETE returns it to the root group);
//   - Microsoft.Subscription/aliases/{name}: a subscription created by
//     the administrator, placed in a group when the request names one.
//
// The Hierarchy keeps the arm.Tree these make, for the policy and role
// assignments at a group to apply below it.

const (
	typeMGSubscription = "Microsoft.Management/managementGroups/subscriptions"
	typeAlias          = "Microsoft.Subscription/aliases"
)

var mgAPIVersions = []string{"2020-02-01", "2020-05-01", "2020-10-01", "2021-04-01", "2023-04-01"}

// tenantLevel reports whether id is a path at the tenant that the
// manager serves: at or under a management group, or a resource (or the
// list) of a TenantLevel type.
func (m *Manager) tenantLevel(id *arm.ID) bool {
	switch {
	case id.SubscriptionID != "":
		return false
	case id.ManagementGroup() != "":
		return true
	case len(id.Parts) > 0:
		spec, ok := m.reg.Lookup(id.Type())
		return ok && spec.TenantLevel
	case id.TrailingNamespace != "":
		spec, ok := m.reg.Lookup(id.TrailingNamespace + "/" + id.Trailing)
		return ok && spec.TenantLevel
	}
	return false
}

// subscriptionKey is the key of id's subscription ("" at the tenant).
func subscriptionKey(id *arm.ID) string {
	if id.SubscriptionID == "" {
		return ""
	}
	return arm.KeyOf("/subscriptions/" + id.SubscriptionID)
}

// Hierarchy is the management-group tree in force on this replica: read
// from the store at start, again after a committed write of a group, a
// subscription's placement or a subscription, and after such a change
// of another replica (Follow).
type Hierarchy struct {
	// Log is told when the tree cannot be read again (nil: not told);
	// the tree in force stays, and the next change reads it again.
	Log    *slog.Logger
	st     store.Store
	tenant string
	state  atomic.Pointer[hierState]
	mu     sync.Mutex // serializes Load
	// listeners are told of each new tree (OnChange).
	listeners []func(old, new *arm.Tree)
}

type hierState struct {
	tree    *arm.Tree
	display map[string]string // group key → displayName
	sig     string            // what the tree was built from, to tell a change
}

// NewHierarchy returns the hierarchy of the tenant over st; Load reads it.
func NewHierarchy(st store.Store, tenantID string) *Hierarchy {
	h := &Hierarchy{st: st, tenant: tenantID}
	h.state.Store(&hierState{tree: arm.NewTree(tenantID, nil, nil), display: map[string]string{}})
	return h
}

// Tree returns the tree in force (nil for a nil Hierarchy: a tenant
// without groups).
func (h *Hierarchy) Tree() *arm.Tree {
	if h == nil {
		return nil
	}
	return h.state.Load().tree
}

// OnChange adds a listener told of each new tree, after it is in force.
// Listeners are added before the server starts.
func (h *Hierarchy) OnChange(fn func(old, new *arm.Tree)) { h.listeners = append(h.listeners, fn) }

// Load reads the groups and placements and puts the tree in force.
func (h *Hierarchy) Load(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	groups, subs, display := map[string]string{}, map[string]string{}, map[string]string{}
	var sig []string
	for r, err := range store.ListAll(ctx, h.st, store.ListQuery{TypeKey: arm.KeyOf(arm.TypeManagementGroup)}) {
		if err != nil {
			return err
		}
		v, err := value.Parse(r.Body)
		if err != nil {
			return err
		}
		name := v.Field("name").Str()
		parent := ""
		if pid, err := arm.ParseID(v.Field("properties").Field("details").Field("parent").Field("id").Str()); err == nil {
			parent = pid.ManagementGroup()
		}
		groups[name] = parent
		display[arm.ManagementGroupKey(name)] = v.Field("properties").Field("displayName").Str()
		sig = append(sig, "g "+arm.KeyOf(name)+" "+arm.KeyOf(parent))
	}
	for r, err := range store.ListAll(ctx, h.st, store.ListQuery{TypeKey: arm.KeyOf(typeSubscription)}) {
		if err != nil {
			return err
		}
		id, err := arm.ParseID(r.ID)
		if err != nil {
			continue
		}
		if _, ok := subs[id.SubscriptionID]; !ok {
			subs[id.SubscriptionID] = ""
		}
	}
	for r, err := range store.ListAll(ctx, h.st, store.ListQuery{TypeKey: arm.KeyOf(typeMGSubscription)}) {
		if err != nil {
			return err
		}
		id, err := arm.ParseID(r.ID)
		if err != nil {
			continue
		}
		subs[id.Name()] = id.ManagementGroup()
	}
	for s, g := range subs {
		sig = append(sig, "s "+arm.KeyOf(s)+" "+arm.KeyOf(g))
	}
	slices.Sort(sig)
	next := &hierState{tree: arm.NewTree(h.tenant, groups, subs), display: display, sig: strings.Join(sig, "\n")}
	old := h.state.Swap(next)
	if old.sig != next.sig {
		for _, fn := range h.listeners {
			fn(old.tree, next.tree)
		}
	}
	return nil
}

// hierarchyTypes are the types whose writes change the tree.
var hierarchyTypes = map[string]bool{
	arm.KeyOf(arm.TypeManagementGroup): true, arm.KeyOf(typeMGSubscription): true,
	arm.KeyOf(typeAlias): true, arm.KeyOf(typeSubscription): true,
}

// Committed implements Committer: a write of a group, a placement or an
// alias puts the new tree in force before the next request.
func (h *Hierarchy) Committed(a *Attributes) {
	if a == nil || a.Spec == nil || !hierarchyTypes[arm.KeyOf(a.Spec.Type)] {
		return
	}
	h.reload(context.Background())
}

// Follow keeps the tree current with other replicas' changes.
func (h *Hierarchy) Follow(f *feed.Feed) (unsubscribe func()) {
	return f.Subscribe(func(ctx context.Context, batch []*store.Change) {
		for _, c := range batch {
			if !c.Filler() && hierarchyTypes[c.TypeKey] {
				h.reload(ctx)
				return
			}
		}
	})
}

// reload is Load, its failure logged.
func (h *Hierarchy) reload(ctx context.Context) {
	if err := h.Load(ctx); err != nil && h.Log != nil {
		h.Log.Warn("the management groups could not be read again; the tree in force stays until the next change", "error", err)
	}
}

// Validate implements ValidatingAdmission: the root group is not deleted
// nor moved, and a group with groups or subscriptions in it is not
// deleted.
func (h *Hierarchy) Validate(ctx context.Context, a *Attributes) error {
	if a.Spec == nil || !arm.EqualName(a.Spec.Type, arm.TypeManagementGroup) || a.Operation != OpDelete {
		return nil
	}
	name := a.ID.Name()
	t := h.Tree()
	if arm.KeyOf(name) == arm.KeyOf(t.Root()) {
		return arm.Errorf("InvalidManagementGroupOperation", "The tenant root group '%s' cannot be deleted.", name)
	}
	groups, subs := t.Below(name)
	if len(groups) > 1 || len(subs) > 0 {
		return arm.Errorf("ManagementGroupHasChildren", "The management group '%s' has %d management groups and %d subscriptions in it: move or delete them first.", name, len(groups)-1, len(subs))
	}
	return nil
}

// EnsureRootGroup creates the tenant root group if it does not exist.
func (m *Manager) EnsureRootGroup(ctx context.Context) error {
	id, _ := arm.ParseID(arm.ManagementGroupID(m.cfg.TenantID))
	return m.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetResource(ctx, id.Key(), false); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		body := jsonOf(map[string]any{"id": id.String(), "type": arm.TypeManagementGroup, "name": m.cfg.TenantID,
			"properties": map[string]any{"tenantId": m.cfg.TenantID, "displayName": "Tenant Root Group",
				"details": map[string]any{"version": 1, "updatedTime": timestamp(m.cfg.Now()).Str(), "updatedBy": "mlgov", "parent": nil}}})
		res := m.storeResource(id, body, m.cfg.NewID(), m.cfg.Now(), nil)
		res.Body = []byte(body.JSON())
		return tx.PutResource(ctx, res)
	})
}

// RegisterManagementGroups adds the management-group and alias types,
// served with h's tree.
func RegisterManagementGroups(r *Registry, h *Hierarchy) {
	r.add(&TypeSpec{Type: arm.TypeManagementGroup, APIVersions: mgAPIVersions, TenantLevel: true, NoProvisioningState: true,
		CreatedOK: true, ReadsStore: true, Name: managementGroupName, Build: h.buildGroup,
		Views: map[string]View{"descendants": h.descendants}})
	r.add(&TypeSpec{Type: typeMGSubscription, APIVersions: mgAPIVersions, NoProvisioningState: true, CreatedOK: true,
		EmptyBody: true, ReadsStore: true, Build: h.buildPlacement, Mirrors: h.movePlacement})
	r.add(&TypeSpec{Type: typeAlias, APIVersions: []string{"2020-09-01", "2021-10-01"}, TenantLevel: true, ReadsStore: true,
		Build: h.buildAlias, Mirrors: h.aliasMirrors})
}

var mgNameRE = regexp.MustCompile(`^[A-Za-z0-9_().-]{1,90}$`)

func managementGroupName(n string) error {
	if !mgNameRE.MatchString(n) || strings.HasSuffix(n, ".") {
		return arm.Errorf("InvalidResourceName", "The management group id '%s' is invalid: it must be 1 to 90 letters, digits, '-', '_', '(', ')' or '.', and not end with '.'.", arm.Clip(n, 100))
	}
	return nil
}

// groupOf resolves a management group id (or bare name) given at field
// to the group's stored body; 400 naming the field when it is not one.
func groupOf(c *Ctx, s, field string) (value.Value, error) {
	name := s
	if strings.HasPrefix(s, "/") {
		pid, err := arm.ParseID(s)
		if err != nil || !pid.IsManagementGroup() {
			return value.Value{}, arm.Errorf("InvalidRequestContent", "%s '%s' is not a management group id (/providers/Microsoft.Management/managementGroups/{name}).", field, arm.Clip(s, 200))
		}
		name = pid.Name()
	}
	r, err := c.Get(arm.ManagementGroupKey(name))
	if err != nil {
		return value.Value{}, err
	}
	if r == nil {
		return value.Value{}, arm.Errorf("ParentManagementGroupNotFound", "%s: the management group '%s' does not exist.", field, arm.Clip(name, 100))
	}
	return value.Parse(r.Body)
}

// buildGroup completes a group: its tenant, display name, version, who
// changed it and its parent (which must exist and not be the group or a
// group below it).
func (h *Hierarchy) buildGroup(c *Ctx, obj, body, existing value.Value) (value.Value, error) {
	name := c.ID.Name()
	isRoot := arm.KeyOf(name) == arm.KeyOf(h.tenant)
	p := body.Field("properties")
	if !p.IsNullish() && p.Kind() != value.Object {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "properties must be an object.")
	}
	// A PATCH (update) carries displayName and parentGroupId at the top.
	if d := body.Field("displayName"); !d.IsUndefined() {
		p = set(p, d, "displayName")
	}
	if g := body.Field("parentGroupId"); !g.IsUndefined() {
		p = set(p, g, "details", "parent", "id")
	}
	display := p.Field("displayName").Str()
	if v := p.Field("displayName"); !v.IsNullish() && v.Kind() != value.String {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "properties.displayName must be a string.")
	}
	if display == "" {
		display = cmp.Or(existing.Field("properties").Field("displayName").Str(), name)
	}
	parent := value.NullValue()
	pv := p.Field("details").Field("parent").Field("id")
	switch {
	case isRoot && !pv.IsNullish():
		return value.Value{}, arm.Errorf("InvalidManagementGroupOperation", "The tenant root group has no parent: properties.details.parent.id cannot be set.")
	case !isRoot:
		pid := arm.ManagementGroupID(h.tenant)
		if !pv.IsNullish() {
			if pv.Kind() != value.String {
				return value.Value{}, arm.Errorf("InvalidRequestContent", "properties.details.parent.id must be a string.")
			}
			pid = pv.Str()
		} else if old := existing.Field("properties").Field("details").Field("parent"); old.Kind() == value.Object {
			pid = old.Field("id").Str() // a PUT without a parent leaves the group where it is
		}
		g, err := groupOf(c, pid, "properties.details.parent.id")
		if err != nil {
			return value.Value{}, err
		}
		pname := g.Field("name").Str()
		pkey := arm.ManagementGroupKey(pname)
		if pkey == arm.ManagementGroupKey(name) || slices.Contains(h.Tree().Above(pkey), arm.ManagementGroupKey(name)) {
			return value.Value{}, arm.Errorf("InvalidManagementGroupHierarchy", "The management group '%s' cannot be moved under '%s': that group is the group itself or below it.", name, pname)
		}
		parent = jsonOf(map[string]any{"id": g.Field("id").Str(), "name": pname, "displayName": g.Field("properties").Field("displayName").Str()})
	}
	version := existing.Field("properties").Field("details").Field("version").Int() + 1
	details := value.ObjectValue(
		value.Member{Key: "version", Value: value.IntValue(version)},
		value.Member{Key: "updatedTime", Value: timestamp(c.Now)},
		value.Member{Key: "updatedBy", Value: str(c.Principal.ObjectID)},
		value.Member{Key: "parent", Value: parent})
	props := value.ObjectValue(
		value.Member{Key: "tenantId", Value: str(c.TenantID)},
		value.Member{Key: "displayName", Value: str(display)},
		value.Member{Key: "details", Value: details})
	return value.ObjectValue(
		value.Member{Key: "id", Value: str(c.ID.String())},
		value.Member{Key: "type", Value: str(arm.TypeManagementGroup)},
		value.Member{Key: "name", Value: str(name)},
		value.Member{Key: "properties", Value: props}), nil
}

// descendants lists the groups and subscriptions below a group
// (getDescendants), nearest first.
func (h *Hierarchy) descendants(c *Ctx, group value.Value) (value.Value, error) {
	st := h.state.Load()
	name := group.Field("name").Str()
	groups, subs := st.tree.Below(name)
	slices.Sort(groups)
	slices.Sort(subs)
	var out []any
	parentOf := func(g string) map[string]any {
		return map[string]any{"id": arm.ManagementGroupID(g)}
	}
	for _, g := range groups {
		if arm.KeyOf(g) == arm.KeyOf(name) {
			continue
		}
		out = append(out, map[string]any{"id": arm.ManagementGroupID(g), "type": arm.TypeManagementGroup, "name": g,
			"properties": map[string]any{"displayName": st.display[arm.ManagementGroupKey(g)], "parent": parentOf(st.tree.Parent(g))}})
	}
	for _, s := range subs {
		out = append(out, map[string]any{"id": "/subscriptions/" + s, "type": "Microsoft.Management/managementGroups/subscriptions", "name": s,
			"properties": map[string]any{"displayName": s, "parent": parentOf(st.tree.GroupOf(s))}})
	}
	if out == nil {
		out = []any{}
	}
	return jsonOf(map[string]any{"value": out}), nil
}

// buildPlacement is a subscription's place in a group: the subscription
// must exist.
func (h *Hierarchy) buildPlacement(c *Ctx, obj, body, existing value.Value) (value.Value, error) {
	sub := c.ID.Name()
	r, err := c.Get(arm.KeyOf("/subscriptions/" + sub))
	if err != nil {
		return value.Value{}, err
	}
	if r == nil {
		return value.Value{}, arm.Errorf("SubscriptionNotFound", "The subscription '%s' could not be found.", sub)
	}
	s, err := value.Parse(r.Body)
	if err != nil {
		return value.Value{}, err
	}
	return jsonOf(map[string]any{"id": c.ID.String(), "type": typeMGSubscription, "name": sub,
		"properties": map[string]any{"tenant": c.TenantID, "displayName": s.Field("displayName").Str(),
			"parent": map[string]any{"id": c.ID.Parent().String()}, "state": cmp.Or(s.Field("state").Str(), "Enabled")}}), nil
}

// movePlacement removes the subscription's place in the group it was in
// (a subscription is in one group).
func (h *Hierarchy) movePlacement(c *Ctx, obj, old value.Value) []Mirror {
	if obj.IsUndefined() || !old.IsUndefined() {
		return nil
	}
	sub := c.ID.Name()
	was := h.Tree().GroupOf(sub)
	if was == "" || arm.KeyOf(was) == arm.KeyOf(c.ID.ManagementGroup()) || arm.KeyOf(was) == arm.KeyOf(h.tenant) {
		return nil
	}
	id, err := arm.ParseID(arm.ManagementGroupID(was) + "/subscriptions/" + sub)
	if err != nil {
		return nil
	}
	return []Mirror{{ID: id, Update: func(value.Value) value.Value { return value.Value{} }}}
}

// buildAlias checks an alias: a display name, the workload, the group to
// place the subscription in; the subscription is the one named
// (properties.subscriptionId, which must exist), the one the alias made
// before, or a new one.
func (h *Hierarchy) buildAlias(c *Ctx, obj, body, existing value.Value) (value.Value, error) {
	p := body.Field("properties")
	if p.Kind() != value.Object {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "properties is required: an object with displayName and workload.")
	}
	display := p.Field("displayName")
	if display.Kind() != value.String || strings.TrimSpace(display.Str()) == "" {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "properties.displayName is required: the new subscription's name.")
	}
	workload := cmp.Or(p.Field("workload").Str(), "Production")
	if err := oneOf(str(workload), "properties.workload", "Production", "DevTest"); err != nil {
		return value.Value{}, err
	}
	ap := p.Field("additionalProperties")
	if !ap.IsNullish() && ap.Kind() != value.Object {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "properties.additionalProperties must be an object.")
	}
	for _, m := range ap.Members() {
		switch strings.ToLower(m.Key) {
		case "managementgroupid", "tags", "subscriptiontenantid":
		default:
			// subscriptionOwnerId and the rest are not carried out: refused
			// rather than stored as if they were.
			return value.Value{}, arm.Errorf("InvalidRequestContent", "properties.additionalProperties.%s is not supported by mlgov (supported: managementGroupId, subscriptionTenantId, tags); give roles with role assignments.", m.Key)
		}
	}
	if t := ap.Field("subscriptionTenantId").Str(); t != "" && !strings.EqualFold(t, c.TenantID) {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "properties.additionalProperties.subscriptionTenantId '%s' is not this tenant ('%s').", arm.Clip(t, 64), c.TenantID)
	}
	group := ""
	if g := ap.Field("managementGroupId"); !g.IsNullish() {
		gv, err := groupOf(c, g.Str(), "properties.additionalProperties.managementGroupId")
		if err != nil {
			return value.Value{}, err
		}
		group = gv.Field("name").Str()
	}
	sub := existing.Field("properties").Field("subscriptionId").Str()
	if given := p.Field("subscriptionId").Str(); given != "" {
		if sub != "" && !strings.EqualFold(sub, given) {
			return value.Value{}, arm.Errorf("InvalidRequestContent", "properties.subscriptionId: the alias names the subscription '%s' already.", sub)
		}
		r, err := c.Get(arm.KeyOf("/subscriptions/" + given))
		if err != nil {
			return value.Value{}, err
		}
		if r == nil {
			return value.Value{}, arm.Errorf("SubscriptionNotFound", "properties.subscriptionId: the subscription '%s' could not be found.", arm.Clip(given, 64))
		}
		sub = given
	}
	if sub == "" {
		sub = c.NewID()
	}
	props := map[string]any{"subscriptionId": sub, "displayName": display.Str(), "workload": workload, "provisioningState": "Succeeded",
		"acceptOwnershipState": "Completed", "createdTime": cmp.Or(existing.Field("properties").Field("createdTime").Str(), timestamp(c.Now).Str())}
	if group != "" {
		props["managementGroupId"] = arm.ManagementGroupID(group)
	}
	if p.Field("billingScope").Kind() == value.String {
		props["billingScope"] = p.Field("billingScope").Str()
	}
	return jsonOf(map[string]any{"id": c.ID.String(), "type": typeAlias, "name": c.ID.Name(), "properties": props}), nil
}

// aliasMirrors makes the alias's subscription (when new) and its place
// in the group named.
func (h *Hierarchy) aliasMirrors(c *Ctx, obj, old value.Value) []Mirror {
	if obj.IsUndefined() {
		return nil // deleting an alias leaves its subscription
	}
	p := obj.Field("properties")
	sub := p.Field("subscriptionId").Str()
	subID := &arm.ID{SubscriptionID: sub}
	out := []Mirror{{ID: subID, Update: func(cur value.Value) value.Value {
		if !cur.IsUndefined() {
			return cur
		}
		return jsonOf(map[string]any{"id": subID.String(), "subscriptionId": sub, "tenantId": c.TenantID,
			"displayName": p.Field("displayName").Str(), "state": "Enabled", "authorizationSource": "RoleBased",
			"subscriptionPolicies": map[string]any{"locationPlacementId": "Public_2014-09-01", "quotaId": "mlgov", "spendingLimit": "Off"}})
	}}}
	if g := p.Field("managementGroupId").Str(); g != "" {
		gid, err := arm.ParseID(g)
		if err == nil && gid.IsManagementGroup() && arm.KeyOf(gid.Name()) != arm.KeyOf(h.tenant) {
			pid, err := arm.ParseID(g + "/subscriptions/" + sub)
			if err == nil {
				out = append(out, Mirror{ID: pid, Update: func(cur value.Value) value.Value {
					if !cur.IsUndefined() {
						return cur
					}
					return jsonOf(map[string]any{"id": pid.String(), "type": typeMGSubscription, "name": sub,
						"properties": map[string]any{"tenant": c.TenantID, "displayName": p.Field("displayName").Str(), "parent": map[string]any{"id": g}, "state": "Enabled"}})
				}})
			}
		}
	}
	return out
}
