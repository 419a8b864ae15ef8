package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestH1Conn runs the bench's HTTP/1.1 client against net/http's server
// over TLS: every way a body is framed, statuses without a body, request
// bodies and headers, keep-alive (one connection for many requests) and
// a server that closes the connection.
func TestH1Conn(t *testing.T) {
	var conns atomic.Int32
	big := strings.Repeat("b", 100_000) // over the reader's buffer
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" || r.Header.Get("User-Agent") != "mlgov-bench" {
			http.Error(w, "headers: "+fmt.Sprint(r.Header), 400)
			return
		}
		switch r.URL.Path {
		case "/length":
			w.Write([]byte("hello"))
		case "/chunked":
			w.Write([]byte("part one, "))
			w.(http.Flusher).Flush() // no Content-Length: chunked
			w.Write([]byte("part two"))
		case "/big":
			w.Write([]byte(big))
		case "/nocontent":
			w.WriteHeader(204)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "%s %s %s %d", r.Method, r.Header.Get("Content-Type"), b, r.ContentLength)
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case "/missing":
			http.Error(w, "no such thing", 404)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	tc := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	h, err := newH1Conn(srv.URL, "Bearer t", tc)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	ctx := context.Background()
	for _, c := range []struct {
		method, path string
		body         []byte
		status       int
		want         string
	}{
		{"GET", "/length", nil, 200, "hello"},
		{"GET", "/chunked", nil, 200, "part one, part two"},
		{"GET", "/big", nil, 200, big},
		{"DELETE", "/nocontent", nil, 204, ""},
		{"PUT", "/echo?x=1", []byte(`{"a":1}`), 200, `PUT application/json {"a":1} 7`},
		{"GET", "/missing", nil, 404, "no such thing\n"},
		{"GET", "/echo", nil, 200, "GET   0"},
		{"GET", "/length", nil, 200, "hello"},
	} {
		st, b, err := h.do(ctx, c.method, c.path, c.body)
		if err != nil || st != c.status || string(b) != c.want {
			t.Errorf("%s %s: %d %.80q %v; want %d %.80q", c.method, c.path, st, b, err, c.status, c.want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 8 requests, want 1 (keep-alive)", n)
	}
	// The server closes: the answer is read, and the next request opens
	// a new connection.
	for range 2 {
		if st, b, err := h.do(ctx, "GET", "/close", nil); err != nil || st != 200 || string(b) != "bye" {
			t.Errorf("GET /close: %d %q %v", st, b, err)
		}
	}
	if st, b, err := h.do(ctx, "GET", "/length", nil); err != nil || st != 200 || string(b) != "hello" {
		t.Errorf("GET /length after close: %d %q %v", st, b, err)
	}
	// The first connection served /close once, the second the other
	// /close, the third the last request.
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3: Connection: close was not honoured", n)
	}
}

// TestH1ConnMalformed: answers that are not HTTP/1.1, or end early, are
// errors that name the problem, and the connection is dropped.
func TestH1ConnMalformed(t *testing.T) {
	for _, c := range []struct{ name, answer, want string }{
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", "status line"},
		{"bad status", "HTTP/1.1 2xx OK\r\n\r\n", "status line"},
		{"interim status", "HTTP/1.1 100 Continue\r\n\r\n", "interim status"},
		{"header without colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", "header line"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "unexpected EOF"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"},
		{"gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "Transfer-Encoding"},
		{"no headers end", "HTTP/1.1 200 OK\r\nA: b\r\n", "unexpected EOF"},
		{"long line", "HTTP/1.1 200 OK\r\nA: " + strings.Repeat("x", 20<<10) + "\r\n\r\n", "longer than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := rawServer(t, func(conn net.Conn) {
				br := bufio.NewReader(conn)
				for { // the request's head
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				io.WriteString(conn, c.answer)
			})
			_, _, err := h.do(context.Background(), "GET", "/", nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
			if h.conn != nil {
				t.Error("the connection was kept after an error")
			}
		})
	}
}

// FuzzH1Response: any answer from a server is read or refused with an
// error, never a panic, and a body is never longer than the answer.
func FuzzH1Response(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\n\r\nrest",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
	} {
		f.Add(s, "GET")
	}
	f.Fuzz(func(t *testing.T, answer, method string) {
		h := &h1Conn{br: bufio.NewReaderSize(strings.NewReader(answer), 16<<10)}
		status, _, err := h.readResponse(method)
		if err == nil && (status < 200 || status > 999 || len(h.body) > len(answer)) {
			t.Fatalf("status %d, body of %d bytes from an answer of %d", status, len(h.body), len(answer))
		}
	})
}

// TestH1ConnCancel: a request to a server that does not answer ends when
// the context ends, not at the 30 s timeout.
func TestH1ConnCancel(t *testing.T) {
	h := rawServer(t, func(conn net.Conn) { io.Copy(io.Discard, conn) }) // reads, never answers
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := h.do(ctx, "GET", "/", nil)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a request without an answer succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not end with its context")
	}
	if _, _, err := h.do(ctx, "GET", "/", nil); err == nil {
		t.Error("a request with an ended context succeeded")
	}
}

// rawServer serves the first connection to a loopback listener with
// serve (then closes it) and returns an h1Conn for it.
func rawServer(t *testing.T, serve func(net.Conn)) *h1Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			defer conn.Close()
			serve(conn)
		}
	}()
	h, err := newH1Conn("http://"+ln.Addr().String(), "Bearer t", nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
