package armtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/inbound"
	"github.com/mlgov/mlgov/store/feed"
)

const nav = "?api-version=2023-09-01" // Microsoft.Network

// fromAddr sends a request as if from client (the harness trusts
// loopback as a proxy: X-Forwarded-For names the client).
func (s *Server) fromAddr(t *testing.T, client, token, method, url string, body string) *Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-For", client)
	return s.send(t, req)
}

// dataPlane is one call of each data-plane path of a workspace.
type dataPlane struct {
	name string
	call func(t *testing.T, client string) *Response
	ok   int // the status of an allowed call
}

// TestInboundNetwork: a workspace's data plane (datastore and connection
// listSecrets, the job API, the scoring gateway) honours
// publicNetworkAccess, ipAllowlist and its approved private endpoints'
// subnets (a subnet resource, or inline in its virtual network), and an
// online endpoint's publicNetworkAccess; a write takes effect for the
// next request; refusals are 403 UserError with Azure's message and an
// event naming the client; the control plane is not restricted.
func TestInboundNetwork(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		s.put(t, ws+"/datastores/blob1"+av, `{"properties":{"datastoreType":"AzureBlob","accountName":"sa1","containerName":"c","credentials":{"credentialsType":"AccountKey","secrets":{"secretsType":"AccountKey","key":"s3cret-one"}}}}`, 201)
		s.put(t, ws+"/connections/sp1"+av, `{"properties":{"category":"AzureOpenAI","target":"https://x.openai.azure.com","authType":"ServicePrincipal","credentials":{"clientId":"c1","tenantId":"t1","clientSecret":"sp-s3cret"}}}`, 200)
		s.settle(t, "compute", s.mustPut(t, ws+"/computes/c1"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`))
		var hits atomic.Int64
		model := target(t, "blue", &hits)
		ep := ws + "/onlineEndpoints/e1"
		s.settle(t, "e1", s.mustPut(t, ep+av, `{"location":"eastus","properties":{"authMode":"Key"}}`))
		s.settle(t, "blue", s.mustPut(t, ep+"/deployments/blue"+av, `{"location":"eastus","properties":{"endpointComputeType":"Managed","properties":{"mlgov.targetUrl":"`+model+`/score"}}}`))
		s.settle(t, "e1 traffic", s.mustPut(t, ep+av, `{"location":"eastus","properties":{"authMode":"Key","traffic":{"blue":100}}}`))
		key := s.post(t, ep+"/listKeys", "", 200)["primaryKey"].(string)
		scoring := s.URL + "/endpoints/" + s.SubscriptionID + "/rg1/ws1/e1/score"

		paths := []dataPlane{
			{"datastore listSecrets", func(t *testing.T, c string) *Response {
				return s.fromAddr(t, c, s.token, "POST", s.URL+ws+"/datastores/blob1/listSecrets"+av, "")
			}, 200},
			{"connection listsecrets", func(t *testing.T, c string) *Response {
				return s.fromAddr(t, c, s.token, "POST", s.URL+ws+"/connections/sp1/listsecrets"+av, "")
			}, 200},
			{"job API claim", func(t *testing.T, c string) *Response {
				return s.fromAddr(t, c, s.token, "POST", s.URL+"/jobs/"+s.SubscriptionID+"/rg1/ws1/claim", `{"compute":"c1"}`)
			}, 204},
			{"job API status", func(t *testing.T, c string) *Response {
				return s.fromAddr(t, c, s.token, "GET", s.URL+"/jobs/"+s.SubscriptionID+"/rg1/ws1/nosuchjob/status", "")
			}, 404},
			{"scoring", func(t *testing.T, c string) *Response {
				return s.fromAddr(t, c, key, "POST", scoring, `{"data":[1]}`)
			}, 200},
		}
		expect := func(what, client string, message string) {
			t.Helper()
			for _, p := range paths {
				r := p.call(t, client)
				if message == "" {
					if r.Status != p.ok {
						t.Errorf("%s: %s from %s: %d %s, want %d", what, p.name, client, r.Status, r.Body, p.ok)
					}
					continue
				}
				if r.Status != 403 || r.ErrorCode() != "UserError" || r.ErrorMessage() != message {
					t.Errorf("%s: %s from %s: %d %s, want 403 UserError %q", what, p.name, client, r.Status, r.Body, message)
				}
			}
		}
		const public, other = "203.0.113.7", "192.0.2.1"
		wsBody := func(props string) string { return `{"location":"eastus","properties":{` + props + `}}` }

		// Enabled, no allowlist: every client.
		expect("a public workspace", public, "")
		expect("a public workspace", other, "")

		// ipAllowlist: the public clients it lists, right after the PUT.
		s.mustPut(t, ws+av, wsBody(`"ipAllowlist":["`+public+`","198.51.100.0/24"]`))
		expect("ipAllowlist", public, "")
		expect("ipAllowlist (CIDR)", "198.51.100.9", "")
		expect("ipAllowlist", other, inbound.MessageAllowlist)
		// The control plane is not restricted.
		if r := s.fromAddr(t, other, s.token, "GET", s.URL+ws+av, ""); r.Status != 200 {
			t.Errorf("a GET of the workspace from outside its allowlist: %d %s", r.Status, r.Body)
		}

		// A private workspace: only the subnets its approved private
		// endpoints are in. The first subnet is inline in its virtual
		// network, the second a subnet resource.
		vnet := s.RG("rg1") + "/providers/Microsoft.Network/virtualNetworks/v1"
		s.mustPut(t, vnet+nav, `{"location":"eastus","properties":{"addressSpace":{"addressPrefixes":["10.9.0.0/16"]},"subnets":[{"name":"s1","properties":{"addressPrefix":"10.9.1.0/24"}}]}}`)
		s.mustPut(t, vnet+"/subnets/s2"+nav, `{"properties":{"addressPrefix":"10.9.2.0/24"}}`)
		pe := func(name, subnet, status string) {
			t.Helper()
			s.mustPut(t, s.RG("rg1")+"/providers/Microsoft.Network/privateEndpoints/"+name+nav, `{"location":"eastus","properties":{"subnet":{"id":"`+vnet+`/subnets/`+subnet+`"},`+
				`"privateLinkServiceConnections":[{"name":"c","properties":{"privateLinkServiceId":"`+ws+`","groupIds":["amlworkspace"],"privateLinkServiceConnectionState":{"status":"`+status+`"}}}]}}`)
		}
		pe("pe1", "s1", "Approved")
		pe("pe2", "s2", "Pending")
		s.mustPut(t, ws+av, wsBody(`"publicNetworkAccess":"Disabled","ipAllowlist":["`+public+`"]`))
		expect("private (inline subnet of an approved endpoint)", "10.9.1.5", "")
		expect("private, from an allowlisted public client", public, inbound.MessagePrivate)
		expect("private, a pending endpoint's subnet", "10.9.2.5", inbound.MessagePrivate)
		expect("private, loopback", "127.0.0.1", inbound.MessagePrivate)
		if r := s.fromAddr(t, public, s.token, "GET", s.URL+ws+av, ""); r.Status != 200 {
			t.Errorf("a GET of a private workspace from a public client: %d %s", r.Status, r.Body)
		}
		pe("pe2", "s2", "Approved")
		expect("private, the endpoint approved", "10.9.2.5", "")
		s.mustPut(t, vnet+"/subnets/s2"+nav, `{"properties":{"addressPrefixes":["10.9.3.0/24"]}}`)
		expect("private, the subnet's prefix changed (old)", "10.9.2.5", inbound.MessagePrivate)
		expect("private, the subnet's prefix changed (new)", "10.9.3.5", "")
		// The workspace's side of the connection decides.
		s.mustPut(t, ws+"/privateEndpointConnections/pe2conn"+av, `{"properties":{"privateEndpoint":{"id":"`+s.RG("rg1")+`/providers/Microsoft.Network/privateEndpoints/pe2"},"privateLinkServiceConnectionState":{"status":"Rejected"}}}`)
		expect("private, the workspace rejected the endpoint", "10.9.3.5", inbound.MessagePrivate)
		if r := s.Do(t, "DELETE", s.RG("rg1")+"/providers/Microsoft.Network/privateEndpoints/pe1"+nav, nil); r.Status >= 300 {
			t.Fatalf("DELETE pe1: %d %s", r.Status, r.Body)
		}
		expect("private, the endpoint deleted", "10.9.1.5", inbound.MessagePrivate)
		pe("pe1", "s1", "Approved")
		expect("private, the endpoint again", "10.9.1.5", "")

		// The refusals are in the activity log, naming the client.
		evs := s.Events(t, "", 0)
		found := map[string]bool{}
		for _, e := range evs {
			op, _ := e["operationName"].(map[string]any)
			req, _ := e["httpRequest"].(map[string]any)
			props, _ := e["properties"].(map[string]any)
			st, _ := e["status"].(map[string]any)
			if st["value"] == "Failed" && req["clientIpAddress"] == public && strings.Contains(props["statusMessage"].(string), "private link") {
				found[op["value"].(string)] = true
			}
		}
		for _, op := range []string{"Microsoft.MachineLearningServices/workspaces/datastores/listSecrets/action",
			"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action", "Microsoft.MachineLearningServices/workspaces/jobs/claim/action"} {
			if !found[op] {
				t.Errorf("no Failed event of %s from %s: %v", op, public, found)
			}
		}

		// An online endpoint's publicNetworkAccess, in a public workspace.
		s.mustPut(t, ws+av, wsBody(`"publicNetworkAccess":"Enabled"`))
		s.settle(t, "e1", s.mustPut(t, ep+av, `{"location":"eastus","properties":{"authMode":"Key","traffic":{"blue":100},"publicNetworkAccess":"Disabled"}}`))
		if r := s.fromAddr(t, public, key, "POST", scoring, `{}`); r.Status != 403 || r.ErrorMessage() != inbound.MessageEndpoint {
			t.Errorf("scoring a private endpoint from a public client: %d %s", r.Status, r.Body)
		}
		if r := s.fromAddr(t, "10.9.1.7", key, "POST", scoring, `{}`); r.Status != 200 {
			t.Errorf("scoring a private endpoint from a private endpoint's subnet: %d %s", r.Status, r.Body)
		}
		if r := paths[0].call(t, public); r.Status != 200 {
			t.Errorf("the workspace's other data plane from a public client: %d %s", r.Status, r.Body)
		}
		s.settle(t, "e1", s.mustPut(t, ep+av, `{"location":"eastus","properties":{"authMode":"Key","traffic":{"blue":100},"publicNetworkAccess":"Enabled"}}`))
		if r := s.fromAddr(t, public, key, "POST", scoring, `{}`); r.Status != 200 {
			t.Errorf("scoring a public endpoint again: %d %s", r.Status, r.Body)
		}
	})
}

// TestInboundBadInput: what the checks read is refused on write when it
// cannot be read, naming the field.
func TestInboundBadInput(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		vnet := s.RG("rg1") + "/providers/Microsoft.Network/virtualNetworks/v1"
		s.mustPut(t, vnet+nav, `{"location":"eastus","properties":{}}`)
		for _, c := range []struct{ what, path, body, target string }{
			{"an allowlist entry", ws + av, `{"location":"eastus","properties":{"ipAllowlist":["10.0.0.1","not-an-ip"]}}`, "properties.ipAllowlist[1]"},
			{"an allowlist prefix", ws + av, `{"location":"eastus","properties":{"ipAllowlist":["10.0.0.0/33"]}}`, "properties.ipAllowlist[0]"},
			{"an allowlist of a string", ws + av, `{"location":"eastus","properties":{"ipAllowlist":"10.0.0.1"}}`, "properties.ipAllowlist"},
			{"a private endpoint's subnet", s.RG("rg1") + "/providers/Microsoft.Network/privateEndpoints/pe1" + nav, `{"location":"eastus","properties":{"subnet":{"id":"garbage"}}}`, "properties.subnet.id"},
			{"a private endpoint's subnet type", s.RG("rg1") + "/providers/Microsoft.Network/privateEndpoints/pe1" + nav, `{"location":"eastus","properties":{"subnet":{"id":"` + vnet + `"}}}`, "properties.subnet.id"},
			{"a private endpoint's service", s.RG("rg1") + "/providers/Microsoft.Network/privateEndpoints/pe1" + nav, `{"location":"eastus","properties":{"privateLinkServiceConnections":[{"properties":{"privateLinkServiceId":"ws1"}}]}}`, "properties.privateLinkServiceConnections[0].properties.privateLinkServiceId"},
			{"a subnet prefix", vnet + "/subnets/s1" + nav, `{"properties":{"addressPrefix":"10.0.0.0/40"}}`, "properties.addressPrefix"},
			{"an inline subnet prefix", vnet + nav, `{"location":"eastus","properties":{"subnets":[{"name":"s1","properties":{"addressPrefixes":["x"]}}]}}`, "properties.subnets[0].properties.addressPrefixes[0]"},
		} {
			r := s.Do(t, "PUT", c.path, c.body)
			wantError(t, c.what, r, 400, "InvalidRequestContent", c.target)
		}
		wantError(t, "an allowlist entry in a PATCH", s.Do(t, "PATCH", ws+av, `{"properties":{"ipAllowlist":["10.0.0.1/8x"]}}`), 400, "InvalidRequestContent", "properties.ipAllowlist[0]")
		r := s.Do(t, "PUT", s.RG("rg1")+"/providers/Microsoft.Network/privateEndpoints/pe1"+nav, `{"location":"eastus","properties":{"manualPrivateLinkServiceConnections":[{"properties":{"privateLinkServiceConnectionState":{"status":"Sure"}}}]}}`)
		if r.Status != 400 || !strings.Contains(r.ErrorMessage(), "privateLinkServiceConnectionState.status") {
			t.Errorf("a connection state Azure does not have: %d %s", r.Status, r.Body)
		}
		r = s.Do(t, "PUT", ws+"/onlineEndpoints/e1"+av, `{"location":"eastus","properties":{"authMode":"Key","publicNetworkAccess":"Maybe"}}`)
		if r.Status != 400 || !strings.Contains(r.ErrorMessage(), "publicNetworkAccess") {
			t.Errorf("an endpoint's publicNetworkAccess Maybe: %d %s", r.Status, r.Body)
		}
	})
}

// TestInboundOtherReplica: a replica that did not make the write sees it
// through the change feed.
func TestInboundOtherReplica(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		other := inbound.New(s.Store, inbound.Config{})
		ctx := s.otherReplica(t, func(fd *feed.Feed) { other.Follow(fd) })
		id := mustParseID(t, ws)
		client := netip.MustParseAddr("192.0.2.1")
		if rule, err := other.Check(ctx, id, "", client); err != nil || rule != inbound.Allowed {
			t.Fatalf("a public workspace: %v %v", rule, err)
		}
		s.mustPut(t, ws+av, `{"location":"eastus","properties":{"publicNetworkAccess":"Disabled"}}`)
		deadline := time.Now().Add(5 * time.Second)
		for {
			rule, err := other.Check(ctx, id, "", client)
			if err != nil {
				t.Fatal(err)
			}
			if rule == inbound.PrivateLink {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the other replica still decides %v 5 s after the workspace became private", rule)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func mustParseID(t *testing.T, p string) *arm.ID {
	t.Helper()
	id, err := arm.ParseID(p)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestInboundApproval: a private endpoint's writer needs the approval
// action on the workspace to make its connection Approved (403
// LinkedAuthorizationFailed otherwise); a Pending one waits for the
// workspace's side, whose approval lets its subnet in.
func TestInboundApproval(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		s.put(t, ws+"/datastores/blob1"+av, `{"properties":{"datastoreType":"AzureBlob","accountName":"sa1","containerName":"c","credentials":{"credentialsType":"AccountKey","secrets":{"secretsType":"AccountKey","key":"s3cret"}}}}`, 201)
		s.mustPut(t, ws+av, `{"location":"eastus","properties":{"publicNetworkAccess":"Disabled"}}`)
		mustCreateRG(t, s, "rg2")
		p := s.NewPrincipal(t, "network-admin")
		s.assignRole(t, s.RG("rg2"), roleIDByName(t, s, "Contributor"), p.ObjectID, "ServicePrincipal")
		vnet := s.RG("rg2") + "/providers/Microsoft.Network/virtualNetworks/v2"
		if r := s.DoAs(t, p.Token, "PUT", vnet+nav, `{"location":"eastus","properties":{"subnets":[{"name":"s1","properties":{"addressPrefix":"10.77.1.0/24"}}]}}`); r.Status != 201 {
			t.Fatalf("the vnet: %d %s", r.Status, r.Body)
		}
		pePath := s.RG("rg2") + "/providers/Microsoft.Network/privateEndpoints/pe1"
		pe := func(status string) string {
			return `{"location":"eastus","properties":{"subnet":{"id":"` + vnet + `/subnets/s1"},"privateLinkServiceConnections":[{"name":"c","properties":{"privateLinkServiceId":"` + ws + `","groupIds":["amlworkspace"],"privateLinkServiceConnectionState":{"status":"` + status + `"}}}]}}`
		}
		r := s.DoAs(t, p.Token, "PUT", pePath+nav, pe("Approved"))
		if r.Status != 403 || r.ErrorCode() != "LinkedAuthorizationFailed" || !strings.Contains(r.ErrorMessage(), inbound.ApprovalAction) || !strings.Contains(r.ErrorMessage(), ws) {
			t.Fatalf("a private endpoint approving itself without the approval action: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, p.Token, "PUT", pePath+nav, pe("Pending")); r.Status != 201 {
			t.Fatalf("a pending private endpoint: %d %s", r.Status, r.Body)
		}
		listSecrets := func() *Response {
			return s.fromAddr(t, "10.77.1.9", s.token, "POST", s.URL+ws+"/datastores/blob1/listSecrets"+av, "")
		}
		if r := listSecrets(); r.Status != 403 {
			t.Errorf("from a pending endpoint's subnet: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, p.Token, "PUT", pePath+nav, pe("Approved")); r.Status != 403 || r.ErrorCode() != "LinkedAuthorizationFailed" {
			t.Errorf("the pending endpoint approving itself: %d %s", r.Status, r.Body)
		}
		// The workspace's owner approves it.
		s.mustPut(t, ws+"/privateEndpointConnections/c1"+av, `{"properties":{"privateEndpoint":{"id":"`+pePath+`"},"privateLinkServiceConnectionState":{"status":"Approved"}}}`)
		if r := listSecrets(); r.Status != 200 {
			t.Errorf("from the approved endpoint's subnet: %d %s", r.Status, r.Body)
		}
		// The owner may also write it Approved.
		s.mustPut(t, pePath+nav, pe("Approved"))

		// A connection written without a state gets Azure's: an
		// automatic one Approved when its writer may approve, else
		// Pending; a manual one Pending; a stored one keeps its own.
		state := func(path string) string {
			t.Helper()
			type conn struct {
				Properties struct {
					State struct {
						Status      string `json:"status"`
						Description string `json:"description"`
					} `json:"privateLinkServiceConnectionState"`
				} `json:"properties"`
			}
			var got struct {
				Properties struct {
					Auto   []conn `json:"privateLinkServiceConnections"`
					Manual []conn `json:"manualPrivateLinkServiceConnections"`
				} `json:"properties"`
			}
			r := s.Do(t, "GET", path+nav, nil)
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
			}
			for _, c := range append(got.Properties.Auto, got.Properties.Manual...) {
				return c.Properties.State.Status + "/" + c.Properties.State.Description
			}
			return ""
		}
		noState := func(list, subnet string) string {
			return `{"location":"eastus","properties":{"subnet":{"id":"` + subnet + `"},"` + list + `":[{"name":"c","properties":{"privateLinkServiceId":"` + ws + `","groupIds":["amlworkspace"]}}]}}`
		}
		if r := s.DoAs(t, p.Token, "PUT", vnet+nav, `{"location":"eastus","properties":{"subnets":[{"name":"s1","properties":{"addressPrefix":"10.77.1.0/24"}},{"name":"s2","properties":{"addressPrefix":"10.77.2.0/24"}}]}}`); r.Status != 200 {
			t.Fatalf("the vnet: %d %s", r.Status, r.Body)
		}
		pe2 := s.RG("rg2") + "/providers/Microsoft.Network/privateEndpoints/pe2"
		if r := s.DoAs(t, p.Token, "PUT", pe2+nav, noState("privateLinkServiceConnections", vnet+"/subnets/s2")); r.Status != 201 {
			t.Fatalf("an automatic connection without the approval action: %d %s", r.Status, r.Body)
		}
		if got := state(pe2); got != "Pending/Awaiting approval" {
			t.Errorf("an automatic connection without the approval action: %s", got)
		}
		if r := s.fromAddr(t, "10.77.2.9", s.token, "POST", s.URL+ws+"/datastores/blob1/listSecrets"+av, ""); r.Status != 403 {
			t.Errorf("from its subnet: %d %s", r.Status, r.Body)
		}
		vnet1 := s.RG("rg1") + "/providers/Microsoft.Network/virtualNetworks/v1"
		s.mustPut(t, vnet1+nav, `{"location":"eastus","properties":{"subnets":[{"name":"s1","properties":{"addressPrefix":"10.88.1.0/24"}},{"name":"s2","properties":{"addressPrefix":"10.88.2.0/24"}}]}}`)
		pe3, pe4 := s.RG("rg1")+"/providers/Microsoft.Network/privateEndpoints/pe3", s.RG("rg1")+"/providers/Microsoft.Network/privateEndpoints/pe4"
		s.mustPut(t, pe3+nav, noState("privateLinkServiceConnections", vnet1+"/subnets/s1"))
		s.mustPut(t, pe4+nav, noState("manualPrivateLinkServiceConnections", vnet1+"/subnets/s2"))
		if got := state(pe3); got != "Approved/Auto-Approved" {
			t.Errorf("an automatic connection of the workspace's owner: %s", got)
		}
		if got := state(pe4); got != "Pending/Awaiting approval" {
			t.Errorf("a manual connection: %s", got)
		}
		for client, want := range map[string]int{"10.88.1.9": 200, "10.88.2.9": 403} {
			if r := s.fromAddr(t, client, s.token, "POST", s.URL+ws+"/datastores/blob1/listSecrets"+av, ""); r.Status != want {
				t.Errorf("from %s: %d %s, want %d", client, r.Status, r.Body, want)
			}
		}
		// Written again without a state, each keeps its own.
		if r := s.DoAs(t, p.Token, "PUT", pe2+nav, noState("privateLinkServiceConnections", vnet+"/subnets/s2")); r.Status != 200 || state(pe2) != "Pending/Awaiting approval" {
			t.Errorf("the pending connection written again: %d %s", r.Status, state(pe2))
		}
		s.mustPut(t, pe3+nav, noState("privateLinkServiceConnections", vnet1+"/subnets/s1"))
		if got := state(pe3); got != "Approved/Auto-Approved" {
			t.Errorf("the approved connection written again: %s", got)
		}
	})
}

// TestSignInThrottleForwarded: behind a trusted proxy, failed sign-ins
// are throttled per client address as X-Forwarded-For names it, not per
// proxy: an address that failed too often is refused (429), another
// client through the same proxy signs in.
func TestSignInThrottleForwarded(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) { signInThrottleForwarded(t, s) })
}

func signInThrottleForwarded(t *testing.T, s *Server) {
	p := s.NewPrincipal(t, "throttled-app")
	post := func(from string, form url.Values) int {
		t.Helper()
		req, _ := http.NewRequest("POST", s.URL+"/"+s.TenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		resp, err := s.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	form := func(client, secret string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {"https://management.azure.com/.default"}}
	}
	const attacker, other = "203.0.113.7", "198.51.100.9"
	throttled := false
	for i := 0; i < 80 && !throttled; i++ {
		// A different unknown client each time: the address, not a
		// client id, gathers the failures.
		throttled = post(attacker, form(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "wrong")) == http.StatusTooManyRequests
	}
	if !throttled {
		t.Fatal("80 failed sign-ins from one forwarded address were not throttled")
	}
	if st := post(attacker, form(p.AppID, p.Secret)); st != http.StatusTooManyRequests {
		t.Errorf("the throttled address signs in: %d", st)
	}
	if st := post(other, form(p.AppID, p.Secret)); st != http.StatusOK {
		t.Errorf("another client through the same proxy: %d, want 200", st)
	}
}
