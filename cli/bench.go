package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// Limits that keep a bench run bounded whatever the flags say.
const (
	benchMaxConcurrency = 1024
	benchMaxDuration    = 10 * time.Minute
	benchMaxRequests    = 10_000_000
	benchMaxObjects     = 10_000
	benchAPIVersion     = "2025-12-01"
	benchRGAPIVersion   = "2021-04-01"
)

// benchOps are the load shapes --op accepts.
var benchOps = []string{"put-compute", "get", "mixed"}

type benchConfig struct {
	bootstrap     string
	concurrency   int
	duration      time.Duration
	requests      int
	rate          float64
	warmup        time.Duration
	op            string
	resourceGroup string
	workspace     string
	assignments   int
	roles         int
	objects       int
	repeatEvery   int
	putPercent    int
	proto         string
	stdClient     bool
	output        string
	allowRemote   bool
}

func newBenchCmd(e *env) *cobra.Command {
	var cfg benchConfig
	c := &cobra.Command{
		Use:   "bench",
		Short: "Generate load against a running mlgov serve and report throughput and latency",
		Long: "Reads bootstrap.json, gets a token, creates a resource group and a workspace (once), then runs\n" +
			"--concurrency clients over keep-alive HTTPS connections until --duration has passed or\n" +
			"--requests requests were sent, and reports requests, failures by status, throughput and\n" +
			"p50/p95/p99/max latency.\n\n" +
			"With --rate the load is open: requests are sent when they are due, whether or not earlier\n" +
			"ones were answered, and each is timed from when it was due; \"send lag\" says how late the\n" +
			"clients sent them (it grows when every client is waiting for the server).\n\n" +
			"Operations: put-compute PUTs AmlCompute computes (distinct names; every --repeat-every'th\n" +
			"request replaces one of a few fixed names); get GETs --objects existing computes; mixed sends\n" +
			"--put-percent PUTs and GETs for the rest.\n\n" +
			"Over HTTP/1.1 every client has a connection of its own, driven by the bench's own lean HTTP/1.1\n" +
			"client, so that the client takes as little as it can of a machine it shares with the server\n" +
			"(--std-client uses net/http's client instead).\n\n" +
			"Only loopback endpoints are targeted unless --allow-remote is given. Exit status 1 when a\n" +
			"request failed (a transport error or a status other than 200/201 for PUT and 200 for GET).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("duration") && cfg.requests > 0 {
				cfg.duration = benchMaxDuration
			}
			if err := cfg.validate(); err != nil {
				return err
			}
			tuneGC()
			res, err := runBench(cmd.Context(), cfg, e.stderr)
			if err != nil {
				return err
			}
			if err := res.write(e.stdout, cfg.output); err != nil {
				return err
			}
			if res.Failed > 0 {
				for _, s := range res.samples {
					fmt.Fprintln(e.stderr, "failed:", s)
				}
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.bootstrap, "bootstrap", filepath.Join("mlgov-data", "bootstrap.json"), "bootstrap.json written by mlgov serve")
	f.IntVar(&cfg.concurrency, "concurrency", 64, "concurrent clients")
	f.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to run (the cap when --requests is given)")
	f.IntVar(&cfg.requests, "requests", 0, "stop after this many requests (0: run for --duration)")
	f.Float64Var(&cfg.rate, "rate", 0, "send this many requests per second in all (open loop: latency counts from when a request was due); 0: each client sends its next request as soon as the last one is answered")
	f.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured load before the measured run")
	f.StringVar(&cfg.op, "op", "put-compute", "operation: "+strings.Join(benchOps, ", "))
	f.StringVar(&cfg.resourceGroup, "resource-group", "mlgov-bench", "resource group the bench creates and uses")
	f.StringVar(&cfg.workspace, "workspace", "bench-ws", "workspace the bench creates and uses")
	f.IntVar(&cfg.assignments, "assignments", 0, "assign this many policies before the run (the server's Machine Learning built-ins that need no parameter, then custom definitions, at the subscription and the resource group; removed after the run); every other PUT then goes to a control resource group that no assignment covers (put-compute-unassigned)")
	f.IntVar(&cfg.roles, "role-assignments", 0, "create this many role assignments before the run (Reader for new principal ids, at the subscription, the resource group and the workspace; removed after the run): to compare a run with them and one without")
	f.IntVar(&cfg.objects, "objects", 100, "computes that get and mixed read (created before the run)")
	f.IntVar(&cfg.repeatEvery, "repeat-every", 10, "every Nth PUT replaces an existing compute instead of creating one (0: never)")
	f.IntVar(&cfg.putPercent, "put-percent", 20, "share of PUTs in --op mixed (percent)")
	f.StringVar(&cfg.proto, "http", "1.1", "HTTP version of the load connections: 1.1 (one connection per client) or 2 (multiplexed)")
	f.BoolVar(&cfg.stdClient, "std-client", false, "send the HTTP/1.1 load with net/http's client instead of the bench's own (to compare: it takes more of the machine's CPU); HTTP/2 always uses net/http's")
	f.StringVarP(&cfg.output, "output", "o", "table", "table or json")
	f.BoolVar(&cfg.allowRemote, "allow-remote", false, "allow a non-loopback endpoint")
	return c
}

func (c *benchConfig) validate() error {
	switch {
	case c.concurrency < 1 || c.concurrency > benchMaxConcurrency:
		return fmt.Errorf("--concurrency %d: want 1 to %d", c.concurrency, benchMaxConcurrency)
	case c.duration <= 0 || c.duration > benchMaxDuration:
		return fmt.Errorf("--duration %s: want more than 0 and at most %s", c.duration, benchMaxDuration)
	case c.requests < 0 || c.requests > benchMaxRequests:
		return fmt.Errorf("--requests %d: want 0 to %d", c.requests, benchMaxRequests)
	case c.rate < 0 || c.rate > 1e6 || math.IsNaN(c.rate):
		return fmt.Errorf("--rate %v: want 0 to 1000000", c.rate)
	case c.warmup < 0 || c.warmup > time.Minute:
		return fmt.Errorf("--warmup %s: want 0 to 1m", c.warmup)
	case c.assignments < 0 || c.assignments > 10000:
		return fmt.Errorf("--assignments %d: want 0 to 10000", c.assignments)
	case c.roles < 0 || c.roles > 100000:
		return fmt.Errorf("--role-assignments %d: want 0 to 100000", c.roles)
	case c.objects < 1 || c.objects > benchMaxObjects:
		return fmt.Errorf("--objects %d: want 1 to %d", c.objects, benchMaxObjects)
	case c.repeatEvery < 0:
		return fmt.Errorf("--repeat-every %d: want 0 or more", c.repeatEvery)
	case c.putPercent < 0 || c.putPercent > 100:
		return fmt.Errorf("--put-percent %d: want 0 to 100", c.putPercent)
	case c.output != "table" && c.output != "json":
		return fmt.Errorf("-o %q: want table or json", c.output)
	case c.proto != "1.1" && c.proto != "2":
		return fmt.Errorf("--http %q: want 1.1 or 2", c.proto)
	}
	for _, o := range benchOps {
		if c.op == o {
			return nil
		}
	}
	return fmt.Errorf("--op %q: want one of %s", c.op, strings.Join(benchOps, ", "))
}

// benchTarget checks that the endpoint and the authority (the secret goes
// there) are loopback HTTPS URLs, unless remote targets are allowed.
func benchTarget(bs *Bootstrap, allowRemote bool) error {
	for _, u := range []struct{ name, v string }{{"endpoint", bs.Endpoint}, {"authorityHost", bs.AuthorityHost}} {
		pu, err := url.Parse(u.v)
		if err != nil || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "http") {
			return fmt.Errorf("bootstrap %s %q is not an http(s) URL", u.name, u.v)
		}
		if !allowRemote && !isLoopback(pu.Hostname()) {
			return fmt.Errorf("bootstrap %s %q is not a loopback address; pass --allow-remote to load a remote server", u.name, u.v)
		}
	}
	return nil
}

// benchClient sends the measured requests.
type benchClient struct {
	http     *http.Client
	base     string
	auth     string
	protocol string
}

// benchTLS is the TLS configuration of the bench's connections: the
// server's certificate from bootstrap.json's caCertFile, if given.
func benchTLS(bs *Bootstrap) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if bs.CACertFile != "" {
		pem, err := os.ReadFile(bs.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("reading caCertFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caCertFile %s holds no PEM certificate", bs.CACertFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

func newBenchHTTP(tc *tls.Config, proto string, conns int) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     tc,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableCompression:  true,
		Protocols:           new(http.Protocols),
	}
	if proto == "2" {
		tr.Protocols.SetHTTP2(true)
	} else {
		tr.Protocols.SetHTTP1(true)
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// do sends one request and returns the status (the body is read and
// dropped, or returned when keep is set).
func (c *benchClient) do(ctx context.Context, method, path string, body []byte, keep bool) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header["Authorization"] = []string{c.auth}
	if body != nil {
		req.Header["Content-Type"] = []string{"application/json"}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	if keep || resp.StatusCode >= 300 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, resp.Header, b, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header, nil, err
}

// benchComputeBody is the AmlCompute body every PUT sends.
var benchComputeBody = []byte(`{"location":"eastus","properties":{"computeType":"AmlCompute","description":"mlgov bench",` +
	`"properties":{"vmSize":"STANDARD_DS3_V2","vmPriority":"Dedicated","osType":"Linux","isolatedNetwork":false,` +
	`"scaleSettings":{"maxNodeCount":4,"minNodeCount":0,"nodeIdleTimeBeforeScaleDown":"PT5M"},` +
	`"remoteLoginPortPublicAccess":"NotSpecified","enableNodePublicIp":false}}}`)

// benchResult is what a run reports (the JSON output).
type benchResult struct {
	Op          string `json:"op"`
	Endpoint    string `json:"endpoint"`
	Protocol    string `json:"protocol"`
	Concurrency int    `json:"concurrency"`
	// RoleAssignments is how many role assignments the bench made.
	RoleAssignments int          `json:"roleAssignments,omitempty"`
	Rate            float64      `json:"rate,omitempty"`
	Duration        float64      `json:"durationSeconds"`
	Requests        int64        `json:"requests"`
	Failed          int64        `json:"failed"`
	Throughput      float64      `json:"throughput"`
	Latency         benchLatency `json:"latencyMs"`
	// SendLag (with a rate) is how late the clients sent requests
	// after they were due: the client's share of the latency, which
	// grows when every client is waiting for the server.
	SendLag  *benchLatency    `json:"sendLagMs,omitempty"`
	Statuses map[string]int64 `json:"statuses"`
	Ops      []*benchOpResult `json:"ops"`
	samples  []string
}

type benchOpResult struct {
	Op         string           `json:"op"`
	Requests   int64            `json:"requests"`
	Failed     int64            `json:"failed"`
	Throughput float64          `json:"throughput"`
	Latency    benchLatency     `json:"latencyMs"`
	Statuses   map[string]int64 `json:"statuses"`
}

type benchLatency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

func latencyOf(h *histogram) benchLatency {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return benchLatency{Mean: ms(h.mean()), P50: ms(h.quantile(0.50)), P95: ms(h.quantile(0.95)), P99: ms(h.quantile(0.99)), Max: ms(h.max)}
}

// benchStats are one worker's counts for one operation.
type benchStats struct {
	hist     histogram
	statuses map[int]int64 // 0: transport error
	failed   int64
}

func (s *benchStats) merge(o *benchStats) {
	s.hist.merge(&o.hist)
	for k, v := range o.statuses {
		s.statuses[k] += v
	}
	s.failed += o.failed
}

func newBenchStats() *benchStats { return &benchStats{statuses: map[int]int64{}} }

func runBench(ctx context.Context, cfg benchConfig, logw io.Writer) (*benchResult, error) {
	bs, err := readBootstrap(cfg.bootstrap)
	if err != nil {
		return nil, fmt.Errorf("reading %s (start `mlgov serve` first, or pass --bootstrap): %w", cfg.bootstrap, err)
	}
	if err := benchTarget(bs, cfg.allowRemote); err != nil {
		return nil, err
	}
	ac, err := newARMClient(ctx, cfg.bootstrap)
	if err != nil {
		return nil, err
	}
	tc, err := benchTLS(bs)
	if err != nil {
		return nil, err
	}
	hc := newBenchHTTP(tc, cfg.proto, cfg.concurrency)
	defer hc.CloseIdleConnections()
	cl := &benchClient{http: hc, base: strings.TrimRight(bs.Endpoint, "/"), auth: "Bearer " + ac.token}

	// Setup: resource group, workspace (waiting for its LRO), and the
	// computes that GETs read.
	rg := "/subscriptions/" + bs.SubscriptionID + "/resourceGroups/" + cfg.resourceGroup
	ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/" + cfg.workspace
	q := "?api-version=" + benchAPIVersion
	fmt.Fprintf(logw, "bench: setting up %s\n", ws)
	if err := cl.setupWorkspace(ctx, rg, ws+q, ""); err != nil {
		return nil, err
	}
	// With assignments, every other PUT goes to a workspace of a control
	// resource group that no assignment covers (put-compute-unassigned):
	// the same server, load and compliance work in the same run, so that
	// the two series differ only by the policy stages.
	var controlComputes string
	if cfg.assignments > 0 {
		crg := rg + "-control"
		cws := crg + "/providers/Microsoft.MachineLearningServices/workspaces/" + cfg.workspace
		if err := cl.setupWorkspace(ctx, crg, cws+q, "control "); err != nil {
			return nil, err
		}
		controlComputes = cws + "/computes/"
		paths, err := cl.assignBuiltins(ctx, bs.SubscriptionID, cfg.resourceGroup, crg, cfg.assignments, logw)
		defer cl.unassign(context.WithoutCancel(ctx), paths)
		if err != nil {
			return nil, err
		}
	}
	if cfg.roles > 0 {
		paths, err := cl.assignRoles(ctx, bs.SubscriptionID, rg, ws, cfg.roles, logw)
		defer cl.unassignRoles(context.WithoutCancel(ctx), paths)
		if err != nil {
			return nil, err
		}
	}
	computes := ws + "/computes/"
	var getPaths []string
	if cfg.op != "put-compute" {
		getPaths = make([]string, cfg.objects)
		for i := range getPaths {
			getPaths[i] = computes + "bench-get-" + strconv.Itoa(i) + q
		}
		if err := parallel(ctx, min(cfg.concurrency, 16), len(getPaths), func(i int) error {
			st, _, b, err := cl.do(ctx, "PUT", getPaths[i], benchComputeBody, false)
			if err != nil || (st != 200 && st != 201) {
				return setupErr("creating compute "+strconv.Itoa(i), st, b, err)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}

	// Connections: every client sends one request before the clock
	// starts, so that TLS handshakes are not measured. Over HTTP/1.1
	// each client has a connection of its own (h1Conn, unless
	// --std-client); over HTTP/2 they share net/http's.
	send := func(w int, method, path string, body []byte) (int, []byte, error) {
		st, _, b, err := cl.do(ctx, method, path, body, false)
		return st, b, err
	}
	if cfg.proto == "1.1" && !cfg.stdClient {
		conns := make([]*h1Conn, cfg.concurrency)
		for w := range conns {
			if conns[w], err = newH1Conn(bs.Endpoint, cl.auth, tc); err != nil {
				return nil, err
			}
		}
		defer func() {
			for _, c := range conns {
				c.close()
			}
		}()
		send = func(w int, method, path string, body []byte) (int, []byte, error) {
			return conns[w].do(ctx, method, path, body)
		}
	}
	if err := parallel(ctx, cfg.concurrency, cfg.concurrency, func(w int) error {
		st, b, err := send(w, "GET", ws+q, nil)
		if err != nil || st != 200 {
			return setupErr("reading the workspace", st, b, err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	proto := "HTTP/1.1"
	if cfg.proto == "2" {
		proto = "HTTP/2"
		// Check that the server agreed to HTTP/2.
		req, _ := http.NewRequestWithContext(ctx, "GET", cl.base+ws+q, nil)
		req.Header.Set("Authorization", cl.auth)
		if resp, err := hc.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			proto = resp.Proto
		}
	}

	run := randomBase36(6)
	gen := func(n int64) (op int, method, path string, body []byte) {
		put := cfg.op == "put-compute" || (cfg.op == "mixed" && n%100 < int64(cfg.putPercent))
		if !put {
			return 1, "GET", getPaths[int(n)%len(getPaths)], nil
		}
		var name string
		if cfg.repeatEvery > 0 && n%int64(cfg.repeatEvery) == 0 {
			name = "r" + run + "-" + strconv.FormatInt((n/int64(cfg.repeatEvery))%16, 36)
		} else {
			name = "c" + run + "-" + strconv.FormatInt(n, 36)
		}
		// n/2 rather than n: the repeated names (every
		// --repeat-every'th n) fall in both series.
		if controlComputes != "" && (n/2)%2 == 1 {
			return 2, "PUT", controlComputes + name + q, benchComputeBody
		}
		return 0, "PUT", computes + name + q, benchComputeBody
	}
	opNames := [3]string{"put-compute", "get", "put-compute-unassigned"}
	expected := func(op, status int) bool { return status == 200 || (op != 1 && status == 201) }

	var mu sync.Mutex
	var samples []string
	// load runs the clients until the deadline or the request limit.
	// Requests under way at the deadline finish (and are counted):
	// cancelling them would make the server log aborted requests.
	//
	// With a rate, pace hands each request to a client when it is due,
	// and its latency runs from then, not from when a client was free to
	// send it: a server that falls behind shows it in the latency (no
	// coordinated omission). How late the clients sent is recorded too
	// (the returned histogram), so that a client falling behind is seen
	// as that.
	load := func(start, deadline time.Time, first, limit int64, next *atomic.Int64, record bool) ([3]*benchStats, *histogram) {
		var wg sync.WaitGroup
		per := make([][3]*benchStats, cfg.concurrency)
		lags := make([]histogram, cfg.concurrency)
		var tokens chan int64
		if cfg.rate > 0 {
			tokens = make(chan int64)
			pctx, stop := context.WithCancel(ctx)
			defer stop()
			go pace(pctx, tokens, next, start, deadline, first, limit, cfg.rate)
		}
		for w := range cfg.concurrency {
			per[w] = [3]*benchStats{newBenchStats(), newBenchStats(), newBenchStats()}
			wg.Go(func() {
				for ctx.Err() == nil {
					var n int64
					var t0 time.Time
					if tokens != nil {
						var ok bool
						if n, ok = <-tokens; !ok {
							return
						}
						t0 = dueAt(start, n-first-1, cfg.rate)
						if record {
							lags[w].record(time.Since(t0))
						}
					} else {
						if n = next.Add(1); (limit > 0 && n > limit) || !time.Now().Before(deadline) {
							return
						}
						t0 = time.Now()
					}
					op, method, path, body := gen(n)
					st, b, err := send(w, method, path, body)
					d := time.Since(t0)
					if err != nil && ctx.Err() != nil {
						return // interrupted
					}
					if !record {
						continue
					}
					s := per[w][op]
					s.hist.record(d)
					s.statuses[st]++
					if err != nil || !expected(op, st) {
						s.failed++
						mu.Lock()
						if len(samples) < 5 {
							msg := fmt.Sprintf("%s %s: %d %s", method, path, st, strings.TrimSpace(string(b)))
							if err != nil {
								msg = fmt.Sprintf("%s %s: %v", method, path, err)
							}
							samples = append(samples, msg)
						}
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		total := [3]*benchStats{newBenchStats(), newBenchStats(), newBenchStats()}
		lag := &histogram{}
		for w, p := range per {
			for i := range total {
				total[i].merge(p[i])
			}
			lag.merge(&lags[w])
		}
		return total, lag
	}

	var next atomic.Int64
	if cfg.warmup > 0 {
		fmt.Fprintf(logw, "bench: warming up for %s\n", cfg.warmup)
		now := time.Now()
		load(now, now.Add(cfg.warmup), next.Load(), 0, &next, false)
	}
	if cfg.rate > 0 {
		fmt.Fprintf(logw, "bench: %s with %d clients at %g requests/s over %s\n", cfg.op, cfg.concurrency, cfg.rate, proto)
	} else {
		fmt.Fprintf(logw, "bench: %s with %d clients over %s\n", cfg.op, cfg.concurrency, proto)
	}
	base := next.Load()
	limit := int64(0)
	if cfg.requests > 0 {
		limit = base + int64(cfg.requests)
	}
	start := time.Now()
	stats, lag := load(start, start.Add(cfg.duration), base, limit, &next, true)
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	res := &benchResult{Op: cfg.op, Endpoint: bs.Endpoint, Protocol: proto, Concurrency: cfg.concurrency, RoleAssignments: cfg.roles, Rate: cfg.rate,
		Duration: math.Round(elapsed.Seconds()*1000) / 1000, Statuses: map[string]int64{}, samples: samples}
	all := newBenchStats()
	for i, s := range stats {
		if s.hist.n == 0 {
			continue
		}
		all.merge(s)
		res.Ops = append(res.Ops, &benchOpResult{Op: opNames[i], Requests: int64(s.hist.n), Failed: s.failed,
			Throughput: round1(float64(s.hist.n) / elapsed.Seconds()), Latency: latencyOf(&s.hist), Statuses: statusNames(s.statuses)})
	}
	res.Requests, res.Failed = int64(all.hist.n), all.failed
	res.Throughput = round1(float64(all.hist.n) / elapsed.Seconds())
	res.Latency = latencyOf(&all.hist)
	res.Statuses = statusNames(all.statuses)
	if cfg.rate > 0 {
		l := latencyOf(lag)
		res.SendLag = &l
	}
	return res, nil
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func statusNames(m map[int]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		name := strconv.Itoa(k)
		if k == 0 {
			name = "error"
		}
		out[name] = v
	}
	return out
}

func setupErr(what string, status int, body []byte, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: status %d: %s", what, status, strings.TrimSpace(string(body)))
}

// setupWorkspace creates the resource group rg and the workspace of the
// path ws (with its api-version), waiting for the workspace's LRO; what
// names them in errors ("control ").
func (c *benchClient) setupWorkspace(ctx context.Context, rg, ws, what string) error {
	if st, _, b, err := c.do(ctx, "PUT", rg+"?api-version="+benchRGAPIVersion, []byte(`{"location":"eastus"}`), true); err != nil || (st != 200 && st != 201) {
		return setupErr("creating the "+what+"resource group", st, b, err)
	}
	st, h, b, err := c.do(ctx, "PUT", ws, []byte(`{"location":"eastus","properties":{"description":"mlgov bench"}}`), true)
	if err != nil || (st != 200 && st != 201) {
		return setupErr("creating the "+what+"workspace", st, b, err)
	}
	if err := c.waitLRO(ctx, h.Get("Azure-AsyncOperation")); err != nil {
		return fmt.Errorf("creating the %sworkspace: %w", what, err)
	}
	return nil
}

// waitLRO polls an Azure-AsyncOperation URL until the operation ends.
func (c *benchClient) waitLRO(ctx context.Context, opURL string) error {
	if opURL == "" {
		return nil
	}
	u, err := url.Parse(opURL)
	if err != nil {
		return err
	}
	path := u.RequestURI()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		st, _, b, err := c.do(ctx, "GET", path, nil, true)
		if err != nil {
			return err
		}
		if st != 200 {
			return setupErr("polling the operation", st, b, nil)
		}
		var op struct {
			Status string `json:"status"`
		}
		json.Unmarshal(b, &op)
		switch op.Status {
		case "Succeeded":
			return nil
		case "InProgress", "":
		default:
			return fmt.Errorf("operation ended %s: %s", op.Status, b)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("the operation did not finish within a minute")
}

// parallel runs fn(0..n-1) on k goroutines and returns the first error.
func parallel(ctx context.Context, k, n int, fn func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func randomBase36(n int) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = digits[int(b[i])%len(digits)]
	}
	return string(b)
}

func (r *benchResult) write(w io.Writer, format string) error {
	if format == "json" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if r.Rate > 0 {
		fmt.Fprintf(w, "endpoint     %s (%s, %d clients, target %g requests/s)\n", r.Endpoint, r.Protocol, r.Concurrency, r.Rate)
	} else {
		fmt.Fprintf(w, "endpoint     %s (%s, %d clients)\n", r.Endpoint, r.Protocol, r.Concurrency)
	}
	if r.RoleAssignments > 0 {
		fmt.Fprintf(w, "roles        %d role assignments made for the run\n", r.RoleAssignments)
	}
	fmt.Fprintf(w, "duration     %.3fs\n", r.Duration)
	fmt.Fprintf(w, "requests     %d (%d failed)\n", r.Requests, r.Failed)
	fmt.Fprintf(w, "throughput   %.1f req/s\n", r.Throughput)
	fmt.Fprintf(w, "latency      p50 %s  p95 %s  p99 %s  max %s  mean %s\n",
		fmtMS(r.Latency.P50), fmtMS(r.Latency.P95), fmtMS(r.Latency.P99), fmtMS(r.Latency.Max), fmtMS(r.Latency.Mean))
	if r.SendLag != nil {
		fmt.Fprintf(w, "send lag     p50 %s  p95 %s  p99 %s  max %s  mean %s\n",
			fmtMS(r.SendLag.P50), fmtMS(r.SendLag.P95), fmtMS(r.SendLag.P99), fmtMS(r.SendLag.Max), fmtMS(r.SendLag.Mean))
	}
	fmt.Fprintf(w, "statuses     %s\n\n", fmtStatuses(r.Statuses))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OP\tREQUESTS\tFAILED\tREQ/S\tP50\tP95\tP99\tMAX\tSTATUSES")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\n", o.Op, o.Requests, o.Failed, o.Throughput,
			fmtMS(o.Latency.P50), fmtMS(o.Latency.P95), fmtMS(o.Latency.P99), fmtMS(o.Latency.Max), fmtStatuses(o.Statuses))
	}
	return tw.Flush()
}

func fmtMS(ms float64) string { return strconv.FormatFloat(ms, 'f', 2, 64) + "ms" }

func fmtStatuses(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + strconv.FormatInt(m[k], 10)
	}
	return strings.Join(parts, " ")
}

// histogram records durations in log-linear buckets (HDR style): exact
// below 512ns, then 256 buckets per power of two, so a reported quantile
// is at most 0.4% above the true value. The maximum is kept exactly.
type histogram struct {
	counts []uint64
	n      uint64
	sum    time.Duration
	max    time.Duration
}

const (
	histSubBits = 8
	histSub     = 1 << histSubBits
	histBuckets = 2*histSub + (64-histSubBits-1)*histSub
)

func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - (histSubBits + 1)
	return 2*histSub + (shift-1)*histSub + int(v>>shift) - histSub
}

// histUpper is the largest value that falls into bucket i.
func histUpper(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := (i-2*histSub)/histSub + 1
	top := uint64((i-2*histSub)%histSub + histSub)
	return (top+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[histIndex(uint64(d))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// quantile returns the smallest recorded bucket bound at or above the
// q-th fraction of the samples (capped at the exact maximum).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(histUpper(i)), h.max)
		}
	}
	return h.max
}
