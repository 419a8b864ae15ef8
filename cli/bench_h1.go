package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// h1Conn is one keep-alive HTTP/1.1 connection of the load phase of an
// HTTP/1.1 bench: it writes each request in one piece from a reused
// buffer and reads the answer with a reused reader, in the calling
// goroutine. net/http's client costs more: a reader and a writer
// goroutine per connection, and a request, header maps and a response
// per request. Client and server share the machine's cores, so whatever
// the client spends is taken from the server. Measured on two cores,
// GETs flat out with 64 clients: net/http's client 18,000-23,000 req/s,
// this one 28,000-32,000, Debian's wrk 24,000-27,000.
//
// It speaks the part of HTTP/1.1 a server answers a plain request with:
// a status line, headers, and a body framed by Content-Length, chunked
// transfer coding or the end of the connection. After an error, or an
// answer with "Connection: close", it closes the connection, and the
// next request opens a new one.
type h1Conn struct {
	addr    string // host:port to dial
	host    string // Host header
	tls     *tls.Config
	auth    string // Authorization header
	timeout time.Duration

	conn net.Conn
	stop func() bool // stops the context watch of conn
	br   *bufio.Reader
	req  []byte // the request being written (reused)
	body []byte // the answer's body (reused)
}

// h1MaxBody bounds an answer's body: the server's largest is a list page.
const h1MaxBody = 64 << 20

// newH1Conn returns an unconnected h1Conn for endpoint (an http or https
// URL); tc is used for https.
func newH1Conn(endpoint, auth string, tc *tls.Config) (*h1Conn, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	h := &h1Conn{addr: u.Host, host: u.Host, auth: auth, timeout: 30 * time.Second}
	switch u.Scheme {
	case "https":
		h.tls = tc
		if u.Port() == "" {
			h.addr = net.JoinHostPort(u.Hostname(), "443")
		}
	case "http":
		if u.Port() == "" {
			h.addr = net.JoinHostPort(u.Hostname(), "80")
		}
	default:
		return nil, fmt.Errorf("endpoint %q: want an http or https URL", endpoint)
	}
	return h, nil
}

// connect opens the connection (with the TLS handshake) if it is not open.
func (h *h1Conn) connect(ctx context.Context) error {
	if h.conn != nil {
		return nil
	}
	nd := &net.Dialer{Timeout: 10 * time.Second}
	var c net.Conn
	var err error
	if h.tls != nil {
		c, err = (&tls.Dialer{NetDialer: nd, Config: h.tls}).DialContext(ctx, "tcp", h.addr)
	} else {
		c, err = nd.DialContext(ctx, "tcp", h.addr)
	}
	if err != nil {
		return err
	}
	h.conn = c
	// When ctx ends, a request under way fails at once (its read or write
	// passes the deadline) instead of waiting for the timeout.
	h.stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	if h.br == nil {
		h.br = bufio.NewReaderSize(c, 16<<10)
	} else {
		h.br.Reset(c)
	}
	return nil
}

func (h *h1Conn) close() {
	if h.conn != nil {
		h.stop()
		h.conn.Close()
		h.conn = nil
	}
}

// do sends one request (body nil: none) and returns the answer's status
// and body; the body is valid until the next call. The connection's
// context is that of the call that opened it (the bench uses one).
func (h *h1Conn) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	if err := h.connect(ctx); err != nil {
		return 0, nil, err
	}
	b := append(h.req[:0], method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, h.host...)
	b = append(b, "\r\nAuthorization: "...)
	b = append(b, h.auth...)
	b = append(b, "\r\nUser-Agent: mlgov-bench\r\n"...)
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	h.req = b
	h.conn.SetDeadline(time.Now().Add(h.timeout))
	if err := ctx.Err(); err != nil { // it may have ended before the deadline was set
		h.close()
		return 0, nil, err
	}
	if _, err := h.conn.Write(b); err != nil {
		h.close()
		return 0, nil, err
	}
	status, keep, err := h.readResponse(method)
	if err != nil {
		h.close()
		return 0, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if !keep {
		h.close()
	}
	return status, h.body, nil
}

var errH1Malformed = errors.New("malformed HTTP/1.1 answer")

// readResponse reads one answer into h.body and tells whether the
// connection stays open.
func (h *h1Conn) readResponse(method string) (status int, keep bool, err error) {
	line, err := h.readLine()
	if err != nil {
		return 0, false, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("%w: status line %q", errH1Malformed, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return 0, false, fmt.Errorf("%w: status line %q", errH1Malformed, line)
	}
	keep = line[7] == '1' // HTTP/1.0 closes unless it says otherwise
	length, chunked := int64(-1), false
	for {
		line, err := h.readLine()
		if err != nil {
			return 0, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return 0, false, fmt.Errorf("%w: header line %q", errH1Malformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 {
				return 0, false, fmt.Errorf("%w: Content-Length %q", errH1Malformed, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
			if !chunked {
				return 0, false, fmt.Errorf("%w: Transfer-Encoding %q", errH1Malformed, value)
			}
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keep = true
			}
		}
	}
	h.body = h.body[:0]
	switch {
	case status/100 == 1:
		return 0, false, fmt.Errorf("%w: interim status %d", errH1Malformed, status)
	case method == "HEAD" || status == 204 || status == 304:
	case chunked:
		err = h.readChunked()
	case length >= 0:
		err = h.readN(length)
	default: // to the end of the connection
		keep = false
		err = h.readN(-1)
	}
	return status, keep, err
}

// readLine returns the next line without its line end; it is valid until
// the next read.
func (h *h1Conn) readLine() ([]byte, error) {
	line, err := h.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: a line longer than %d bytes", errH1Malformed, h.br.Size())
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'}), nil
}

// readN appends n bytes of body (n < 0: up to the end of the
// connection). The buffer grows with what arrives, not with what the
// answer announces.
func (h *h1Conn) readN(n int64) error {
	room := h1MaxBody - int64(len(h.body))
	toEOF := n < 0
	if toEOF {
		n = room + 1
	} else if n > room {
		return fmt.Errorf("%w: a body over %d bytes", errH1Malformed, h1MaxBody)
	}
	for n > 0 {
		if len(h.body) == cap(h.body) {
			h.body = slices.Grow(h.body, int(min(n, 64<<10)))
		}
		m, err := h.br.Read(h.body[len(h.body):min(cap(h.body), len(h.body)+int(n))])
		h.body = h.body[:len(h.body)+m]
		n -= int64(m)
		if err == io.EOF && toEOF {
			return nil
		} else if err == io.EOF {
			return io.ErrUnexpectedEOF
		} else if err != nil {
			return err
		}
	}
	if toEOF {
		return fmt.Errorf("%w: a body over %d bytes", errH1Malformed, h1MaxBody)
	}
	return nil
}

// readChunked appends a chunked body and reads its trailer.
func (h *h1Conn) readChunked() error {
	for {
		line, err := h.readLine()
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte{';'}) // chunk extensions
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errH1Malformed, line)
		}
		if n == 0 {
			for { // trailer
				line, err := h.readLine()
				if err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if err := h.readN(n); err != nil {
			return err
		}
		if line, err := h.readLine(); err != nil {
			return err
		} else if len(line) != 0 {
			return fmt.Errorf("%w: no line end after a chunk", errH1Malformed)
		}
	}
}
