package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/internal/netns"
)

// TestInboundNetworkHosts: real separate hosts (network namespaces with
// veth pairs to the host where `mlgov serve` listens) call a workspace's
// data plane over HTTPS with curl. A private workspace answers the host
// inside the subnet its approved private endpoint reaches and refuses
// (403 UserError) a public host, for the same call; ipAllowlist lets the
// host it lists in and refuses another; X-Forwarded-For is honoured from
// the --trusted-proxy host only.
func TestInboundNetworkHosts(t *testing.T) {
	bin := MLGovBinary(t)
	RequireServe(t, bin)
	curl, err := exec.LookPath("curl")
	if err != nil {
		requireOrSkip(t, "curl is not installed: the namespaces' client is curl")
	}
	const private, public, proxy, other = 0, 1, 2, 3
	nt := netns.New(t, 4)
	ln, err := net.Listen("tcp", nt.Host(private).String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := StartServer(t, ServerOptions{Bin: bin, Addr: addr, Args: []string{"--signing-key-lifetime", "0", "--lro-latency", "10ms", "--trusted-proxy", nt.Addr(proxy).String()}})
	b := s.Bootstrap
	hc := s.HTTPClient(t)
	if st, tok := clientToken(t, hc, b.Endpoint, b, b.ClientSecret); st != 200 {
		t.Fatalf("token: %d", st)
	} else {
		b.ClientSecret = tok // the administrator's ARM token from here on
	}
	token := b.ClientSecret
	const av, nav = "?api-version=2024-04-01", "?api-version=2023-09-01"
	rg := "/subscriptions/" + b.SubscriptionID + "/resourceGroups/rg1"
	ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/ws1"
	put := func(path, body string) {
		t.Helper()
		if st, raw := hsDo(t, hc, "PUT", b.Endpoint+path, token, []byte(body)); st >= 300 {
			t.Fatalf("PUT %s: %d %s", path, st, raw)
		}
	}
	put(rg+"?api-version=2021-04-01", `{"location":"eastus"}`)
	put(ws+av, `{"location":"eastus"}`)
	put(ws+"/datastores/blob1"+av, `{"properties":{"datastoreType":"AzureBlob","accountName":"sa1","containerName":"c","credentials":{"credentialsType":"AccountKey","secrets":{"secretsType":"AccountKey","key":"s3cret"}}}}`)
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"model":"blue"}`)) }))
	defer model.Close()
	ep := ws + "/onlineEndpoints/e1"
	put(ep+av, `{"location":"eastus","properties":{"authMode":"Key"}}`)
	put(ep+"/deployments/blue"+av, `{"location":"eastus","properties":{"endpointComputeType":"Managed","properties":{"mlgov.targetUrl":"`+model.URL+`/score"}}}`)
	waitSucceeded := func(path string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, raw := hsDo(t, hc, "GET", b.Endpoint+path+av, token, nil)
			if strings.Contains(string(raw), `"provisioningState":"Succeeded"`) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is not Succeeded: %s", path, raw)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitSucceeded(ep)
	waitSucceeded(ep + "/deployments/blue")
	put(ep+av, `{"location":"eastus","properties":{"authMode":"Key","traffic":{"blue":100}}}`)
	waitSucceeded(ep)
	st, raw := hsDo(t, hc, "POST", b.Endpoint+ep+"/listKeys"+av, token, nil)
	var keys struct {
		PrimaryKey string `json:"primaryKey"`
	}
	if json.Unmarshal(raw, &keys); st != 200 || keys.PrimaryKey == "" {
		t.Fatalf("listKeys: %d %s", st, raw)
	}

	// call runs curl inside namespace ns: the status and the body.
	call := func(ns int, method, url, bearer, body string, headers ...string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args := []string{"-sS", "--max-time", "20", "--cacert", b.CACertFile, "-X", method, "-o", "-", "-w", "\n%{http_code}",
			"-H", "Authorization: Bearer " + bearer, "-H", "Content-Type: application/json", "--data-binary", body}
		for _, h := range headers {
			args = append(args, "-H", h)
		}
		out, err := nt.Command(ctx, ns, curl, append(args, url)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl in namespace %d: %v\n%s", ns, err, out)
		}
		text := strings.TrimSpace(string(out))
		i := strings.LastIndexByte(text, '\n')
		code, _ := strconv.Atoi(text[i+1:])
		return code, text[:max(i, 0)]
	}
	listSecrets := func(ns int, headers ...string) (int, string) {
		return call(ns, "POST", b.Endpoint+ws+"/datastores/blob1/listSecrets"+av, token, "", headers...)
	}
	score := func(ns int) (int, string) {
		return call(ns, "POST", b.Endpoint+"/endpoints/"+b.SubscriptionID+"/rg1/ws1/e1/score", keys.PrimaryKey, `{"data":[1]}`)
	}
	want := func(what string, code int, body string, status int, message string) {
		t.Helper()
		if code != status || !strings.Contains(body, message) {
			t.Errorf("%s: %d %s, want %d with %q", what, code, body, status, message)
		}
	}
	const refusedPrivate = `{"error":{"code":"UserError","message":"Access to workspace was denied based on workspace private link configuration."}}`
	const refusedAllowlist = `"code":"UserError","message":"Access to workspace was denied based on workspace IP allowlist configuration."`

	// A public workspace: every host.
	for _, ns := range []int{private, public} {
		c, body := listSecrets(ns)
		want(fmt.Sprintf("listSecrets of a public workspace from %s", nt.Addr(ns)), c, body, 200, `"s3cret"`)
	}

	// A private workspace with an approved private endpoint in the
	// private host's subnet.
	vnet := rg + "/providers/Microsoft.Network/virtualNetworks/v1"
	put(vnet+nav, `{"location":"eastus","properties":{"addressSpace":{"addressPrefixes":["10.231.0.0/16"]}}}`)
	put(vnet+"/subnets/s1"+nav, `{"properties":{"addressPrefix":"`+nt.Subnet(private).String()+`"}}`)
	put(rg+"/providers/Microsoft.Network/privateEndpoints/pe1"+nav, `{"location":"eastus","properties":{"subnet":{"id":"`+vnet+`/subnets/s1"},`+
		`"privateLinkServiceConnections":[{"name":"c","properties":{"privateLinkServiceId":"`+ws+`","groupIds":["amlworkspace"],"privateLinkServiceConnectionState":{"status":"Approved"}}}]}}`)
	put(ws+av, `{"location":"eastus","properties":{"publicNetworkAccess":"Disabled"}}`)
	c, body := listSecrets(private)
	want("listSecrets of a private workspace from the private host", c, body, 200, `"s3cret"`)
	c, body = listSecrets(public)
	want("listSecrets of a private workspace from the public host", c, body, 403, refusedPrivate)
	c, body = score(private)
	want("scoring of a private workspace from the private host", c, body, 200, `"model":"blue"`)
	c, body = score(public)
	want("scoring of a private workspace from the public host", c, body, 403, refusedPrivate)
	// The control plane is not restricted.
	c, body = call(public, "GET", b.Endpoint+ws+av, token, "")
	want("GET of a private workspace from the public host", c, body, 200, `"publicNetworkAccess":"Disabled"`)

	// ipAllowlist: the public host only.
	put(ws+av, `{"location":"eastus","properties":{"publicNetworkAccess":"Enabled","ipAllowlist":["`+nt.Addr(public).String()+`"]}}`)
	c, body = listSecrets(public)
	want("listSecrets from the allowlisted host", c, body, 200, `"s3cret"`)
	c, body = listSecrets(other)
	want("listSecrets from a host not in the allowlist", c, body, 403, refusedAllowlist)
	c, body = score(other)
	want("scoring from a host not in the allowlist", c, body, 403, refusedAllowlist)

	// X-Forwarded-For: from the trusted proxy it names the client; from
	// another host it is ignored.
	xff := "X-Forwarded-For: " + nt.Addr(public).String()
	c, body = listSecrets(proxy, xff)
	want("listSecrets through the trusted proxy for the allowlisted host", c, body, 200, `"s3cret"`)
	c, body = listSecrets(other, xff)
	want("listSecrets from an untrusted host claiming the allowlisted address", c, body, 403, refusedAllowlist)
	c, body = listSecrets(proxy)
	want("listSecrets from the trusted proxy itself", c, body, 403, refusedAllowlist)
}

// TestInboundTrustedProxyFlag: a --trusted-proxy that is not an address
// or prefix stops the start, naming the flag.
func TestInboundTrustedProxyFlag(t *testing.T) {
	bin := hsPrepare(t)
	for _, bad := range []string{"nonsense", "10.0.0.0/33", "10.0.0.1/8/8"} {
		out := hsStartFails(t, bin, t.TempDir(), hsArgs("--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", bad))
		if !strings.Contains(out, "--trusted-proxy") || !strings.Contains(out, bad) {
			t.Errorf("--trusted-proxy %s: %s", bad, out)
		}
	}
}
