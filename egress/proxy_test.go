package egress

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeJobs map[string]string // job id → token

func (f fakeJobs) VerifyJob(ctx context.Context, jobID, token string) (string, error) {
	if f[jobID] == "" || f[jobID] != token {
		return "", ErrBadCredentials
	}
	return jobID[:strings.Index(jobID, "/jobs/")], nil
}

type memRecorder struct {
	mu   sync.Mutex
	recs []*Record
}

func (m *memRecorder) Record(r *Record) {
	m.mu.Lock()
	m.recs = append(m.recs, r)
	m.mu.Unlock()
}

func (m *memRecorder) all() []*Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Record(nil), m.recs...)
}

const (
	testWS  = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
	testJob = testWS + "/jobs/job1"
)

// proxyFixture: a proxy for one workspace whose rule allows port
// allowPort of 127.0.0.1 (a ServiceTag rule) and the name allowed.test.
func proxyFixture(t testing.TB, mode string, allowPort string, rec *memRecorder) (*httptest.Server, *Proxy) {
	ws := `{"properties":{"managedNetwork":{"isolationMode":"` + mode + `","status":{"status":"Active"},"outboundRules":{
		"local":{"type":"ServiceTag","destination":{"serviceTag":"Local","protocol":"TCP","portRanges":"` + allowPort + `","addressPrefixes":["127.0.0.1/32"]},"status":"Active"}}}}}`
	p := New(Config{Jobs: fakeJobs{testJob: "amljob.1.x"}, Recorder: rec,
		Workspace: func(ctx context.Context, id string) ([]byte, error) {
			if !strings.EqualFold(id, testWS) {
				return nil, nil
			}
			return []byte(ws), nil
		},
		Hosts: map[string][]netip.Addr{"allowed.test": {netip.MustParseAddr("127.0.0.1")}, "other.test": {netip.MustParseAddr("127.0.0.1")}}})
	srv := httptest.NewServer(p)
	t.Cleanup(func() { srv.Close(); p.Close() })
	return srv, p
}

func proxyClient(proxy string, user *url.Userinfo) *http.Client {
	u, _ := url.Parse(proxy)
	u.User = user
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
}

// TestProxy: without the job's credentials 407; plain HTTP and CONNECT
// to an allowed target pass (bytes counted), to another are refused
// with 403 naming the host and the mode; every decision is recorded
// with its rule; a non-absolute request is refused.
func TestProxy(t *testing.T) {
	okSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != "" {
			t.Error("the proxy passed Proxy-Authorization on")
		}
		io.WriteString(w, "hello from ok")
	}))
	defer okSrv.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls ok") }))
	defer tlsSrv.Close()
	denySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "should not be reached") }))
	defer denySrv.Close()
	_, okPort, _ := net.SplitHostPort(okSrv.Listener.Addr().String())
	_, tlsPort, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	_, denyPort, _ := net.SplitHostPort(denySrv.Listener.Addr().String())
	rec := &memRecorder{}
	ps, _ := proxyFixture(t, ModeAllowOnlyApprovedOutbound, okPort+","+tlsPort, rec)

	get := func(c *http.Client, u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, user := range []*url.Userinfo{nil, url.UserPassword(testJob, "amljob.1.wrong"), url.UserPassword(testWS+"/jobs/other", "amljob.1.x")} {
		if st, body := get(proxyClient(ps.URL, user), "http://allowed.test:"+okPort+"/"); st != 407 {
			t.Errorf("credentials %v: %d %s, want 407", user, st, body)
		}
	}
	c := proxyClient(ps.URL, url.UserPassword(testJob, "amljob.1.x"))
	if st, body := get(c, "http://allowed.test:"+okPort+"/x"); st != 200 || body != "hello from ok" {
		t.Errorf("plain HTTP, allowed: %d %s", st, body)
	}
	if st, body := get(c, "https://allowed.test:"+tlsPort+"/"); st != 200 || body != "tls ok" {
		t.Errorf("CONNECT, allowed: %d %s", st, body)
	}
	if st, body := get(c, "http://other.test:"+denyPort+"/"); st != 403 || !strings.Contains(body, "other.test:"+denyPort) || !strings.Contains(body, ModeAllowOnlyApprovedOutbound) {
		t.Errorf("plain HTTP, denied: %d %s", st, body)
	}
	if st, body := get(c, "https://other.test:"+denyPort+"/"); st != 0 || !strings.Contains(body, "Forbidden") {
		t.Errorf("CONNECT, denied: %d %s", st, body)
	}
	// A request that is not a proxy request.
	req, _ := http.NewRequest("GET", ps.URL+"/x", nil)
	req.SetBasicAuth(testJob, "amljob.1.x")
	req.Header.Set("Proxy-Authorization", req.Header.Get("Authorization"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("a non-proxy request: %v %v", resp, err)
	}
	time.Sleep(50 * time.Millisecond) // the tunnels' records come when they close
	c.CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	var got []string
	for _, r := range rec.all() {
		if r.JobID != testJob || r.WorkspaceID != testWS {
			t.Errorf("record of another job: %+v", r)
		}
		got = append(got, fmt.Sprintf("%s %s:%d %s %s", r.Method, r.Host, r.Port, r.Decision, r.Rule))
		if r.Decision == Allowed && (r.BytesDown == 0 || r.Status != 200) {
			t.Errorf("an allowed connection without bytes or status: %+v", r)
		}
	}
	sort.Strings(got)
	want := []string{
		"CONNECT allowed.test:" + tlsPort + " Allowed local",
		"CONNECT other.test:" + denyPort + " Denied ",
		"GET allowed.test:" + okPort + " Allowed local",
		"GET other.test:" + denyPort + " Denied ",
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// AllowInternetOutbound: both.
	rec2 := &memRecorder{}
	ps2, _ := proxyFixture(t, ModeAllowInternetOutbound, okPort, rec2)
	c2 := proxyClient(ps2.URL, url.UserPassword(testJob, "amljob.1.x"))
	if st, body := get(c2, "http://other.test:"+denyPort+"/"); st != 200 || body != "should not be reached" {
		t.Errorf("AllowInternetOutbound: %d %s", st, body)
	}
	// The proxy's own host is not the internet: a loopback address that
	// neither a ServiceTag rule nor the host mapping names is refused.
	for _, u := range []string{"http://127.0.0.1:" + denyPort + "/", "http://localhost:" + denyPort + "/", "https://127.0.0.1:" + denyPort + "/"} {
		if st, body := get(c2, u); st == 200 || strings.Contains(body, "should not be reached") {
			t.Errorf("AllowInternetOutbound, %s: %d %s", u, st, body)
		}
	}
	if st, body := get(c, "http://127.0.0.1:"+okPort+"/"); st != 200 {
		t.Errorf("a ServiceTag rule's loopback address: %d %s", st, body)
	}
	time.Sleep(50 * time.Millisecond)
	n := 0
	for _, r := range rec2.all() {
		if r.Decision == Denied && strings.Contains(r.Reason, "the proxy host's own") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d records of loopback refusals, want 3", n)
	}
}

// BenchmarkEgressProxy: requests paced at 1,000/s to a local HTTP
// server, directly and through the proxy (a ServiceTag rule allows it,
// decided and recorded per request), in the same run: open loop, as
// cli/pace.go paces (a request is due at its time; 32 clients, each its
// own connection, take them; a request that waits for a free client
// goes out late and its latency, counted from its due time, shows it);
// p50 and p99 of each and the p99 difference, in microseconds.
//
//	go test ./egress -run '^$' -bench BenchmarkEgressProxy -benchtime 1x
func BenchmarkEgressProxy(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	rec := &memRecorder{}
	ps, _ := proxyFixture(b, ModeAllowOnlyApprovedOutbound, port, rec)
	const rate, n, clients = 1000, 3000, 32
	direct := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	proxied := proxyClient(ps.URL, url.UserPassword(testJob, "amljob.1.x"))
	proxied.Transport.(*http.Transport).MaxConnsPerHost = clients
	one := func(c *http.Client) error {
		resp, err := c.Get(srv.URL + "/")
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	run := func(c *http.Client) []time.Duration {
		lat := make([]time.Duration, n)
		due := make(chan int, clients)
		var wg sync.WaitGroup
		start := time.Now().Add(10 * time.Millisecond)
		at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Second / rate) }
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range due {
					if err := one(c); err != nil {
						b.Error(err)
					}
					lat[i] = time.Since(at(i))
				}
			}()
		}
		for i := range n {
			waitUntil(at(i))
			due <- i
		}
		close(due)
		wg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat
	}
	q := func(l []time.Duration, f float64) float64 { return float64(l[int(f*float64(len(l)-1))].Microseconds()) }
	// Warm both paths (connections, the policy and credential caches).
	for range 2 * clients {
		for _, c := range []*http.Client{direct, proxied} {
			if err := one(c); err != nil {
				b.Fatal(err)
			}
		}
	}
	var d50, d99, p50, p99 float64
	for range b.N {
		d := run(direct)
		p := run(proxied)
		d50, d99, p50, p99 = q(d, .5), q(d, .99), q(p, .5), q(p, .99)
	}
	b.ReportMetric(d50, "direct-p50-µs")
	b.ReportMetric(d99, "direct-p99-µs")
	b.ReportMetric(p50, "proxy-p50-µs")
	b.ReportMetric(p99, "proxy-p99-µs")
	b.ReportMetric(p99-d99, "p99-overhead-µs")
	b.ReportMetric(0, "ns/op")
}

// waitUntil returns at or after due, on time: Go's timers end a short
// wait about a millisecond late when the processors are idle, which
// would be charged to both paths (cli/pace.go measured it); it sleeps
// precisely until 50µs before due and yields the rest.
func waitUntil(due time.Time) {
	for {
		w := time.Until(due)
		if w <= 0 {
			return
		}
		if w > 50*time.Microsecond {
			sleepPrecise(w - 50*time.Microsecond)
			continue
		}
		runtime.Gosched()
	}
}
