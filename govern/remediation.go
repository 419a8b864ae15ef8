package govern

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/odata"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// Remediations (Microsoft.PolicyInsights/remediations), as
// @azure/arm-policyinsights 6.0.0 calls them (api-version 2024-10-01), at
// a subscription, a resource group or a resource:
//
//	PUT|GET|DELETE {scope}/providers/Microsoft.PolicyInsights/remediations/{name}
//	GET  {scope}/providers/Microsoft.PolicyInsights/remediations ($top, $filter)
//	POST {scope}/providers/Microsoft.PolicyInsights/remediations/{name}/cancel
//	POST {scope}/providers/Microsoft.PolicyInsights/remediations/{name}/listDeployments ($top)
//
// A remediation is a resource of the write path (an extension type at
// any scope): creating one needs Microsoft.PolicyInsights/remediations/write
// and is checked against its assignment here (Build). The work is the
// Remediator's (remediation_run.go): it discovers the non-compliant
// resources, applies the member's Modify operations to each (or runs its
// DeployIfNotExists deployment through a Deployer) as the assignment's
// managed identity, through the same write path, and keeps the
// remediation's provisioningState and deploymentStatus in step.
// listDeployments is served by the Governor as a PolicyInsights read
// (Serves), from the per-resource deployment records.

// TypeRemediation is the remediation type.
const TypeRemediation = "Microsoft.PolicyInsights/remediations"

// Remediation provisioning states. Azure documents Evaluating, Canceled,
// Cancelling, Failed, Complete and Succeeded; Accepted is the state of a
// remediation not yet picked up and Running that of one deploying.
// Complete is a remediation that went through all its resources with
// some deployments failed (fewer than its failureThreshold); Failed one
// stopped by the threshold or unable to run.
const (
	RemediationAccepted   = "Accepted"
	RemediationEvaluating = "Evaluating"
	RemediationRunning    = "Running"
	RemediationSucceeded  = "Succeeded"
	RemediationComplete   = "Complete"
	RemediationFailed     = "Failed"
	RemediationCancelling = "Cancelling"
	RemediationCanceled   = "Canceled"
)

// Resource discovery modes.
const (
	DiscoverExistingNonCompliant = "ExistingNonCompliant"
	DiscoverReEvaluateCompliance = "ReEvaluateCompliance"
)

// Bounds of a remediation's settings (Azure's).
const (
	defaultResourceCount       = 500
	maxResourceCount           = 50000
	defaultParallelDeployments = 10
	maxParallelDeployments     = 30
	maxFilterResourceIDs       = 100
)

// Deployer runs ARM template deployments: the deployment engine (package
// deploy) through the write path, for DeployIfNotExists remediations.
// Without one, a DeployIfNotExists remediation is refused at create.
type Deployer interface {
	// Deploy starts the deployment name at scopeID (a resource group or
	// subscription ID) as caller, with the template and its parameters
	// ({"name": {"value": v}}), and returns the deployment's resource ID.
	// A deployment of the same name at the same scope started again
	// (after a restart) is the same deployment: Deploy returns its ID
	// and does not run it twice.
	Deploy(ctx context.Context, caller activitylog.Caller, scopeID, name string, template, parameters value.Value) (deploymentID string, err error)
	// Status returns the deployment's provisioning state (Accepted,
	// Running, Succeeded, Failed, Canceled) and, when it failed, its
	// error ({code, message, details}).
	Status(ctx context.Context, deploymentID string) (state string, errBody value.Value, err error)
}

// RemediatorConfig configures a Remediator.
type RemediatorConfig struct {
	// Deployer runs DeployIfNotExists deployments (nil: such
	// remediations are refused).
	Deployer Deployer
	// TenantID is the tenant of the assignments' managed identities.
	TenantID string
	Now      func() time.Time
	NewID    func() string
	// Lease is how long a replica holds a remediation between renewals
	// (0: 30 s).
	Lease time.Duration
	// Batch is how many resources a step of a remediation takes on
	// (0: its parallelDeployments): their deployment records are written
	// in one transaction before their writes, and their results in one
	// after; between steps the remediation looks for a cancel and its
	// failure threshold.
	Batch int
	// BeforeWrite, when set (tests), is called before each resource's
	// write; an error stops the remediation there, as a crash would.
	BeforeWrite func(resourceKey string) error
}

// Remediator runs remediations: every replica runs one (Run), and a
// remediation is worked on by the replica that holds its lease.
type Remediator struct {
	g        *Governor
	st       store.Store
	deployer atomic.Pointer[Deployer] // nil: none
	tenantID string
	now      func() time.Time
	newID    func() string
	lease    time.Duration
	batch    int
	wake     chan struct{}

	beforeWrite func(resourceKey string) error // RemediatorConfig.BeforeWrite
}

// NewRemediator returns the Remediator of g's assignments over g's store.
func (g *Governor) NewRemediator(cfg RemediatorConfig) *Remediator {
	if cfg.Now == nil {
		cfg.Now = g.now
	}
	if cfg.NewID == nil {
		cfg.NewID = g.newID
	}
	if cfg.NewID == nil {
		cfg.NewID = uuid.New
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	r := &Remediator{g: g, st: g.st, tenantID: cfg.TenantID, now: cfg.Now, newID: cfg.NewID,
		lease: cfg.Lease, batch: cfg.Batch, wake: make(chan struct{}, 1), beforeWrite: cfg.BeforeWrite}
	r.SetDeployer(cfg.Deployer)
	g.rem.Store(r)
	return r
}

// SetDeployer sets (nil: removes) the Deployer of DeployIfNotExists
// remediations: the deployment engine is built on the resource manager,
// after the Remediator registered its type.
func (r *Remediator) SetDeployer(d Deployer) {
	if d == nil {
		r.deployer.Store(nil)
		return
	}
	r.deployer.Store(&d)
}

// Deployer is the Deployer set (nil: none).
func (r *Remediator) Deployer() Deployer {
	if d := r.deployer.Load(); d != nil {
		return *d
	}
	return nil
}

// current is the governor's Remediator: the last NewRemediator's (a
// process makes one; a test may replace it, with another Deployer).
func (r *Remediator) current() *Remediator {
	if c := r.g.rem.Load(); c != nil {
		return c
	}
	return r
}

// remediation is the stored remediation resource.
type remediation struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	SystemData json.RawMessage `json:"systemData,omitempty"`
	Properties remProps        `json:"properties"`
}

type remProps struct {
	PolicyAssignmentID          string       `json:"policyAssignmentId"`
	PolicyDefinitionReferenceID string       `json:"policyDefinitionReferenceId,omitempty"`
	ResourceDiscoveryMode       string       `json:"resourceDiscoveryMode"`
	ProvisioningState           string       `json:"provisioningState"`
	CreatedOn                   string       `json:"createdOn"`
	LastUpdatedOn               string       `json:"lastUpdatedOn"`
	Filters                     *remFilters  `json:"filters,omitempty"`
	DeploymentStatus            remSummary   `json:"deploymentStatus"`
	StatusMessage               string       `json:"statusMessage,omitempty"`
	CorrelationID               string       `json:"correlationId"`
	ResourceCount               int          `json:"resourceCount"`
	ParallelDeployments         int          `json:"parallelDeployments"`
	FailureThreshold            remThreshold `json:"failureThreshold"`
}

type remFilters struct {
	Locations   []string `json:"locations,omitempty"`
	ResourceIDs []string `json:"resourceIds,omitempty"`
}

type remSummary struct {
	TotalDeployments      int `json:"totalDeployments"`
	SuccessfulDeployments int `json:"successfulDeployments"`
	FailedDeployments     int `json:"failedDeployments"`
}

type remThreshold struct {
	Percentage float64 `json:"percentage"`
}

func (p *remProps) terminal() bool {
	switch p.ProvisioningState {
	case RemediationSucceeded, RemediationComplete, RemediationFailed, RemediationCanceled:
		return true
	}
	return false
}

// settingsEqual reports whether two remediations ask for the same work.
func (p *remProps) settingsEqual(q *remProps) bool {
	a, _ := json.Marshal([]any{strings.ToLower(p.PolicyAssignmentID), strings.ToLower(p.PolicyDefinitionReferenceID), p.ResourceDiscoveryMode, p.Filters, p.ResourceCount, p.ParallelDeployments, p.FailureThreshold})
	b, _ := json.Marshal([]any{strings.ToLower(q.PolicyAssignmentID), strings.ToLower(q.PolicyDefinitionReferenceID), q.ResourceDiscoveryMode, q.Filters, q.ResourceCount, q.ParallelDeployments, q.FailureThreshold})
	return string(a) == string(b)
}

func badRemediation(target, format string, args ...any) error {
	e := arm.Errorf("InvalidCreateRemediationRequest", format, args...)
	e.Target = target
	return e
}

// Register adds the remediation type to reg.
func (r *Remediator) Register(reg *resources.Registry) {
	reg.Add(&resources.TypeSpec{Type: TypeRemediation, Extension: true, ReadsStore: true, NoProvisioningState: true,
		ScopeList: remediationFilter,
		Build:     r.build,
		Actions: map[string]*resources.ActionSpec{
			"cancel": {Name: "cancel", Run: r.cancel},
		}})
}

// build validates a remediation's body and completes it (defaults and
// the server's properties).
func (r *Remediator) build(c *resources.Ctx, obj, body, existing value.Value) (value.Value, error) {
	p, err := r.parseRequest(c.Context, c.ID, body.Field("properties"))
	if err != nil {
		return value.Value{}, err
	}
	if !existing.IsUndefined() {
		var old remediation
		if err := json.Unmarshal([]byte(existing.JSON()), &old); err == nil {
			if !old.Properties.settingsEqual(p) {
				return value.Value{}, badRemediation("properties", "The settings of the remediation '%s' cannot be changed once it has been created: delete it and create a new one.", c.ID.Name())
			}
			props, _ := value.Parse([]byte(existing.Field("properties").JSON()))
			return obj.With("properties", props), nil
		}
	}
	now := c.Now.UTC().Format(time.RFC3339Nano)
	p.ProvisioningState = RemediationAccepted
	p.CreatedOn, p.LastUpdatedOn = now, now
	p.CorrelationID = c.NewID()
	b, err := json.Marshal(p)
	if err != nil {
		return value.Value{}, err
	}
	props, err := value.Parse(b)
	if err != nil {
		return value.Value{}, err
	}
	return obj.With("properties", props), nil
}

// parseRequest reads and checks the settings of a remediation at scope
// id (its parent scope).
func (r *Remediator) parseRequest(ctx context.Context, id *arm.ID, props value.Value) (*remProps, error) {
	if props.Kind() != value.Object {
		return nil, badRemediation("properties", "The remediation has no properties: policyAssignmentId is required.")
	}
	p := &remProps{ResourceDiscoveryMode: DiscoverExistingNonCompliant, ResourceCount: defaultResourceCount,
		ParallelDeployments: defaultParallelDeployments, FailureThreshold: remThreshold{Percentage: 1}}
	str := func(name string) (string, error) {
		v := props.Field(name)
		switch v.Kind() {
		case value.Undefined, value.Null:
			return "", nil
		case value.String:
			return v.Str(), nil
		}
		return "", badRemediation("properties."+name, "The property '%s' must be a string.", name)
	}
	integer := func(name string, def, lo, hi int) (int, error) {
		v := props.Field(name)
		if v.IsNullish() {
			return def, nil
		}
		if !v.IsNumber() || v.Float() != math.Trunc(v.Float()) || v.Float() < float64(lo) || v.Float() > float64(hi) {
			return 0, badRemediation("properties."+name, "The property '%s' must be an integer from %d to %d, got %s.", name, lo, hi, arm.Clip(v.JSON(), 40))
		}
		return int(v.Float()), nil
	}
	var err error
	if p.PolicyAssignmentID, err = str("policyAssignmentId"); err != nil {
		return nil, err
	}
	if p.PolicyDefinitionReferenceID, err = str("policyDefinitionReferenceId"); err != nil {
		return nil, err
	}
	mode, err := str("resourceDiscoveryMode")
	if err != nil {
		return nil, err
	}
	switch {
	case mode == "":
	case strings.EqualFold(mode, DiscoverExistingNonCompliant):
		p.ResourceDiscoveryMode = DiscoverExistingNonCompliant
	case strings.EqualFold(mode, DiscoverReEvaluateCompliance):
		p.ResourceDiscoveryMode = DiscoverReEvaluateCompliance
	default:
		return nil, badRemediation("properties.resourceDiscoveryMode", "The resource discovery mode '%s' is not valid: use ExistingNonCompliant or ReEvaluateCompliance.", arm.Clip(mode, 64))
	}
	if p.ResourceCount, err = integer("resourceCount", defaultResourceCount, 1, maxResourceCount); err != nil {
		return nil, err
	}
	if p.ParallelDeployments, err = integer("parallelDeployments", defaultParallelDeployments, 1, maxParallelDeployments); err != nil {
		return nil, err
	}
	if ft := props.Field("failureThreshold"); !ft.IsNullish() {
		pc := ft.Field("percentage")
		switch {
		case ft.Kind() != value.Object:
			return nil, badRemediation("properties.failureThreshold", "The property 'failureThreshold' must be an object {\"percentage\": n}.")
		case pc.IsNullish():
		case !pc.IsNumber() || pc.Float() < 0 || pc.Float() > 1:
			return nil, badRemediation("properties.failureThreshold.percentage", "The failure threshold percentage must be a number from 0.0 to 1.0, got %s.", arm.Clip(pc.JSON(), 40))
		default:
			p.FailureThreshold.Percentage = pc.Float()
		}
	}
	if f := props.Field("filters"); !f.IsNullish() {
		if f.Kind() != value.Object {
			return nil, badRemediation("properties.filters", "The property 'filters' must be an object.")
		}
		p.Filters = &remFilters{}
		list := func(name string) ([]string, bool, error) {
			v := f.Field(name)
			if v.IsNullish() {
				return nil, false, nil
			}
			if v.Kind() != value.Array {
				return nil, true, badRemediation("properties.filters."+name, "The filter '%s' must be an array of strings.", name)
			}
			out := make([]string, 0, v.Len())
			for i := 0; i < v.Len(); i++ {
				if v.Index(i).Kind() != value.String || v.Index(i).Str() == "" {
					return nil, true, badRemediation(fmt.Sprintf("properties.filters.%s[%d]", name, i), "The filter '%s' must be an array of non-empty strings.", name)
				}
				out = append(out, v.Index(i).Str())
			}
			return out, true, nil
		}
		locs, _, err := list("locations")
		if err != nil {
			return nil, err
		}
		for _, l := range locs {
			p.Filters.Locations = append(p.Filters.Locations, arm.NormalizeLocation(l))
		}
		ids, given, err := list("resourceIds")
		if err != nil {
			return nil, err
		}
		if given {
			switch {
			case len(ids) == 0:
				return nil, badRemediation("properties.filters.resourceIds", "The resourceIds filter cannot be empty when given.")
			case len(ids) > maxFilterResourceIDs:
				return nil, badRemediation("properties.filters.resourceIds", "The resourceIds filter names %d resources: at most %d.", len(ids), maxFilterResourceIDs)
			case p.ResourceDiscoveryMode == DiscoverReEvaluateCompliance:
				return nil, badRemediation("properties.filters.resourceIds", "The resourceIds filter cannot be used with the resource discovery mode ReEvaluateCompliance.")
			}
			for i, rid := range ids {
				if _, err := arm.ParseID(rid); err != nil {
					return nil, badRemediation(fmt.Sprintf("properties.filters.resourceIds[%d]", i), "'%s' is not a resource ID.", arm.Clip(rid, 200))
				}
			}
			p.Filters.ResourceIDs = ids
		}
		if len(p.Filters.Locations) == 0 && len(p.Filters.ResourceIDs) == 0 {
			p.Filters = nil
		}
	}
	if p.PolicyAssignmentID == "" {
		return nil, badRemediation("properties.policyAssignmentId", "The property 'policyAssignmentId' is required: the policy assignment to remediate.")
	}
	_, m, err := r.target(ctx, scopeOf(id), p)
	if err != nil {
		return nil, err
	}
	eff := m.effect
	if !m.static {
		eff = policy.None
	}
	if eff == policy.DeployIfNotExists && r.current().Deployer() == nil {
		e := arm.Errorf("DeployIfNotExistsRemediationNotAvailable", "The policy definition '%s' has the effect DeployIfNotExists: remediation of DeployIfNotExists policies is not available in this build of mlgov (no deployment engine is configured). Modify policies can be remediated.", m.def.ID)
		e.Target = "properties.policyAssignmentId"
		return nil, e
	}
	return p, nil
}

// scopeOf is the scope a remediation is at: its ID without the
// provider segment.
func scopeOf(id *arm.ID) *arm.ID {
	parts := id.Parts
	if len(parts) > 0 {
		parts = parts[:len(parts)-1]
	}
	return &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: parts}
}

// target finds the assignment and member a remediation at scope names,
// and checks that they can be remediated.
func (r *Remediator) target(ctx context.Context, scope *arm.ID, p *remProps) (*assigned, *member, error) {
	s, err := r.g.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	as := s.byKey[arm.KeyOf(p.PolicyAssignmentID)]
	if as == nil {
		return nil, nil, badRemediation("properties.policyAssignmentId", "The policy assignment '%s' does not exist.", arm.Clip(p.PolicyAssignmentID, 300))
	}
	if as.err != nil {
		return nil, nil, badRemediation("properties.policyAssignmentId", "The policy assignment '%s' cannot be evaluated: %v", as.a.ID, as.err)
	}
	sk, ak := scope.Key(), arm.KeyOf(canonicalScope(as.a.Scope))
	if !keyWithin(sk, ak) && !keyWithin(ak, sk) {
		return nil, nil, badRemediation("properties.policyAssignmentId", "The policy assignment '%s' (scope '%s') does not cover the remediation's scope '%s'.", as.a.ID, as.a.Scope, scope.String())
	}
	var m *member
	ref := p.PolicyDefinitionReferenceID
	switch {
	case as.a.IsSet && ref == "":
		return nil, nil, badRemediation("properties.policyDefinitionReferenceId", "The policy assignment '%s' assigns a policy set definition: policyDefinitionReferenceId is required, naming the member to remediate.", as.a.ID)
	case as.a.IsSet:
		m = as.byRef[strings.ToLower(ref)]
		if m == nil {
			return nil, nil, badRemediation("properties.policyDefinitionReferenceId", "The policy set definition of '%s' has no member with the reference id '%s'.", as.a.ID, arm.Clip(ref, 128))
		}
	case ref != "":
		return nil, nil, badRemediation("properties.policyDefinitionReferenceId", "The policy assignment '%s' assigns a single policy definition: policyDefinitionReferenceId must not be given.", as.a.ID)
	default:
		if len(as.members) == 0 {
			return nil, nil, badRemediation("properties.policyAssignmentId", "The policy assignment '%s' has no definition to remediate.", as.a.ID)
		}
		m = as.members[0]
	}
	if m.static && m.effect != policy.Modify && m.effect != policy.DeployIfNotExists {
		return nil, nil, badRemediation("properties.policyAssignmentId", "The policy definition '%s' has the effect %s: only Modify and DeployIfNotExists policies can be remediated.", m.def.ID, m.effect)
	}
	if as.a.Identity.PrincipalID == "" {
		return nil, nil, badRemediation("properties.policyAssignmentId", "The policy assignment '%s' has no managed identity: a remediation runs as the assignment's identity (assign it with one, e.g. mlgov policy assignment create --assign-identity).", as.a.ID)
	}
	return as, m, nil
}

// canonicalScope is an assignment's scope as an ID path.
func canonicalScope(scope string) string {
	return "/" + strings.Trim(scope, "/")
}

// keyWithin reports whether key is scope or under it.
func keyWithin(key, scope string) bool {
	scope = strings.TrimSuffix(scope, "/")
	return key == scope || strings.HasPrefix(key, scope+"/") || scope == ""
}

// cancel is the cancel action: a remediation not yet finished moves to
// Cancelling (the Remediator stops it and makes it Canceled).
func (r *Remediator) cancel(c *resources.Ctx, res, _ value.Value) (value.Value, value.Value, error) {
	st := res.Field("properties").Field("provisioningState").Str()
	switch st {
	case RemediationSucceeded, RemediationComplete, RemediationFailed, RemediationCanceled:
		return value.Value{}, value.Value{}, arm.Errorf("InvalidCancelRemediationRequest", "The remediation '%s' is %s: only a remediation in progress can be canceled.", c.ID.Name(), st)
	case RemediationCancelling:
		return value.Value{}, res, nil
	}
	props := res.Field("properties").
		With("provisioningState", value.StringValue(RemediationCancelling)).
		With("lastUpdatedOn", value.StringValue(c.Now.UTC().Format(time.RFC3339Nano)))
	out := res.With("properties", props)
	r.Wake()
	return out, out, nil
}

// remediationFilter compiles a remediation list's $filter: Azure's
// PolicyAssignmentId eq '{id}' (and PolicyDefinitionReferenceId eq '{ref}').
func remediationFilter(f string) (*resources.ScopeFilter, error) {
	f = strings.TrimSpace(f)
	if f == "" {
		return &resources.ScopeFilter{}, nil
	}
	want := map[string]string{}
	for _, clause := range odata.SplitAnd(f) {
		name, val, ok := eqClause(clause)
		if !ok || (name != "policyassignmentid" && name != "policydefinitionreferenceid") {
			e := arm.Errorf("InvalidFilter", "The $filter '%s' is not supported on a list of remediations: use PolicyAssignmentId eq '{id}' and PolicyDefinitionReferenceId eq '{id}'.", arm.Clip(f, 200))
			e.Target = "$filter"
			return nil, e
		}
		want[name] = strings.ToLower(val)
	}
	return &resources.ScopeFilter{Keep: func(body []byte) bool {
		var rm remediation
		if json.Unmarshal(body, &rm) != nil {
			return false
		}
		if v, ok := want["policyassignmentid"]; ok && strings.ToLower(rm.Properties.PolicyAssignmentID) != v {
			return false
		}
		if v, ok := want["policydefinitionreferenceid"]; ok && strings.ToLower(rm.Properties.PolicyDefinitionReferenceID) != v {
			return false
		}
		return true
	}}, nil
}

// eqClause reads "Name eq 'value'" (” is a quote in the value).
func eqClause(c string) (name, val string, ok bool) {
	c = strings.TrimSpace(c)
	i := strings.IndexByte(c, ' ')
	if i < 0 {
		return "", "", false
	}
	name, rest := strings.ToLower(c[:i]), strings.TrimSpace(c[i:])
	if len(rest) < 3 || !strings.EqualFold(rest[:3], "eq ") {
		return "", "", false
	}
	rest = strings.TrimSpace(rest[3:])
	if len(rest) < 2 || rest[0] != '\'' || rest[len(rest)-1] != '\'' {
		return "", "", false
	}
	return name, strings.ReplaceAll(rest[1:len(rest)-1], "''", "'"), true
}
