// Package ui is the web dashboard: a single-page application of the
// project's own (plain ES modules, no framework, nothing third-party),
// embedded in the binary and served by `mlgov serve` on the same origin
// under /ui/. It works offline: every asset comes from the binary.
//
// The page signs the user in with the authorization code flow and PKCE
// against mlgov's token service (the first-party dashboard client,
// authn.DashboardClientID, whose only redirect URI is {public URL}/ui/)
// and then calls the ARM and PolicyInsights API with the user's token,
// as the SDKs do: what it shows is exactly what that API lets the user
// read, with the same RBAC decisions (nothing is rendered that the API
// would refuse, because the page has no other source). The few reads the
// ARM API has no shape for (the compliance trend, the live change
// stream) are ARM-shaped paths of the project's own
// (Mlgov.Governance), authorized the same way.
//
// This package serves files and the page's configuration only; it reads
// no store and makes no decision.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the dashboard is served under.
const Prefix = "/ui/"

// Config is what the page needs to know of the server.
type Config struct {
	// PublicURL is https://host[:port], where browsers reach the server.
	PublicURL string
	// TenantID is the tenant users sign in to.
	TenantID string
	// ClientID is the dashboard's client id (authn.DashboardClientID).
	ClientID string
	// SubscriptionID is the subscription the page opens first (the
	// server's default one).
	SubscriptionID string
	// External is the trusted external OpenID Connect issuer users may
	// sign in with instead (nil: mlgov's token service only).
	External *External
}

// External is an external issuer's sign-in for the page: the
// authorization code flow with PKCE of a public client registered there
// with the redirect URI {public URL}/ui/; its access tokens are those
// serve --oidc-issuer trusts.
type External struct {
	// Name is what the sign-in button says ("Sign in with {Name}").
	Name string `json:"name"`
	// Issuer is the issuer URL.
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorizationEndpoint"`
	TokenEndpoint         string `json:"tokenEndpoint"`
	EndSessionEndpoint    string `json:"endSessionEndpoint,omitempty"`
	ClientID              string `json:"clientId"`
	// Scope is asked for (it must give tokens for mlgov's audience).
	Scope string `json:"scope"`
}

// RedirectURI is the dashboard's redirect URI at a public URL.
func RedirectURI(publicURL string) string { return strings.TrimSuffix(publicURL, "/") + Prefix }

// file is one embedded asset, with what its responses carry.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the dashboard under Prefix.
type Handler struct {
	files  map[string]*file // by path below Prefix ("index.html", "assets/app.js")
	config *file
	csp    string
}

// New returns the dashboard's handler. It fails only if the embedded
// assets are unreadable (a build error).
func New(cfg Config) (*Handler, error) {
	h := &Handler{files: map[string]*file{}, csp: contentSecurityPolicy(cfg.External)}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		if name != "index.html" {
			name = p
		}
		h.files[name] = newFile(b, path.Ext(p))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: reading the embedded assets: %w", err)
	}
	if h.files["index.html"] == nil {
		return nil, fmt.Errorf("ui: the embedded assets have no index.html")
	}
	base := strings.TrimSuffix(cfg.PublicURL, "/")
	c, err := json.Marshal(map[string]any{
		// An external issuer's sign-in, besides mlgov's (absent: none).
		"external":       cfg.External,
		"tenantId":       cfg.TenantID,
		"clientId":       cfg.ClientID,
		"authority":      base + "/" + cfg.TenantID,
		"redirectUri":    RedirectURI(base),
		"subscriptionId": cfg.SubscriptionID,
		// The token's resource: ARM, as the SDKs ask for it.
		"scope": "https://management.azure.com/.default openid profile offline_access",
		// Microsoft Graph, for the sign-in log (its administrators only).
		"graphScope": "https://graph.microsoft.com/.default",
	})
	if err != nil {
		return nil, err
	}
	h.config = newFile(c, ".json")
	return h, nil
}

func newFile(b []byte, ext string) *file {
	sum := sha256.Sum256(b)
	ct := mime.TypeByExtension(ext)
	switch ext { // not left to the system's MIME table
	case ".js", ".mjs":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".json":
		ct = "application/json; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	return &file{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// contentSecurityPolicy: the page runs its own scripts and styles only,
// talks to its own origin only (and to the external issuer's token
// endpoint, where it signs in with one), and cannot be framed.
func contentSecurityPolicy(ext *External) string {
	connect := "'self'"
	if ext != nil {
		if u, err := url.Parse(ext.TokenEndpoint); err == nil && u.Scheme == "https" && u.Host != "" {
			connect += " https://" + u.Host
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src " + connect + "; " +
		"font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

// ServeHTTP serves GET and HEAD of the dashboard's files; every other
// path below Prefix is the page itself (its routes are in the fragment,
// but a bookmarked /ui/x still opens it).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", h.csp)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The dashboard's files are read with GET or HEAD.")
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, Prefix)
	var f *file
	switch {
	case rel == "config.json":
		f = h.config
		hd.Set("Cache-Control", "no-store")
	case strings.HasPrefix(rel, "assets/"):
		if f = h.files[rel]; f == nil {
			writeError(w, http.StatusNotFound, "NotFound", "The dashboard has no file '"+clip(rel)+"'.")
			return
		}
		// Revalidated on every load (the ETag is the content's hash): a
		// new binary's page never mixes with an old one's modules.
		hd.Set("Cache-Control", "no-cache")
	default:
		f = h.files["index.html"]
		hd.Set("Cache-Control", "no-store")
	}
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// writeError writes an ARM error body (the shape every other path of
// the server answers with).
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	w.Write(b)
}
