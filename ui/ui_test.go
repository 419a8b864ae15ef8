package ui

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHandler: the page at /ui/ and at any route below it, every
// embedded asset with its type, the configuration the page signs in
// with, revalidation by ETag, the security headers on every answer, and
// ARM error bodies for what is not served.
func TestHandler(t *testing.T) {
	h, err := New(Config{PublicURL: "https://mlgov.example:8443/", TenantID: "t1", ClientID: "c1", SubscriptionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/ui/", "/ui/anything/below"} {
		w := serve(t, h, "GET", p, nil)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(w.Body.String(), `src="/ui/assets/js/app.js"`) {
			t.Errorf("GET %s: %d %s", p, w.Code, w.Header().Get("Content-Type"))
		}
	}
	w := serve(t, h, "GET", "/ui/config.json", nil)
	var cfg map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &cfg); err != nil || w.Code != 200 {
		t.Fatalf("config: %d %v", w.Code, err)
	}
	want := map[string]string{"tenantId": "t1", "clientId": "c1", "subscriptionId": "s1", "authority": "https://mlgov.example:8443/t1", "redirectUri": "https://mlgov.example:8443/ui/"}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("config %s = %q, want %q", k, cfg[k], v)
		}
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("config Cache-Control %q", w.Header().Get("Cache-Control"))
	}
	// Every module the page imports is served, with a JavaScript type.
	types := map[string]string{".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}
	n := 0
	fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if d.IsDir() || p == "assets/index.html" {
			return nil
		}
		n++
		w := serve(t, h, "GET", "/ui/"+p, nil)
		ext := p[strings.LastIndex(p, "."):]
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), types[ext]) || w.Header().Get("ETag") == "" {
			t.Errorf("GET /ui/%s: %d %q etag %q", p, w.Code, w.Header().Get("Content-Type"), w.Header().Get("ETag"))
		}
		if again := serve(t, h, "GET", "/ui/"+p, map[string]string{"If-None-Match": w.Header().Get("ETag")}); again.Code != 304 {
			t.Errorf("GET /ui/%s with its ETag: %d, want 304", p, again.Code)
		}
		return nil
	})
	if n < 10 {
		t.Errorf("%d assets served; the page has more", n)
	}
	// Imports name files that exist (a renamed module would break the page).
	imp := regexp.MustCompile(`from '(\.[^']+)'`)
	fs.WalkDir(assets, "assets/js", func(p string, d fs.DirEntry, err error) error {
		if d.IsDir() {
			return nil
		}
		b, _ := assets.ReadFile(p)
		dir := p[:strings.LastIndex(p, "/")]
		for _, m := range imp.FindAllStringSubmatch(string(b), -1) {
			target := dir + "/" + m[1]
			for strings.Contains(target, "/./") || strings.Contains(target, "/../") {
				target = regexp.MustCompile(`/\./`).ReplaceAllString(target, "/")
				target = regexp.MustCompile(`/[^/]+/\.\./`).ReplaceAllString(target, "/")
			}
			if _, err := assets.ReadFile(target); err != nil {
				t.Errorf("%s imports %s: %v", p, m[1], err)
			}
		}
		return nil
	})
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/ui/assets/nope.js", 404, "NotFound"},
		{"POST", "/ui/", 405, "MethodNotAllowed"},
		{"DELETE", "/ui/config.json", 405, "MethodNotAllowed"},
	} {
		w := serve(t, h, c.method, c.path, nil)
		var body struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(w.Body.Bytes(), &body); w.Code != c.status || body.Error.Code != c.code || body.Error.Message == "" {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body)
		}
	}
	for _, p := range []string{"/ui/", "/ui/assets/js/app.js", "/ui/nope/../x", "/ui/assets/nope.js"} {
		w := serve(t, h, "GET", p, nil)
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: headers %v", p, w.Header())
		}
	}
}

// TestAssetsSelfContained: the page fetches nothing from elsewhere (it
// works offline): no absolute URL in a script, style or the page, other
// than the SVG namespace.
func TestAssetsSelfContained(t *testing.T) {
	abs := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if d.IsDir() {
			return nil
		}
		b, _ := assets.ReadFile(p)
		for _, m := range abs.FindAllString(string(b), -1) {
			switch m {
			case "http://www.w3.org", "https://management.azure.com", "https://graph.microsoft.com":
				continue // the SVG namespace; token scopes, not fetched
			}
			t.Errorf("%s refers to %s", p, m)
		}
		return nil
	})
}

// TestExternalSignIn: with an external issuer the page's configuration
// names its sign-in, and the page may talk to its token endpoint (and no
// other foreign origin).
func TestExternalSignIn(t *testing.T) {
	ext := &External{Name: "idp.example", Issuer: "https://idp.example/realms/corp", AuthorizationEndpoint: "https://idp.example/realms/corp/auth",
		TokenEndpoint: "https://tokens.idp.example:8443/realms/corp/token", ClientID: "mlgov-dashboard", Scope: "openid"}
	h, err := New(Config{PublicURL: "https://mlgov.example", TenantID: "t1", ClientID: "c1", SubscriptionID: "s1", External: ext})
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ External *External }
	if err := json.Unmarshal(serve(t, h, "GET", "/ui/config.json", nil).Body.Bytes(), &cfg); err != nil || cfg.External == nil || *cfg.External != *ext {
		t.Fatalf("config: %v %+v", err, cfg.External)
	}
	csp := serve(t, h, "GET", "/ui/", nil).Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://tokens.idp.example:8443;") {
		t.Errorf("CSP %q: want the token endpoint's origin in connect-src", csp)
	}
	plain, _ := New(Config{PublicURL: "https://mlgov.example"})
	if csp := serve(t, plain, "GET", "/ui/", nil).Header().Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self';") {
		t.Errorf("CSP without an external issuer: %q", csp)
	}
}
