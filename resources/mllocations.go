package resources

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// The location-scoped APIs of Microsoft.MachineLearningServices:
//
//	GET  /subscriptions/{s}/providers/Microsoft.MachineLearningServices/locations/{l}/vmSizes
//	GET  .../locations/{l}/usages        vCPUs in use, from the computes stored
//	GET  .../locations/{l}/quotas        limits per VM family, per workspace
//	POST .../locations/{l}/updateQuotas  a workspace's limit per VM family
//
// The VM sizes are mlgov's own table of common sizes. Usage is what the
// computes in the region hold now: a cluster's current nodes, a running
// compute instance. Limits are the subscription's defaults per family
// (below) and the workspace limits set with updateQuotas, kept as store
// objects. mlgov allocates no VMs, so the limits are reported and
// checked on update, not enforced on compute creation.

const (
	mlNamespace = "Microsoft.MachineLearningServices"
	// KindMLQuota is the store object kind of a workspace's limits per
	// VM family (key: the workspace's key; body: an object from quota
	// name segment to limit), deleted with the workspace.
	KindMLQuota = "mlQuota"
	// Subscription limits per region (Azure's defaults for a new
	// pay-as-you-go subscription are of this order).
	familyDedicatedLimit  = 24
	familyGPULimit        = 12
	totalDedicatedLimit   = 100
	totalLowPriorityLimit = 100
)

// vmSize is one row of the VM size table.
type vmSize struct {
	name     string
	family   string // as in quota names: "DSv2" -> "Standard DSv2 Family"
	vCPUs    int
	gpus     int
	memoryGB float64
	premium  bool
}

var vmSizes = []vmSize{
	{"Standard_DS1_v2", "DSv2", 1, 0, 3.5, true},
	{"Standard_DS2_v2", "DSv2", 2, 0, 7, true},
	{"Standard_DS3_v2", "DSv2", 4, 0, 14, true},
	{"Standard_DS4_v2", "DSv2", 8, 0, 28, true},
	{"Standard_DS11_v2", "DSv2", 2, 0, 14, true},
	{"Standard_DS12_v2", "DSv2", 4, 0, 28, true},
	{"Standard_D2_v2", "Dv2", 2, 0, 7, false},
	{"Standard_D3_v2", "Dv2", 4, 0, 14, false},
	{"Standard_D2s_v3", "DSv3", 2, 0, 8, true},
	{"Standard_D4s_v3", "DSv3", 4, 0, 16, true},
	{"Standard_D8s_v3", "DSv3", 8, 0, 32, true},
	{"Standard_E4s_v3", "ESv3", 4, 0, 32, true},
	{"Standard_E8s_v3", "ESv3", 8, 0, 64, true},
	{"Standard_F4s_v2", "FSv2", 4, 0, 8, true},
	{"Standard_F8s_v2", "FSv2", 8, 0, 16, true},
	{"Standard_NC6", "NC", 6, 1, 56, false},
	{"Standard_NC6s_v3", "NCSv3", 6, 1, 112, true},
	{"Standard_NC24s_v3", "NCSv3", 24, 4, 448, true},
	{"Standard_NC4as_T4_v3", "NCASv3_T4", 4, 1, 28, true},
	{"Standard_NC24ads_A100_v4", "NCADSA100v4", 24, 1, 220, true},
}

func findVMSize(name string) (vmSize, bool) {
	i := slices.IndexFunc(vmSizes, func(s vmSize) bool { return strings.EqualFold(s.name, name) })
	if i < 0 {
		return vmSize{}, false
	}
	return vmSizes[i], true
}

// families lists the VM families of the table, in its order.
func families() []string {
	var out []string
	for _, s := range vmSizes {
		if !slices.Contains(out, s.family) {
			out = append(out, s.family)
		}
	}
	return out
}

func familyLimit(f string) int {
	for _, s := range vmSizes {
		if s.family == f && s.gpus > 0 {
			return familyGPULimit
		}
	}
	return familyDedicatedLimit
}

// quotaName is the name of a family's dedicated-vCPU quota: its value
// ("Standard DSv2 Family Cluster Dedicated vCPUs") and its id segment
// (spaces as underscores).
func quotaName(family, priority string) (display, segment string) {
	display = "Standard " + family + " Family Cluster " + priority + " vCPUs"
	return display, strings.ReplaceAll(display, " ", "_")
}

// familyOfQuota is the family a quota id segment names ("" if none).
func familyOfQuota(segment string) string {
	for _, f := range families() {
		if _, seg := quotaName(f, "Dedicated"); strings.EqualFold(seg, segment) {
			return f
		}
	}
	return ""
}

// locationAPI serves the location-scoped ML APIs; ok is false for any
// other path.
func (m *Manager) locationAPI(ctx context.Context, r *Request) (ok bool, resp *Response, err error) {
	id := r.ID
	if len(id.Parts) != 1 || id.ResourceGroup != "" || !strings.EqualFold(id.Parts[0].Namespace, mlNamespace) || !strings.EqualFold(id.Parts[0].Type, "locations") {
		return false, nil, nil
	}
	what := strings.ToLower(id.Trailing)
	switch what {
	case "vmsizes", "usages", "quotas", "updatequotas":
	default:
		return false, nil, nil
	}
	if want := map[bool]string{true: "POST", false: "GET"}[what == "updatequotas"]; r.Method != want {
		return true, nil, methodNotAllowed(r)
	}
	if what == "updatequotas" {
		// An action at the subscription, not a write of one resource:
		// authorized here (the reads were, before Handle served them).
		if err := m.Authorize(ctx, &r.Caller, mlNamespace+"/locations/updateQuotas/action", "/subscriptions/"+id.SubscriptionID); err != nil {
			return true, nil, err
		}
	}
	loc := arm.NormalizeLocation(id.Parts[0].Name)
	if !m.locations[loc] {
		return true, nil, arm.Errorf("InvalidResourceLocation", "The location '%s' is not one mlgov serves.", arm.Clip(id.Parts[0].Name, 64))
	}
	if err := m.requireSubscription(ctx, id.SubscriptionID); err != nil {
		return true, nil, err
	}
	var out value.Value
	switch what {
	case "vmsizes":
		out = listVMSizes()
	case "usages":
		out, err = m.usages(ctx, id.SubscriptionID, loc)
	case "quotas":
		out, err = m.quotas(ctx, id.SubscriptionID, loc)
	case "updatequotas":
		out, err = m.updateQuotas(ctx, r, loc)
	}
	if err != nil {
		return true, nil, err
	}
	return true, &Response{Body: []byte(out.JSON())}, nil
}

func listVMSizes() value.Value {
	var out []any
	for _, s := range vmSizes {
		out = append(out, map[string]any{
			"name": s.name, "family": "standard" + s.family + "Family", "vCPUs": s.vCPUs, "gpus": s.gpus,
			"osVhdSizeMB": 1047552, "maxResourceVolumeMB": s.vCPUs * 16384, "memoryGB": s.memoryGB,
			"lowPriorityCapable": true, "premiumIO": s.premium,
			"supportedComputeTypes": []any{"AmlCompute", "ComputeInstance"},
		})
	}
	return jsonOf(map[string]any{"value": out})
}

// allocation is the vCPUs a compute holds now.
type allocation struct {
	workspace, compute string // ids
	family, priority   string // priority: Dedicated or LowPriority
	vCPUs              int
	minVCPUs           int // what the cluster keeps at least (minNodeCount)
}

// allocations lists what the computes of a subscription in loc hold.
func (m *Manager) allocations(ctx context.Context, sub, loc string) ([]allocation, error) {
	var out []allocation
	err := m.eachInLocation(ctx, sub, mlNamespace+"/workspaces/computes", loc, func(v value.Value) {
		p := get(v, "properties", "properties")
		size, ok := findVMSize(p.Field("vmSize").Str())
		if !ok {
			return
		}
		a := allocation{compute: v.Field("id").Str(), family: size.family, priority: "Dedicated"}
		if cid, err := arm.ParseID(a.compute); err == nil {
			a.workspace = cid.Parent().String()
		}
		switch strings.ToLower(get(v, "properties", "computeType").Str()) {
		case "amlcompute":
			if strings.EqualFold(p.Field("vmPriority").Str(), "LowPriority") {
				a.priority = "LowPriority"
			}
			a.vCPUs = size.vCPUs * int(p.Field("currentNodeCount").Int())
			a.minVCPUs = size.vCPUs * int(get(p, "scaleSettings", "minNodeCount").Int())
		case "computeinstance":
			if strings.EqualFold(p.Field("state").Str(), "Running") {
				a.vCPUs = size.vCPUs // an instance is one VM
			}
		default:
			return
		}
		out = append(out, a)
	})
	return out, err
}

// eachInLocation calls fn with each resource of type typ in the
// subscription whose location is loc, a page of the store at a time.
func (m *Manager) eachInLocation(ctx context.Context, sub, typ, loc string, fn func(value.Value)) error {
	q := store.ListQuery{SubscriptionKey: arm.KeyOf(sub), TypeKey: arm.KeyOf(typ), Limit: 500}
	for {
		var page []*store.Resource
		if err := m.st.Read(ctx, func(tx store.Tx) error {
			var err error
			page, err = tx.ListResources(ctx, q)
			return err
		}); err != nil {
			return err
		}
		for _, res := range page {
			v, err := value.Parse(res.Body)
			if err != nil {
				return err
			}
			if arm.NormalizeLocation(v.Field("location").Str()) == loc {
				fn(v)
			}
		}
		if len(page) < q.Limit {
			return nil
		}
		q.After = page[len(page)-1].Key
	}
}

// usages reports the vCPUs in use: the regional totals, each family's
// for the subscription, and, where in use, each workspace's and
// compute's.
func (m *Manager) usages(ctx context.Context, sub, loc string) (value.Value, error) {
	as, err := m.allocations(ctx, sub, loc)
	if err != nil {
		return value.Value{}, err
	}
	subID := "/subscriptions/" + sub
	usage := func(id, typ, name string, current, limit int) any {
		return map[string]any{"id": id, "amlWorkspaceLocation": loc, "type": mlNamespace + "/" + typ, "unit": "Count",
			"currentValue": current, "limit": limit, "name": map[string]any{"value": name, "localizedValue": name}}
	}
	var out []any
	for _, pr := range []struct {
		priority, total string
		limit           int
	}{{"Dedicated", "dedicatedCores", totalDedicatedLimit}, {"LowPriority", "lowPriorityCores", totalLowPriorityLimit}} {
		sum := 0
		for _, a := range as {
			if a.priority == pr.priority {
				sum += a.vCPUs
			}
		}
		out = append(out, usage(subID+"/usages", pr.total+"/usages", "Total Cluster "+pr.priority+" Regional vCPUs", sum, pr.limit))
		for _, f := range families() {
			display, seg := quotaName(f, pr.priority)
			limit := -1 // low priority: the regional total only
			if pr.priority == "Dedicated" {
				limit = familyLimit(f)
			}
			byWS, byCompute := map[string]int{}, map[string]int{}
			var wsOrder, cOrder []string
			sum := 0
			for _, a := range as {
				if a.family != f || a.priority != pr.priority || a.vCPUs == 0 {
					continue
				}
				sum += a.vCPUs
				if _, ok := byWS[a.workspace]; !ok {
					wsOrder = append(wsOrder, a.workspace)
				}
				byWS[a.workspace] += a.vCPUs
				byCompute[a.compute] += a.vCPUs
				cOrder = append(cOrder, a.compute)
			}
			out = append(out, usage(subID+"/usages/"+seg, "vmFamily/usages", display, sum, limit))
			for _, ws := range wsOrder {
				out = append(out, usage(ws+"/usages/"+seg, "workspaces/usages", display, byWS[ws], limit))
				for _, c := range cOrder {
					if strings.HasPrefix(strings.ToLower(c), strings.ToLower(ws)+"/") {
						out = append(out, usage(c+"/usages/"+seg, "workspaces/computes/usages", display, byCompute[c], limit))
					}
				}
			}
		}
	}
	return jsonOf(map[string]any{"value": out}), nil
}

// quotas lists each family's dedicated-vCPU limit for the subscription,
// then for each workspace in the region (its own limit if one was set,
// else the subscription's).
func (m *Manager) quotas(ctx context.Context, sub, loc string) (value.Value, error) {
	wss, err := m.workspacesIn(ctx, sub, loc)
	if err != nil {
		return value.Value{}, err
	}
	set := make([]value.Value, len(wss))
	if err := m.st.Read(ctx, func(tx store.Tx) error {
		for i, ws := range wss {
			var err error
			if set[i], err = workspaceQuotas(ctx, tx, arm.KeyOf(ws)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return value.Value{}, err
	}
	quota := func(id, typ, name string, limit int) any {
		return map[string]any{"id": id, "amlWorkspaceLocation": loc, "type": mlNamespace + "/" + typ, "unit": "Count",
			"limit": limit, "name": map[string]any{"value": name, "localizedValue": name}}
	}
	var out []any
	for _, f := range families() {
		display, seg := quotaName(f, "Dedicated")
		out = append(out, quota("/subscriptions/"+sub+"/quotas/"+seg, "vmFamily/quotas", display, familyLimit(f)))
		for i, ws := range wss {
			limit := familyLimit(f)
			if l := set[i].Field(seg); l.IsNumber() {
				limit = int(l.Int())
			}
			out = append(out, quota(ws+"/quotas/"+seg, "workspaces/quotas", display, limit))
		}
	}
	return jsonOf(map[string]any{"value": out}), nil
}

// workspacesIn lists the ids of the subscription's workspaces in loc.
func (m *Manager) workspacesIn(ctx context.Context, sub, loc string) ([]string, error) {
	var out []string
	err := m.eachInLocation(ctx, sub, mlNamespace+"/workspaces", loc, func(v value.Value) {
		out = append(out, v.Field("id").Str())
	})
	return out, err
}

// workspaceQuotas reads the limits set for a workspace (an object from
// quota name segment to limit; Undefined when none).
func workspaceQuotas(ctx context.Context, tx store.Tx, wsKey string) (value.Value, error) {
	o, err := tx.GetObject(ctx, KindMLQuota, wsKey)
	if errors.Is(err, store.ErrNotFound) {
		return value.Value{}, nil
	} else if err != nil {
		return value.Value{}, err
	}
	return value.Parse(o.Body)
}

// updateQuotas sets workspace limits (QuotaUpdateParameters). Each item
// gets its status: Success, or why it was not set (an unknown family, a
// limit above the subscription's or below what the workspace's clusters
// keep allocated); the ones that succeed are stored together, with one
// activity-log event.
func (m *Manager) updateQuotas(ctx context.Context, r *Request, loc string) (value.Value, error) {
	body, err := m.parseBody(r)
	if err != nil {
		return value.Value{}, err
	}
	items := body.Field("value")
	if items.Kind() != value.Array || items.Len() == 0 {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "The request needs 'value', an array of quotas ({id, type, limit, unit}).")
	}
	if l := body.Field("location"); !l.IsNullish() && arm.NormalizeLocation(l.Str()) != loc {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "The body's location '%s' is not the location of the path, '%s'.", arm.Clip(l.Str(), 64), loc)
	}
	as, err := m.allocations(ctx, r.ID.SubscriptionID, loc)
	if err != nil {
		return value.Value{}, err
	}
	var out []any
	type put struct {
		ws    *arm.ID
		seg   string
		limit int64
	}
	var puts []put
	now := m.cfg.Now()
	for i, it := range items.Elems() {
		id, limit := it.Field("id"), it.Field("limit")
		if id.Kind() != value.String || !limit.IsNumber() || limit.Int() < 0 || float64(limit.Int()) != limit.Float() {
			return value.Value{}, arm.Errorf("InvalidRequestContent", "value[%d] needs 'id' (a workspace quota id) and 'limit' (a whole number of vCPUs, at least 0).", i)
		}
		status := "Success"
		qid, perr := arm.ParseID(id.Str())
		family, seg := "", ""
		var ws *arm.ID
		if perr == nil && len(qid.Parts) == 2 && qid.Trailing == "" && strings.EqualFold(qid.Parts[0].Namespace, mlNamespace) &&
			strings.EqualFold(qid.Parts[0].Type, "workspaces") && strings.EqualFold(qid.Parts[1].Type, "quotas") {
			ws = qid.Parent()
			family = familyOfQuota(qid.Parts[1].Name)
			_, seg = quotaName(family, "Dedicated")
		}
		switch {
		case ws == nil || !strings.EqualFold(ws.SubscriptionID, r.ID.SubscriptionID):
			return value.Value{}, arm.Errorf("InvalidRequestContent", "value[%d].id '%s' is not the quota id of a workspace of this subscription (.../workspaces/{name}/quotas/{family quota}).", i, arm.Clip(id.Str(), 300))
		case family == "":
			status = "InvalidVMFamilyName"
		case int(limit.Int()) > familyLimit(family):
			status = "InvalidQuotaExceedsSubscriptionLimit"
		default:
			kept := 0
			for _, a := range as {
				if a.family == family && a.priority == "Dedicated" && strings.EqualFold(a.workspace, ws.String()) {
					kept += max(a.minVCPUs, a.vCPUs)
				}
			}
			if int(limit.Int()) < kept {
				status = "InvalidQuotaBelowClusterMinimum"
			}
		}
		if status == "Success" {
			puts = append(puts, put{ws, seg, limit.Int()})
		}
		out = append(out, map[string]any{"id": id.Str(), "type": mlNamespace + "/workspaces/quotas", "limit": limit.Int(), "unit": "Count", "status": status})
	}
	op := m.opFor(r, r.ID, mlNamespace+"/locations/updateQuotas/action")
	err = m.st.Write(ctx, func(tx store.Tx) error {
		set := map[string]value.Value{} // by workspace key, as they are updated
		for _, p := range puts {
			k := p.ws.Key()
			cur, ok := set[k]
			if !ok {
				if _, err := tx.GetResource(ctx, k, false); errors.Is(err, store.ErrNotFound) {
					return notFound(p.ws)
				} else if err != nil {
					return err
				}
				var err error
				if cur, err = workspaceQuotas(ctx, tx, k); err != nil {
					return err
				}
				if cur.Kind() != value.Object {
					cur = value.ObjectValue()
				}
			}
			set[k] = cur.With(p.seg, value.IntValue(p.limit))
		}
		for k, v := range set {
			if err := tx.PutObject(ctx, &store.Object{Kind: KindMLQuota, Key: k, Body: []byte(v.JSON()), UpdatedAt: now}); err != nil {
				return err
			}
		}
		return tx.AppendEvents(ctx, activitylog.Event(op, activitylog.Succeeded, 200, m.cfg.NewID(), now, nil))
	})
	if err != nil {
		return value.Value{}, err
	}
	return jsonOf(map[string]any{"value": out}), nil
}

// OperationInfo is one entry of a provider's operations list.
type OperationInfo struct {
	// Name is {namespace}/{type}/read|write|delete or .../{action}/action.
	Name string
	// Resource is the type below the namespace; Verb what is done to it.
	Resource, Verb string
}

// Operations lists what mlgov serves of a namespace, as the provider's
// operations API names it: read, write and delete of each type, its
// actions and views, and the location-scoped APIs of the ML provider.
func (r *Registry) Operations(ns string) []OperationInfo {
	var out []OperationInfo
	add := func(typ, verb string) {
		_, rest, _ := strings.Cut(typ, "/")
		out = append(out, OperationInfo{Name: typ + "/" + verb, Resource: rest, Verb: verb})
	}
	for _, t := range r.Types() {
		if n, _, _ := strings.Cut(t, "/"); !strings.EqualFold(n, ns) {
			continue
		}
		spec, _ := r.Lookup(t)
		for _, v := range []string{"read", "write", "delete"} {
			add(spec.Type, v)
		}
		var names []string
		for _, a := range spec.Actions {
			names = append(names, a.Name+"/action")
		}
		for v := range spec.Views {
			names = append(names, v+"/read")
		}
		slices.Sort(names)
		for _, n := range names {
			add(spec.Type, n)
		}
	}
	if strings.EqualFold(ns, mlNamespace) {
		for _, v := range []string{"vmSizes/read", "usages/read", "quotas/read", "updateQuotas/action"} {
			add(mlNamespace+"/locations", v)
		}
	}
	return out
}
