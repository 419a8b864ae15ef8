package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// mlgov login / logout: a user's sign-in at a running server by the
// device code flow (RFC 8628), as az login --use-device-code does: the
// command prints a code and a page, the user opens the page in any
// browser, signs in there (password, and the TOTP code where
// conditional access requires MFA), and the command receives the
// tokens. It keeps the refresh token in the login file (0600), with the
// access tokens it got, for the commands given --login; logout revokes
// the session on the server (its access tokens stop at once) and
// deletes the file.

// loginClientID is the public client mlgov signs in as: the Azure CLI's,
// which Entra (and mlgov) let use the device code flow.
const loginClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// loginFile is the login file.
type loginFile struct {
	Endpoint       string                 `json:"endpoint"`
	AuthorityHost  string                 `json:"authorityHost"`
	TenantID       string                 `json:"tenantId"`
	SubscriptionID string                 `json:"subscriptionId,omitempty"`
	CACertFile     string                 `json:"caCertFile,omitempty"`
	ClientID       string                 `json:"clientId"`
	Username       string                 `json:"username"`
	RefreshToken   string                 `json:"refreshToken"`
	Tokens         map[string]cachedToken `json:"tokens,omitempty"`
}

type cachedToken struct {
	AccessToken string    `json:"accessToken"`
	ExpiresOn   time.Time `json:"expiresOn"`
}

// defaultLoginFile is $MLGOV_LOGIN_FILE, or login.json in the user's
// configuration directory's mlgov folder.
func defaultLoginFile() string {
	if p := os.Getenv("MLGOV_LOGIN_FILE"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return filepath.Join(".mlgov", "login.json")
	}
	return filepath.Join(dir, "mlgov", "login.json")
}

func readLoginFile(path string) (*loginFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("not signed in (%s does not exist): run mlgov login", path)
	} else if err != nil {
		return nil, err
	}
	var lf loginFile
	if err := json.Unmarshal(b, &lf); err != nil || lf.RefreshToken == "" || lf.Endpoint == "" || lf.TenantID == "" {
		return nil, fmt.Errorf("%s is not a login file of mlgov login: run mlgov login again", path)
	}
	return &lf, nil
}

// write replaces the login file (a temporary file renamed over it, mode
// 0600: it holds a refresh token).
func (lf *loginFile) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(lf, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".login-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// httpClientFor is an HTTPS client trusting caFile ("" : the system's
// roots).
func httpClientFor(caFile string) (*http.Client, error) {
	var roots *x509.CertPool
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate %s holds no PEM certificate", caFile)
		}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}, nil
}

// tokenAnswer is a token endpoint's answer (success or error).
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// postOAuth posts a form to an endpoint of the authority and decodes the
// JSON answer into out; it returns the status.
func postOAuth(ctx context.Context, hc *http.Client, endpoint string, form url.Values, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s answered %d with a body that is not JSON", endpoint, resp.StatusCode)
		}
	}
	return resp.StatusCode, nil
}

func newLoginCmd(e *env) *cobra.Command {
	var endpoint, tenant, caFile, bootstrap, loginPath, subscription string
	c := &cobra.Command{
		Use:   "login",
		Short: "Sign a user in to a running server (device code flow)",
		Long: "Signs a user in by the device code flow: open the page it prints in any browser, enter the code,\n" +
			"and sign in there (password, and the code of an authenticator app where the directory requires MFA).\n" +
			"The session is kept in the login file (--login-file, env MLGOV_LOGIN_FILE); commands given --login use it.\n" +
			"The server is --endpoint with --tenant (and --ca-file), or the one of --bootstrap (its secret is not used).",
		Args: cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			lf := &loginFile{Endpoint: strings.TrimRight(endpoint, "/"), TenantID: tenant, CACertFile: caFile, SubscriptionID: subscription, ClientID: loginClientID}
			if endpoint == "" {
				bs, err := readBootstrap(bootstrap)
				if err != nil {
					return fmt.Errorf("reading %s (pass --endpoint and --tenant, or --bootstrap): %w", bootstrap, err)
				}
				lf.Endpoint, lf.AuthorityHost, lf.TenantID, lf.CACertFile = bs.Endpoint, bs.AuthorityHost, bs.TenantID, bs.CACertFile
				if lf.SubscriptionID == "" {
					lf.SubscriptionID = bs.SubscriptionID
				}
			} else if tenant == "" {
				return errors.New("--endpoint needs --tenant (the directory's tenant id)")
			}
			if u, err := url.Parse(lf.Endpoint); err != nil || u.Scheme != "https" || u.Host == "" {
				return fmt.Errorf("endpoint %q: expected an https URL", lf.Endpoint)
			}
			if lf.AuthorityHost == "" {
				lf.AuthorityHost = lf.Endpoint
			}
			hc, err := httpClientFor(lf.CACertFile)
			if err != nil {
				return err
			}
			return deviceLogin(cmd.Context(), e, hc, lf, loginPath)
		}),
	}
	f := c.Flags()
	f.StringVar(&endpoint, "endpoint", "", "the server's URL (with --tenant)")
	f.StringVar(&tenant, "tenant", "", "the directory's tenant id (with --endpoint)")
	f.StringVar(&caFile, "ca-file", "", "PEM file of the CA the server's certificate is issued by (with --endpoint; default: the system's)")
	f.StringVar(&bootstrap, "bootstrap", filepath.Join("mlgov-data", "bootstrap.json"), "bootstrap.json of mlgov serve: the server to sign in to, when --endpoint is not given")
	f.StringVar(&subscription, "subscription", "", "the default subscription of the commands run with --login")
	f.StringVar(&loginPath, "login-file", defaultLoginFile(), "where the session is kept")
	return c
}

// deviceLogin runs the device code flow and writes the login file.
func deviceLogin(ctx context.Context, e *env, hc *http.Client, lf *loginFile, path string) error {
	base := strings.TrimRight(lf.AuthorityHost, "/") + "/" + lf.TenantID + "/oauth2/v2.0/"
	var dc struct {
		UserCode        string `json:"user_code"`
		DeviceCode      string `json:"device_code"`
		VerificationURI string `json:"verification_uri"`
		ExpiresIn       int64  `json:"expires_in"`
		Interval        int64  `json:"interval"`
		Message         string `json:"message"`
		Error           string `json:"error"`
		Description     string `json:"error_description"`
	}
	if _, err := postOAuth(ctx, hc, base+"devicecode", url.Values{"client_id": {lf.ClientID}, "scope": {armScope + " offline_access openid profile"}}, &dc); err != nil {
		return err
	}
	if dc.DeviceCode == "" {
		return fmt.Errorf("the server refused the sign-in: %s %s", dc.Error, firstLine(dc.Description))
	}
	fmt.Fprintln(e.stderr, dc.Message)
	interval := time.Duration(max(dc.Interval, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, time.Duration(dc.ExpiresIn)*time.Second)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return errors.New("the code expired before the sign-in in the browser: run mlgov login again")
		case <-time.After(interval):
		}
		var tok tokenAnswer
		if _, err := postOAuth(ctx, hc, base+"token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
			"client_id": {lf.ClientID}, "device_code": {dc.DeviceCode}}, &tok); err != nil {
			if ctx.Err() != nil {
				continue
			}
			return err
		}
		switch tok.Error {
		case "":
		case "authorization_pending":
			continue
		case "slow_down":
			interval += 5 * time.Second
			continue
		default:
			return fmt.Errorf("the sign-in failed: %s: %s", tok.Error, firstLine(tok.Description))
		}
		if tok.RefreshToken == "" || tok.AccessToken == "" {
			return errors.New("the server's answer has no refresh token")
		}
		lf.RefreshToken, lf.Username = tok.RefreshToken, idTokenUser(tok.IDToken)
		lf.Tokens = map[string]cachedToken{armScope: {AccessToken: tok.AccessToken, ExpiresOn: time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)}}
		if err := lf.write(path); err != nil {
			return fmt.Errorf("signed in, but the login file could not be written: %w", err)
		}
		fmt.Fprintf(e.stdout, "Signed in as %s (tenant %s) at %s.\n", lf.Username, lf.TenantID, lf.Endpoint)
		return nil
	}
}

// idTokenUser reads preferred_username from an ID token (from the
// server the command trusts over TLS; the signature is not needed to
// show a name).
func idTokenUser(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		PreferredUsername string `json:"preferred_username"`
	}
	json.Unmarshal(b, &c)
	return c.PreferredUsername
}

func newLogoutCmd(e *env) *cobra.Command {
	var loginPath string
	c := &cobra.Command{
		Use:   "logout",
		Short: "Sign out: end the session of mlgov login on the server and delete the login file",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			lf, err := readLoginFile(loginPath)
			if err != nil {
				return err
			}
			hc, err := httpClientFor(lf.CACertFile)
			if err != nil {
				return err
			}
			st, rerr := postOAuth(cmd.Context(), hc, strings.TrimRight(lf.AuthorityHost, "/")+"/"+lf.TenantID+"/oauth2/v2.0/revoke",
				url.Values{"token": {lf.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {lf.ClientID}}, nil)
			if err := os.Remove(loginPath); err != nil {
				return err
			}
			if rerr == nil && st != http.StatusOK {
				rerr = fmt.Errorf("status %d", st)
			}
			if rerr != nil {
				return fmt.Errorf("the login file is deleted, but the server did not end the session (%v): its tokens work until they expire", rerr)
			}
			fmt.Fprintf(e.stdout, "Signed out %s.\n", lf.Username)
			return nil
		}),
	}
	c.Flags().StringVar(&loginPath, "login-file", defaultLoginFile(), "the login file of mlgov login")
	return c
}

// loginClient returns a client for scope with the session of the login
// file: its cached access token while it has five minutes left, else one
// got with the refresh token (which the server replaces: the new one is
// written back, under a lock so that concurrent commands do not present
// the same one twice, which would end the session).
func loginClient(ctx context.Context, path, scope string) (*armClient, error) {
	lf, err := readLoginFile(path)
	if err != nil {
		return nil, err
	}
	hc, err := httpClientFor(lf.CACertFile)
	if err != nil {
		return nil, err
	}
	c := &armClient{bs: &Bootstrap{TenantID: lf.TenantID, SubscriptionID: lf.SubscriptionID, ClientID: lf.ClientID, Endpoint: lf.Endpoint,
		AuthorityHost: lf.AuthorityHost, CACertFile: lf.CACertFile}, http: hc}
	if t, ok := lf.Tokens[scope]; ok && time.Until(t.ExpiresOn) > 5*time.Minute {
		c.token = t.AccessToken
		return c, nil
	}
	unlock, err := lockFile(ctx, path+".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if lf, err = readLoginFile(path); err != nil { // another command may have refreshed
		return nil, err
	}
	if t, ok := lf.Tokens[scope]; ok && time.Until(t.ExpiresOn) > 5*time.Minute {
		c.token = t.AccessToken
		return c, nil
	}
	var tok tokenAnswer
	if _, err := postOAuth(ctx, hc, strings.TrimRight(lf.AuthorityHost, "/")+"/"+lf.TenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"},
		"client_id": {lf.ClientID}, "refresh_token": {lf.RefreshToken}, "scope": {scope + " offline_access"}}, &tok); err != nil {
		return nil, err
	}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("the session of %s cannot get a token (run mlgov login again): %s: %s", lf.Username, tok.Error, firstLine(tok.Description))
	}
	if tok.RefreshToken != "" {
		lf.RefreshToken = tok.RefreshToken
	}
	if lf.Tokens == nil {
		lf.Tokens = map[string]cachedToken{}
	}
	lf.Tokens[scope] = cachedToken{AccessToken: tok.AccessToken, ExpiresOn: time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)}
	if err := lf.write(path); err != nil {
		return nil, fmt.Errorf("the login file could not be updated (its refresh token is now replaced: run mlgov login again): %w", err)
	}
	c.token = tok.AccessToken
	return c, nil
}

// lockFile takes an exclusive lock (a file made with O_EXCL; one older
// than a minute is a crashed holder's and is taken over).
func lockFile(ctx context.Context, path string) (func(), error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.Remove(path)
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
