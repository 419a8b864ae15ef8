package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/federation"
)

// oidcOptions are serve's flags of a trusted external OpenID Connect
// issuer (a company's Entra ID, Keycloak): its access tokens are
// accepted besides mlgov's own, mapped to principals and groups that
// role assignments name (package federation).
type oidcOptions struct {
	issuer, audience, oidClaim, groupsClaim, caFile string
}

func (o *oidcOptions) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.issuer, "oidc-issuer", "", "trust the access tokens of this OpenID Connect issuer (https URL, as its tokens' iss says)")
	f.StringVar(&o.audience, "oidc-audience", "", "the aud the issuer's tokens must hold (with --oidc-issuer)")
	f.StringVar(&o.oidClaim, "oidc-object-id-claim", "", "the claim naming the principal (default: oid, else sub); a value that is no GUID maps to a derived GUID")
	f.StringVar(&o.groupsClaim, "oidc-groups-claim", "groups", "the claim listing the principal's groups")
	f.StringVar(&o.caFile, "oidc-ca-file", "", "CA certificates (PEM) to trust the issuer's TLS with (default: the system's)")
}

// build returns the issuer (nil without --oidc-issuer).
func (o *oidcOptions) build() (*federation.Issuer, error) {
	if o.issuer == "" {
		if o.audience != "" || o.caFile != "" || o.oidClaim != "" {
			return nil, errors.New("--oidc-audience, --oidc-object-id-claim and --oidc-ca-file go with --oidc-issuer")
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
