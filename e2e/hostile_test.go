package e2e

// The hostile-client suite, request side: what a client can do to a
// running `mlgov serve` with its requests and connections (issue 9,
// findings 2-5, 9 and 10). Each test drives the real binary on loopback,
// mostly with raw bytes over TLS so that nothing between the test and the
// server normalises what is sent.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const hxAPI = "2024-04-01" // an api-version of Machine Learning resources

// hxServer is a running server and a client with a token.
type hxServer struct {
	*Server
	cl *crashClient
}

func hxStart(t *testing.T, args ...string) *hxServer {
	t.Helper()
	return hxStartOn(t, "", args...)
}

func hxStartOn(t *testing.T, addr string, args ...string) *hxServer {
	t.Helper()
	if testing.Short() {
		t.Skip("hostile-client suite: starts mlgov serve")
	}
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	s := StartServer(t, ServerOptions{Bin: bin, Addr: addr, Args: args})
	cl := newCrashClient(t, s.Bootstrap)
	t.Cleanup(cl.close)
	return &hxServer{Server: s, cl: cl}
}

// hxAnswer is a response read off a raw connection.
type hxAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a *hxAnswer) String() string {
	return fmt.Sprintf("%d %.300s", a.status, bytes.TrimSpace(a.body))
}

// armCode returns error.code of an ARM error body, or "" if the body is
// not one.
func (a *hxAnswer) armCode() string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(a.body, &e) != nil || e.Error.Message == "" {
		return ""
	}
	return e.Error.Code
}

// hxDial opens a TLS connection that offers HTTP/1.1 only.
func (s *hxServer) hxDial(t *testing.T) *tls.Conn {
	t.Helper()
	pool, err := s.Bootstrap.CertPool()
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addr,
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("TLS to %s: %v", s.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// hxRaw sends the request bytes as they are and reads one response.
func (s *hxServer) hxRaw(t *testing.T, req string) *hxAnswer {
	t.Helper()
	c := s.hxDial(t)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	return hxRead(t, bufio.NewReader(c))
}

func hxRead(t *testing.T, br *bufio.Reader) *hxAnswer {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return &hxAnswer{status: resp.StatusCode, header: resp.Header, body: b}
}

// hxReq formats an HTTP/1.1 request; hdr are "Name: value" lines.
func (s *hxServer) hxReq(method, target string, body string, hdr ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n", method, target, s.Addr, s.cl.token)
	for _, h := range hdr {
		b.WriteString(h + "\r\n")
	}
	if body != "" || method == "PUT" || method == "POST" || method == "PATCH" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("Connection: close\r\n\r\n" + body)
	return b.String()
}

func (s *hxServer) hxMust(t *testing.T, method, path string, body []byte, want ...int) *crashAnswer {
	t.Helper()
	a, err := s.cl.do(method, path, "", nil, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	for _, w := range want {
		if a.status == w {
			return a
		}
	}
	t.Fatalf("%s %s: %s, want %v", method, path, a, want)
	return nil
}

func (s *hxServer) hxWorkspace(t *testing.T, rg, ws string) string {
	t.Helper()
	sub := "/subscriptions/" + s.Bootstrap.SubscriptionID
	s.hxMust(t, "PUT", sub+"/resourceGroups/"+rg+"?api-version=2021-04-01", []byte(`{"location":"eastus"}`), 200, 201)
	p := sub + "/resourceGroups/" + rg + "/providers/Microsoft.MachineLearningServices/workspaces/" + ws
	s.hxMust(t, "PUT", p+"?api-version="+hxAPI, []byte(`{"location":"eastus","properties":{}}`), 200, 201, 202)
	return p
}

// Finding 2: a resource named "." or "..", a name ending in '.', and an
// encoded slash are refused; the workspace a ".." would have aliased is
// still there.
func TestHostileDotNames(t *testing.T) {
	s := hxStart(t)
	ws := s.hxWorkspace(t, "rg-dot", "wsdot")
	ds := `{"properties":{"datastoreType":"AzureBlob","accountName":"a","containerName":"c","credentials":{"credentialsType":"None"}}}`
	for _, tc := range []struct{ name, path, code string }{
		{"dotdot", ws + "/datastores/..", "InvalidResourceId"},
		{"dot", ws + "/datastores/.", "InvalidResourceId"},
		{"dotdot-inside", ws + "/datastores/../datastores/x", "InvalidResourceId"},
		{"trailing-dot", ws + "/datastores/name.", "InvalidResourceName"},
		{"encoded-slash", strings.Replace(ws, "/resourceGroups/rg-dot/", "/resourceGroups/rg-dot%2Fproviders%2FMicrosoft.MachineLearningServices%2Fworkspaces%2Fwsdot%2Fx/", 1), "InvalidResourceId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := s.hxRaw(t, s.hxReq("PUT", tc.path+"?api-version="+hxAPI, ds))
			if a.status != 400 || a.armCode() != tc.code {
				t.Errorf("PUT %s = %s, want 400 %s", tc.path, a, tc.code)
			}
			a = s.hxRaw(t, s.hxReq("DELETE", tc.path+"?api-version="+hxAPI, ""))
			if tc.code == "InvalidResourceId" && a.status != 400 {
				t.Errorf("DELETE %s = %s, want 400", tc.path, a)
			} else if a.status != 400 && a.status != 204 { // a name that cannot exist
				t.Errorf("DELETE %s = %s, want 400 or 204", tc.path, a)
			}
		})
	}
	s.hxMust(t, "GET", ws+"?api-version="+hxAPI, nil, 200)
	// Repeated slashes are one slash (as in ARM), with no redirect: the
	// path the SDKs send for a scope with a leading slash.
	a := s.hxRaw(t, s.hxReq("PUT", "/"+strings.Replace(ws, "/workspaces/", "//workspaces/", 1)+"/datastores/ds1?api-version="+hxAPI, ds))
	if a.status != 201 && a.status != 200 {
		t.Errorf("PUT //subscriptions/...//workspaces/...: %s, want 201", a)
	}
	s.hxMust(t, "GET", ws+"/datastores/ds1?api-version="+hxAPI, nil, 200)
	// A scope sent encoded as one first segment (@azure/arm-locks'
	// *ByScope) is decoded, as ARM does; with a ".." in it, refused.
	rgID := ws[:strings.Index(ws, "/providers/")]
	lock := "/" + url.PathEscape(rgID) + "/providers/Microsoft.Authorization/locks/l1?api-version=2020-05-01"
	if a := s.hxRaw(t, s.hxReq("PUT", lock, `{"properties":{"level":"CanNotDelete"}}`)); a.status != 201 && a.status != 200 {
		t.Errorf("PUT %s = %s, want 201", lock, a)
	}
	s.hxMust(t, "GET", rgID+"/providers/Microsoft.Authorization/locks/l1?api-version=2020-05-01", nil, 200)
	s.hxMust(t, "DELETE", lock, nil, 200)
	dotted := "/" + url.PathEscape(rgID+"/../rg-other") + "/providers/Microsoft.Authorization/locks/l1?api-version=2020-05-01"
	if a := s.hxRaw(t, s.hxReq("PUT", dotted, `{"properties":{"level":"CanNotDelete"}}`)); a.status != 400 || a.armCode() != "InvalidResourceId" {
		t.Errorf("PUT %s = %s, want 400 InvalidResourceId", dotted, a)
	}
}

// Finding 3: URLs in answers come from the public URL, never from the
// Host header; an absolute-form request for another host is refused.
func TestHostileHostHeader(t *testing.T) {
	s := hxStart(t)
	ws := s.hxWorkspace(t, "rg-host", "wshost")
	s.hxWorkspace(t, "rg-host", "wshost2")
	evil := "Host: evil.example:443"
	check := func(t *testing.T, what, u string) {
		t.Helper()
		if u == "" {
			t.Errorf("%s: missing", what)
		} else if !strings.HasPrefix(u, s.Bootstrap.Endpoint+"/") && !strings.HasPrefix(u, `Bearer authorization_uri="`+s.Bootstrap.Endpoint) {
			t.Errorf("%s = %q, want it under %s", what, u, s.Bootstrap.Endpoint)
		}
	}
	// An asynchronous write: Azure-AsyncOperation and Location.
	req := strings.Replace(s.hxReq("PUT", ws+"/computes/c1?api-version="+hxAPI, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`),
		"Host: "+s.Addr, evil, 1)
	a := s.hxRaw(t, req)
	if a.status != 201 && a.status != 202 && a.status != 200 {
		t.Fatalf("PUT compute: %s", a)
	}
	check(t, "Azure-AsyncOperation", a.header.Get("Azure-AsyncOperation"))
	if a.status == 202 {
		check(t, "Location", a.header.Get("Location"))
	}
	// A list of two with $top=1: nextLink.
	list := "/subscriptions/" + s.Bootstrap.SubscriptionID + "/resourceGroups/rg-host/providers/Microsoft.MachineLearningServices/workspaces?api-version=" + hxAPI + "&$top=1"
	a = s.hxRaw(t, strings.Replace(s.hxReq("GET", list, ""), "Host: "+s.Addr, evil, 1))
	var page struct{ NextLink string }
	json.Unmarshal(a.body, &page)
	check(t, "nextLink", page.NextLink)
	// No token: the challenge's authorization_uri.
	a = s.hxRaw(t, "GET "+list+" HTTP/1.1\r\n"+evil+"\r\nConnection: close\r\n\r\n")
	if a.status != 401 {
		t.Fatalf("no token: %s", a)
	}
	check(t, "WWW-Authenticate", a.header.Get("WWW-Authenticate"))
	if strings.Contains(string(a.body)+fmt.Sprint(a.header), "evil.example") {
		t.Errorf("the Host header is echoed: %v %s", a.header, a.body)
	}
	// Absolute form: for another host refused, for this one served.
	a = s.hxRaw(t, s.hxReq("GET", "https://evil.example"+list, ""))
	if a.status != 400 || a.armCode() != "InvalidRequestHost" {
		t.Errorf("absolute-form for another host = %s, want 400 InvalidRequestHost", a)
	}
	a = s.hxRaw(t, s.hxReq("GET", s.Bootstrap.Endpoint+list, ""))
	if a.status != 200 {
		t.Errorf("absolute-form for this host = %s, want 200", a)
	}
}

// Finding 3: with --public-url, the issuer and every URL are that URL.
func TestHostilePublicURL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mlgov serve")
	}
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	public := "https://localhost:" + port
	s := hxStartOn(t, addr, "--public-url", public)
	if s.Bootstrap.Endpoint != public || s.Bootstrap.AuthorityHost != public {
		t.Fatalf("bootstrap endpoint %s, authorityHost %s; want %s", s.Bootstrap.Endpoint, s.Bootstrap.AuthorityHost, public)
	}
	// The token's issuer is the public URL.
	parts := strings.Split(s.cl.token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", s.cl.token)
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Iss string }
	json.Unmarshal(claims, &c)
	if want := public + "/" + s.Bootstrap.TenantID + "/v2.0"; c.Iss != want {
		t.Errorf("token issuer %q, want %q", c.Iss, want)
	}
	// URLs in answers are under it, whatever Host the request names.
	ws := s.hxWorkspace(t, "rg-pub", "wspub")
	a := s.hxRaw(t, s.hxReq("PUT", ws+"/computes/c1?api-version="+hxAPI, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`))
	if u := a.header.Get("Azure-AsyncOperation"); !strings.HasPrefix(u, public+"/") {
		t.Errorf("Azure-AsyncOperation %q, want it under %s (answer %s)", u, public, a)
	}
	// The discovery document names the public URL.
	a = s.hxRaw(t, "GET /"+s.Bootstrap.TenantID+"/v2.0/.well-known/openid-configuration HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
	var doc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	json.Unmarshal(a.body, &doc)
	if !strings.HasPrefix(doc.Issuer, public+"/") || !strings.HasPrefix(doc.TokenEndpoint, public+"/") {
		t.Errorf("discovery: issuer %q, token_endpoint %q; want them under %s", doc.Issuer, doc.TokenEndpoint, public)
	}
	// A --public-url that is not https://host[:port] stops the start.
	out, err := exec.Command(s.Bin, "serve", "--data", t.TempDir(), "--listen", FreeAddr(t), "--public-url", "http://x/y").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--public-url") {
		t.Errorf("--public-url http://x/y: err %v, output %s; want a refusal naming the flag", err, out)
	}
}

// Finding 5: a refusal does not wait for the body; slow bodies time out;
// connections per client address are capped; HTTP/2 advertises limits.
func TestHostileSlowClients(t *testing.T) {
	s := hxStart(t, "--read-timeout", "3s")
	path := "/subscriptions/" + s.Bootstrap.SubscriptionID + "/resourceGroups/rg-slow?api-version=2021-04-01"

	t.Run("no-token-answered-before-body", func(t *testing.T) {
		c := s.hxDial(t)
		fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", path, s.Addr)
		c.SetReadDeadline(time.Now().Add(2 * time.Second)) // well before the 3 s read timeout
		br := bufio.NewReader(c)
		a := hxRead(t, br)
		if a.status != 401 || a.armCode() != "AuthenticationFailed" {
			t.Fatalf("got %s, want 401 AuthenticationFailed", a)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("the connection stayed open after the refusal (read: %v)", err)
		}
	})
	t.Run("slow-body-times-out", func(t *testing.T) {
		c := s.hxDial(t)
		fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", path, s.Addr, s.cl.token)
		start := time.Now()
		c.SetReadDeadline(start.Add(15 * time.Second))
		done := make(chan struct{})
		go func() { // a byte every 500 ms
			defer close(done)
			for range 40 {
				time.Sleep(500 * time.Millisecond)
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		io.Copy(io.Discard, c) // until the server closes
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("a slow body held the connection for %v (--read-timeout 3s)", d)
		}
		c.Close()
		<-done
	})
	t.Run("conns-per-ip", func(t *testing.T) {
		s := hxStart(t, "--max-conns-per-ip", "6")
		s.cl.close() // its idle connection from the token request (the server frees it a moment later)
		pool, _ := s.Bootstrap.CertPool()
		var open []*tls.Conn
		defer func() {
			for _, c := range open {
				c.Close()
			}
		}()
		dial := func() (*tls.Conn, error) {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
			if err != nil {
				return nil, err
			}
			// The handshake of an over-the-cap connection fails; make
			// sure by reading (the server closes it).
			return c, nil
		}
		for deadline := time.Now().Add(5 * time.Second); len(open) < 6; {
			c, err := dial()
			if err == nil {
				open = append(open, c)
				continue
			}
			if time.Now().After(deadline) { // the token request's connection should be gone by now
				t.Fatalf("connection %d of 6: %v", len(open)+1, err)
			}
			for _, c := range open {
				c.Close()
			}
			open = open[:0]
			time.Sleep(100 * time.Millisecond)
		}
		if c, err := dial(); err == nil {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, rerr := c.Read(make([]byte, 1))
			c.Close()
			if ne, ok := rerr.(net.Error); ok && ne.Timeout() {
				t.Errorf("a 7th connection from one address was kept open (cap 6)")
			}
		}
		open[0].Close()
		open = open[1:]
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := dial()
			if err == nil {
				fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", s.Addr)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil && resp.StatusCode == 200 {
					c.Close()
					break
				}
				c.Close()
			}
			if time.Now().After(deadline) {
				t.Fatalf("after closing one connection, a new one is still refused: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("http2-settings", func(t *testing.T) {
		pool, _ := s.Bootstrap.CertPool()
		c, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
			t.Fatalf("negotiated %q, want h2", p)
		}
		io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		c.Write([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0}) // empty SETTINGS
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var hdr [9]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatal(err)
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		if hdr[3] != 4 {
			t.Fatalf("first frame type %d, want SETTINGS", hdr[3])
		}
		payload := make([]byte, n)
		io.ReadFull(c, payload)
		settings := map[uint16]uint32{}
		for i := 0; i+6 <= len(payload); i += 6 {
			settings[binary.BigEndian.Uint16(payload[i:])] = binary.BigEndian.Uint32(payload[i+2:])
		}
		if v, ok := settings[3]; !ok || v > 250 { // SETTINGS_MAX_CONCURRENT_STREAMS
			t.Errorf("MAX_CONCURRENT_STREAMS = %d (set: %v), want a bound of at most 250", v, ok)
		}
		if v, ok := settings[6]; !ok || v > 1<<20+1<<10 { // SETTINGS_MAX_HEADER_LIST_SIZE (MaxHeaderBytes + 320)
			t.Errorf("MAX_HEADER_LIST_SIZE = %d (set: %v), want about 1 MiB", v, ok)
		}
	})
}

// Finding 9: header values are bounded, and refusals after authentication
// (413, 415) are in the activity log. On SQLite and PostgreSQL.
func TestHostileRefusalsLogged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mlgov serve")
	}
	t.Run("sqlite", func(t *testing.T) { hxRefusalsLogged(t) })
	t.Run("postgres", func(t *testing.T) { hxRefusalsLogged(t, "--store", crashPostgresSchema(t)) })
}

func hxRefusalsLogged(t *testing.T, args ...string) {
	s := hxStart(t, args...)
	sub := "/subscriptions/" + s.Bootstrap.SubscriptionID
	s.hxMust(t, "PUT", sub+"/resourceGroups/rg-log?api-version=2021-04-01", []byte(`{"location":"eastus"}`), 200, 201)
	target := sub + "/resourceGroups/rg-log/providers/Microsoft.Storage/storageAccounts/st1?api-version=2023-01-01"

	long := strings.Repeat("x", 900)
	a := s.hxRaw(t, s.hxReq("PUT", target, `{"location":"eastus"}`, "x-ms-client-request-id: "+long, "x-ms-correlation-request-id: corr-long"))
	if a.status != 400 || a.armCode() != "InvalidRequestHeader" {
		t.Errorf("a 900-character x-ms-client-request-id: %s, want 400 InvalidRequestHeader", a)
	}
	a = s.hxRaw(t, strings.Replace(s.hxReq("PUT", target, `{"location":"eastus"}`, "x-ms-correlation-request-id: corr-415"), "Content-Type: application/json", "Content-Type: text/plain", 1))
	if a.status != 415 {
		t.Errorf("text/plain body: %s, want 415", a)
	}
	c := s.hxDial(t)
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nx-ms-correlation-request-id: corr-413\r\n\r\n", target, s.Addr, s.cl.token, 5<<20)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if a = hxRead(t, bufio.NewReader(c)); a.status != 413 {
		t.Errorf("a 5 MiB body: %s, want 413", a)
	}
	for _, want := range []struct {
		corr   string
		status string
	}{{"corr-415", "UnsupportedMediaType"}, {"corr-413", "RequestEntityTooLarge"}} {
		evs := hxEvents(t, s, "correlationId eq '"+want.corr+"'")
		found := false
		for _, ev := range evs {
			st, _ := ev["status"].(map[string]any)
			props, _ := ev["properties"].(map[string]any)
			if st["value"] == "Failed" && strings.Contains(fmt.Sprint(props["statusMessage"]), want.status) {
				found = true
			}
		}
		if !found {
			t.Errorf("no Failed event with %s for correlation id %s; events: %v", want.status, want.corr, evs)
		}
	}
	// The refused long id stored nothing.
	if evs := hxEvents(t, s, "correlationId eq 'corr-long'"); len(evs) != 0 {
		t.Errorf("the request with a 900-character client request id left %d events", len(evs))
	}
}

func hxEvents(t *testing.T, s *hxServer, filter string) []map[string]any {
	t.Helper()
	p := "/subscriptions/" + s.Bootstrap.SubscriptionID + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter=" + url.QueryEscape(filter)
	items, err := s.cl.listAll(p)
	if err != nil {
		t.Fatalf("activity log: %v", err)
	}
	var out []map[string]any
	for _, it := range items {
		var m map[string]any
		json.Unmarshal(it, &m)
		out = append(out, m)
	}
	return out
}

// Finding 10: every answer is an ARM or OAuth error body, also the ones
// net/http writes before any handler runs; failed handshakes are logged
// structured and rate-limited.
func TestHostileEveryAnswerJSON(t *testing.T) {
	s := hxStart(t)
	sub := "/subscriptions/" + s.Bootstrap.SubscriptionID
	big := "X-Big: " + strings.Repeat("a", 70<<10)
	huge := "X-Huge: " + strings.Repeat("a", 1100<<10)
	for _, tc := range []struct {
		name   string
		req    string
		status int
		oauth  bool
	}{
		{"token-endpoint-GET", "GET /" + s.Bootstrap.TenantID + "/oauth2/v2.0/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405, true},
		{"unknown-path", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, false},
		{"unknown-oauth-path", "GET /" + s.Bootstrap.TenantID + "/oauth2/v2.0/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, true},
		{"bad-escape-path", "GET " + sub + "/resourceGroups/%zz?api-version=2021-04-01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 400, false},
		{"bad-escape-query", s.hxReq("GET", sub+"/resourceGroups?api-version=2021-04-01&x=%zz", ""), 400, false},
		{"headers-over-64KiB", s.hxReq("GET", sub+"/resourceGroups?api-version=2021-04-01", "", big), 431, false},
		{"headers-over-1MiB", s.hxReq("GET", sub+"/resourceGroups?api-version=2021-04-01", "", huge), 431, false},
		{"bad-transfer-encoding", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, false},
		{"no-host", "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", 400, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := s.hxRaw(t, tc.req)
			if a.status != tc.status {
				t.Errorf("status %d, want %d: %s", a.status, tc.status, a)
			}
			if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON: %s", ct, a)
			}
			if tc.oauth {
				var e struct {
					Error       string `json:"error"`
					Description string `json:"error_description"`
				}
				if json.Unmarshal(a.body, &e) != nil || e.Error == "" || e.Description == "" {
					t.Errorf("not an OAuth error body: %s", a)
				}
			} else if a.armCode() == "" {
				t.Errorf("not an ARM error body: %s", a)
			}
		})
	}
	t.Run("plain-http", func(t *testing.T) {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", sub)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		a := hxRead(t, bufio.NewReader(c))
		if a.status != 400 || a.armCode() != "HttpsRequired" {
			t.Errorf("plain HTTP: %s, want 400 HttpsRequired", a)
		}
	})
	t.Run("handshake-failures-logged", func(t *testing.T) {
		for range 40 {
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5}) // a TLS record holding garbage
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c)
			c.Close()
		}
		time.Sleep(200 * time.Millisecond)
		raw, _ := os.ReadFile(s.LogPath)
		var structured, unstructured int
		for _, line := range strings.Split(string(raw), "\n") {
			switch {
			case strings.Contains(line, "TLS handshake error"):
				unstructured++
			case strings.Contains(line, `msg="TLS handshake failed"`) && strings.Contains(line, "remote=127.0.0.1:") && strings.Contains(line, "err="):
				structured++
			}
		}
		if unstructured > 0 {
			t.Errorf("%d unstructured handshake lines in the log", unstructured)
		}
		if structured == 0 || structured > 12 {
			t.Errorf("%d structured handshake lines for 40 failures, want between 1 and 12 (rate-limited)", structured)
		}
	})
}

// Finding 4: a list of large resources is paged by bytes as well as by
// count, and three clients that ask for it and do not read the answer
// hold a bounded amount of the server's memory, until the write timeout
// closes their connections.
//
// The bound: the server's heap in use after a collection (runtime
// HeapInuse, read through net/http/pprof with gc=1) stays under hxHeapBound while 100 resources of 4 MiB
// are listed by three stalled readers. A page holds at most 4 MiB plus
// one resource, so three stalled pages hold about 24 MiB; before pages
// were bounded in bytes one page held all 100 (400 MB, twice over while
// it was joined).
const hxHeapBound = 200 << 20

func TestHostileListMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 400 MB through mlgov serve")
	}
	t.Run("sqlite", func(t *testing.T) { hxListMemory(t, 100) })
	// Fewer resources on PostgreSQL (the same bounds apply): the page is
	// cut in the query, so the database does not send what it will not hold.
	t.Run("postgres", func(t *testing.T) { hxListMemory(t, 30, "--store", crashPostgresSchema(t)) })
}

func hxListMemory(t *testing.T, n int, args ...string) {
	pprofAddr := FreeAddr(t)
	s := hxStart(t, append([]string{"--pprof", pprofAddr, "--write-timeout", "8s"}, args...)...)
	ws := s.hxWorkspace(t, "rg-mem", "wsmem")
	const size = 4<<20 - 4<<10
	pad := strings.Repeat("m", size-200)
	errs := make(chan error, n)
	sem := make(chan struct{}, 4)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			body := fmt.Sprintf(`{"location":"eastus","properties":{"description":%q,"authMode":"AADToken"}}`, pad)
			a, err := s.cl.do("PUT", fmt.Sprintf("%s/batchEndpoints/be%03d?api-version=%s", ws, i, hxAPI), "", nil, []byte(body))
			if err == nil && a.status >= 300 {
				err = fmt.Errorf("PUT be%03d: %s", i, a)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	heap := func() int64 {
		resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/heap?gc=1&debug=1")
		if err != nil {
			t.Fatalf("pprof: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			var v int64
			if _, err := fmt.Sscanf(line, "# HeapInuse = %d", &v); err == nil {
				return v
			}
		}
		t.Fatalf("no HeapInuse in the heap profile")
		return 0
	}
	list := ws + "/batchEndpoints?api-version=" + hxAPI

	// Three readers that ask and stop reading after 1 KiB.
	var stalled []net.Conn
	for range 3 {
		c := s.hxDial(t)
		io.WriteString(c, s.hxReq("GET", list, ""))
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 1024)); err != nil {
			t.Fatalf("stalled reader: %v", err)
		}
		stalled = append(stalled, c)
	}
	var peak int64
	for range 10 {
		peak = max(peak, heap())
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("heap in use with three stalled readers of a list of %d × %.1f MB: peak %.1f MB (bound %d MB)", n, float64(size)/1e6, float64(peak)/1e6, hxHeapBound>>20)
	if peak > hxHeapBound {
		t.Errorf("heap in use %.1f MB with three stalled list readers, bound %d MB", float64(peak)/1e6, hxHeapBound>>20)
	}
	// The write timeout (8 s) ends the stalled answers.
	for i, c := range stalled {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		start := time.Now()
		// Drain slowly: the server must give up before we have read it all.
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("stalled reader %d: the server kept the connection open for %v past the write timeout", i, time.Since(start))
		}
	}
	// Every item comes back, over pages bounded in bytes.
	pages, items, start := 0, 0, time.Now()
	for u := list; u != ""; pages++ {
		a := s.hxMust(t, "GET", u, nil, 200)
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			t.Fatal(err)
		}
		if len(a.body) > 9<<20 {
			t.Errorf("page %d is %d bytes, want at most 4 MiB plus one item", pages, len(a.body))
		}
		items += len(page.Value)
		u = page.NextLink
	}
	t.Logf("listed %d items in %d pages in %v", items, pages, time.Since(start).Round(time.Millisecond))
	if items != n || pages < n/2 {
		t.Errorf("listed %d items in %d pages, want %d items in at least %d pages", items, pages, n, n/2)
	}
}

// Finding 3: replicas behind one public URL share the token issuer, so a
// token from one is accepted by the other (PostgreSQL, shared master
// key). Before, the issuer was tied to each replica's --listen address.
func TestHostileReplicaIssuer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two mlgov serve")
	}
	storeURL := crashPostgresSchema(t)
	addrA, addrB := FreeAddr(t), FreeAddr(t)
	_, portA, _ := net.SplitHostPort(addrA)
	public := "https://localhost:" + portA // the address of the load balancer, say
	dirA := filepath.Join(t.TempDir(), "a")
	a := StartServer(t, ServerOptions{DataDir: dirA, Addr: addrA, Args: []string{"--store", storeURL, "--public-url", public}})
	dirB := filepath.Join(t.TempDir(), "b")
	hsStartBareOn(t, MLGovBinary(t), dirB, addrB, false, []string{"--store", storeURL, "--public-url", public, "--master-key-file", filepath.Join(dirA, "keys", "master.key")})

	hcA := hsClient(t, a.Bootstrap.CACertFile)
	hcB := hsClient(t, filepath.Join(dirB, "tls", "cert.pem"))
	urlB := "https://" + addrB
	st, tokA := clientToken(t, hcA, a.Bootstrap.Endpoint, a.Bootstrap, a.Bootstrap.ClientSecret)
	if st != 200 {
		t.Fatalf("token from replica A: %d", st)
	}
	st, tokB := clientToken(t, hcB, urlB, a.Bootstrap, a.Bootstrap.ClientSecret)
	if st != 200 {
		t.Fatalf("token from replica B: %d", st)
	}
	rgs := "/subscriptions/" + a.Bootstrap.SubscriptionID + "/resourcegroups?api-version=2021-04-01"
	if st, body := hsDo(t, hcB, "GET", urlB+rgs, tokA, nil); st != 200 {
		t.Errorf("A's token at replica B: %d %s", st, body)
	}
	if st, body := hsDo(t, hcA, "GET", a.Bootstrap.Endpoint+rgs, tokB, nil); st != 200 {
		t.Errorf("B's token at replica A: %d %s", st, body)
	}
}

// Without built-in definitions (the e2e servers run where ../shared is
// not), the start says so once, and how to fix it.
func TestStartWithoutBuiltins(t *testing.T) {
	s := hxStart(t)
	raw, _ := os.ReadFile(s.LogPath)
	if n := strings.Count(string(raw), "no built-in policy definitions"); n != 1 {
		t.Errorf("%d start lines about missing built-ins, want 1 naming --policy-definitions:\n%s", n, raw)
	} else if !strings.Contains(string(raw), "--policy-definitions") {
		t.Errorf("the line does not say how to fix it:\n%s", raw)
	}
}
