package egress

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBadCredentials is what a Jobs verifier answers for credentials that
// are not a live job's.
var ErrBadCredentials = errors.New("egress: not a valid job token")

// Jobs verifies the proxy credentials of a job: its resource id and its
// job token (docs/runner.md), and returns the id of the job's workspace.
type Jobs interface {
	VerifyJob(ctx context.Context, jobID, token string) (workspaceID string, err error)
}

// Config configures a Proxy.
type Config struct {
	Jobs Jobs
	// Workspace returns a workspace's ARM body by its id (nil, nil when
	// it does not exist).
	Workspace func(ctx context.Context, id string) ([]byte, error)
	// Recorder records each decision; it must not block for long.
	Recorder interface{ Record(*Record) }
	// Tags are the operator's service tags (nil: only the rules'
	// addressPrefixes).
	Tags ServiceTags
	// Hosts is the operator's static host mapping, consulted before DNS.
	Hosts map[string][]netip.Addr
	// Resolve resolves a host name (default: the system resolver).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Always are host:port pairs every job may reach (the mlgov
	// endpoint: the job API, tokens), decided by the rule "mlgov".
	Always []string
	// PolicyTTL bounds how long a workspace's compiled rules are used
	// without reading the workspace again (default 5 s; Forget drops
	// them at once).
	PolicyTTL   time.Duration
	DialTimeout time.Duration
	Now         func() time.Time
	Log         *slog.Logger
}

// Proxy is the egress forward proxy: HTTP CONNECT and plain HTTP
// (absolute-URI requests), authenticated with a job's token
// (Proxy-Authorization: Basic {jobID}:{token}), every connection decided
// by its workspace's rules and recorded.
type Proxy struct {
	cfg      Config
	always   map[string]bool
	mu       sync.RWMutex
	policies map[string]*cachedPolicy // by lower-cased workspace id
	creds    sync.Map                 // "user\x00pass" → *cachedCred
	rp       *httputil.ReverseProxy
	tr       *http.Transport
	stored   atomic.Int64 // credentials verified (a sweep every 1024)
	dnsMu    sync.Mutex
	dns      map[string]dnsEntry
}

type cachedPolicy struct {
	p  *Policy
	at time.Time
}

type cachedCred struct {
	jobID, wsID string
	until       time.Time
}

// credTTL is how long a verified job token is taken without asking
// again (a finished job's token stops working after at most this).
const credTTL = 15 * time.Second

// New makes a proxy.
func New(cfg Config) *Proxy {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PolicyTTL <= 0 {
		cfg.PolicyTTL = 5 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Resolve == nil {
		cfg.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	p := &Proxy{cfg: cfg, always: map[string]bool{}, policies: map[string]*cachedPolicy{}, dns: map[string]dnsEntry{}}
	for _, a := range cfg.Always {
		if h, port, err := net.SplitHostPort(a); err == nil {
			p.always[NormalizeHost(h)+":"+port] = true
		}
	}
	p.tr = &http.Transport{
		DialContext:           p.dialDecided,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       60 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = pr.In.URL
			pr.Out.Host = pr.In.Host
		},
		Transport:  p.tr,
		BufferPool: bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if c, ok := r.Context().Value(connKey{}).(*conn); ok {
				c.err = err.Error()
			}
			http.Error(w, "mlgov egress: "+err.Error(), http.StatusBadGateway)
		},
	}
	return p
}

// Forget drops a workspace's compiled rules (it changed).
func (p *Proxy) Forget(workspaceID string) {
	p.mu.Lock()
	delete(p.policies, strings.ToLower(workspaceID))
	p.mu.Unlock()
}

// Close closes idle upstream connections.
func (p *Proxy) Close() { p.tr.CloseIdleConnections() }

// Policy returns a workspace's compiled rules (cached).
func (p *Proxy) Policy(ctx context.Context, workspaceID string) (*Policy, error) {
	k := strings.ToLower(workspaceID)
	now := p.cfg.Now()
	p.mu.RLock()
	c := p.policies[k]
	p.mu.RUnlock()
	if c != nil && now.Sub(c.at) < p.cfg.PolicyTTL {
		return c.p, nil
	}
	body, err := p.cfg.Workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	pol := &Policy{Mode: ModeAllowOnlyApprovedOutbound, exact: map[string]string{}} // a workspace gone: nothing
	if body != nil {
		if pol, err = Compile(body, p.cfg.Tags); err != nil {
			return nil, err
		}
		for rule, why := range pol.Skipped {
			p.cfg.Log.Warn("egress: an outbound rule allows nothing", "workspace", workspaceID, "rule", rule, "why", why)
		}
	}
	p.mu.Lock()
	p.policies[k] = &cachedPolicy{p: pol, at: now}
	p.mu.Unlock()
	return pol, nil
}

// conn is one decided connection (a CONNECT tunnel or a plain request).
type conn struct {
	rec   Record
	addrs []netip.Addr
	err   string
}

type connKey struct{}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := p.cfg.Now()
	jobID, wsID, ok := p.authenticate(r)
	if !ok {
		w.Header().Set("Proxy-Authenticate", `Basic realm="mlgov egress"`)
		http.Error(w, "mlgov egress: proxy authentication required: the job's id and token (the runner's HTTP_PROXY)", http.StatusProxyAuthRequired)
		return
	}
	var hostport string
	if r.Method == http.MethodConnect {
		hostport = r.Host
	} else {
		if !r.URL.IsAbs() || r.URL.Scheme != "http" {
			http.Error(w, "mlgov egress: a proxy request takes an absolute http:// URL (https: use CONNECT)", http.StatusBadRequest)
			return
		}
		hostport = r.URL.Host
		if r.URL.Port() == "" {
			hostport = net.JoinHostPort(r.URL.Hostname(), "80")
		}
	}
	h, ps, err := net.SplitHostPort(hostport)
	port, perr := strconv.Atoi(ps)
	host := NormalizeHost(h)
	if err != nil || perr != nil || port < 1 || port > 65535 || host == "" {
		http.Error(w, "mlgov egress: the target must be host:port (an ASCII host name: punycode for others)", http.StatusBadRequest)
		return
	}
	c := &conn{rec: Record{Time: start.UTC(), WorkspaceID: wsID, JobID: jobID, Method: r.Method, Host: host, Port: port}}
	dec, err := p.decide(r.Context(), c, host, port)
	if err != nil {
		c.rec.Decision, c.rec.Reason = Denied, "the rules could not be read"
		p.finish(c, start)
		p.cfg.Log.Error("egress: deciding", "workspace", wsID, "error", err)
		http.Error(w, "mlgov egress: the workspace's rules could not be read", http.StatusServiceUnavailable)
		return
	}
	c.rec.Rule, c.rec.Reason = dec.Rule, dec.Reason
	if !dec.Allowed {
		c.rec.Decision = Denied
		p.finish(c, start)
		http.Error(w, fmt.Sprintf("mlgov egress: %s:%d is denied (isolation mode %s: %s)", host, port, c.rec.IsolationMode, dec.Reason), http.StatusForbidden)
		return
	}
	// The proxy's own host and link (loopback, link-local: the metadata
	// address, the control plane's database) are not "the internet": a
	// name that resolves there is refused unless a ServiceTag rule's
	// addresses or the operator's host mapping say it may.
	if dec.Rule != "mlgov" && !strings.HasPrefix(dec.Reason, "ServiceTag") {
		if _, mapped := p.cfg.Hosts[host]; !mapped {
			if c.addrs == nil {
				var rerr error
				if c.addrs, rerr = p.resolve(r.Context(), host); rerr != nil {
					c.rec.Decision, c.err, c.rec.Status = Allowed, rerr.Error(), http.StatusBadGateway
					p.finish(c, start)
					http.Error(w, "mlgov egress: "+host+": "+rerr.Error(), http.StatusBadGateway)
					return
				}
			}
			for _, a := range c.addrs {
				if internalAddr(a) {
					c.rec.Decision, c.rec.Rule = Denied, ""
					c.rec.Reason = "the address " + a.String() + " is the proxy host's own (loopback or link-local)"
					p.finish(c, start)
					http.Error(w, fmt.Sprintf("mlgov egress: %s:%d is denied (%s; isolation mode %s)", host, port, c.rec.Reason, c.rec.IsolationMode), http.StatusForbidden)
					return
				}
			}
		}
	}
	c.rec.Decision = Allowed
	if r.Method == http.MethodConnect {
		p.tunnel(w, r, c, start)
		return
	}
	r.Header.Del("Proxy-Authorization")
	up := &countingReader{r: r.Body}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = up
	}
	cw := &countingWriter{ResponseWriter: w}
	p.rp.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), connKey{}, c)))
	c.rec.BytesUp, c.rec.BytesDown, c.rec.Status = up.n, cw.n, cw.status
	p.finish(c, start)
}

// decide resolves what it must and decides c.
func (p *Proxy) decide(ctx context.Context, c *conn, host string, port int) (Decision, error) {
	if p.always[host+":"+strconv.Itoa(port)] {
		c.rec.IsolationMode = "-"
		return Decision{Allowed: true, Rule: "mlgov", Reason: "the mlgov endpoint"}, nil
	}
	pol, err := p.Policy(ctx, c.rec.WorkspaceID)
	if err != nil {
		return Decision{}, err
	}
	c.rec.IsolationMode = pol.Mode
	if a, err := netip.ParseAddr(host); err == nil {
		c.addrs = []netip.Addr{a}
	} else if pol.NeedsAddresses() {
		if c.addrs, err = p.resolve(ctx, host); err != nil {
			c.err = err.Error()
		}
	}
	return pol.Decide(host, port, c.addrs), nil
}

// resolve resolves host: the static mapping first, then DNS.
func (p *Proxy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, ok := p.cfg.Hosts[host]; ok {
		return a, nil
	}
	now := p.cfg.Now()
	p.dnsMu.Lock()
	e, ok := p.dns[host]
	p.dnsMu.Unlock()
	if ok && now.Before(e.until) {
		return e.addrs, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	addrs, err := p.cfg.Resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("the name has no address")
	}
	p.dnsMu.Lock()
	if len(p.dns) >= maxDNSCache {
		clear(p.dns)
	}
	p.dns[host] = dnsEntry{addrs: addrs, until: now.Add(dnsTTL)}
	p.dnsMu.Unlock()
	return addrs, nil
}

// The proxy's cache of names it resolved (Go's resolver keeps none).
const (
	dnsTTL      = 30 * time.Second
	maxDNSCache = 4096
)

type dnsEntry struct {
	addrs []netip.Addr
	until time.Time
}

// internalAddr reports whether a is of the proxy's own host or link.
func internalAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsUnspecified() || a.IsMulticast()
}

// dial connects to the decided connection's addresses (resolved once,
// so that what was decided is what is reached).
func (p *Proxy) dial(ctx context.Context, c *conn) (net.Conn, error) {
	if c.addrs == nil {
		a, err := p.resolve(ctx, c.rec.Host)
		if err != nil {
			return nil, err
		}
		c.addrs = a
	}
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	var last error = errors.New("no address")
	for _, a := range c.addrs {
		nc, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, uint16(c.rec.Port)).String())
		if err == nil {
			return nc, nil
		}
		last = err
	}
	return nil, last
}

// dialDecided is the transport's dial of plain requests.
func (p *Proxy) dialDecided(ctx context.Context, network, addr string) (net.Conn, error) {
	c, ok := ctx.Value(connKey{}).(*conn)
	if !ok {
		return nil, errors.New("mlgov egress: an undecided connection")
	}
	return p.dial(ctx, c)
}

func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request, c *conn, start time.Time) {
	up, err := p.dial(r.Context(), c)
	if err != nil {
		c.err = err.Error()
		c.rec.Status = http.StatusBadGateway
		p.finish(c, start)
		http.Error(w, "mlgov egress: "+err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "mlgov egress: CONNECT is not supported here", http.StatusInternalServerError)
		return
	}
	down, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	c.rec.Status = 200
	if _, err := down.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		up.Close()
		down.Close()
		p.finish(c, start)
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.rec.BytesUp = pipe(up, brw.Reader)
		closeWrite(up)
	}()
	c.rec.BytesDown = pipe(down, up)
	closeWrite(down)
	wg.Wait()
	up.Close()
	down.Close()
	p.finish(c, start)
}

func pipe(dst net.Conn, src io.Reader) int64 {
	if _, ok := src.(*net.TCPConn); ok {
		n, _ := io.Copy(dst, src) // splice(2) where it can
		return n
	}
	b := buffers.Get().(*[]byte)
	defer buffers.Put(b)
	n, _ := io.CopyBuffer(dst, src, *b)
	return n
}

func closeWrite(c net.Conn) {
	if t, ok := c.(interface{ CloseWrite() error }); ok {
		_ = t.CloseWrite()
	} else {
		_ = c.Close()
	}
}

func (p *Proxy) finish(c *conn, start time.Time) {
	c.rec.DurationMs = float64(p.cfg.Now().Sub(start).Microseconds()) / 1000
	if c.err != "" && c.rec.Error == "" {
		c.rec.Error = c.err
	}
	if p.cfg.Recorder != nil {
		rec := c.rec
		p.cfg.Recorder.Record(&rec)
	}
}

// authenticate reads Proxy-Authorization: Basic {job id}:{job token}.
func (p *Proxy) authenticate(r *http.Request) (jobID, wsID string, ok bool) {
	v := r.Header.Get("Proxy-Authorization")
	enc, found := strings.CutPrefix(v, "Basic ")
	if !found {
		return "", "", false
	}
	key := strings.TrimSpace(enc)
	now := p.cfg.Now()
	if c, hit := p.creds.Load(key); hit {
		cc := c.(*cachedCred)
		if now.Before(cc.until) {
			return cc.jobID, cc.wsID, true
		}
		p.creds.Delete(key)
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return "", "", false
	}
	user, pass, found := strings.Cut(string(raw), ":")
	if !found || user == "" || pass == "" || p.cfg.Jobs == nil {
		return "", "", false
	}
	ws, err := p.cfg.Jobs.VerifyJob(r.Context(), user, pass)
	if err != nil {
		if !errors.Is(err, ErrBadCredentials) {
			p.cfg.Log.Error("egress: verifying a job token", "job", user, "error", err)
		}
		return "", "", false
	}
	p.creds.Store(key, &cachedCred{jobID: user, wsID: ws, until: now.Add(credTTL)})
	if p.stored.Add(1)%1024 == 0 { // expired credentials of jobs that no longer call
		p.creds.Range(func(k, v any) bool {
			if !now.Before(v.(*cachedCred).until) {
				p.creds.Delete(k)
			}
			return true
		})
	}
	return user, ws, true
}

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

type countingWriter struct {
	http.ResponseWriter
	n      int64
	status int
}

func (c *countingWriter) WriteHeader(s int) {
	if c.status == 0 {
		c.status = s
	}
	c.ResponseWriter.WriteHeader(s)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = 200
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// bufferPool lends the 32 KiB buffers that copy answers and tunnels (one
// a request otherwise: most of a request's garbage).
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(buffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
