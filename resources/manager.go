package resources

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// Request is one ARM request as the manager sees it.
type Request struct {
	Method      string
	Path        string
	ID          *arm.ID
	APIVersion  string
	Query       url.Values
	Body        []byte
	IfMatch     string
	IfNoneMatch string
	Caller      activitylog.Caller
	// CorrelationID, ClientRequestID and ClientIP come from headers.
	CorrelationID   string
	ClientRequestID string
	ClientIP        string
	// DryRun runs a PUT's stages up to validating admission and writes
	// nothing: the answer is the resource as it would be stored, or the
	// refusal (a deployment's preflight).
	DryRun bool

	// items, when set, keeps the items of a list the caller may read
	// (authorize.go).
	items *itemFilter
}

// Response is what a request did, for the transport to render: the HTTP
// status, the headers, the URLs a client polls and a list's nextLink are
// the transport's (api). Errors are returned as *arm.Error instead.
type Response struct {
	Outcome Outcome
	// Body is the JSON body (nil: none).
	Body []byte
	// List marks a list page: Items are its items' JSON, written one
	// after the other without joining them, and Next is the cursor
	// ($skipToken) of the next page ("" on the last).
	List  bool
	Items [][]byte
	Next  string
	// NextParam is the query parameter Next goes in ("" : $skipToken);
	// OData pages name their link @odata.nextLink (PolicyInsights).
	NextParam string
	OData     bool
	// LocationPath, when set, is the Location to poll (a path under the
	// public URL) of an Accepted outcome without Operation.
	LocationPath string
	// ETag is the entity tag of the resource returned ("": none).
	ETag string
	// Operation is the long-running operation the client polls (nil:
	// none). An Accepted outcome without one is an operation result
	// still running: the client polls the URL it asked.
	Operation *AsyncOperation
}

// Outcome is what a request did.
type Outcome uint8

const (
	OK        Outcome = iota // done; the body (if any) is the result
	Created                  // a resource was created
	Accepted                 // a long-running operation runs
	NoContent                // done, nothing to return
)

// AsyncOperation names a long-running operation: the transport builds
// its Azure-AsyncOperation (and, for Accepted, Location) URLs,
// /subscriptions/{SubscriptionID}/providers/{Namespace}/locations/{Location}/operationStatuses/{ID}.
type AsyncOperation struct {
	ID, SubscriptionID, Namespace, Location string
}

// Config configures a Manager.
type Config struct {
	Now      func() time.Time
	NewID    func() string
	TenantID string
	// Tree is the management-group hierarchy in force (Hierarchy.Tree;
	// nil: none): the lists at a scope hold what is at the groups above.
	Tree func() *arm.Tree
	// LROLatency is how long long-running operations stay in progress.
	LROLatency time.Duration
	// PageSize is the default list page size.
	PageSize int
	// PageBytes bounds a list page in bytes as well (default 4 MiB): a
	// page ends after the item that reaches it, so it holds at least one
	// item and at most PageBytes plus one item (ARM pages by nextLink
	// either way).
	PageBytes int
	// Locations are the locations resources may be created in (short
	// names); nil: the Azure public-cloud regions (arm.PublicLocations).
	Locations []string
	// ActivityRetention is how long activity-log events are kept:
	// PruneEvents deletes older ones. 0 keeps them forever; mlgov serve
	// defaults to DefaultActivityRetention.
	ActivityRetention time.Duration
	// GenericProviders stores resources of types mlgov does not serve
	// (any namespace, any type) as they are, without validation; false
	// refuses to create, update or act on them (docs/security.md).
	GenericProviders bool
	// Authorizer decides every write (nil: AllowAll).
	Authorizer Authorizer
	// Mutating and Validating are the admission chains of the write
	// path, run in order (pipeline.go).
	Mutating   []MutatingAdmission
	Validating []ValidatingAdmission
	// Committers are told of every committed write, in order (the
	// notify stage: the change feed's wake-up, the policy cache); they
	// must not block.
	Committers []Committer
	// Sealer seals the resources' secrets at rest (TypeSpec.Secrets);
	// nil stores them as they are.
	Sealer Sealer
	// ScoringURL is https://host[:port] of the scoring gateway: online
	// endpoints' scoringUri is under it (scoring.go); "" leaves Azure's
	// form (https://{name}.{region}.inference.ml.azure.com/score).
	ScoringURL string
}

// Manager implements ARM resource-manager semantics over a store.
type Manager struct {
	st        store.Store
	reg       *Registry
	cfg       Config
	locations map[string]bool // cfg.Locations, normalized
	authz     Authorizer
	locks     lockIndex // management locks by subscription (locks.go)
	// unwrapped caches workspaces' unwrapped data keys (cmk.go).
	unwrapped unwrapCache
}

// New returns a Manager.
func New(st store.Store, reg *Registry, cfg Config) *Manager {
	if cfg.PageSize <= 0 {
		cfg.PageSize = 100
	}
	if cfg.PageBytes <= 0 {
		cfg.PageBytes = 4 << 20
	}
	if cfg.Locations == nil {
		cfg.Locations = arm.PublicLocations()
	}
	locs := make(map[string]bool, len(cfg.Locations))
	for _, l := range cfg.Locations {
		locs[arm.NormalizeLocation(l)] = true
	}
	authz := cfg.Authorizer
	if authz == nil {
		authz = AllowAll{}
	}
	return &Manager{st: st, reg: reg, cfg: cfg, locations: locs, authz: authz}
}

// Registry returns the type registry.
func (m *Manager) Registry() *Registry { return m.reg }

// Locations returns the locations resources may be created in.
func (m *Manager) Locations() []string { return slices.Clone(m.cfg.Locations) }

const (
	typeSubscription  = "Microsoft.Resources/subscriptions"
	typeResourceGroup = "Microsoft.Resources/resourceGroups"
)

// EnsureSubscription creates a subscription if it does not exist.
func (m *Manager) EnsureSubscription(ctx context.Context, subID, displayName string) error {
	id := &arm.ID{SubscriptionID: subID}
	return m.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetResource(ctx, id.Key(), false); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		body := value.ObjectValue(
			value.Member{Key: "id", Value: str(id.String())},
			value.Member{Key: "subscriptionId", Value: str(subID)},
			value.Member{Key: "tenantId", Value: str(m.cfg.TenantID)},
			value.Member{Key: "displayName", Value: str(displayName)},
			value.Member{Key: "state", Value: str("Enabled")},
			value.Member{Key: "subscriptionPolicies", Value: value.ObjectValue(
				value.Member{Key: "locationPlacementId", Value: str("Public_2014-09-01")},
				value.Member{Key: "quotaId", Value: str("mlgov")},
				value.Member{Key: "spendingLimit", Value: str("Off")})},
			value.Member{Key: "authorizationSource", Value: str("RoleBased")},
		)
		now := m.cfg.Now()
		return tx.PutResource(ctx, &store.Resource{Key: id.Key(), ID: id.String(), TypeKey: arm.KeyOf(typeSubscription),
			SubscriptionKey: arm.KeyOf(subID), Body: []byte(body.JSON()), ETag: m.cfg.NewID(), CreatedAt: now, UpdatedAt: now})
	})
}

// Handle serves one ARM request.
func (m *Manager) Handle(ctx context.Context, r *Request) (*Response, error) {
	if _, op := operationPath(r.ID); (r.Method == "GET" || r.Method == "HEAD") && !op {
		// An operation's status decides who reads it itself (lro.go).
		return m.authorizeRead(ctx, r, func() (*Response, error) { return m.handle(ctx, r) })
	}
	return m.handle(ctx, r)
}

func (m *Manager) handle(ctx context.Context, r *Request) (*Response, error) {
	id := r.ID
	switch {
	case id.SubscriptionID == "" && len(id.Parts) == 0 && strings.EqualFold(id.Trailing, "subscriptions"):
		if r.Method != "GET" {
			return nil, methodNotAllowed(r)
		}
		return m.list(ctx, r, store.ListQuery{TypeKey: arm.KeyOf(typeSubscription)})
	case id.SubscriptionID == "" && !m.tenantLevel(id):
		return nil, arm.Errorf("InvalidResourceId", "The path '%s' is not a subscription, resource group or resource path.", r.Path)
	}
	if err := m.checkAPIVersion(r, nil); err != nil {
		return nil, err
	}
	if id.IsSubscription() && id.Trailing == "" {
		if r.Method != "GET" {
			return nil, methodNotAllowed(r)
		}
		return m.getOne(ctx, id, true)
	}
	if ok, resp, err := m.tagsRequest(ctx, r); ok {
		return resp, err
	}
	if ok, resp, err := m.scopeListRequest(ctx, r); ok {
		return resp, err
	}
	if ok, resp, err := m.operationStatus(ctx, r); ok {
		return resp, err
	}
	if ok, resp, err := m.locationAPI(ctx, r); ok {
		return resp, err
	}
	if id.Trailing != "" {
		return m.collectionOrAction(ctx, r)
	}
	switch r.Method {
	case "GET":
		if spec, _ := m.spec(id); id.IsResource() {
			if err := m.checkAPIVersion(r, spec); err != nil {
				return nil, err
			}
		}
		return m.getInSubscription(ctx, id)
	case "PUT":
		return m.put(ctx, r)
	case "PATCH":
		return m.patch(ctx, r)
	case "DELETE":
		return m.delete(ctx, r)
	case "HEAD":
		// checkExistence(ById): the api-version is checked as for a GET.
		if spec, _ := m.spec(id); id.IsResource() {
			if err := m.checkAPIVersion(r, spec); err != nil {
				return nil, err
			}
		}
		if _, err := m.getOne(ctx, id, false); err != nil {
			return nil, err
		}
		return &Response{Outcome: NoContent}, nil
	}
	return nil, methodNotAllowed(r)
}

func methodNotAllowed(r *Request) error {
	return arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on '%s'.", r.Method, r.Path)
}

// spec returns the type spec of the resource the request names.
func (m *Manager) spec(id *arm.ID) (*TypeSpec, bool) {
	switch {
	case id.IsResourceGroup():
		return &TypeSpec{Type: typeResourceGroup, Tracked: true, Async: false}, true
	case id.IsSubscription():
		return &TypeSpec{Type: typeSubscription}, true
	}
	return m.reg.Lookup(id.Type())
}

// checkAPIVersion validates the api-version of a request for a type (nil:
// format only).
func (m *Manager) checkAPIVersion(r *Request, spec *TypeSpec) error {
	if r.APIVersion == "" {
		return arm.Errorf("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	}
	if !ValidAPIVersion(r.APIVersion) {
		return arm.Errorf("InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are of the form 'yyyy-mm-dd' with an optional '-preview', '-alpha', '-beta', '-rc' or '-privatepreview' suffix.", arm.Clip(r.APIVersion, 64))
	}
	if spec != nil && len(spec.APIVersions) == 0 && r.APIVersion[:10] < firstAPIVersion {
		return arm.Errorf("InvalidApiVersionParameter", "The api-version '%s' is invalid: it predates Azure Resource Manager (api-versions date from %s on).", r.APIVersion, firstAPIVersion)
	}
	if spec != nil && len(spec.APIVersions) > 0 {
		for _, v := range spec.APIVersions {
			if strings.EqualFold(v, r.APIVersion) {
				return nil
			}
		}
		return arm.Errorf("NoRegisteredProviderFound", "No registered resource provider found for location '%s' and API version '%s' for type '%s'. The supported api-versions are '%s'.",
			"global", r.APIVersion, spec.Type[strings.IndexByte(spec.Type, '/')+1:], strings.Join(spec.APIVersions, ", "))
	}
	return nil
}

func (m *Manager) requireSubscription(ctx context.Context, sub string) error {
	if sub == "" { // a tenant-level path (tenantLevel): no subscription
		return nil
	}
	return m.st.Read(ctx, func(tx store.Tx) error {
		_, err := tx.GetResource(ctx, arm.KeyOf("/subscriptions/"+sub), false)
		if errors.Is(err, store.ErrNotFound) {
			return arm.Errorf("SubscriptionNotFound", "The subscription '%s' could not be found.", sub)
		}
		return err
	})
}

func notFound(id *arm.ID) error {
	switch {
	case id.IsSubscription():
		return arm.Errorf("SubscriptionNotFound", "The subscription '%s' could not be found.", id.SubscriptionID)
	case id.IsResourceGroup():
		return arm.Errorf("ResourceGroupNotFound", "Resource group '%s' could not be found.", id.ResourceGroup)
	}
	return arm.Errorf("ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", id.Type(), id.FullName(), id.ResourceGroup)
}

// getOne returns one stored resource.
func (m *Manager) getOne(ctx context.Context, id *arm.ID, isSub bool) (*Response, error) {
	return m.readOne(ctx, id, false)
}

// getInSubscription is getOne after checking, in the same read
// transaction, that the subscription exists (requireSubscription): a GET
// costs one transaction.
func (m *Manager) getInSubscription(ctx context.Context, id *arm.ID) (*Response, error) {
	return m.readOne(ctx, id, true)
}

// readOne reads one resource, after its subscription if checkSub.
func (m *Manager) readOne(ctx context.Context, id *arm.ID, checkSub bool) (*Response, error) {
	// One committed state for the resource, its subscription and its
	// resource group (for the right NotFound); usually from the store's
	// cache, without a transaction.
	keys := []string{id.Key(), subscriptionKey(id)}
	var rg *arm.ID
	if id.ResourceGroup != "" && !id.IsResourceGroup() {
		rg = &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}
		keys = append(keys, rg.Key())
	}
	rs, err := store.GetResources(ctx, m.st, keys...)
	if err != nil {
		return nil, err
	}
	switch {
	case checkSub && rs[1] == nil && id.SubscriptionID != "":
		return nil, arm.Errorf("SubscriptionNotFound", "The subscription '%s' could not be found.", id.SubscriptionID)
	case rs[0] == nil && rg != nil && rs[2] == nil:
		return nil, notFound(rg)
	case rs[0] == nil:
		return nil, notFound(id)
	}
	return &Response{Body: rs[0].Body, ETag: rs[0].ETag}, nil
}

// matchETag implements If-Match / If-None-Match for an existing (or not)
// resource.
func matchETag(r *Request, existing *store.Resource) error {
	if r.IfNoneMatch != "" {
		if strings.TrimSpace(r.IfNoneMatch) == "*" && existing != nil {
			return arm.Errorf("PreconditionFailed", "The resource already exists and If-None-Match is '*'.")
		}
		if existing != nil && etagIn(r.IfNoneMatch, existing.ETag) {
			return arm.Errorf("PreconditionFailed", "The resource's ETag matches If-None-Match.")
		}
	}
	if r.IfMatch != "" {
		if existing == nil {
			return arm.Errorf("PreconditionFailed", "The resource does not exist, so If-Match '%s' cannot match.", r.IfMatch)
		}
		if strings.TrimSpace(r.IfMatch) != "*" && !etagIn(r.IfMatch, existing.ETag) {
			return arm.Errorf("PreconditionFailed", "The ETag in If-Match does not match the resource's current ETag.")
		}
	}
	return nil
}

func etagIn(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		t = strings.Trim(t, `"`)
		if t == etag {
			return true
		}
	}
	return false
}

// opFor builds the activity-log description of a request.
func (m *Manager) opFor(r *Request, id *arm.ID, opName string) activitylog.Op {
	return activitylog.Op{
		OperationName: opName, ResourceID: id.String(), ResourceType: typeOf(id),
		SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup,
		CorrelationID: r.CorrelationID, OperationID: m.cfg.NewID(), Method: r.Method,
		ClientRequestID: r.ClientRequestID, ClientIP: r.ClientIP, Caller: r.Caller,
	}
}

func typeOf(id *arm.ID) string {
	if id.IsResourceGroup() {
		return typeResourceGroup
	}
	return id.Type()
}

// operationName returns {type}/write|delete or {type}/{action}/action.
func operationName(typ, verb string) string { return typ + "/" + verb }

// RecordFailure logs the start and failed end events of a write, delete
// or action that was refused (its own transaction: nothing else was
// written).
func (m *Manager) RecordFailure(ctx context.Context, r *Request, status int, cause error) {
	if r.Method == "GET" || r.Method == "HEAD" || r.ID == nil || r.ID.SubscriptionID == "" {
		return
	}
	verb := map[string]string{"PUT": "write", "PATCH": "write", "DELETE": "delete"}[r.Method]
	typ := typeOf(r.ID)
	if r.Method == "POST" && r.ID.Trailing != "" {
		verb = r.ID.Trailing + "/action"
	}
	if verb == "" {
		return
	}
	op := m.opFor(r, tagsScopeOf(r.ID), operationName(typ, verb))
	now := m.cfg.Now()
	props := map[string]string{}
	var ae *arm.Error
	if errors.As(cause, &ae) {
		props["statusMessage"] = fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, ae.Code, ae.Message)
	}
	_ = m.st.Write(ctx, func(tx store.Tx) error {
		return tx.AppendEvents(ctx,
			activitylog.Event(op, activitylog.Started, 0, m.cfg.NewID(), now, nil),
			activitylog.Event(op, activitylog.Failed, status, m.cfg.NewID(), now, props))
	})
}

// envelope validates the common envelope of a PUT body and builds the
// stored representation (identity, location, tags, systemData, ...).
func (m *Manager) envelope(r *Request, spec *TypeSpec, body value.Value, existing value.Value, id *arm.ID, now time.Time) (value.Value, error) {
	if body.Kind() != value.Object {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "The request content must be a JSON object.")
	}
	out := value.ObjectValue()
	storedID := id.String()
	if !existing.IsUndefined() {
		storedID = existing.Field("id").Str()
	}
	out = out.With("id", str(storedID))
	out = out.With("name", str(id.Name()))
	out = out.With("type", str(spec.Type))
	loc := body.Field("location")
	if !loc.IsNullish() && loc.Kind() != value.String {
		e := arm.Errorf("InvalidResourceLocation", "The location must be a string, not %s.", loc.Kind())
		e.Target = "location"
		return value.Value{}, e
	}
	if loc.Kind() == value.String {
		if err := m.checkLocation(spec, loc.Str(), existing.IsUndefined()); err != nil {
			return value.Value{}, err
		}
	}
	if spec.Tracked {
		if loc.Kind() != value.String || strings.TrimSpace(loc.Str()) == "" {
			if existing.IsUndefined() {
				return value.Value{}, arm.Errorf("LocationRequired", "The location property is required for this definition.")
			}
			loc = existing.Field("location")
		}
		nl := arm.NormalizeLocation(loc.Str())
		if !existing.IsUndefined() && existing.Field("location").Str() != "" && existing.Field("location").Str() != nl {
			return value.Value{}, arm.Errorf("InvalidResourceLocation", "The resource '%s' already exists in location '%s'; a resource cannot be moved to location '%s'.", id.Name(), existing.Field("location").Str(), nl)
		}
		out = out.With("location", str(nl))
	} else if loc.Kind() == value.String {
		out = out.With("location", str(arm.NormalizeLocation(loc.Str())))
	}
	if tags, ok := body.Get("tags"); ok && tags.Kind() != value.Null {
		if err := validateTags(tags); err != nil {
			return value.Value{}, err
		}
		out = out.With("tags", tags)
	} else if spec.Tracked {
		out = out.With("tags", value.ObjectValue())
	}
	for _, k := range []string{"sku", "kind", "plan", "zones", "managedBy", "extendedLocation"} {
		if v, ok := body.Get(k); ok && v.Kind() != value.Null {
			out = out.With(k, v)
		}
	}
	if idv, ok := body.Get("identity"); ok && idv.Kind() != value.Null {
		ident, err := m.identity(idv, existing.Field("identity"))
		if err != nil {
			return value.Value{}, err
		}
		out = out.With("identity", ident)
	}
	props := body.Field("properties")
	if props.IsUndefined() || props.Kind() == value.Null {
		props = value.ObjectValue()
	}
	if props.Kind() != value.Object {
		return value.Value{}, arm.Errorf("InvalidRequestContent", "'properties' must be a JSON object.")
	}
	out = out.With("properties", props.Without("provisioningState"))
	who, whoType := r.Caller.Name, callerType(r.Caller)
	sd := value.ObjectValue(
		value.Member{Key: "createdBy", Value: str(who)},
		value.Member{Key: "createdByType", Value: str(whoType)},
		value.Member{Key: "createdAt", Value: timestamp(now)})
	if e := existing.Field("systemData"); e.Kind() == value.Object {
		sd = value.ObjectValue(
			value.Member{Key: "createdBy", Value: e.Field("createdBy")},
			value.Member{Key: "createdByType", Value: e.Field("createdByType")},
			value.Member{Key: "createdAt", Value: e.Field("createdAt")})
	}
	sd = sd.With("lastModifiedBy", str(who)).With("lastModifiedByType", str(whoType)).With("lastModifiedAt", timestamp(now))
	out = out.With("systemData", sd)
	return out, nil
}

// checkServed refuses writes to types mlgov does not serve. A namespace
// mlgov implements (one it serves types of, or one of ownNamespaces)
// refuses its unknown types always, with InvalidResourceType: storing them
// would answer 201 for something that did not happen (a policy assignment
// never enforced, a deployment never run). Another namespace is
// NoRegisteredProviderFound unless Config.GenericProviders stores it.
func (m *Manager) checkServed(r *Request, spec *TypeSpec) error {
	if !spec.Generic {
		return nil
	}
	typ := spec.Type
	ns, rest, _ := strings.Cut(typ, "/")
	if m.reg.ServesNamespace(ns) || ownNamespace(ns) {
		return arm.Errorf("InvalidResourceType", "The resource type '%s' could not be found in the namespace '%s' for api version '%s': mlgov implements this namespace and not this type (it is not stored as a generic resource, even with --generic-providers).",
			arm.Clip(rest, 64), arm.Clip(ns, 64), arm.Clip(r.APIVersion, 64))
	}
	if m.cfg.GenericProviders {
		return nil
	}
	const hint = " mlgov stores resources of types it does not serve only when started with --generic-providers."
	return arm.Errorf("NoRegisteredProviderFound", "No registered resource provider found for location '%s' and API version '%s' for type '%s' of namespace '%s'. The namespaces served are '%s'."+hint,
		arm.GlobalLocation, arm.Clip(r.APIVersion, 64), arm.Clip(rest, 64), arm.Clip(ns, 64), strings.Join(m.reg.Namespaces(), ", "))
}

// ownNamespaces are the namespaces of ARM itself and of governance that
// mlgov implements (or will) beside the ones it serves types of: never
// stored generically.
var ownNamespaces = []string{"Microsoft.Authorization", "Microsoft.PolicyInsights", "Microsoft.Resources", "Microsoft.Management"}

func ownNamespace(ns string) bool {
	for _, o := range ownNamespaces {
		if arm.EqualName(o, ns) {
			return true
		}
	}
	return false
}

// checkLocation checks a location given in a body: its length always;
// on create, that it is a location mlgov serves, or "global" for the
// types that live there (an existing resource's location cannot change,
// and is not re-checked against today's list).
func (m *Manager) checkLocation(spec *TypeSpec, loc string, create bool) error {
	if len(loc) > arm.MaxLocationLength {
		e := arm.Errorf("InvalidResourceLocation", "The location '%s' is not valid: a location name has at most %d characters, this one has %d.", arm.Clip(loc, 64), arm.MaxLocationLength, len(loc))
		e.Target = "location"
		return e
	}
	nl := arm.NormalizeLocation(loc)
	if !create || m.locations[nl] || (nl == arm.GlobalLocation && spec.GlobalLocation) {
		return nil
	}
	avail := make([]string, 0, len(m.cfg.Locations)+1)
	for _, l := range m.cfg.Locations {
		avail = append(avail, arm.NormalizeLocation(l))
	}
	if spec.GlobalLocation {
		avail = append(avail, arm.GlobalLocation)
	}
	slices.Sort(avail)
	var e *arm.Error
	if spec.Type == typeResourceGroup {
		e = arm.Errorf("LocationNotAvailableForResourceGroup", "The provided location '%s' is not available for resource group. List of available regions is '%s'.", loc, strings.Join(avail, ","))
	} else {
		e = arm.Errorf("LocationNotAvailableForResourceType", "The provided location '%s' is not available for resource type '%s'. List of available regions for the resource type is '%s'.", loc, spec.Type, strings.Join(avail, ","))
	}
	e.Target = "location"
	return e
}

func callerType(c activitylog.Caller) string {
	switch c.Type {
	case "User":
		return "User"
	case "ManagedIdentity":
		return "ManagedIdentity"
	}
	return "Application"
}

func validateTags(tags value.Value) error {
	if tags.Kind() != value.Object {
		return arm.Errorf("InvalidTag", "'tags' must be a JSON object of strings.")
	}
	if tags.Len() > 50 {
		return arm.Errorf("InvalidTag", "A resource can have at most 50 tags; %d were given.", tags.Len())
	}
	for i := 0; i < tags.Len(); i++ {
		k, v := tags.MemberAt(i)
		if v.Kind() != value.String {
			return arm.Errorf("InvalidTag", "The value of tag '%s' must be a string.", k)
		}
		if len(k) == 0 || len([]rune(k)) > 512 || strings.ContainsAny(k, "<>%&\\?/") {
			return arm.Errorf("InvalidTagName", "The tag name '%s' is invalid: 1 to 512 characters without < > %% & \\ ? /.", k)
		}
		if len([]rune(v.Str())) > 256 {
			return arm.Errorf("InvalidTag", "The value of tag '%s' is longer than 256 characters.", k)
		}
	}
	return nil
}

// identity validates a managed-identity object and fills in principal and
// tenant ids (kept across updates).
func (m *Manager) identity(v, existing value.Value) (value.Value, error) {
	if v.Kind() != value.Object {
		return value.Value{}, arm.Errorf("InvalidIdentity", "'identity' must be a JSON object.")
	}
	t := strings.ReplaceAll(v.Field("type").Str(), " ", "")
	lt := strings.ToLower(t)
	var sys, user bool
	switch lt {
	case "none":
	case "systemassigned":
		sys = true
	case "userassigned":
		user = true
	case "systemassigned,userassigned":
		sys, user = true, true
	default:
		return value.Value{}, arm.Errorf("InvalidIdentityType", "The identity type '%s' is not supported; use None, SystemAssigned, UserAssigned or 'SystemAssigned,UserAssigned'.", v.Field("type").Str())
	}
	canon := map[string]string{"none": "None", "systemassigned": "SystemAssigned", "userassigned": "UserAssigned", "systemassigned,userassigned": "SystemAssigned,UserAssigned"}[lt]
	out := value.ObjectValue(value.Member{Key: "type", Value: str(canon)})
	if sys {
		pid := existing.Field("principalId")
		if pid.Kind() != value.String {
			pid = str(m.cfg.NewID())
		}
		out = out.With("principalId", pid).With("tenantId", str(m.cfg.TenantID))
	}
	uais := v.Field("userAssignedIdentities")
	if user {
		if uais.Kind() != value.Object || uais.Len() == 0 {
			return value.Value{}, arm.Errorf("InvalidIdentity", "identity.userAssignedIdentities must name at least one user-assigned identity for type '%s'.", canon)
		}
		var ms []value.Member
		for i := 0; i < uais.Len(); i++ {
			k, _ := uais.MemberAt(i)
			uid, err := arm.ParseID(k)
			if err != nil || !strings.EqualFold(uid.Type(), "Microsoft.ManagedIdentity/userAssignedIdentities") {
				return value.Value{}, arm.Errorf("InvalidIdentity", "'%s' is not the resource id of a user-assigned identity.", k)
			}
			prev, _ := existing.Field("userAssignedIdentities").Get(k)
			pid, cid := prev.Field("principalId"), prev.Field("clientId")
			if pid.Kind() != value.String {
				pid, cid = str(m.cfg.NewID()), str(m.cfg.NewID())
			}
			ms = append(ms, value.Member{Key: k, Value: value.ObjectValue(value.Member{Key: "principalId", Value: pid}, value.Member{Key: "clientId", Value: cid})})
		}
		out = out.With("userAssignedIdentities", value.ObjectValue(ms...))
	} else if uais.Kind() == value.Object && uais.Len() > 0 {
		return value.Value{}, arm.Errorf("InvalidIdentity", "identity.userAssignedIdentities is only allowed with type UserAssigned or 'SystemAssigned,UserAssigned'.")
	}
	return out, nil
}

// skipToken encodes a paging cursor.
func skipToken(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// parseSkipToken decodes a paging cursor: what skipToken made of a
// resource key (keys are UTF-8 and start with '/').
func parseSkipToken(t string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(b) == 0 || b[0] != '/' || !utf8.Valid(b) {
		return "", arm.Errorf("InvalidSkipToken", "The $skipToken '%s' is not valid: use the nextLink of the previous page as it is.", arm.Clip(t, 64))
	}
	return string(b), nil
}

// list returns one page of resources.
func (m *Manager) list(ctx context.Context, r *Request, q store.ListQuery) (*Response, error) {
	return m.listFiltered(ctx, r, q, nil)
}

// listFiltered is list with a filter applied to the stored items (paging
// stays exact: more items are fetched until the page is full): pick
// returns whether an item is listed and its body as listed.
func (m *Manager) listFiltered(ctx context.Context, r *Request, q store.ListQuery, pick func(*store.Resource) ([]byte, bool)) (*Response, error) {
	return m.listPhases(ctx, r, []store.ListQuery{q}, pick)
}

// listPhases is listFiltered over several queries read one after the
// other, each of keys all below the next's (a key prefix each): one
// cursor (the last key listed) pages through all of them.
func (m *Manager) listPhases(ctx context.Context, r *Request, qs []store.ListQuery, pick func(*store.Resource) ([]byte, bool)) (*Response, error) {
	q := qs[0]
	limit, err := ParseTop(r.Query.Get("$top"), r.Query.Has("$top"), m.cfg.PageSize)
	if err != nil {
		return nil, err
	}
	if t := r.Query.Get("$skipToken"); t != "" {
		after, err := parseSkipToken(t)
		if err != nil {
			return nil, err
		}
		q.After = after
	}
	q.Limit = limit + 1
	q.MaxBytes = m.cfg.PageBytes
	if r.items != nil {
		r.items.used = true // a list that keeps what the caller may read
	}
	var items []*store.Resource
	size, more := 0, false
	if err := m.st.Read(ctx, func(tx store.Tx) error {
		for {
			batch, err := tx.ListResources(ctx, q)
			if err != nil {
				return err
			}
			batchBytes := 0
			for _, it := range batch {
				batchBytes += len(it.Body)
				if len(items) == limit {
					more = true
					return nil
				}
				if r.items != nil && !r.items.keep(it) {
					continue
				}
				if pick == nil {
					items = append(items, it)
					size += len(it.Body)
				} else if b, ok := pick(it); ok {
					listed := *it // the store's, maybe its cache's: not changed
					listed.Body = b
					items = append(items, &listed)
					size += len(b)
				}
			}
			if len(items) > 0 && size >= m.cfg.PageBytes {
				// Full by bytes. What follows is not read (it may be
				// large): the nextLink may lead to an empty last page.
				more = true
				return nil
			}
			if len(batch) == 0 || (len(batch) < q.Limit && batchBytes < q.MaxBytes) {
				if len(qs) == 1 {
					return nil // no more items
				}
				// The next phase, from the same cursor.
				after := q.After
				qs = qs[1:]
				q = qs[0]
				q.After, q.Limit, q.MaxBytes = after, limit+1, m.cfg.PageBytes-size
				continue
			}
			q.After = batch[len(batch)-1].Key
			q.MaxBytes = m.cfg.PageBytes - size
		}
	}); err != nil {
		return nil, err
	}
	page := &Response{List: true, Items: make([][]byte, len(items))}
	for i, it := range items {
		page.Items[i] = it.Body
	}
	if more && len(items) > 0 {
		page.Next = skipToken(items[len(items)-1].Key)
	}
	return page, nil
}
