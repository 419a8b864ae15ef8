package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/federation"
	"github.com/mlgov/mlgov/ui"
)

// oidcOptions are serve's flags of a trusted external OpenID Connect
// issuer (a company's Entra ID, Keycloak): its access tokens are
// accepted besides mlgov's own, mapped to principals and groups that
// role assignments name (package federation).
type oidcOptions struct {
	issuer, audience, oidClaim, groupsClaim, caFile string
	// The web dashboard's sign-in with the issuer: its public client
	// there, and the scope it asks for.
	uiClientID, uiScope string
}

func (o *oidcOptions) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.issuer, "oidc-issuer", "", "trust the access tokens of this OpenID Connect issuer (https URL, as its tokens' iss says)")
	f.StringVar(&o.audience, "oidc-audience", "", "the aud the issuer's tokens must hold (with --oidc-issuer)")
	f.StringVar(&o.oidClaim, "oidc-object-id-claim", "", "the claim naming the principal (default: oid, else sub); a value that is no GUID maps to a derived GUID")
	f.StringVar(&o.groupsClaim, "oidc-groups-claim", "groups", "the claim listing the principal's groups")
	f.StringVar(&o.caFile, "oidc-ca-file", "", "CA certificates (PEM) to trust the issuer's TLS with (default: the system's)")
	f.StringVar(&o.uiClientID, "ui-oidc-client-id", "", "let the web dashboard's users sign in with the issuer too: the client id of the dashboard there (a public client with the redirect URI {endpoint}/ui/; with --oidc-issuer)")
	f.StringVar(&o.uiScope, "ui-oidc-scope", "openid profile", "the scope the dashboard asks the issuer for (with --ui-oidc-client-id; its access tokens must carry --oidc-audience)")
}

// build returns the issuer (nil without --oidc-issuer).
func (o *oidcOptions) build() (*federation.Issuer, error) {
	if o.issuer == "" {
		if o.audience != "" || o.caFile != "" || o.oidClaim != "" || o.uiClientID != "" {
			return nil, errors.New("--oidc-audience, --oidc-object-id-claim, --oidc-ca-file and --ui-oidc-client-id go with --oidc-issuer")
		}
		return nil, nil
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--oidc-ca-file %s holds no PEM certificate", o.caFile)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	iss, err := federation.New(federation.Config{Issuer: o.issuer, Audience: o.audience, ObjectIDClaim: o.oidClaim, GroupsClaim: o.groupsClaim, HTTP: hc})
	if err != nil {
		return nil, fmt.Errorf("--oidc-issuer: %w", err)
	}
	return iss, nil
}

// dashboard returns the dashboard's sign-in with the issuer (nil without
// --ui-oidc-client-id): its endpoints read from the issuer's discovery
// document now, so that a wrong issuer stops the start.
func (o *oidcOptions) dashboard(ctx context.Context, fed *federation.Issuer) (*ui.External, error) {
	if o.uiClientID == "" || fed == nil {
		return nil, nil
	}
	ep, err := fed.SignInEndpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("--ui-oidc-client-id: the issuer's sign-in endpoints: %w", err)
	}
	name := fed.Issuer()
	if u, err := url.Parse(name); err == nil {
		name = u.Host
	}
	return &ui.External{Name: name, Issuer: fed.Issuer(), AuthorizationEndpoint: ep.Authorization, TokenEndpoint: ep.Token,
		EndSessionEndpoint: ep.EndSession, ClientID: o.uiClientID, Scope: o.uiScope}, nil
}
