package api

import (
	"encoding/json"
	"fmt"
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
