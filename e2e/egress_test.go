package e2e

// The egress proxy (docs/egress.md) with the real binary: `mlgov serve
// --egress-listen` and `mlgov runner`. A job of an
// AllowOnlyApprovedOutbound workspace runs in a network namespace whose
// only way out is the proxy: it reaches the test server whose name an
// FQDN rule allows (plain HTTP and CONNECT), is refused the other one,
// and cannot reach it directly; both decisions are in the egress log
// (REST and mlgov egress log); the job API and the managed-identity
// endpoint still answer inside the namespace (the compute has no
// identity: 400 from the server, through the runner's endpoint). With
// AllowInternetOutbound both servers are reached, and the direct
// connection still is not.

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// egressTestServers listens on 127.233.R.10 and .11, ports 80 and 443
// (FQDN rules allow those only), R random per run.
func egressTestServers(t *testing.T) (allowedIP, otherIP string) {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		var b [1]byte
		rand.Read(b[:])
		r := int(b[0])%250 + 2
		ips := []string{fmt.Sprintf("127.233.%d.10", r), fmt.Sprintf("127.233.%d.11", r)}
		var lns []net.Listener
		ok := true
		for _, ip := range ips {
			for _, port := range []string{"80", "443"} {
				ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
				if err != nil {
					ok = false
					break
				}
				lns = append(lns, ln)
			}
		}
		if !ok {
			for _, ln := range lns {
				ln.Close()
			}
			continue
		}
		for i, ln := range lns {
			name := []string{"allowed", "other"}[i/2]
			s := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello from "+name)
			})}}
			if i%2 == 1 {
				s.StartTLS()
			} else {
				s.Start()
			}
			t.Cleanup(s.Close)
		}
		return ips[0], ips[1]
	}
	t.Fatal("no free 127.233.x.10/11 ports 80 and 443")
	return "", ""
}

// mlSender sends ML requests (api-version 2024-04-01) and fails the
// test unless the status is one of want.
func mlSender(t *testing.T, hc *http.Client, endpoint, token string) func(method, path, body string, want ...int) map[string]any {
	return func(method, path, body string, want ...int) map[string]any {
		t.Helper()
		st, m := armSend(t, hc, endpoint, token, method, path+"?api-version=2024-04-01", body)
		for _, w := range want {
			if st == w {
				return m
			}
		}
		t.Fatalf("%s %s: %d %v, want %v", method, path, st, m, want)
		return nil
	}
}

func TestEgress(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: the egress test makes network namespaces and listens on port 80: it needs root")
	}
	if err := exec.Command("ip", "netns", "list").Run(); err != nil {
		t.Skipf("SKIP: ip netns is not available (%v)", err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("SKIP: the job of this test uses curl, which is not installed")
	}
	allowedIP, otherIP := egressTestServers(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte("# test servers\n"+allowedIP+" allowed.mlgeg.test\n"+otherIP+" other.mlgeg.test\n"), 0o600)

	bin := MLGovBinary(t)
	RequireServe(t, bin)
	srv := StartServer(t, ServerOptions{Bin: bin, Args: append(builtinArgs(t), "--egress-listen", "127.0.0.1:0", "--egress-hosts", hosts)})
	b := srv.Bootstrap
	hc := srv.HTTPClient(t)
	st, token := clientToken(t, hc, b.AuthorityHost, b, b.ClientSecret)
	if st != 200 {
		t.Fatalf("token: %d", st)
	}
	send := mlSender(t, hc, b.Endpoint, token)
	sub := "/subscriptions/" + b.SubscriptionID
	if st, m := armSend(t, hc, b.Endpoint, token, "PUT", sub+"/resourceGroups/rg?api-version=2021-04-01", `{"location":"eastus"}`); st != 201 {
		t.Fatalf("rg: %d %v", st, m)
	}
	ws := sub + "/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws-egress"
	send("PUT", ws, `{"location":"eastus","properties":{"managedNetwork":{"isolationMode":"AllowOnlyApprovedOutbound",
		"outboundRules":{"allow-one":{"type":"FQDN","destination":"allowed.mlgeg.test"}}}}}`, 200, 201, 202)
	send("POST", ws+"/provisionManagedNetwork", `{}`, 200, 202)
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := send("GET", ws, "", 200)
		mn, _ := m["properties"].(map[string]any)["managedNetwork"].(map[string]any)
		rule, _ := mn["outboundRules"].(map[string]any)["allow-one"].(map[string]any)
		if rule != nil && rule["status"] == "Active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the managed network is not provisioned: %v", mn)
		}
		time.Sleep(100 * time.Millisecond)
	}
	compute := ws + "/computes/c1"
	send("PUT", compute, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`, 200, 201, 202)

	script := strings.Join([]string{
		`curl -s -m 10 -o /dev/null -w "plain-allowed=%{http_code}\n" http://allowed.mlgeg.test/`,
		`curl -sk -m 10 -w "\ntls-allowed=%{http_code}\n" https://allowed.mlgeg.test/`,
		`curl -s -m 10 -o /dev/null -w "plain-other=%{http_code}\n" http://other.mlgeg.test/`,
		`curl -sk -m 10 -o /dev/null -w "tls-other=%{http_connect}/%{http_code}\n" https://other.mlgeg.test/`,
		`curl -s -m 5 --noproxy '*' -o /dev/null -w "direct=%{http_code}\n" http://` + otherIP + `/; echo "direct-exit=$?"`,
		`curl -s -o /dev/null -w "callback=%{http_code}\n" --cacert "$MLGOV_CA_FILE" -H "Authorization: Bearer $MLGOV_JOB_TOKEN" "$MLGOV_JOB_API/status"`,
		`curl -s -o /dev/null -w "identity=%{http_code}\n" -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" "$IDENTITY_ENDPOINT?resource=https://management.azure.com/&api-version=2019-08-01"`,
		`true`,
	}, "\n")
	cmdJSON, _ := json.Marshal(script)
	var namespaces []string // the jobs' namespaces, as the runner names them
	runJob := func(name string, args ...string) string {
		t.Helper()
		send("PUT", ws+"/jobs/"+name, `{"properties":{"jobType":"Command","command":`+string(cmdJSON)+`,"environmentId":"e","computeId":"`+compute+`"}}`, 201)
		r := mlgovCLI(t, srv, append([]string{"runner", "--compute", compute, "--once", "--work-dir", t.TempDir()}, args...)...)
		isolated := len(args) == 0
		if r.code != 0 || !strings.Contains(r.stderr, "runner: job "+name+": Completed") || strings.Contains(r.stderr, "in network namespace mlgeg") != isolated {
			t.Fatalf("runner: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if isolated {
			_, rest, _ := strings.Cut(r.stderr, "in network namespace ")
			namespaces = append(namespaces, strings.TrimSuffix(strings.Fields(rest)[0], ","))
		}
		st, m := armSend(t, hc, b.Endpoint+"/jobs/"+b.SubscriptionID+"/rg/ws-egress/"+name+"/", token, "GET", "logs", "")
		if st != 200 {
			t.Fatalf("logs: %d %v", st, m)
		}
		logs, _ := m["logs"].(string)
		return logs
	}
	// records reads the job's egress log through REST, waiting for want
	// records (written in batches, a tunnel's when it closes).
	records := func(job string, want int) []map[string]any {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, m := armSend(t, hc, b.Endpoint, token, "GET", "/egress/"+b.SubscriptionID+"/rg/ws-egress/log?job="+job, "")
			if st != 200 {
				t.Fatalf("egress log: %d %v", st, m)
			}
			var out []map[string]any
			for _, v := range m["value"].([]any) {
				out = append(out, v.(map[string]any))
			}
			if len(out) >= want || time.Now().After(deadline) {
				return out
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	has := func(recs []map[string]any, method, host string, port float64, decision, rule string) bool {
		for _, r := range recs {
			if r["method"] == method && r["host"] == host && r["port"] == port && r["decision"] == decision && (rule == "" || r["rule"] == rule) {
				return true
			}
		}
		return false
	}

	// AllowOnlyApprovedOutbound: the allowed name, not the other, not
	// around the proxy.
	logs := runJob("j1")
	for _, want := range []string{"plain-allowed=200", "hello from allowed", "tls-allowed=200", "plain-other=403", "tls-other=403/000", "direct=000", "callback=200", "identity=400"} {
		if !strings.Contains(logs, want) {
			t.Errorf("AllowOnlyApprovedOutbound: the job's log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "direct-exit=0") || strings.Contains(logs, "hello from other") {
		t.Errorf("AllowOnlyApprovedOutbound: the job reached the other server:\n%s", logs)
	}
	recs := records("j1", 4)
	for _, c := range []struct {
		method, host string
		port         float64
		decision     string
		rule         string
	}{
		{"GET", "allowed.mlgeg.test", 80, "Allowed", "allow-one"},
		{"CONNECT", "allowed.mlgeg.test", 443, "Allowed", "allow-one"},
		{"GET", "other.mlgeg.test", 80, "Denied", ""},
		{"CONNECT", "other.mlgeg.test", 443, "Denied", ""},
	} {
		if !has(recs, c.method, c.host, c.port, c.decision, c.rule) {
			t.Errorf("the egress log lacks %v: %v", c, recs)
		}
	}
	for _, r := range recs {
		if r["decision"] == "Allowed" && (r["bytesDown"].(float64) == 0 || r["jobId"] != ws+"/jobs/j1") {
			t.Errorf("an allowed record without bytes down or of another job: %v", r)
		}
	}
	// mlgov egress log, the denied ones.
	r := mlgovCLI(t, srv, "egress", "log", "--workspace", ws, "--job", "j1", "--decision", "Denied")
	if r.code != 0 || strings.Count(r.stdout, "other.mlgeg.test") != 2 || strings.Contains(r.stdout, "allowed.mlgeg.test") {
		t.Errorf("mlgov egress log --decision Denied: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// AllowInternetOutbound: both, still not around the proxy.
	send("PATCH", ws, `{"properties":{"managedNetwork":{"isolationMode":"AllowInternetOutbound"}}}`, 200, 202)
	for deadline := time.Now().Add(15 * time.Second); ; {
		p := send("GET", ws, "", 200)["properties"].(map[string]any)
		if p["managedNetwork"].(map[string]any)["isolationMode"] == "AllowInternetOutbound" && p["provisioningState"] == "Succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workspace's new mode: %v", p)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the change reaches the proxy through the change feed (100 ms polls, and at once on this replica's commits)
	logs = runJob("j2")
	for _, want := range []string{"plain-allowed=200", "tls-allowed=200", "plain-other=200", "tls-other=200/200", "direct=000"} {
		if !strings.Contains(logs, want) {
			t.Errorf("AllowInternetOutbound: the job's log lacks %q:\n%s", want, logs)
		}
	}
	recs = records("j2", 4)
	if !has(recs, "GET", "other.mlgeg.test", 80, "Allowed", "") || !has(recs, "CONNECT", "other.mlgeg.test", 443, "Allowed", "") || !has(recs, "GET", "allowed.mlgeg.test", 80, "Allowed", "allow-one") {
		t.Errorf("AllowInternetOutbound: the egress log: %v", recs)
	}
	// --isolate never: no namespace; the job's proxy variables name the
	// runner's relay on 127.0.0.1, which carries them to the proxy's TLS
	// listener (and the job could go around it: the operator's choice).
	logs = runJob("j3", "--isolate", "never")
	for _, want := range []string{"plain-allowed=200", "tls-allowed=200", "plain-other=200", "tls-other=200/200"} {
		if !strings.Contains(logs, want) {
			t.Errorf("--isolate never: the job's log lacks %q:\n%s", want, logs)
		}
	}
	if recs = records("j3", 4); !has(recs, "CONNECT", "other.mlgeg.test", 443, "Allowed", "") || !has(recs, "GET", "allowed.mlgeg.test", 80, "Allowed", "allow-one") {
		t.Errorf("--isolate never: the egress log: %v", recs)
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, ns := range namespaces {
		if !strings.HasPrefix(ns, "mlgeg") || strings.Contains(string(out), ns+" ") || strings.Contains(string(out), ns+"\n") {
			t.Errorf("the job's network namespace %q is left: %s", ns, out)
		}
	}
	if len(namespaces) != 2 || namespaces[0] == namespaces[1] {
		t.Errorf("the jobs' namespaces: %q", namespaces)
	}
}

// TestEgressWithoutProxy: a server without --egress-listen: a job of an
// AllowOnlyApprovedOutbound workspace is not run (it fails, saying why);
// with --isolate always a job of another workspace runs in a namespace
// with no way out but the mlgov endpoint.
func TestEgressWithoutProxy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: the egress test makes network namespaces: it needs root")
	}
	if err := exec.Command("ip", "netns", "list").Run(); err != nil {
		t.Skipf("SKIP: ip netns is not available (%v)", err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("SKIP: the job of this test uses curl, which is not installed")
	}
	_, otherIP := egressTestServers(t)
	srv, hc, token := serveWithToken(t)
	b := srv.Bootstrap
	send := mlSender(t, hc, b.Endpoint, token)
	sub := "/subscriptions/" + b.SubscriptionID
	if st, m := armSend(t, hc, b.Endpoint, token, "PUT", sub+"/resourceGroups/rg?api-version=2021-04-01", `{"location":"eastus"}`); st != 201 {
		t.Fatalf("rg: %d %v", st, m)
	}
	ml := sub + "/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/"
	send("PUT", ml+"strict-ws", `{"location":"eastus","properties":{"managedNetwork":{"isolationMode":"AllowOnlyApprovedOutbound"}}}`, 200, 201, 202)
	send("PUT", ml+"open-ws", `{"location":"eastus"}`, 200, 201, 202)
	script, _ := json.Marshal(strings.Join([]string{
		`curl -s -m 5 --noproxy '*' -o /dev/null -w "direct=%{http_code}\n" http://` + otherIP + `/`,
		`curl -s -o /dev/null -w "callback=%{http_code}\n" --cacert "$MLGOV_CA_FILE" -H "Authorization: Bearer $MLGOV_JOB_TOKEN" "$MLGOV_JOB_API/status"`,
	}, "\n"))
	for _, c := range []struct{ ws, isolate, want string }{
		{"strict-ws", "auto", "runner: job j1: the workspace allows only approved outbound connections, but the server has no egress proxy"},
		{"open-ws", "always", "runner: job j1: Completed"},
	} {
		compute := ml + c.ws + "/computes/c1"
		send("PUT", compute, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`, 200, 201, 202)
		send("PUT", ml+c.ws+"/jobs/j1", `{"properties":{"jobType":"Command","command":`+string(script)+`,"environmentId":"e","computeId":"`+compute+`"}}`, 201)
		r := mlgovCLI(t, srv, "runner", "--compute", compute, "--once", "--isolate", c.isolate, "--work-dir", t.TempDir())
		if !strings.Contains(r.stderr, c.want) {
			t.Fatalf("%s: runner: exit %d, want %q\n%s%s", c.ws, r.code, c.want, r.stdout, r.stderr)
		}
		job := send("GET", ml+c.ws+"/jobs/j1", "", 200)
		st, m := armSend(t, hc, b.Endpoint+"/jobs/"+b.SubscriptionID+"/rg/"+c.ws+"/j1/", token, "GET", "logs", "")
		logs, _ := m["logs"].(string)
		status := job["properties"].(map[string]any)["status"]
		switch c.ws {
		case "strict-ws":
			if status != "Failed" || strings.Contains(logs, "callback=") {
				t.Errorf("strict-ws: the job ran, or did not fail: %v %d %q", status, st, logs)
			}
		default:
			if status != "Completed" || !strings.Contains(logs, "direct=000") || !strings.Contains(logs, "callback=200") {
				t.Errorf("open-ws with --isolate always: %v %q", status, logs)
			}
		}
	}
}

// TestEgressListenerTLS: the egress proxy's listener speaks TLS 1.2 or
// newer only, with the server's certificate: a plain-text proxy request
// and a TLS 1.1 client get no proxy answer; over TLS 1.2 a request
// without the job's credentials gets 407.
func TestEgressListenerTLS(t *testing.T) {
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	srv := StartServer(t, ServerOptions{Bin: bin, Args: []string{"--egress-listen", "127.0.0.1:0"}})
	var proxyURL string
	for deadline := time.Now().Add(5 * time.Second); proxyURL == ""; {
		for _, line := range strings.Split(srv.LogTail(200), "\n") {
			if strings.Contains(line, "egress proxy listening") {
				if _, u, ok := strings.Cut(line, " url="); ok {
					proxyURL = strings.Fields(u)[0]
				}
			}
		}
		if proxyURL == "" && time.Now().After(deadline) {
			t.Fatalf("no egress proxy in the server's log:\n%s", srv.LogTail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.HasPrefix(proxyURL, "https://") {
		t.Fatalf("the egress proxy's URL %q is not https", proxyURL)
	}
	addr := strings.TrimPrefix(proxyURL, "https://")
	connect := "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
	// Plain text: no proxy answer.
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, connect)
	got, _ := io.ReadAll(c)
	c.Close()
	if strings.HasPrefix(string(got), "HTTP/1.1 407") || strings.HasPrefix(string(got), "HTTP/1.1 200") {
		t.Errorf("a plain-text proxy request was answered: %q", got)
	}
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(srv.Bootstrap.CACertFile)
	if err != nil || !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("the server's CA: %v", err)
	}
	if _, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("a TLS 1.1 client was accepted")
	}
	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(tc, connect)
	line, _ := bufio.NewReader(tc).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 407") {
		t.Errorf("CONNECT without credentials over TLS: %q, want 407", line)
	}
}
