package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

// startServe runs `mlgov serve` in-process (SQLite in a temporary data
// directory, a free loopback port) and returns the path of its
// bootstrap.json. The server stops when the test ends.
func startServe(t *testing.T) string {
	t.Helper()
	return startServeWith(t, nil)
}

// startServeWith is startServe with changes to the configuration.
func startServeWith(t *testing.T, mod func(*serveConfig)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	var logs bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &syncWriter{w: &logs},
		openStore: testOpenStore}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := serveConfig{dataDir: dir, listen: addr, lroLatency: 20 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	go func() {
		done <- serve(ctx, e, cfg)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	path := filepath.Join(dir, "bootstrap.json")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s", err, logs.String())
		default:
		}
		if bs, err := readBootstrap(path); err == nil {
			if tc, err := benchTLS(bs); err == nil {
				hc := newBenchHTTP(tc, "1.1", 1)
				resp, err := hc.Get(bs.Endpoint + "/healthz")
				hc.CloseIdleConnections()
				if err == nil {
					resp.Body.Close()
					return path
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("serve did not start\n%s", logs.String())
	return ""
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func benchJSON(t *testing.T, args ...string) *benchResult {
	t.Helper()
	out, errOut, code := run(t, append([]string{"bench", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("mlgov bench %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench output is not JSON: %v\n%s", err, out)
	}
	return &r
}

func checkLatency(t *testing.T, what string, l benchLatency) {
	t.Helper()
	if !(l.P50 > 0 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("%s: latency percentiles out of order or zero: %+v", what, l)
	}
}

// TestBench runs short benches of every kind against an in-process server
// and checks what they report (not how fast it is: the targets are
// measured with the bench command, not in tests).
func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	bs := startServe(t)

	r := benchJSON(t, "--bootstrap", bs, "--requests", "300", "--concurrency", "8", "--warmup", "0")
	if r.Op != "put-compute" || r.Requests != 300 || r.Failed != 0 || r.Concurrency != 8 || r.Protocol != "HTTP/1.1" {
		t.Errorf("put-compute: %+v", r)
	}
	// Every 10th PUT replaces one of a few names: 200s besides 201s.
	if r.Statuses["201"] == 0 || r.Statuses["200"] == 0 || r.Statuses["201"]+r.Statuses["200"] != 300 {
		t.Errorf("put-compute statuses %v, want 201s and 200s adding up to 300", r.Statuses)
	}
	if r.Throughput <= 0 || r.Duration <= 0 || len(r.Ops) != 1 {
		t.Errorf("put-compute: throughput %v, duration %v, ops %d", r.Throughput, r.Duration, len(r.Ops))
	}
	checkLatency(t, "put-compute", r.Latency)

	r = benchJSON(t, "--bootstrap", bs, "--op", "get", "--requests", "200", "--warmup", "0", "--concurrency", "4", "--objects", "5", "--std-client")
	if r.Requests != 200 || r.Failed != 0 || r.Statuses["200"] != 200 || r.Protocol != "HTTP/1.1" {
		t.Errorf("get with net/http's client: %+v", r)
	}
	checkLatency(t, "get --std-client", r.Latency)

	r = benchJSON(t, "--bootstrap", bs, "--op", "get", "--duration", "300ms", "--warmup", "100ms", "--concurrency", "4", "--objects", "5", "--http", "2")
	if r.Op != "get" || r.Requests == 0 || r.Failed != 0 || r.Statuses["200"] != r.Requests || r.Protocol != "HTTP/2.0" {
		t.Errorf("get over HTTP/2: %+v", r)
	}
	checkLatency(t, "get", r.Latency)
	if r.SendLag != nil {
		t.Errorf("get without --rate reports a send lag: %+v", r.SendLag)
	}

	r = benchJSON(t, "--bootstrap", bs, "--op", "mixed", "--requests", "100", "--rate", "500", "--objects", "5", "--warmup", "0")
	if r.Requests != 100 || r.Failed != 0 || len(r.Ops) != 2 || r.Rate != 500 {
		t.Fatalf("mixed: %+v", r)
	}
	for _, o := range r.Ops {
		checkLatency(t, "mixed "+o.Op, o.Latency)
	}
	if r.Ops[0].Op != "put-compute" || r.Ops[0].Requests != 20 || r.Ops[1].Op != "get" || r.Ops[1].Requests != 80 {
		t.Errorf("mixed: ops %s %d, %s %d; want 20 PUTs and 80 GETs", r.Ops[0].Op, r.Ops[0].Requests, r.Ops[1].Op, r.Ops[1].Requests)
	}
	// 100 requests at 500/s take about 200ms: the rate held.
	if r.Duration < 0.15 {
		t.Errorf("mixed at 500/s: 100 requests in %vs", r.Duration)
	}
	if r.SendLag == nil || r.SendLag.Max < r.SendLag.P50 || r.SendLag.Max > r.Latency.Max {
		t.Errorf("mixed at 500/s: send lag %+v (latency max %v): want it reported, and within the latency", r.SendLag, r.Latency.Max)
	}

	out, errOut, code := run(t, "bench", "--bootstrap", bs, "--requests", "50", "--concurrency", "4", "--warmup", "0")
	if code != 0 {
		t.Fatalf("table output: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"throughput", "req/s", "p50", "p95", "p99", "max", "requests     50 (0 failed)", "put-compute"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchFailures: failed requests are counted by status and make the
// exit status 1; a server that is not on loopback is refused.
func TestBenchFailures(t *testing.T) {
	var puts atomic.Int64
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
			w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":3600}`))
		case strings.Contains(r.URL.Path, "/computes/"):
			if puts.Add(1)%2 == 0 {
				w.WriteHeader(500)
				w.Write([]byte(`{"error":{"code":"InternalServerError","message":"x"}}`))
				return
			}
			w.WriteHeader(201)
		case r.Method == "PUT":
			w.WriteHeader(201)
		default:
			w.Write([]byte(`{}`))
		}
	}))
	defer ts.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	writeBS := func(endpoint string) string {
		p := filepath.Join(dir, "bootstrap.json")
		if err := writeBootstrap(p, &Bootstrap{TenantID: "t", SubscriptionID: "s", ClientID: "c", ClientSecret: "x",
			Endpoint: endpoint, AuthorityHost: endpoint, CACertFile: ca}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bs := writeBS(ts.URL)
	out, errOut, code := run(t, "bench", "--bootstrap", bs, "--requests", "40", "--concurrency", "4", "--warmup", "0", "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Requests != 40 || r.Failed != 20 || r.Statuses["500"] != 20 || r.Statuses["201"] != 20 {
		t.Errorf("got %+v, want 40 requests, 20 failed with 500", r)
	}
	if !strings.Contains(errOut, "failed: PUT") || !strings.Contains(errOut, "InternalServerError") {
		t.Errorf("stderr does not show a failed request:\n%s", errOut)
	}

	before := puts.Load()
	bs = writeBS("https://mlgov.example.com:8443")
	_, errOut, code = run(t, "bench", "--bootstrap", bs, "--requests", "10")
	if code != 2 || !strings.Contains(errOut, "loopback") || !strings.Contains(errOut, "--allow-remote") {
		t.Errorf("remote endpoint: exit %d, stderr %q; want a refusal", code, errOut)
	}
	if puts.Load() != before {
		t.Error("requests were sent for a refused endpoint")
	}
	for _, args := range [][]string{
		{"--concurrency", "0"}, {"--concurrency", "5000"}, {"--duration", "2h"}, {"--op", "delete"},
		{"--requests", "-1"}, {"--http", "3"}, {"-o", "yaml"}, {"--rate", "-5"},
	} {
		if _, errOut, code := run(t, append([]string{"bench", "--bootstrap", bs}, args...)...); code != 2 || errOut == "" {
			t.Errorf("bench %v: exit %d, want 2 with a message", args, code)
		}
	}
}

// TestHistogram: quantiles are within the histogram's precision of the
// exact ones, and the maximum is exact.
func TestHistogram(t *testing.T) {
	var h histogram
	var samples []time.Duration
	for i := 1; i <= 100000; i++ {
		// A skewed spread from 1µs to about 1s.
		d := time.Duration(math.Pow(float64(i)/100000, 3)*1e9) + time.Microsecond
		samples = append(samples, d)
		h.record(d)
	}
	var other histogram
	other.record(3 * time.Second)
	h.merge(&other)
	samples = append(samples, 3*time.Second)
	exact := func(q float64) time.Duration { return samples[int(math.Ceil(q*float64(len(samples))))-1] }
	for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 0.999} {
		got, want := h.quantile(q), exact(q)
		if got < want || float64(got-want) > float64(want)/histSub+1 {
			t.Errorf("quantile(%v) = %v, exact %v", q, got, want)
		}
	}
	if h.quantile(1) != 3*time.Second || h.max != 3*time.Second || h.n != 100001 {
		t.Errorf("max %v, quantile(1) %v, n %d", h.max, h.quantile(1), h.n)
	}
	for _, v := range []uint64{0, 1, 511, 512, 513, 1 << 20, 1<<40 + 12345, 1<<63 - 1} {
		i := histIndex(v)
		if v > histUpper(i) || (i > 0 && v <= histUpper(i-1)) {
			t.Errorf("value %d in bucket %d (%d..%d]", v, i, histUpper(i-1), histUpper(i))
		}
	}
	var empty histogram
	if empty.quantile(0.99) != 0 || empty.mean() != 0 {
		t.Error("an empty histogram reports nonzero latency")
	}
}

// TestServeDataDirInUse: a second server on the data directory of a
// running one stops at once with an error that says why.
func TestServeDataDirInUse(t *testing.T) {
	dir := filepath.Dir(startServe(t))
	var logs bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &syncWriter{w: &logs},
		openStore: testOpenStore}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := serve(ctx, e, serveConfig{dataDir: dir, listen: "127.0.0.1:0", lroLatency: 20 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), "mlgov.db.lock") {
		t.Fatalf("second serve on %s: %v, want an error saying the database is in use\n%s", dir, err, logs.String())
	}
}

// TestServeSigningKeyRotation: with --signing-key-lifetime the server
// rotates its signing key as it ages; the JWKS keeps the old key and a
// token signed with it still works until it expires.
func TestServeSigningKeyRotation(t *testing.T) {
	const lifetime = 300 * time.Millisecond
	path := startServeWith(t, func(c *serveConfig) { c.keyLifetime = lifetime })
	ctx := t.Context()
	c, err := newARMClient(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	kidOf := func(tok string) string {
		h, _, _ := strings.Cut(tok, ".")
		b, err := base64.RawURLEncoding.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		var hdr struct{ Kid string }
		json.Unmarshal(b, &hdr)
		return hdr.Kid
	}
	jwks := func() []string {
		b, err := c.get(ctx, "/"+c.bs.TenantID+"/discovery/v2.0/keys")
		if err != nil {
			t.Fatal(err)
		}
		var set struct{ Keys []struct{ Kid string } }
		if err := json.Unmarshal(b, &set); err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.Kid)
		}
		return kids
	}
	oldKid := kidOf(c.token)
	deadline := time.Now().Add(20 * time.Second)
	for len(jwks()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	kids := jwks()
	if len(kids) < 2 || !slices.Contains(kids, oldKid) {
		t.Fatalf("JWKS after the key lifetime: %v; want the old key %s and a new one", kids, oldKid)
	}
	if _, err := c.get(ctx, "/subscriptions/"+c.bs.SubscriptionID+"?api-version=2022-12-01"); err != nil {
		t.Errorf("a token signed with the old key no longer works: %v", err)
	}
	c2, err := newARMClient(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if kid := kidOf(c2.token); kid == oldKid || !slices.Contains(jwks(), kid) {
		t.Errorf("a new token is signed with %s; want a newer published key than %s", kid, oldKid)
	}
}

// testOpenStore is cmd/mlgov's store opener for SQLite: the data
// directory's database, or the sqlite:// path given (serve opens the
// compliance database that way).
func testOpenStore(ctx context.Context, url, dataDir string) (store.Store, error) {
	if path, ok := strings.CutPrefix(url, "sqlite://"); ok {
		return sqlite.Open(ctx, path)
	}
	return sqlite.Open(ctx, filepath.Join(dataDir, "mlgov.db"))
}

// TestBenchAssignments: with --assignments, the bench puts that many
// assignments in force and sends every other PUT to a control resource
// group that none of them covers, reported as its own series; the
// assignments are gone after the run.
func TestBenchAssignments(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	needShared(t)
	ml := filepath.Join(shared, "corpus/azure-policy/policyDefinitions/Machine Learning")
	bs := startServeWith(t, func(c *serveConfig) { c.policyPaths = []string{ml} })
	r := benchJSON(t, "--bootstrap", bs, "--assignments", "40", "--requests", "80", "--concurrency", "4", "--warmup", "0")
	if r.Failed != 0 || len(r.Ops) != 2 || r.Ops[0].Op != "put-compute" || r.Ops[1].Op != "put-compute-unassigned" {
		t.Fatalf("--assignments 40: %+v", r)
	}
	for _, o := range r.Ops {
		if o.Requests != 40 || o.Failed != 0 {
			t.Errorf("%s: %d requests, %d failed; want 40 and none", o.Op, o.Requests, o.Failed)
		}
		checkLatency(t, o.Op, o.Latency)
	}
	b, err := readBootstrap(bs)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "policy", "assignment", "list", "--bootstrap", bs, "-o", "json")
	if code != 0 || strings.Contains(out, "mlgov-bench") {
		t.Errorf("assignments after the run (subscription %s): exit %d %s%s", b.SubscriptionID, code, out, errOut)
	}
}

// TestBenchRoleAssignments: with --role-assignments, the bench makes
// that many role assignments before the run (the requests then pass
// their authorization among them) and removes them after it.
func TestBenchRoleAssignments(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	needShared(t)
	roles := filepath.Join(shared, "corpus/rbac/builtin-roles.json")
	bs := startServeWith(t, func(c *serveConfig) { c.roleDefsPath = roles })
	r := benchJSON(t, "--bootstrap", bs, "--role-assignments", "30", "--requests", "40", "--concurrency", "4", "--warmup", "0")
	if r.Failed != 0 || r.Requests != 40 || r.RoleAssignments != 30 {
		t.Fatalf("--role-assignments 30: %+v", r)
	}
	out, errOut, code := run(t, "role", "assignment", "list", "--bootstrap", bs, "-o", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("role assignments after the run: exit %d %s%s", code, out, errOut)
	}
}
