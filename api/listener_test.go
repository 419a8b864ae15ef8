package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestParseGoPlainError: net/http's own plain-text answers are recognised
// in the exact form it writes; handler answers (they carry a Date) and
// anything else are not.
func TestParseGoPlainError(t *testing.T) {
	for _, tc := range []struct {
		in     string
		status int
		ok     bool
	}{
		{"HTTP/1.1 400 Bad Request" + goPlainErrorHeaders + "400 Bad Request", 400, true},
		{"HTTP/1.1 431 Request Header Fields Too Large" + goPlainErrorHeaders + "431 Request Header Fields Too Large", 431, true},
		{"HTTP/1.1 400 Bad Request: missing required Host header" + goPlainErrorHeaders + "400 Bad Request: missing required Host header", 400, true},
		{"HTTP/1.1 501 Not Implemented" + goPlainErrorHeaders + "Unsupported transfer encoding", 501, true},
		{"HTTP/1.1 400 Bad Request\r\nDate: Sun, 06 Dec 2026 07:00:00 GMT" + goPlainErrorHeaders + "x", 0, false},
		{"HTTP/1.1 200 OK" + goPlainErrorHeaders + "ok", 0, false},
		{"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{}", 0, false},
		{`{"value":[]}`, 0, false},
		{"HTTP/1.1 4", 0, false},
	} {
		status, _, ok := parseGoPlainError([]byte(tc.in))
		if ok != tc.ok || status != tc.status {
			t.Errorf("parseGoPlainError(%.60q) = %d, %v; want %d, %v", tc.in, status, ok, tc.status, tc.ok)
		}
	}
}

// TestErrorResponse: the rewritten answer is a complete HTTP/1.1 response
// with an ARM error body whose Content-Length is right.
func TestErrorResponse(t *testing.T) {
	status, text, _ := parseGoPlainError([]byte("HTTP/1.1 400 Bad Request: malformed Host header" + goPlainErrorHeaders + "400 Bad Request: malformed Host header"))
	raw := string(errorResponse(status, plainToARM(status, text)))
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	if !strings.HasPrefix(head, "HTTP/1.1 400 Bad Request\r\n") {
		t.Fatalf("status line: %q", raw)
	}
	var n int
	for _, line := range strings.Split(head, "\r\n") {
		fmt.Sscanf(line, "Content-Length: %d", &n)
	}
	if n != len(body) {
		t.Errorf("Content-Length %d, body %d bytes", n, len(body))
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != "BadRequest" || e.Error.Message != "The request is malformed: malformed Host header." {
		t.Errorf("body %q (%v)", body, err)
	}
}

// TestLogLimiter: burst lines a minute, then the count of the lines left
// out goes with the next line that is let through.
func TestLogLimiter(t *testing.T) {
	l := logLimiter{burst: 3}
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	var let int
	for i := range 10 {
		if ok, s := l.allow(t0.Add(time.Duration(i) * time.Second)); ok {
			let++
			if s != 0 {
				t.Errorf("line %d: suppressed %d within the first window", i, s)
			}
		}
	}
	if let != 3 {
		t.Errorf("%d of 10 lines let through in one minute, want 3", let)
	}
	ok, s := l.allow(t0.Add(61 * time.Second))
	if !ok || s != 7 {
		t.Errorf("next window: allow = %v, suppressed = %d; want true, 7", ok, s)
	}
}

// TestListenerSlotsFreed: connections over HTTP/1.1 and HTTP/2 free their
// client address's slot when they close, so a cap of 2 never locks a
// client out that opens and closes connections one after another.
func TestListenerSlotsFreed(t *testing.T) {
	cert := selfSignedForTest(t)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(raw, ListenerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, MaxConnsPerIP: 2})
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }), ConnState: l.ConnState, Protocols: p}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		for i := range 6 {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: proto == "HTTP/2.0"}
			if proto == "HTTP/1.1" {
				tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
			}
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + raw.Addr().String() + "/")
			if err != nil {
				t.Fatalf("%s connection %d: %v", proto, i+1, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != proto {
				t.Errorf("served over %s, want %s", b, proto)
			}
			tr.CloseIdleConnections()
			// The server sees the close a moment later; then the slot is free.
			deadline := time.Now().Add(5 * time.Second)
			for l.OpenConns("127.0.0.1") != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%s connection %d: %d slots still taken after it closed", proto, i+1, l.OpenConns("127.0.0.1"))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
}

func selfSignedForTest(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
