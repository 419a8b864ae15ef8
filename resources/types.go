package resources

import (
	"context"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/store"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
)

// TypeSpec describes a resource type the manager serves.
type TypeSpec struct {
	// Type is the full type in canonical casing.
	Type string
	// APIVersions lists the accepted api-versions (nil: any well-formed).
	APIVersions []string
	// Tracked types have location and tags (location required on create).
	Tracked bool
	// Async types run create, update and delete as long-running operations.
	Async bool
	// Name validates the resource name (after the generic ARM rules).
	Name func(string) error
	// Validate checks a create/replace body (properties etc.).
	Validate func(body value.Value, create bool) error
	// Defaults completes a body on create or replace (server-set
	// properties); existing is Undefined on create.
	Defaults func(c *Ctx, body, existing value.Value) value.Value
	// ReadOnly types are made by their resource provider alone (a key's
	// versions, a deployment's operations): a PUT, PATCH or DELETE is
	// refused with OperationNotSupported and this message.
	ReadOnly string
	// DeleteReturnsBody answers a delete with the resource deleted (200),
	// as Azure does for policy assignments.
	DeleteReturnsBody bool
	// NoProvisioningState types have no properties.provisioningState
	// (Azure's policy resources).
	NoProvisioningState bool
	// CreatedOnUpdate answers 201 to a PUT that replaces the resource as
	// well (Azure's policy definitions and assignments; their SDK
	// accepts nothing else).
	CreatedOnUpdate bool
	// CreatedOK answers 200, not 201, to a PUT that creates the resource:
	// the REST specification lists 200 only (workspace connections and
	// private endpoint connections), and the SDKs refuse another status.
	CreatedOK bool
	// NoPatch types are written whole (PUT) only: a PATCH is 405.
	NoPatch bool
	// EmptyBody: a PUT may carry no body (taken as {}): Azure's client
	// sends none to move a subscription into a management group.
	EmptyBody bool
	// TenantLevel types are at the tenant, not in a subscription
	// (/providers/NS/type/name: management groups, subscription aliases).
	TenantLevel bool
	// ReadsStore is set for types whose hooks read other resources:
	// their writes are built in the write transaction only.
	ReadsStore bool
	// Build, when set, completes the stored resource after the envelope
	// and Defaults, and may refuse it; unlike Validate it gets the
	// request body as sent (for errors that point into it) and may read
	// other resources (c.Get; set ReadsStore).
	Build func(c *Ctx, obj, body, existing value.Value) (value.Value, error)
	// Actions are POST actions by lower-cased name.
	Actions map[string]*ActionSpec
	// Extension types hang off any resource ({id}/providers/NS/type/name).
	Extension bool
	// Generic is set for types mlgov stores without knowing them.
	Generic bool
	// GlobalLocation types may have the location "global" (besides the
	// regions).
	GlobalLocation bool
	// Secrets types keep secrets apart from the resource body: the keys
	// and passwords their list actions return, and the credentials a
	// write carries that GET never shows. They are one store object per
	// resource (kind KindSecrets, the resource's key), loaded with the
	// resource in an action's write transaction (Ctx.Secrets), replaced
	// with a write (Ctx.SetSecrets), and deleted with the resource.
	Secrets bool
	// Views are computed GETs below a resource ({id}/{view}) by
	// lower-cased name: lists and reports the resource provider derives
	// from the resource (a deployment's SKUs, a workspace's outbound
	// dependencies); nothing is stored under them.
	Views map[string]View
	// Mirrors lists the other resources a write of this type keeps in
	// step, and how (a workspace's outbound rules and its outboundRules
	// children are one set of rules): called in the persist stage with
	// the resource as it will be stored (Undefined when deleted) and as
	// it was.
	Mirrors func(c *Ctx, obj, old value.Value) []Mirror
	// ListAtScopeOnly: a list at a subscription holds the subscription's
	// own resources of the type only, not those of its resource groups
	// (deployments: listAtSubscriptionScope).
	ListAtScopeOnly bool
	// ScopeList, set on an extension type, makes its lists at a scope
	// ({scope}/providers/NS/type) list the resources of the type at,
	// above or below the scope (scopelist.go), with the $filter it
	// compiles; nil lists those directly at the scope.
	ScopeList func(filter string) (*ScopeFilter, error)
	// ScopeListType is the type a scope list lists when it is not Type
	// (Microsoft.Security/subAssessments lists the subAssessments of
	// Microsoft.Security/assessments).
	ScopeListType string
	// objects are the store object kinds kept per resource of the type
	// (by its key), deleted with it: KindSecrets for Secrets types, and
	// what the type's own APIs keep (a workspace's quotas).
	objects []string
	// cleanup deletes, before the objects, what else is the resource's
	// (by its key): a job's output files.
	cleanup func(ctx context.Context, tx store.Tx, key string) error
}

// View computes the answer of a GET below a resource from the resource.
type View func(c *Ctx, resource value.Value) (value.Value, error)

// KindSecrets is the store object kind of a resource's secrets.
const KindSecrets = "secrets"

// ActionSpec is a POST action.
type ActionSpec struct {
	Name  string
	Async bool
	// Run computes the new resource body (or Undefined to leave it) and
	// the response body (Undefined: none). It runs inside the write
	// transaction for sync actions, at completion for async ones.
	Run func(c *Ctx, resource value.Value, body value.Value) (newResource value.Value, response value.Value, err error)
	// During sets the resource while the async action runs (e.g.
	// state Stopping); nil leaves it.
	During func(resource value.Value) value.Value
	// NoContent answers a synchronous action that returns nothing with
	// 204 (a deployment's cancel), not 200.
	NoContent bool
	// Remirror runs the type's mirrors after a synchronous action, with
	// the resource as it is: what they keep in step and was changed or
	// removed since is restored (a workspace's resyncKeys).
	Remirror bool
}

// Ctx is what type hooks may use: the resource's ID, the time and an ID
// generator (both injected), and the tenant.
type Ctx struct {
	ID       *arm.ID
	Now      time.Time
	NewID    func() string
	TenantID string
	// Context is the request's context.
	Context context.Context
	// APIVersion is the request's api-version.
	APIVersion string
	// Principal is the caller.
	Principal activitylog.Caller
	// ScoringURL is where the scoring gateway is served (Config.ScoringURL).
	ScoringURL string
	// Get reads another resource by key in the write transaction (nil,
	// nil when it does not exist); only for ReadsStore types.
	Get func(key string) (*store.Resource, error)
	// Children lists the resources of type typ directly below parent,
	// in the write transaction; only for ReadsStore types (and in
	// Mirrors).
	Children func(parent *arm.ID, typ string) ([]*store.Resource, error)
	// Body is the request's body as sent (Undefined when none): what
	// an action's Mirrors carry out (the findings an assessment's
	// importFindings records as its sub-assessments).
	Body value.Value
	// Secrets are the resource's stored secrets, an object (Undefined
	// when none are stored); only in actions of Secrets types.
	Secrets value.Value
	// SetSecrets replaces the resource's secrets with the write (an
	// empty object removes them all); only for Secrets types.
	SetSecrets func(value.Value)
	// cmk is the cryptography of customer-managed keys (nil: none).
	cmk KeyWrapper
}

// Add adds (or replaces) a type: the types of packages that extend the
// control plane (the Microsoft.Authorization policy types).
func (r *Registry) Add(s *TypeSpec) { r.add(s) }

// AddMirrors adds mirrors to a type served (its writes keep more
// resources in step: package access keeps a workspace identity's role
// assignments); false when the type is not served.
func (r *Registry) AddMirrors(typ string, f func(c *Ctx, obj, old value.Value) []Mirror) bool {
	s, ok := r.types[arm.KeyOf(typ)]
	if !ok {
		return false
	}
	prev := s.Mirrors
	if prev == nil {
		s.Mirrors = f
		return true
	}
	s.Mirrors = func(c *Ctx, obj, old value.Value) []Mirror { return append(prev(c, obj, old), f(c, obj, old)...) }
	return true
}

// Registry maps types to specs; unknown provider types are generic.
type Registry struct {
	types map[string]*TypeSpec
}

// Lookup returns the spec of a full type (case-insensitive) and whether
// mlgov knows it; unknown types get a generic spec.
func (r *Registry) Lookup(typ string) (*TypeSpec, bool) {
	if s, ok := r.types[arm.KeyOf(typ)]; ok {
		return s, true
	}
	return &TypeSpec{Type: typ, Generic: true, Tracked: false, GlobalLocation: true}, false
}

// ServesNamespace reports whether some known type is in namespace ns
// (compared as names are, arm.KeyOf).
func (r *Registry) ServesNamespace(ns string) bool {
	k := arm.KeyOf(ns) + "/"
	for t := range r.types {
		if strings.HasPrefix(t, k) {
			return true
		}
	}
	return false
}

// Namespaces lists the namespaces of the known types.
func (r *Registry) Namespaces() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range r.types {
		ns, _, _ := strings.Cut(s.Type, "/")
		if !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

// Types lists the known types.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.types))
	for _, s := range r.types {
		out = append(out, s.Type)
	}
	sort.Strings(out)
	return out
}

func (r *Registry) add(s *TypeSpec) {
	if s.Secrets && !slices.Contains(s.objects, KindSecrets) {
		s.objects = append(s.objects, KindSecrets)
	}
	r.types[arm.KeyOf(s.Type)] = s
}

var apiVersionRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-(preview|alpha|beta|rc|privatepreview))?$`)

// firstAPIVersion is the earliest date an api-version can have: ARM
// resource providers date from 2014 (the oldest versions still listed,
// e.g. Microsoft.Resources 2014-04-01-preview; a year of margin).
const firstAPIVersion = "2013-01-01"

// ValidAPIVersion reports whether v has ARM's api-version form:
// YYYY-MM-DD, a real calendar date, with an optional -preview, -alpha,
// -beta, -rc or -privatepreview suffix.
func ValidAPIVersion(v string) bool {
	if !apiVersionRE.MatchString(v) {
		return false
	}
	_, err := time.Parse(time.DateOnly, v[:10])
	return err == nil
}

var mlNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$`) }) // compiled on first use: the CLI starts faster

func mlName(kind string) func(string) error {
	return func(n string) error {
		if !mlNameRE().MatchString(n) {
			return arm.Errorf("InvalidResourceName", "The %s name '%s' is invalid: it must be 3 to 33 characters, start with a letter or digit, and contain only letters, digits, '_' and '-'.", kind, n)
		}
		return nil
	}
}

// mlAPIVersions are the Microsoft.MachineLearningServices api-versions
// accepted (stable and preview versions of the current SDKs).
var mlAPIVersions = []string{
	"2021-07-01", "2022-05-01", "2022-10-01", "2023-04-01", "2023-10-01", "2024-04-01", "2024-10-01",
	"2025-01-01-preview", "2025-04-01", "2025-06-01", "2025-09-01", "2025-12-01",
	"2024-01-01-preview", "2024-07-01-preview", "2024-10-01-preview", "2025-04-01-preview", "2025-07-01-preview",
}

// NewRegistry returns the registry of the types mlgov serves.
func NewRegistry() *Registry {
	r := &Registry{types: map[string]*TypeSpec{}}
	ml := "Microsoft.MachineLearningServices/"
	r.add(&TypeSpec{Type: ml + "workspaces", APIVersions: mlAPIVersions, Tracked: true, Async: true, Name: mlName("workspace"),
		Validate: validateWorkspace, Defaults: workspaceDefaults, Actions: workspaceActions(), Secrets: true, Mirrors: workspaceRuleMirrors,
		Views: map[string]View{"outboundnetworkdependenciesendpoints": workspaceOutbound, "privatelinkresources": workspacePrivateLinks, "features": workspaceFeatures}})
	r.add(&TypeSpec{Type: ml + "workspaces/computes", APIVersions: mlAPIVersions, Tracked: true, Async: true, Name: computeName,
		Validate: validateCompute, Defaults: computeDefaults, Build: computeBuild, Actions: computeActions(), Secrets: true, ReadsStore: true})
	r.add(&TypeSpec{Type: ml + "workspaces/jobs", APIVersions: mlAPIVersions, Validate: validateJob, Defaults: jobDefaults,
		Actions: map[string]*ActionSpec{"cancel": {Name: "cancel", Async: true, Run: jobCancel, During: jobCancelling}}})
	r.add(&TypeSpec{Type: ml + "workspaces/onlineEndpoints", APIVersions: mlAPIVersions, Tracked: true, Async: true, Name: endpointName,
		Validate: validateEndpoint, Defaults: endpointDefaults, Secrets: true, Actions: map[string]*ActionSpec{
			"listkeys":       secretAction("listKeys", endpointKeys),
			"regeneratekeys": {Name: "regenerateKeys", Run: regenerateEndpointKeys},
			"token":          secretAction("token", endpointToken),
		}})
	r.add(&TypeSpec{Type: ml + "workspaces/onlineEndpoints/deployments", APIVersions: mlAPIVersions, Tracked: true, Async: true, Name: endpointName,
		Validate: requireProperties, Defaults: deploymentDefaults,
		Actions: map[string]*ActionSpec{"getlogs": secretAction("getLogs", deploymentLogs)},
		Views:   map[string]View{"skus": deploymentSkus}})
	r.add(&TypeSpec{Type: ml + "workspaces/batchEndpoints", APIVersions: mlAPIVersions, Tracked: true, Async: true, Name: endpointName,
		Validate: requireProperties, Defaults: endpointDefaults, Secrets: true,
		Actions: map[string]*ActionSpec{"listkeys": secretAction("listkeys", batchEndpointKeys)}})
	r.add(&TypeSpec{Type: ml + "workspaces/batchEndpoints/deployments", APIVersions: mlAPIVersions, Tracked: true, Async: true, Name: endpointName,
		Validate: requireProperties, Defaults: deploymentDefaults})
	r.add(&TypeSpec{Type: ml + "workspaces/datastores", APIVersions: mlAPIVersions, Validate: requireProperties, Defaults: plainDefaults,
		Build: datastoreBuild, Secrets: true, Actions: map[string]*ActionSpec{"listsecrets": secretAction("listSecrets", datastoreSecrets)}})
	r.add(&TypeSpec{Type: ml + "workspaces/connections", APIVersions: mlAPIVersions, Name: mlName("connection"), Validate: requireProperties, Defaults: plainDefaults, CreatedOK: true,
		Build: connectionBuild, Secrets: true, Actions: map[string]*ActionSpec{"listsecrets": secretAction("listsecrets", connectionSecrets)}})
	r.add(&TypeSpec{Type: ml + "workspaces/outboundRules", APIVersions: mlAPIVersions, Name: mlName("outbound rule"),
		Validate: validateOutboundRuleResource, Defaults: outboundRuleDefaults, Build: outboundRuleBuild, ReadsStore: true, Mirrors: ruleWorkspaceMirror, CreatedOK: true})
	r.add(&TypeSpec{Type: ml + "workspaces/managedNetworks", APIVersions: mlAPIVersions, Async: true, Validate: requireProperties, Defaults: plainDefaults})
	r.add(&TypeSpec{Type: ml + "workspaces/privateEndpointConnections", APIVersions: mlAPIVersions, Validate: requireProperties, Defaults: plainDefaults, CreatedOK: true})
	for _, a := range []struct {
		typ                         string
		container, version, oneOfIn []string // required properties; one of these in a version
	}{
		{"codes", nil, nil, nil}, {"components", nil, nil, []string{"componentSpec"}},
		{"data", []string{"dataType"}, []string{"dataType", "dataUri"}, nil},
		{"environments", nil, nil, []string{"image", "build"}}, {"models", nil, nil, nil},
	} {
		r.add(&TypeSpec{Type: ml + "workspaces/" + a.typ, APIVersions: mlAPIVersions, Name: assetName("name"),
			Validate: validateAsset(a.container), Defaults: plainDefaults})
		d := plainDefaults
		if a.typ == "environments" {
			d = environmentDefaults
		}
		r.add(&TypeSpec{Type: ml + "workspaces/" + a.typ + "/versions", APIVersions: mlAPIVersions, Name: assetName("version"),
			Validate: validateAsset(a.version, a.oneOfIn...), Defaults: d, Build: versionBuild})
	}
	r.add(&TypeSpec{Type: ml + "workspaces/schedules", APIVersions: mlAPIVersions, Async: true, Name: assetName("schedule name"),
		Validate: validateSchedule, Defaults: scheduleDefaults})
	r.add(&TypeSpec{Type: ml + "registries", APIVersions: mlAPIVersions, Tracked: true, Async: true, Validate: requireProperties, Defaults: plainDefaults,
		Actions: map[string]*ActionSpec{"removeregions": {Name: "removeRegions", Run: registryRemoveRegions}}})
	for _, t := range []string{
		"Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults", "Microsoft.ContainerRegistry/registries",
		"Microsoft.Insights/components", "Microsoft.Network/privateEndpoints", "Microsoft.Network/privateDnsZones",
		"Microsoft.Network/virtualNetworks", "Microsoft.ManagedIdentity/userAssignedIdentities",
	} {
		r.add(&TypeSpec{Type: t, Tracked: true, Defaults: plainDefaults})
	}
	r.add(&TypeSpec{Type: "Microsoft.Network/privateDnsZones/virtualNetworkLinks", Tracked: true, GlobalLocation: true, Defaults: plainDefaults})
	r.types[arm.KeyOf("Microsoft.Network/privateDnsZones")].GlobalLocation = true
	r.add(&TypeSpec{Type: "Microsoft.Network/virtualNetworks/subnets", Defaults: plainDefaults})
	r.add(&TypeSpec{Type: "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", Defaults: plainDefaults})
	r.add(&TypeSpec{Type: "Microsoft.Insights/diagnosticSettings", Extension: true, GlobalLocation: true, Defaults: plainDefaults})
	r.add(lockSpec())
	r.types["microsoft.managedidentity/userassignedidentities"].Defaults = uaiDefaults
	ws := r.types[arm.KeyOf(ml+"workspaces")]
	ws.objects = append(ws.objects, KindMLQuota, KindWorkspaceKey)
	for _, s := range vaultKeySpecs() {
		r.add(s)
	}
	job := r.types[arm.KeyOf(ml+"workspaces/jobs")]
	job.objects = append(job.objects, KindJobMetrics, KindJobLogs, KindJobOutputs)
	job.cleanup = deleteJobOutputs
	r.networkValidation() // network.go: what the inbound checks read
	return r
}
