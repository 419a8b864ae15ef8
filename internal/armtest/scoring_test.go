package armtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// target is a deployment's model server: it answers which it is and
// what Authorization it was sent.
func target(t *testing.T, name string, hits *atomic.Int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]string{"model": name, "authorization": r.Header.Get("Authorization"), "body": string(b), "path": r.URL.Path})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// scoreRaw sends a scoring call to an endpoint's scoringUri.
func (s *Server) scoreRaw(t *testing.T, scoringURI, bearer, deployment string) *Response {
	t.Helper()
	req, _ := http.NewRequest("POST", scoringURI, strings.NewReader(`{"data":[1,2]}`))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if deployment != "" {
		req.Header.Set("azureml-model-deployment", deployment)
	}
	return s.send(t, req)
}

// score is scoreRaw with the model server's answer decoded.
func (s *Server) score(t *testing.T, scoringURI, bearer, deployment string) (*http.Response, map[string]string) {
	t.Helper()
	r := s.scoreRaw(t, scoringURI, bearer, deployment)
	var m map[string]string
	json.Unmarshal(r.Body, &m)
	return &http.Response{StatusCode: r.Status, Header: r.Header}, m
}

// TestScoringGateway: online endpoints' scoringUri is mlgov's gateway,
// which authenticates each call by the endpoint's authMode (Key,
// AMLToken, AADToken with the caller's score action), then forwards it
// to a deployment by the endpoint's traffic (or the one named), without
// the caller's credentials.
func TestScoringGateway(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		var blueHits, greenHits atomic.Int64
		blue, green := target(t, "blue", &blueHits), target(t, "green", &greenHits)
		endpoint := func(name, mode string) string {
			t.Helper()
			ep := ws + "/onlineEndpoints/" + name
			s.settle(t, name, s.mustPut(t, ep+av, `{"location":"eastus","properties":{"authMode":"`+mode+`"}}`))
			for _, d := range []struct{ name, url string }{{"blue", blue + "/score"}, {"green", green + "/v1/predict"}} {
				s.settle(t, d.name, s.mustPut(t, ep+"/deployments/"+d.name+av, `{"location":"eastus","properties":{"endpointComputeType":"Managed","properties":{"mlgov.targetUrl":"`+d.url+`"}}}`))
			}
			s.settle(t, name+" traffic", s.mustPut(t, ep+av, `{"location":"eastus","properties":{"authMode":"`+mode+`","traffic":{"blue":50,"green":50}}}`))
			var got struct {
				Properties struct {
					ScoringURI string `json:"scoringUri"`
				} `json:"properties"`
			}
			json.Unmarshal(s.Do(t, "GET", ep+av, nil).Body, &got)
			if want := s.URL + "/endpoints/" + s.SubscriptionID + "/rg1/ws1/" + name + "/score"; got.Properties.ScoringURI != want {
				t.Fatalf("scoringUri %q, want %q", got.Properties.ScoringURI, want)
			}
			return got.Properties.ScoringURI
		}

		// Key.
		keyURI := endpoint("ekey", "Key")
		keys := s.post(t, ws+"/onlineEndpoints/ekey/listKeys", "", 200)
		primary := keys["primaryKey"].(string)
		resp, got := s.score(t, keyURI, primary, "blue")
		if resp.StatusCode != 200 || got["model"] != "blue" || got["authorization"] != "" || got["body"] != `{"data":[1,2]}` || got["path"] != "/score" ||
			resp.Header.Get("azureml-model-deployment") != "blue" {
			t.Errorf("a call with the primary key to blue: %d %v %v", resp.StatusCode, got, resp.Header)
		}
		if resp, got := s.score(t, keyURI, keys["secondaryKey"].(string), "green"); resp.StatusCode != 200 || got["model"] != "green" || got["path"] != "/v1/predict" {
			t.Errorf("a call with the secondary key to green: %d %v", resp.StatusCode, got)
		}
		for _, bad := range []string{"", "not-the-key", primary + "x"} {
			if resp, _ := s.score(t, keyURI, bad, ""); resp.StatusCode != 401 {
				t.Errorf("a call with key %q: %d, want 401", bad, resp.StatusCode)
			}
		}
		// The traffic split: both deployments answer.
		blueHits.Store(0)
		greenHits.Store(0)
		for range 60 {
			if resp, _ := s.score(t, keyURI, primary, ""); resp.StatusCode != 200 {
				t.Fatalf("a call by traffic: %d", resp.StatusCode)
			}
		}
		if blueHits.Load() < 10 || greenHits.Load() < 10 {
			t.Errorf("traffic 50/50 over 60 calls: blue %d, green %d", blueHits.Load(), greenHits.Load())
		}
		s.post(t, ws+"/onlineEndpoints/ekey/regenerateKeys", `{"keyType":"Primary"}`, 200)
		if resp, _ := s.score(t, keyURI, primary, ""); resp.StatusCode != 401 {
			t.Errorf("the regenerated primary key: %d, want 401", resp.StatusCode)
		}

		// AMLToken.
		tokURI := endpoint("etok", "AMLToken")
		tok := s.post(t, ws+"/onlineEndpoints/etok/token", "", 200)
		access, _ := tok["accessToken"].(string)
		if access == "" || tok["tokenType"] != "Bearer" || tok["expiryTimeUtc"] == nil {
			t.Fatalf("the token action: %v", tok)
		}
		if resp, _ := s.score(t, tokURI, access, "blue"); resp.StatusCode != 200 {
			t.Errorf("a call with the endpoint's token: %d", resp.StatusCode)
		}
		if resp, _ := s.score(t, tokURI, access[:len(access)-2]+"xx", "blue"); resp.StatusCode != 401 {
			t.Errorf("a call with a tampered token: %d", resp.StatusCode)
		}
		if resp, _ := s.score(t, keyURI, access, "blue"); resp.StatusCode != 401 {
			t.Errorf("the AMLToken endpoint's token on a Key endpoint: %d", resp.StatusCode)
		}
		wantError(t, "the token of a Key endpoint", s.Do(t, "POST", ws+"/onlineEndpoints/ekey/token"+av, nil), 400, "OperationNotSupported", "")

		// AADToken: a token for https://ml.azure.com, and the score action.
		aadURI := endpoint("eaad", "AADToken")
		ds, other := s.NewPrincipal(t, "scorer"), s.NewPrincipal(t, "no-role")
		s.assignRole(t, ws, roleIDByName(t, s, "AzureML Data Scientist"), ds.ObjectID, "ServicePrincipal")
		mlToken := func(p *Principal) string {
			tk, err := s.Directory.TokenForClientSecret(context.Background(), s.TenantID, p.AppID, p.Secret, "https://ml.azure.com/.default")
			if err != nil {
				t.Fatal(err)
			}
			return tk.AccessToken
		}
		if resp, got := s.score(t, aadURI, mlToken(ds), "green"); resp.StatusCode != 200 || got["authorization"] != "" {
			t.Errorf("a call of a data scientist: %d %v", resp.StatusCode, got)
		}
		resp, _ = s.score(t, aadURI, mlToken(other), "green")
		if resp.StatusCode != 403 {
			t.Errorf("a call of a principal without a role: %d, want 403", resp.StatusCode)
		}
		if resp, _ := s.score(t, aadURI, ds.Token, "green"); resp.StatusCode != 401 {
			t.Errorf("a call with an ARM token: %d, want 401", resp.StatusCode)
		}

		// Routing mistakes.
		if resp, _ := s.score(t, keyURI, "", "nosuch"); resp.StatusCode != 401 {
			t.Errorf("an unauthenticated call to a deployment that does not exist: %d, want 401 (authentication comes first)", resp.StatusCode)
		}
		keys = s.post(t, ws+"/onlineEndpoints/ekey/listKeys", "", 200)
		if resp, _ := s.score(t, keyURI, keys["primaryKey"].(string), "nosuch"); resp.StatusCode != 404 {
			t.Errorf("a call to a deployment that does not exist: %d", resp.StatusCode)
		}
		if resp, _ := s.score(t, s.URL+"/endpoints/"+s.SubscriptionID+"/rg1/ws1/nosuch/score", "k", ""); resp.StatusCode != 404 {
			t.Errorf("a call to an endpoint that does not exist: %d", resp.StatusCode)
		}
	})
}
