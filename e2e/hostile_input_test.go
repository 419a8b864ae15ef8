package e2e

// Black-box tests of `mlgov serve` for input that used to be stored as
// something else than what was sent (issue 9, finding 8), and for the
// activity-log retention (finding 9): each point is a request to the
// binary over HTTPS and the answer it must give.

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hiClient talks to one server with the administrator's token.
type hiClient struct {
	t        *testing.T
	hc       *http.Client
	endpoint string
	token    string
	sub      string
}

type hiAnswer struct {
	status int
	body   []byte
}

func (a *hiAnswer) json() map[string]any {
	var m map[string]any
	json.Unmarshal(a.body, &m)
	return m
}

// hiError returns error.code, error.target and error.message.
func (a *hiAnswer) hiError() (code, target, msg string) {
	e, _ := a.json()["error"].(map[string]any)
	code, _ = e["code"].(string)
	target, _ = e["target"].(string)
	msg, _ = e["message"].(string)
	return
}

func hiConnect(t *testing.T, s *Server) *hiClient {
	t.Helper()
	b := s.Bootstrap
	pool, err := b.CertPool()
	if err != nil {
		t.Fatal(err)
	}
	c := &hiClient{t: t, endpoint: strings.TrimRight(b.Endpoint, "/"), sub: b.SubscriptionID, hc: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}}
	st, tok := clientToken(t, c.hc, b.AuthorityHost, b, b.ClientSecret)
	if st != 200 || tok == "" {
		t.Fatalf("token request: %d", st)
	}
	c.token = tok
	t.Cleanup(c.hc.CloseIdleConnections)
	return c
}

func (c *hiClient) do(method, path, body string) *hiAnswer {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.endpoint+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %.120s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &hiAnswer{status: resp.StatusCode, body: b}
}

func (c *hiClient) rg(name string) string {
	return "/subscriptions/" + c.sub + "/resourceGroups/" + name
}

func (c *hiClient) events(query string) string {
	return "/subscriptions/" + c.sub + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01" + query
}

func (c *hiClient) mustPut(path, body string) *hiAnswer {
	c.t.Helper()
	a := c.do("PUT", path, body)
	if a.status != 200 && a.status != 201 {
		c.t.Fatalf("PUT %s: %d %.300s", path, a.status, a.body)
	}
	return a
}

// hiCase is one hostile request and the refusal it must get.
type hiCase struct {
	name, method, path, body string
	status                   int
	code, target             string
	inMessage                []string
}

func hiCheck(t *testing.T, c *hiClient, tc hiCase) {
	t.Helper()
	a := c.do(tc.method, tc.path, tc.body)
	code, target, msg := a.hiError()
	if a.status != tc.status || code != tc.code || target != tc.target {
		t.Errorf("%s: %d %s target %q, want %d %s target %q; body %.300s", tc.name, a.status, code, target, tc.status, tc.code, tc.target, a.body)
		return
	}
	for _, p := range tc.inMessage {
		if !strings.Contains(msg, p) {
			t.Errorf("%s: message %q does not name %q", tc.name, msg, p)
		}
	}
}

const hiStorageAV = "?api-version=2023-05-01"

// TestHostileInput: with the default settings, every kind of input the
// issue lists is refused with a 400 naming the offending part, numbers
// come back exactly as sent, and names compare by ARM's rule.
func TestHostileInput(t *testing.T) {
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	c := hiConnect(t, StartServer(t, ServerOptions{Bin: bin}))
	c.mustPut(c.rg("rg1")+"?api-version=2021-04-01", `{"location":"eastus"}`)
	st := func(name string) string { return c.rg("rg1") + "/providers/Microsoft.Storage/storageAccounts/" + name }

	for _, tc := range []hiCase{
		{"1e999999", "PUT", st("st1") + hiStorageAV, `{"location":"eastus","properties":{"size":1e999999}}`,
			400, "InvalidRequestContent", "/properties/size", []string{"out of range"}},
		{"duplicate key", "PUT", st("st1") + hiStorageAV, `{"location":"eastus","properties":{"a":1,"a":2}}`,
			400, "InvalidRequestContent", "/properties/a", []string{"duplicate key"}},
		{"duplicate key, other case", "PUT", st("st1") + hiStorageAV, `{"location":"eastus","Location":"westus"}`,
			400, "InvalidRequestContent", "/Location", []string{"duplicate key"}},
		{"1 MB location", "PUT", st("st1") + hiStorageAV, `{"location":"` + strings.Repeat("x", 1<<20) + `"}`,
			400, "InvalidResourceLocation", "location", []string{"at most 64"}},
		{"unknown location", "PUT", st("st1") + hiStorageAV, `{"location":"nowhere"}`,
			400, "LocationNotAvailableForResourceType", "location", []string{"nowhere", "eastus"}},
		{"$top=-1 on the activity log", "GET", c.events("&$top=-1"), "",
			400, "InvalidQueryParameter", "", []string{"$top"}},
		{"$top=abc on a list", "GET", "/subscriptions/" + c.sub + "/resourcegroups?api-version=2021-04-01&$top=abc", "",
			400, "InvalidQueryParameter", "", []string{"$top"}},
		{"$skipToken garbage", "GET", c.events("&$skipToken=abc"), "",
			400, "InvalidSkipToken", "", nil},
		{"$filter garbage", "GET", c.events("&$filter=" + url.QueryEscape("resourceGroupName eq 'a'b'")), "",
			400, "InvalidFilter", "", nil},
		{"Evil.Provider", "PUT", c.rg("rg1") + "/providers/Evil.Provider/things/t1?api-version=2024-01-01", `{"properties":{}}`,
			400, "NoRegisteredProviderFound", "", []string{"Evil.Provider", "--generic-providers"}},
		{"api-version not a date", "PUT", st("st1") + "?api-version=2024-02-30", `{"location":"eastus"}`,
			400, "InvalidApiVersionParameter", "", []string{"2024-02-30"}},
		{"api-version before ARM", "PUT", st("st1") + "?api-version=1999-01-01", `{"location":"eastus"}`,
			400, "InvalidApiVersionParameter", "", []string{"1999-01-01"}},
	} {
		hiCheck(t, c, tc)
	}
	if a := c.do("GET", st("st1")+hiStorageAV, ""); a.status != 404 {
		t.Errorf("after the refused PUTs, GET st1: %d %.200s, want 404", a.status, a.body)
	}

	// Numbers round-trip exactly.
	props := `{"big":123456789012345678901234567890,"tenth":0.1,"exp":1e3,"tiny":1e-400}`
	c.mustPut(st("st1")+hiStorageAV, `{"location":"eastus","properties":`+props+`}`)
	if a := c.do("GET", st("st1")+hiStorageAV, ""); !bytes.Contains(a.body, []byte(`"properties":`+strings.TrimSuffix(props, "}"))) {
		t.Errorf("GET st1: %.400s; want the properties %s unchanged", a.body, props)
	}

	// The Kelvin sign is not k: two resources.
	if a := c.mustPut(st("\u212Av1")+hiStorageAV, `{"location":"eastus"}`); a.status != 201 {
		t.Errorf("PUT \\u212Av1: %d, want 201", a.status)
	}
	if a := c.mustPut(st("kv1")+hiStorageAV, `{"location":"eastus"}`); a.status != 201 {
		t.Errorf("PUT kv1 after \\u212Av1: %d, want 201 (a different resource)", a.status)
	}
	if a := c.mustPut(st("KV1")+hiStorageAV, `{"location":"eastus"}`); a.status != 200 {
		t.Errorf("PUT KV1 after kv1: %d, want 200 (the same resource)", a.status)
	}
}

// TestHostileInputGenericProviders: with --generic-providers, types
// mlgov does not serve are stored; the other checks stay.
func TestHostileInputGenericProviders(t *testing.T) {
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	c := hiConnect(t, StartServer(t, ServerOptions{Bin: bin, Args: []string{"--generic-providers"}}))
	c.mustPut(c.rg("rg1")+"?api-version=2021-04-01", `{"location":"eastus"}`)
	thing := c.rg("rg1") + "/providers/Evil.Provider/things/t1"
	if a := c.do("PUT", thing+"?api-version=2024-01-01", `{"location":"global","properties":{"n":2.50}}`); a.status != 201 || !bytes.Contains(a.body, []byte(`"n":2.50`)) {
		t.Errorf("PUT Evil.Provider with --generic-providers: %d %.300s, want 201 with the body kept", a.status, a.body)
	}
	hiCheck(t, c, hiCase{"api-version before ARM", "PUT", thing + "?api-version=1999-01-01", `{}`,
		400, "InvalidApiVersionParameter", "", []string{"1999-01-01"}})
}

// TestActivityRetentionServe: with --activity-retention, the server
// itself deletes expired events from the activity log, on SQLite and on
// PostgreSQL.
func TestActivityRetentionServe(t *testing.T) {
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			args := []string{"--activity-retention", "3s"}
			if backend == "postgres" {
				args = append(args, "--store", crashPostgresSchema(t))
			}
			c := hiConnect(t, StartServer(t, ServerOptions{Bin: bin, Args: args}))
			count := func() int {
				a := c.do("GET", c.events("&$filter="+url.QueryEscape("resourceGroupName eq 'rg1'")), "")
				if a.status != 200 {
					t.Fatalf("activity log: %d %.300s", a.status, a.body)
				}
				vals, _ := a.json()["value"].([]any)
				return len(vals)
			}
			c.mustPut(c.rg("rg1")+"?api-version=2021-04-01", `{"location":"eastus"}`)
			if n := count(); n != 2 {
				t.Fatalf("events of rg1 right after the PUT: %d, want 2", n)
			}
			deadline := time.Now().Add(30 * time.Second)
			for count() != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("events of rg1 still listed 30 s after a PUT with --activity-retention 3s")
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}
