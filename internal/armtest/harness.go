// Package armtest runs the ARM API in-process (real store, real token
// service, real HTTPS) for tests: a harness and the API-level test suites
// (bad input, concurrency).
package armtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/access"
	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/api/oauth"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/deploy"
	"github.com/mlgov/mlgov/egress"
	"github.com/mlgov/mlgov/federation"
	"github.com/mlgov/mlgov/govern"
	"github.com/mlgov/mlgov/graph"
	"github.com/mlgov/mlgov/inbound"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/landingzone"
	"github.com/mlgov/mlgov/live"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/security"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
)

// Server is a running in-process control plane.
type Server struct {
	URL            string
	TenantID       string
	SubscriptionID string
	ClientID       string
	ClientSecret   string
	// AdminObjectID is the administrator's object id (Owner at "/").
	AdminObjectID string
	Client        *http.Client
	Manager       *resources.Manager
	Governor      *govern.Governor
	Deploy        *deploy.Engine
	// Remediator runs the remediations until StopRemediator.
	Remediator     *govern.Remediator
	StopRemediator context.CancelFunc
	Access         *access.Access
	// Inbound is the inbound network check of the data plane; the
	// harness trusts loopback as a proxy, so that a request's
	// X-Forwarded-For header chooses its client address (ClientAs).
	Inbound *inbound.Checker
	// Live is the dashboard's change stream.
	Live *live.Hub
	// Directory is the token service and directory.
	Directory *authn.Service
	Store     store.Store
	token     string
	auth      *auth
}

type auth struct {
	svc    *authn.Service
	tenant string
	url    string
	// fed, when set, is a trusted external issuer (TrustIssuer).
	fed *api.Federated
}

// TrustIssuer makes the server accept the tokens of an external issuer
// (serve --oidc-issuer).
func (s *Server) TrustIssuer(iss *federation.Issuer) {
	s.auth.fed = &api.Federated{Issuer: iss, Policies: func(ctx context.Context, c *activitylog.Caller, amr []string, addr string) error {
		return s.Directory.CheckExternal(ctx, s.TenantID, c.ObjectID, c.Groups, amr, addr)
	}}
}

func (a *auth) Authenticate(ctx context.Context, h string) (*activitylog.Caller, error) {
	tok, err := authn.BearerToken(h)
	if err == nil {
		if c, ok, ferr := a.fed.Authenticate(ctx, tok); ok {
			return c, ferr
		}
		var p *authn.Principal
		if p, err = a.svc.Verify(ctx, tok); err == nil {
			if err = a.svc.CheckTenant(p, a.tenant); err == nil {
				name := p.AppID
				if upn, _ := p.Claims["upn"].(string); p.Type == "User" && upn != "" {
					name = upn
				}
				return &activitylog.Caller{Name: name, ObjectID: p.ObjectID, TenantID: p.TenantID, AppID: p.AppID, Type: p.Type, Claims: authn.ClaimsJSON(p)}, nil
			}
		}
	}
	if te, ok := err.(*authn.TokenError); ok {
		return nil, &api.AuthError{Code: te.Code, Message: te.Message, WWWAuthenticate: authn.WWWAuthenticate(a.url+"/"+a.tenant, err)}
	}
	return nil, err
}

// Start runs a server over st.
func Start(t testing.TB, st store.Store) *Server { t.Helper(); return StartWith(t, st, nil) }

// StartWith is Start with the manager's configuration adjusted by with
// (nil: unchanged).
func StartWith(t testing.TB, st store.Store, with func(*resources.Config)) *Server {
	t.Helper()
	ctx := context.Background()
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	url := ts.URL
	var mgr *resources.Manager
	var eng *deploy.Engine
	var lz *landingzone.Vendor
	idsvc := authn.New(st, authn.Config{Issuer: authn.IssuerAt(url), ManagedIdentity: func(ctx context.Context, _, host, rid, oid string) (bool, error) {
		if mgr == nil {
			return false, nil
		}
		return mgr.HasManagedIdentity(ctx, host, rid, oid)
	}})
	if err := idsvc.EnsureSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	ten, err := idsvc.CreateTenant(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	sp, secret, err := idsvc.CreateServicePrincipal(ctx, ten.ID, "admin")
	if err != nil {
		t.Fatal(err)
	}
	bi := loadBuiltins()
	hier := resources.NewHierarchy(st, ten.ID)
	gov := govern.New(st, govern.Config{Builtins: bi.builtins, Aliases: bi.catalog, NewID: uuidV4, Tree: hier.Tree})
	hier.OnChange(gov.TreeChanged)
	reg := resources.NewRegistry()
	gov.Register(reg)
	resources.RegisterManagementGroups(reg, hier)
	rem := gov.NewRemediator(govern.RemediatorConfig{TenantID: ten.ID})
	rem.Register(reg)
	security.Register(reg) // vulnerability findings: Microsoft.Security/assessments
	acc := access.New(st, access.Config{Roles: bi.roles, Admins: []string{sp.ObjectID},
		MemberOf:      func(ctx context.Context, oid string) ([]string, error) { return idsvc.MemberOf(ctx, ten.ID, oid) },
		GroupsVersion: idsvc.GroupsVersion,
		Principal:     func(ctx context.Context, oid string) (string, bool, error) { return idsvc.ObjectType(ctx, ten.ID, oid) },
		Tree:          hier.Tree})
	if err := acc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	acc.Register(reg)
	// Live compliance: the change feed (woken by every commit) drives
	// re-evaluation; scans run every 50ms poll.
	wctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	fd := feed.New(st, feed.Options{Interval: 50 * time.Millisecond})
	// The dashboard's change stream: the feed's writes (told before
	// the compliance they lead to), the records re-evaluated, the
	// activity log.
	hub := live.New(live.Config{Authorizer: acc})
	hub.Follow(fd)
	gov.Follow(fd, slog.New(slog.DiscardHandler))
	acc.Follow(fd)
	hier.Follow(fd)
	inb := inbound.New(st, inbound.Config{Authorize: func(ctx context.Context, c *activitylog.Caller, action, scope string) error {
		return mgr.Authorize(ctx, c, action, scope)
	}})
	inb.Follow(fd)
	gov.OnCompliance(hub.Compliance)
	go hub.RunEvents(wctx, st, 50*time.Millisecond)
	go fd.Run(wctx)
	// A write committed before the feed knows where it starts would never
	// be delivered (no periodic scan here covers it): the server takes
	// requests once the feed is ready, as serve does.
	<-fd.Ready()
	go gov.RunScans(wctx, "armtest", 0, 50*time.Millisecond, slog.New(slog.DiscardHandler))
	cfg := resources.Config{Now: func() time.Time { return time.Now().UTC() }, NewID: uuidV4, TenantID: ten.ID, LROLatency: 50 * time.Millisecond, Tree: hier.Tree,
		Authorizer: acc, Mutating: []resources.MutatingAdmission{gov, inb}, Validating: []resources.ValidatingAdmission{acc, gov, inb, hier},
		Committers: []resources.Committer{hier, acc, gov, rem, inb, resources.CommitFunc(func(*resources.Attributes) { fd.Notify() }),
			resources.CommitFunc(func(a *resources.Attributes) {
				if resources.ChangesManagedIdentities(a) {
					idsvc.ForgetManagedIdentities()
				}
			}),
			resources.CommitFunc(func(a *resources.Attributes) {
				if eng != nil {
					eng.Committed(a)
				}
			}),
			resources.CommitFunc(func(a *resources.Attributes) {
				if lz != nil {
					lz.Committed(a)
				}
			})}}
	kek := make([]byte, 32)
	rand.Read(kek)
	dk, err := authn.LoadDataKey(context.Background(), st, kek)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sealer = dk
	cfg.ScoringURL = url
	if with != nil {
		with(&cfg)
	}
	mgr = resources.New(st, reg, cfg)
	rctx, stopRem := context.WithCancel(wctx)
	go rem.Run(rctx, mgr, "armtest", 50*time.Millisecond, slog.New(slog.DiscardHandler))
	eng = deploy.New(mgr, st, deploy.Config{TenantID: ten.ID, NewID: uuidV4, Poll: 10 * time.Millisecond, Sweep: 200 * time.Millisecond})
	rem.SetDeployer(eng)
	go eng.Run(wctx)
	lz = landingzone.New(mgr, st, eng, landingzone.Config{RoleID: landingzone.RoleIDs(bi.roles), NewID: uuidV4, Poll: 20 * time.Millisecond, Sweep: 100 * time.Millisecond})
	go lz.Run(wctx)
	sub := uuidV4()
	if err := mgr.EnsureSubscription(ctx, sub, "test"); err != nil {
		t.Fatal(err)
	}
	if err := mgr.EnsureRootGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := hier.Load(ctx); err != nil {
		t.Fatal(err)
	}
	extra := http.NewServeMux()
	extra.Handle("/", oauth.New(idsvc, oauth.Config{BaseURL: url}))
	(&api.Jobs{Manager: mgr, Auth: &auth{svc: idsvc, tenant: ten.ID, url: url}, Inbound: inb, IssueToken: func(ctx context.Context, mi *resources.ManagedIdentity, resource string) (string, time.Time, error) {
		tok, err := idsvc.IssueManagedIdentityToken(ctx, ten.ID, authn.ManagedIdentity{ResourceID: mi.ResourceID, ObjectID: mi.ObjectID, ClientID: mi.ClientID, Host: mi.Host}, resource)
		if err != nil {
			return "", time.Time{}, err
		}
		return tok.AccessToken, tok.ExpiresOn, nil
	}}).Register(extra)
	graph.New(graph.Config{Directory: idsvc, TenantID: ten.ID, PublicURL: url, Admins: []string{sp.ObjectID}}).Register(extra)
	(&api.EgressLog{Manager: mgr, Auth: &auth{svc: idsvc, tenant: ten.ID, url: url}, PublicURL: url, List: func(ctx context.Context, q egress.Query) ([]*egress.Record, int64, error) {
		return egress.List(ctx, st, q)
	}}).Register(extra)
	(&api.Scoring{Manager: mgr, Inbound: inb, VerifyML: func(ctx context.Context, tok string) (*activitylog.Caller, error) {
		p, err := idsvc.VerifyFor(ctx, tok, authn.MLAudiences)
		if err == nil {
			err = idsvc.CheckTenant(p, ten.ID)
		}
		if err != nil {
			return nil, err
		}
		return &activitylog.Caller{Name: p.AppID, ObjectID: p.ObjectID, TenantID: p.TenantID, AppID: p.AppID, Type: p.Type}, nil
	}}).Register(extra)
	roles := api.NewRoleDefinitions(bi.roles)
	roles.Custom = acc.CustomRoles
	au := &auth{svc: idsvc, tenant: ten.ID, url: url}
	ts.Config.Handler = &api.Server{PublicURL: url, Manager: mgr, Auth: au, Extra: extra,
		Policies: bi.defs, PolicySets: bi.sets, Roles: roles, Insights: gov, Deployments: eng.Handler(),
		Inbound: inb, Changes: ChangesOf(hub), TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		Providers: &api.Providers{Registry: mgr.Registry(), Catalog: bi.catalog, Locations: mgr.Locations()}}
	s := &Server{URL: url, TenantID: ten.ID, SubscriptionID: sub, ClientID: sp.AppID, ClientSecret: secret, AdminObjectID: sp.ObjectID, Client: ts.Client(), Manager: mgr, Governor: gov, Remediator: rem, StopRemediator: stopRem, Access: acc, Inbound: inb, Deploy: eng, Live: hub, Directory: idsvc, Store: st, auth: au}
	s.Client.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS12
	tok, err := idsvc.TokenForClientSecret(ctx, ten.ID, sp.AppID, secret, "https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	s.token = tok.AccessToken
	return s
}

// ChangesOf is the api.Changes of a hub.
func ChangesOf(h *live.Hub) api.Changes {
	return func(ctx context.Context, c *activitylog.Caller, scope string) (api.ChangeSubscription, error) {
		sub, err := h.Subscribe(ctx, c, scope)
		if err != nil {
			return nil, err
		}
		return sub, nil
	}
}

// Response is a decoded response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body.
func (r *Response) JSON() map[string]any {
	var m map[string]any
	json.Unmarshal(r.Body, &m)
	return m
}

// ErrorCode returns error.code of an ARM error body.
func (r *Response) ErrorCode() string {
	if e, ok := r.JSON()["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

// ErrorMessage returns error.message.
func (r *Response) ErrorMessage() string {
	if e, ok := r.JSON()["error"].(map[string]any); ok {
		s, _ := e["message"].(string)
		return s
	}
	return ""
}

// Do sends a request with the administrator's token (headers as pairs).
func (s *Server) Do(t testing.TB, method, path string, body any, headers ...string) *Response {
	t.Helper()
	return s.DoAs(t, s.token, method, path, body, headers...)
}

// otherReplica stands for another replica on the test's store: follow
// subscribes that replica's component to a change feed of its own,
// which then runs until the test ends. The returned context ends then
// too; the feed has read where it starts.
func (s *Server) otherReplica(t testing.TB, follow func(*feed.Feed)) context.Context {
	t.Helper()
	fd := feed.New(s.Store, feed.Options{Interval: 20 * time.Millisecond})
	follow(fd)
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go fd.Run(ctx)
	<-fd.Ready()
	return ctx
}

// Principal is a service principal of the test's tenant and its token.
type Principal struct {
	AppID, ObjectID, Secret, Token string
}

// NewPrincipal creates a service principal and signs it in.
func (s *Server) NewPrincipal(t testing.TB, name string) *Principal {
	t.Helper()
	ctx := context.Background()
	sp, secret, err := s.Directory.CreateServicePrincipal(ctx, s.TenantID, name)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Directory.TokenForClientSecret(ctx, s.TenantID, sp.AppID, secret, "https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	return &Principal{AppID: sp.AppID, ObjectID: sp.ObjectID, Secret: secret, Token: tok.AccessToken}
}

// DoAs sends a request with a token (headers as pairs).
func (s *Server) DoAs(t testing.TB, token, method, path string, body any, headers ...string) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	return s.send(t, req)
}

// send sends req with the server's client and reads the answer.
func (s *Server) send(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// RG returns the path of a resource group of the default subscription.
func (s *Server) RG(name string) string {
	return "/subscriptions/" + s.SubscriptionID + "/resourceGroups/" + name
}

// Events reads the activity log of the default subscription, every page
// of top events (top 0: the server's page size), with an optional
// $filter.
func (s *Server) Events(t testing.TB, filter string, top int) []map[string]any {
	t.Helper()
	next := "/subscriptions/" + s.SubscriptionID + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01"
	if top > 0 {
		next += "&$top=" + strconv.Itoa(top)
	}
	if filter != "" {
		next += "&$filter=" + url.QueryEscape(filter)
	}
	var all []map[string]any
	for pages := 0; next != ""; pages++ {
		r := s.Do(t, "GET", strings.TrimPrefix(next, s.URL), nil)
		if r.Status != 200 {
			t.Fatalf("activity log: %d %s", r.Status, r.Body)
		}
		m := r.JSON()
		vals, _ := m["value"].([]any)
		for _, v := range vals {
			e, _ := v.(map[string]any)
			all = append(all, e)
		}
		next, _ = m["nextLink"].(string)
		if pages > 50 {
			t.Fatal("activity log paging does not end")
		}
	}
	return all
}

// WaitLRO polls an Azure-AsyncOperation URL until it is terminal.
func (s *Server) WaitLRO(t testing.TB, url string) string {
	t.Helper()
	path := strings.TrimPrefix(url, s.URL)
	for i := 0; i < 200; i++ {
		r := s.Do(t, "GET", path, nil)
		st, _ := r.JSON()["status"].(string)
		if st != "InProgress" && st != "" {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("operation %s did not finish", url)
	return ""
}

func uuidV4() string { return uuid.New() }
