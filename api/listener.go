package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mlgov/mlgov/arm"
)

// ListenerConfig configures a Listener.
type ListenerConfig struct {
	// TLS is the server's TLS configuration (certificates, versions,
	// cipher suites). NextProtos should offer "h2" and "http/1.1".
	TLS *tls.Config
	// MaxConnsPerIP caps the connections open at once from one client
	// address (0: no cap). A connection over the cap is closed at once.
	MaxConnsPerIP int
	// HandshakeTimeout bounds a TLS handshake (default 10 s).
	HandshakeTimeout time.Duration
	// Log receives refused connections (failed handshakes, over the cap)
	// as structured lines, at most LogBurst of them a minute; the number
	// left out is logged with the next line. Nil: not logged.
	Log      *slog.Logger
	LogBurst int
	// Now is the clock of the log limiter (default time.Now).
	Now func() time.Time
}

// Listener accepts TLS connections for an http.Server (which is given no
// TLSConfig of its own: the listener does the handshakes). It exists so
// that every answer of the server is an ARM or OAuth body, even the ones
// net/http writes before any handler runs: on HTTP/1.1 connections a
// malformed request (bad %-encoding in the path, headers over
// Server.MaxHeaderBytes, an unsupported Transfer-Encoding) is answered by
// net/http in plain text, which the connection rewrites as an ARM error;
// a plain-HTTP request to the TLS port gets an ARM error too. It also
// caps the connections per client address and logs failed handshakes,
// structured and rate-limited.
//
// Connections that negotiate HTTP/2 are handed over as *tls.Conn (the
// server speaks HTTP/2 on them itself; malformed HTTP/2 requests are
// refused with HTTP/2 stream errors, not text). Set ConnState of the
// http.Server to the listener's ConnState so that closed connections free
// their slot.
type Listener struct {
	inner net.Listener
	cfg   ListenerConfig
	ready chan net.Conn
	done  chan struct{}
	once  sync.Once
	errc  chan error

	mu    sync.Mutex
	perIP map[string]int
	conns map[net.Conn]string // open connections and their client address
	limit logLimiter
}

// NewListener starts accepting on inner.
func NewListener(inner net.Listener, cfg ListenerConfig) *Listener {
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.LogBurst <= 0 {
		cfg.LogBurst = 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Listener{inner: inner, cfg: cfg, ready: make(chan net.Conn), done: make(chan struct{}), errc: make(chan error, 1),
		perIP: map[string]int{}, conns: map[net.Conn]string{}}
	l.limit.burst = cfg.LogBurst
	go l.acceptLoop()
	return l
}

// Accept returns the next connection whose TLS handshake succeeded.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections being set up are closed.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.inner.Close()
	})
	return err
}

// Addr is the address listened on.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// ConnState is an http.Server.ConnState hook: a closed or hijacked
// connection frees its client address's slot.
func (l *Listener) ConnState(c net.Conn, st http.ConnState) {
	if st == http.StateClosed || st == http.StateHijacked {
		l.release(c)
	}
}

func (l *Listener) acceptLoop() {
	var delay time.Duration
	for {
		raw, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() { // temporary: back off
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			select {
			case l.errc <- err:
			case <-l.done:
			}
			return
		}
		delay = 0
		ip := clientAddr(raw.RemoteAddr())
		if !l.acquire(ip) {
			raw.Close()
			l.logRefused("connection refused", raw.RemoteAddr(), slog.String("reason", "too many connections from this address"), slog.Int("maxConnsPerIP", l.cfg.MaxConnsPerIP))
			continue
		}
		go l.handshake(raw, ip)
	}
}

func (l *Listener) handshake(raw net.Conn, ip string) {
	tc := tls.Server(raw, l.cfg.TLS)
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		l.releaseIP(ip)
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader[:]) {
			writePlainHTTPRefusal(re.Conn)
			re.Conn.Close()
			l.logRefused("TLS handshake failed", raw.RemoteAddr(), slog.String("err", "the client sent plain HTTP"))
			return
		}
		raw.Close()
		l.logRefused("TLS handshake failed", raw.RemoteAddr(), slog.String("err", err.Error()))
		return
	}
	var c net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		c = &armConn{Conn: tc, tc: tc, l: l}
	}
	l.mu.Lock()
	l.conns[c] = ip
	l.mu.Unlock()
	select {
	case l.ready <- c:
	case <-l.done:
		c.Close()
		l.release(c)
	}
}

func (l *Listener) acquire(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.MaxConnsPerIP > 0 && l.perIP[ip] >= l.cfg.MaxConnsPerIP {
		return false
	}
	l.perIP[ip]++
	return true
}

func (l *Listener) releaseIP(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// release frees the slot of an accepted connection (once).
func (l *Listener) release(c net.Conn) {
	l.mu.Lock()
	ip, ok := l.conns[c]
	delete(l.conns, c)
	l.mu.Unlock()
	if ok {
		l.releaseIP(ip)
	}
}

// OpenConns returns the number of connections open from ip (for tests
// and /healthz-style reporting).
func (l *Listener) OpenConns(ip string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.perIP[ip]
}

// logRefused logs a connection that was not served: msg, the client's
// address and port, attrs.
func (l *Listener) logRefused(msg string, remote net.Addr, attrs ...slog.Attr) {
	if l.cfg.Log == nil {
		return
	}
	ok, suppressed := l.limit.allow(l.cfg.Now())
	if !ok {
		return
	}
	args := []any{slog.String("remote", remote.String())}
	for _, a := range attrs {
		args = append(args, a)
	}
	if suppressed > 0 {
		args = append(args, slog.Int("suppressed", suppressed))
	}
	l.cfg.Log.Warn(msg, args...)
}

// logLimiter lets burst lines through per minute and counts the rest.
type logLimiter struct {
	mu         sync.Mutex
	burst      int
	window     time.Time
	n          int
	suppressed int
}

func (r *logLimiter) allow(now time.Time) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.window) >= time.Minute {
		r.window, r.n = now, 0
	}
	if r.n >= r.burst {
		r.suppressed++
		return false, 0
	}
	r.n++
	s := r.suppressed
	r.suppressed = 0
	return true, s
}

func clientAddr(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

func looksLikeHTTP(hdr []byte) bool {
	for _, m := range []string{"GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE", "TRACE"} {
		if string(hdr) == m {
			return true
		}
	}
	return false
}

// writePlainHTTPRefusal answers a plain-HTTP request on the TLS port.
func writePlainHTTPRefusal(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(errorResponse(400, &arm.Error{Code: "HttpsRequired", Message: "The server accepts HTTPS only; the request was sent as plain HTTP."}))
}

// errorResponse is a complete HTTP/1.1 answer with an ARM error body
// that closes the connection.
func errorResponse(status int, e *arm.Error) []byte {
	body, _ := json.Marshal(map[string]any{"error": envelope(e)})
	body = append(body, '\n')
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nx-ms-failure-cause: gateway\r\nConnection: close\r\nContent-Length: %d\r\n\r\n",
		status, http.StatusText(status), len(body))
	b.Write(body)
	return b.Bytes()
}

// armConn is an HTTP/1.1 connection. net/http answers a request it cannot
// parse itself, in one write of exactly this form:
//
//	HTTP/1.1 <status> <text>\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n<text>
//
// (responses of handlers always carry a Date header, these never do).
// armConn sends an ARM error with the same status instead.
type armConn struct {
	net.Conn
	tc      *tls.Conn
	l       *Listener
	release sync.Once
}

// ConnectionState lets net/http fill in Request.TLS.
func (c *armConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

const goPlainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *armConn) Write(b []byte) (int, error) {
	if status, text, ok := parseGoPlainError(b); ok {
		if _, err := c.Conn.Write(errorResponse(status, plainToARM(status, text))); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *armConn) Close() error {
	c.release.Do(func() { c.l.release(c) })
	return c.Conn.Close()
}

// parseGoPlainError recognises net/http's own plain-text error answer.
func parseGoPlainError(b []byte) (status int, text string, ok bool) {
	const prefix = "HTTP/1.1 "
	if len(b) < len(prefix)+4 || string(b[:len(prefix)]) != prefix || len(b) > 4096 {
		return 0, "", false
	}
	i := bytes.Index(b, []byte(goPlainErrorHeaders))
	if i < 0 || bytes.Contains(b[:i], []byte("\r\n")) { // exactly a status line, then these headers
		return 0, "", false
	}
	status, err := strconv.Atoi(string(b[len(prefix) : len(prefix)+3]))
	if err != nil || status < 400 {
		return 0, "", false
	}
	return status, string(b[i+len(goPlainErrorHeaders):]), true
}

func plainToARM(status int, text string) *arm.Error {
	// text is "<status> <reason>[: detail]"
	msg := text
	if j := bytes.IndexByte([]byte(text), ':'); j >= 0 {
		msg = text[j+1:]
	}
	msg = string(bytes.TrimSpace([]byte(msg)))
	switch status {
	case 431:
		return &arm.Error{Code: "RequestHeaderFieldsTooLarge", Message: "The request headers are too large."}
	case 501:
		return &arm.Error{Code: "NotImplemented", Message: "The request is not supported: " + msg + "."}
	}
	if msg == "" || msg == text {
		msg = "the request could not be parsed"
	}
	return &arm.Error{Code: "BadRequest", Message: "The request is malformed: " + msg + "."}
}
