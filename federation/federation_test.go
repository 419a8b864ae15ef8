package federation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestMappedID: a GUID is kept (lower-cased); another value maps to the
// same GUID every time, different per issuer and per value.
func TestMappedID(t *testing.T) {
	a, _ := New(Config{Issuer: "https://idp.example/realms/a", Audience: "mlgov"})
	b, _ := New(Config{Issuer: "https://idp.example/realms/b", Audience: "mlgov"})
	if got := a.MappedID("3F0D1C2B-4A5E-4F6A-8B7C-9D0E1F2A3B4C"); got != "3f0d1c2b-4a5e-4f6a-8b7c-9d0e1f2a3b4c" {
		t.Errorf("a GUID: %s", got)
	}
	g := a.MappedID("/ml-team")
	if g != a.MappedID("/ml-team") || g == a.MappedID("/other") || g == b.MappedID("/ml-team") || len(g) != 36 || g[14] != '5' {
		t.Errorf("derived ids: %s %s %s", g, a.MappedID("/other"), b.MappedID("/ml-team"))
	}
}

// TestDiscoveryAndKeys: the discovery document must name the issuer;
// an unknown key id makes the keys be fetched again, at most every
// minRefetch.
func TestDiscoveryAndKeys(t *testing.T) {
	var jwksHits atomic.Int32
	issuer := ""
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": "https://" + r.Host + "/keys"})
		case "/keys":
			jwksHits.Add(1)
			w.Write([]byte(`{"keys":[]}`))
		}
	}))
	defer srv.Close()
	issuer = "https://elsewhere.example"
	i, err := New(Config{Issuer: srv.URL, Audience: "mlgov", HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := i.key(context.Background(), "k1"); err == nil || !strings.Contains(err.Error(), "names the issuer") {
		t.Errorf("a discovery document naming another issuer: %v", err)
	}
	issuer = srv.URL
	i, _ = New(Config{Issuer: srv.URL, Audience: "mlgov", HTTP: srv.Client()})
	for range 3 {
		if _, err := i.key(context.Background(), "unknown"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("an unknown key: %v", err)
		}
	}
	if n := jwksHits.Load(); n != 1 {
		t.Errorf("the keys were fetched %d times for 3 tokens of an unknown key within %s, want 1", n, minRefetch)
	}
	if _, err := New(Config{Issuer: "http://plain.example", Audience: "x"}); err == nil {
		t.Error("an http issuer was accepted")
	}
	if got := Peek("a.b"); got != "" {
		t.Errorf("Peek of a non-JWT: %q", got)
	}
}
