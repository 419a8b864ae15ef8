package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Conditional Access (Graph's conditionalAccessPolicy and
// ipNamedLocation, ../shared/docs/resource-model.md §8), evaluated when a
// token is issued. A policy names either service principals (Entra's
// workload identity policies: conditions.clientApplications, grant
// control block) or users (conditions.users: users and groups, included
// and excluded; grant control block or mfa), the resource applications
// the tokens are for (conditions.applications: ARM, Microsoft Graph,
// Azure Machine Learning) and the client's address (conditions.locations,
// named locations of IP ranges). A policy in report-only mode is
// evaluated and logged, not enforced. Every sign-in records the policies
// evaluated and their results. No sign-in mlgov serves does multifactor
// authentication yet, so a policy requiring it refuses (AADSTS50076).

// Store object kinds (key tenant/id).
const (
	KindCAPolicy      = "caPolicies"
	KindNamedLocation = "namedLocations"
)

// The resource applications a policy's applications condition names.
const (
	// AzureMachineLearningAppID is the Azure Machine Learning
	// application: tokens for https://ml.azure.com.
	AzureMachineLearningAppID = "0736f41a-0425-4b46-bdb5-1563eff02385"
)

// CAPolicy is a conditional access policy.
type CAPolicy struct {
	ID               string       `json:"id"`
	DisplayName      string       `json:"displayName"`
	State            string       `json:"state"` // enabled, disabled, enabledForReportingButNotEnforced
	Conditions       CAConditions `json:"conditions"`
	GrantControls    CAGrant      `json:"grantControls"`
	CreatedDateTime  time.Time    `json:"createdDateTime"`
	ModifiedDateTime time.Time    `json:"modifiedDateTime"`
}

// CAConditions are the conditions mlgov evaluates.
type CAConditions struct {
	Applications struct {
		IncludeApplications []string `json:"includeApplications"`
		ExcludeApplications []string `json:"excludeApplications"`
	} `json:"applications"`
	ClientApplications *struct {
		IncludeServicePrincipals []string `json:"includeServicePrincipals"`
		ExcludeServicePrincipals []string `json:"excludeServicePrincipals"`
	} `json:"clientApplications"`
	Users *struct {
		IncludeUsers  []string `json:"includeUsers"`
		ExcludeUsers  []string `json:"excludeUsers"`
		IncludeGroups []string `json:"includeGroups"`
		ExcludeGroups []string `json:"excludeGroups"`
		// IncludeRoles and ExcludeRoles name directory roles
		// (directoryroles.go: Global Administrator only).
		IncludeRoles []string `json:"includeRoles,omitempty"`
		ExcludeRoles []string `json:"excludeRoles,omitempty"`
	} `json:"users"`
	Locations *struct {
		IncludeLocations []string `json:"includeLocations"`
		ExcludeLocations []string `json:"excludeLocations"`
	} `json:"locations"`
}

// CAGrant is the grant controls.
type CAGrant struct {
	Operator        string   `json:"operator"`
	BuiltInControls []string `json:"builtInControls"`
}

// NamedLocation is an ipNamedLocation.
type NamedLocation struct {
	ID               string    `json:"id"`
	DisplayName      string    `json:"displayName"`
	IPRanges         []string  `json:"ipRanges"` // CIDR
	IsTrusted        bool      `json:"isTrusted"`
	CreatedDateTime  time.Time `json:"createdDateTime"`
	ModifiedDateTime time.Time `json:"modifiedDateTime"`
}

// AppliedPolicy is a policy's result in a sign-in record.
type AppliedPolicy struct {
	ID                    string   `json:"id"`
	DisplayName           string   `json:"displayName"`
	EnforcedGrantControls []string `json:"enforcedGrantControls"`
	// Result: success, failure, notApplied, notEnabled,
	// reportOnlySuccess, reportOnlyFailure, reportOnlyNotApplied.
	Result string `json:"result"`
}

// ErrCAInvalid marks a policy or location mlgov refuses (its message
// says why).
var ErrCAInvalid = errors.New("authn: invalid conditional access object")

func caErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCAInvalid, fmt.Sprintf(format, args...))
}

// Validate checks what mlgov evaluates, and refuses what it would
// otherwise ignore.
func (p *CAPolicy) Validate() error {
	switch p.State {
	case "enabled", "disabled", "enabledForReportingButNotEnforced":
	default:
		return caErr("state '%s' is not enabled, disabled or enabledForReportingButNotEnforced", p.State)
	}
	if strings.TrimSpace(p.DisplayName) == "" {
		return caErr("a policy needs a displayName")
	}
	workload := p.Conditions.ClientApplications != nil && len(p.Conditions.ClientApplications.IncludeServicePrincipals) > 0
	u := p.Conditions.Users
	users := u != nil && (len(u.IncludeUsers) > 0 && !containsFold(u.IncludeUsers, "None") || len(u.IncludeGroups) > 0 || len(u.IncludeRoles) > 0)
	switch {
	case workload && users:
		return caErr("a policy names either service principals (conditions.clientApplications) or users (conditions.users), as Entra's policies do")
	case !workload && !users:
		return caErr("conditions.clientApplications.includeServicePrincipals or conditions.users (includeUsers, includeGroups, includeRoles) is required")
	}
	if u != nil {
		for _, r := range slices.Concat(u.IncludeRoles, u.ExcludeRoles) {
			if err := CheckDirectoryRole(r); err != nil {
				return caErr("conditions.users: %s", strings.TrimPrefix(err.Error(), ErrRoleInvalid.Error()+": "))
			}
		}
	}
	if len(p.Conditions.Applications.IncludeApplications) == 0 {
		return caErr("conditions.applications.includeApplications is required ('All' or application ids)")
	}
	gc := p.GrantControls.BuiltInControls
	switch {
	case len(gc) != 1 || (gc[0] != "block" && gc[0] != "mfa"):
		return caErr("grantControls.builtInControls must be ['block'] or ['mfa']")
	case workload && gc[0] != "block":
		return caErr("grantControls.builtInControls must be ['block'] for service principals: workload identities cannot do multifactor authentication")
	}
	return nil
}

func caKey(tenantID, id string) string { return strings.ToLower(tenantID) + "/" + strings.ToLower(id) }

// PutCAPolicy creates (empty ID) or replaces a policy.
func (s *Service) PutCAPolicy(ctx context.Context, tenantID string, p *CAPolicy) (*CAPolicy, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	now := s.now()
	if p.ID == "" {
		id, err := uuid.NewFrom(s.cfg.Rand)
		if err != nil {
			return nil, err
		}
		p.ID, p.CreatedDateTime = id, now
	}
	p.ModifiedDateTime = now
	if err := s.putCA(ctx, KindCAPolicy, tenantID, p.ID, p, now); err != nil {
		return nil, err
	}
	return p, nil
}

// PutNamedLocation creates (empty ID) or replaces a named location.
func (s *Service) PutNamedLocation(ctx context.Context, tenantID string, l *NamedLocation) (*NamedLocation, error) {
	if strings.TrimSpace(l.DisplayName) == "" || len(l.IPRanges) == 0 {
		return nil, caErr("a named location needs a displayName and ipRanges")
	}
	for _, r := range l.IPRanges {
		if _, err := netip.ParsePrefix(r); err != nil {
			return nil, caErr("'%s' is not a CIDR range", clip(r))
		}
	}
	now := s.now()
	if l.ID == "" {
		id, err := uuid.NewFrom(s.cfg.Rand)
		if err != nil {
			return nil, err
		}
		l.ID, l.CreatedDateTime = id, now
	}
	l.ModifiedDateTime = now
	if err := s.putCA(ctx, KindNamedLocation, tenantID, l.ID, l, now); err != nil {
		return nil, err
	}
	return l, nil
}

func (s *Service) putCA(ctx context.Context, kind, tenantID, id string, v any, now time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx store.Tx) error {
		return tx.PutObject(ctx, &store.Object{Kind: kind, Key: caKey(tenantID, id), Body: b, UpdatedAt: now})
	})
}

// DeleteCAObject deletes a policy (KindCAPolicy) or named location; the
// error wraps store.ErrNotFound when there is none. A named location
// that a policy names cannot be deleted.
func (s *Service) DeleteCAObject(ctx context.Context, kind, tenantID, id string) error {
	err := s.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.GetObject(ctx, kind, caKey(tenantID, id)); err != nil {
			return err
		}
		if kind == KindNamedLocation {
			ps, err := listCA[CAPolicy](ctx, tx, KindCAPolicy, tenantID)
			if err != nil {
				return err
			}
			for _, p := range ps {
				if l := p.Conditions.Locations; l != nil && (containsFold(l.IncludeLocations, id) || containsFold(l.ExcludeLocations, id)) {
					return caErr("the named location is used by the policy '%s'", p.DisplayName)
				}
			}
		}
		return tx.DeleteObject(ctx, kind, caKey(tenantID, id))
	})
	return err
}

// CAPolicies and NamedLocations list a tenant's objects, by creation.
func (s *Service) CAPolicies(ctx context.Context, tenantID string) ([]*CAPolicy, error) {
	var out []*CAPolicy
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		out, err = listCA[CAPolicy](ctx, tx, KindCAPolicy, tenantID)
		return err
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedDateTime.Before(out[j].CreatedDateTime) })
	return out, err
}

// NamedLocations lists a tenant's named locations, by creation.
func (s *Service) NamedLocations(ctx context.Context, tenantID string) ([]*NamedLocation, error) {
	var out []*NamedLocation
	err := s.st.Read(ctx, func(tx store.Tx) error {
		var err error
		out, err = listCA[NamedLocation](ctx, tx, KindNamedLocation, tenantID)
		return err
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedDateTime.Before(out[j].CreatedDateTime) })
	return out, err
}

func listCA[T any](ctx context.Context, tx store.Tx, kind, tenantID string) ([]*T, error) {
	objs, err := tx.ListObjects(ctx, kind)
	if err != nil {
		return nil, err
	}
	prefix := strings.ToLower(tenantID) + "/"
	var out []*T
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, prefix) {
			continue
		}
		v := new(T)
		if err := json.Unmarshal(o.Body, v); err != nil {
			return nil, fmt.Errorf("authn: %s %s: %w", kind, o.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func containsFold(l []string, v string) bool {
	return slices.ContainsFunc(l, func(x string) bool { return strings.EqualFold(x, v) })
}

// resourceApp is the application id of a token's audience.
func resourceApp(aud string) string {
	switch {
	case slices.Contains(GraphAudiences, aud):
		return graphAppID
	case slices.Contains(MLAudiences, aud):
		return AzureMachineLearningAppID
	}
	return armAppID
}

// recordCA records the policies evaluated for a sign-in and their
// outcome, and returns the refusal when a policy blocks it or requires
// multifactor authentication (which no grant mlgov serves does).
func (si *SignIn) recordCA(applied []AppliedPolicy, blocked, mfa bool) *OAuthError {
	si.AppliedConditionalAccessPolicies = applied
	for _, ap := range applied {
		if ap.Result == "failure" || ap.Result == "success" {
			si.ConditionalAccessStatus = "success"
		}
	}
	switch {
	case blocked:
		si.ConditionalAccessStatus = "failure"
		return oauthErr("invalid_grant", 53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.")
	case mfa:
		si.ConditionalAccessStatus = "failure"
		return oauthErr("invalid_grant", 50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '%s'.", si.ResourceID)
	}
	return nil
}

// resourceAppName is the display name of a token's resource
// application (a sign-in's resourceDisplayName).
func resourceAppName(aud string) string {
	switch {
	case slices.Contains(GraphAudiences, aud):
		return "Microsoft Graph"
	case slices.Contains(MLAudiences, aud):
		return "Azure Machine Learning"
	}
	return armAppDisplayName
}

// evaluateCA evaluates the tenant's policies for a service principal's
// sign-in to the resource of aud from addr. It returns the results for
// the sign-in log and whether a policy blocks.
func (s *Service) evaluateCA(ctx context.Context, tenantID, spObjectID, aud, addr string) ([]AppliedPolicy, bool, error) {
	applied, blocked, _, err := s.evaluate(ctx, tenantID, caSubject{sp: spObjectID}, aud, addr)
	return applied, blocked, err
}

// evaluateUserCA evaluates the policies for a user's sign-in: whether
// one blocks, and whether one requires multifactor authentication.
func (s *Service) evaluateUserCA(ctx context.Context, tenantID, userID string, groups []string, aud, addr string) ([]AppliedPolicy, bool, bool, error) {
	return s.evaluate(ctx, tenantID, caSubject{user: userID, groups: groups}, aud, addr)
}

// caSubject is who signs in: a service principal or a user and its
// groups.
type caSubject struct {
	sp, user string
	groups   []string
	// roles are the user's directory roles (read with the policies).
	roles []string
}

func (s *Service) evaluate(ctx context.Context, tenantID string, who caSubject, aud, addr string) (applied []AppliedPolicy, blocked, mfa bool, err error) {
	err = s.st.Read(ctx, func(tx store.Tx) error {
		applied, blocked, mfa, err = evaluateTx(ctx, tx, tenantID, who, aud, addr)
		return err
	})
	return applied, blocked, mfa, err
}

// evaluateUserTx evaluates the policies for a user (and its groups, read
// here) in a transaction (an interactive sign-in's).
func evaluateUserTx(ctx context.Context, tx store.Tx, tenantID, userID, aud, addr string) ([]AppliedPolicy, bool, bool, error) {
	groups, err := memberOf(ctx, tx, tenantID, userID)
	if err != nil {
		return nil, false, false, err
	}
	return evaluateTx(ctx, tx, tenantID, caSubject{user: userID, groups: groups}, aud, addr)
}

// evaluateTx is evaluate in a transaction.
func evaluateTx(ctx context.Context, tx store.Tx, tenantID string, who caSubject, aud, addr string) ([]AppliedPolicy, bool, bool, error) {
	ps, err := listCA[CAPolicy](ctx, tx, KindCAPolicy, tenantID)
	if err != nil {
		return nil, false, false, err
	}
	if who.user != "" && len(ps) > 0 {
		if who.roles, err = directoryRolesOf(ctx, tx, tenantID, who.user); err != nil {
			return nil, false, false, err
		}
	}
	locs, err := listCA[NamedLocation](ctx, tx, KindNamedLocation, tenantID)
	if err != nil || len(ps) == 0 {
		return []AppliedPolicy{}, false, false, err
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].CreatedDateTime.Before(ps[j].CreatedDateTime) })
	ip, _ := netip.ParseAddr(hostOf(addr))
	inLocation := func(id string) bool {
		switch {
		case strings.EqualFold(id, "All"):
			return true
		case strings.EqualFold(id, "AllTrusted"):
			for _, l := range locs {
				if l.IsTrusted && l.contains(ip) {
					return true
				}
			}
			return false
		}
		for _, l := range locs {
			if strings.EqualFold(l.ID, id) {
				return l.contains(ip)
			}
		}
		return false
	}
	app := resourceApp(aud)
	blocked, mfa := false, false
	out := make([]AppliedPolicy, 0, len(ps))
	for _, p := range ps {
		ap := AppliedPolicy{ID: p.ID, DisplayName: p.DisplayName, EnforcedGrantControls: []string{}}
		applies := p.appliesTo(who, app, inLocation)
		switch {
		case p.State == "disabled":
			ap.Result = "notEnabled"
		case p.State == "enabledForReportingButNotEnforced" && applies:
			ap.Result, ap.EnforcedGrantControls = "reportOnlyFailure", p.GrantControls.BuiltInControls
		case p.State == "enabledForReportingButNotEnforced":
			ap.Result = "reportOnlyNotApplied"
		case applies:
			// Block blocks; MFA is a failure too here: no grant mlgov
			// serves can satisfy it yet.
			ap.Result, ap.EnforcedGrantControls = "failure", p.GrantControls.BuiltInControls
			if p.GrantControls.BuiltInControls[0] == "block" {
				blocked = true
			} else {
				mfa = true
			}
		default:
			ap.Result = "notApplied"
		}
		out = append(out, ap)
	}
	return out, blocked, mfa, nil
}

// appliesTo reports whether the policy's conditions hold.
func (p *CAPolicy) appliesTo(who caSubject, app string, inLocation func(string) bool) bool {
	c := p.Conditions
	if ca := c.ClientApplications; ca != nil && len(ca.IncludeServicePrincipals) > 0 {
		if who.sp == "" || !(containsFold(ca.IncludeServicePrincipals, "ServicePrincipalsInMyTenant") || containsFold(ca.IncludeServicePrincipals, who.sp)) ||
			containsFold(ca.ExcludeServicePrincipals, who.sp) {
			return false
		}
	} else {
		u := c.Users
		if who.user == "" || u == nil {
			return false
		}
		inGroups := func(l []string) bool {
			return slices.ContainsFunc(who.groups, func(g string) bool { return containsFold(l, g) })
		}
		inRoles := func(l []string) bool {
			return slices.ContainsFunc(who.roles, func(r string) bool { return containsFold(l, r) })
		}
		if !(containsFold(u.IncludeUsers, "All") || containsFold(u.IncludeUsers, who.user) || inGroups(u.IncludeGroups) || inRoles(u.IncludeRoles)) ||
			containsFold(u.ExcludeUsers, who.user) || inGroups(u.ExcludeGroups) || inRoles(u.ExcludeRoles) {
			return false
		}
	}
	if !(containsFold(c.Applications.IncludeApplications, "All") || containsFold(c.Applications.IncludeApplications, app)) ||
		containsFold(c.Applications.ExcludeApplications, app) {
		return false
	}
	if l := c.Locations; l != nil {
		in := len(l.IncludeLocations) == 0
		for _, id := range l.IncludeLocations {
			in = in || inLocation(id)
		}
		for _, id := range l.ExcludeLocations {
			if inLocation(id) {
				return false
			}
		}
		return in
	}
	return true
}

func (l *NamedLocation) contains(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, r := range l.IPRanges {
		if p, err := netip.ParsePrefix(r); err == nil && p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// hostOf strips a port from an address.
func hostOf(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().String()
	}
	return addr
}

// CheckExternal applies conditional access to a request of an external
// issuer's caller (serve --oidc-issuer) to ARM: the users policies that
// name it (its object id, its token's groups and the directory groups
// they are in) are enforced on every request, since mlgov did not issue
// its token. A policy that blocks refuses (AADSTS53003); one that
// requires MFA refuses unless the token's amr claim names mfa
// (AADSTS50076). Report-only policies are not logged here (no sign-in).
func (s *Service) CheckExternal(ctx context.Context, tenantID, objectID string, groups, amr []string, addr string) error {
	all := append([]string(nil), groups...)
	for _, g := range groups {
		more, err := s.MemberOf(ctx, tenantID, g)
		if err != nil {
			return err
		}
		all = append(all, more...)
	}
	_, blocked, mfa, err := s.evaluate(ctx, tenantID, caSubject{user: objectID, groups: all}, "https://management.azure.com/", addr)
	switch {
	case err != nil:
		return err
	case blocked:
		return oauthErr("invalid_grant", 53003, "Access has been blocked by Conditional Access policies: the external token's user may not reach this application.")
	case mfa && !slices.Contains(amr, "mfa"):
		return oauthErr("invalid_grant", 50076, "A Conditional Access policy requires multi-factor authentication, and the external token's amr claim does not name mfa: sign in again at the issuer with a second factor.")
	}
	return nil
}
