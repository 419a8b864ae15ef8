package armtest

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store/postgres"
	"github.com/mlgov/mlgov/store/postgres/pgtest"
	"github.com/mlgov/mlgov/store/sqlite"
)

// Input that used to be stored as something else than what was sent is
// refused with a 400 that names the offending part, or kept exactly.

// eachBackend runs f against a server over every store, its manager
// configured by with (nil: the defaults).
func eachBackend(t *testing.T, with func(*resources.Config), f func(t *testing.T, s *Server)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mlgov.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		f(t, StartWith(t, st, with))
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), pgtest.SchemaURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		f(t, StartWith(t, st, with))
	})
}

// wantError checks status, ARM code, target and that the message holds
// each of parts.
func wantError(t *testing.T, what string, r *Response, status int, code, target string, parts ...string) {
	t.Helper()
	e, _ := r.JSON()["error"].(map[string]any)
	gotTarget, _ := e["target"].(string)
	if r.Status != status || r.ErrorCode() != code || gotTarget != target {
		t.Errorf("%s: %d %s target %q, want %d %s target %q; body %.300s", what, r.Status, r.ErrorCode(), gotTarget, status, code, target, r.Body)
		return
	}
	for _, p := range parts {
		if !strings.Contains(r.ErrorMessage(), p) {
			t.Errorf("%s: message %q does not name %q", what, r.ErrorMessage(), p)
		}
	}
}

func mustCreateRG(t *testing.T, s *Server, rg string) {
	t.Helper()
	if r := s.Do(t, "PUT", s.RG(rg)+"?api-version=2021-04-01", `{"location":"eastus"}`); r.Status != 201 && r.Status != 200 {
		t.Fatalf("creating %s: %d %s", rg, r.Status, r.Body)
	}
}

const storageAV = "?api-version=2023-05-01"

func storagePath(s *Server, rg, name string) string {
	return s.RG(rg) + "/providers/Microsoft.Storage/storageAccounts/" + name
}

// TestNumbersExact: numbers are stored and returned exactly as sent
// (big integers, decimal fractions, exponents); out-of-range numbers are
// a 400 naming the member by JSON pointer.
func TestNumbersExact(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		props := `{"big":123456789012345678901234567890,"max":9223372036854775807,"over":9223372036854775808,` +
			`"tenth":0.1,"sum":0.30000000000000004,"exp":1e3,"tiny":1e-400,"pi":3.14159265358979323846264338327950288}`
		p := storagePath(s, "rg1", "st1")
		if r := s.Do(t, "PUT", p+storageAV, `{"location":"eastus","properties":`+props+`}`); r.Status != 201 {
			t.Fatalf("PUT: %d %s", r.Status, r.Body)
		}
		r := s.Do(t, "GET", p+storageAV, nil)
		if !strings.Contains(string(r.Body), `"properties":`+strings.TrimSuffix(props, "}")) {
			t.Errorf("GET returned %s; want the properties %s unchanged", r.Body, props)
		}
		wantError(t, "1e999999", s.Do(t, "PUT", p+storageAV, `{"location":"eastus","properties":{"n":[1,1e999999]}}`),
			400, "InvalidRequestContent", "/properties/n/1", "out of range", "/properties/n/1")
		wantError(t, "-1e400 in PATCH", s.Do(t, "PATCH", p+storageAV, `{"properties":{"n":-1e400}}`),
			400, "InvalidRequestContent", "/properties/n", "out of range")
	})
}

// TestDuplicateKeys: a body with the same key twice (compared
// case-insensitively, as ARM looks properties up) is a 400 naming the
// second one; nothing is stored.
func TestDuplicateKeys(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		p := storagePath(s, "rg1", "st1")
		for _, tc := range []struct{ body, target string }{
			{`{"location":"eastus","location":"westus"}`, "/location"},
			{`{"location":"eastus","Location":"westus"}`, "/Location"},
			{`{"location":"eastus","properties":{"a":{"x":1,"X":2}}}`, "/properties/a/X"},
			{`{"location":"eastus","tags":{"env":"prod","ENV":"dev"}}`, "/tags/ENV"},
		} {
			wantError(t, tc.body, s.Do(t, "PUT", p+storageAV, tc.body), 400, "InvalidRequestContent", tc.target, "duplicate key")
		}
		if r := s.Do(t, "GET", p+storageAV, nil); r.Status != 404 {
			t.Errorf("GET after refused PUTs: %d %s, want 404", r.Status, r.Body)
		}
	})
}

// TestNamesOrdinalIgnoreCase: names compare by ARM's rule (ordinal
// ignore-case): "KV1" is "kv1", but the Kelvin sign "K" (U+212A) is a
// different letter, so its resource is a different resource, not an
// update of the other one; the same for resource groups.
func TestNamesOrdinalIgnoreCase(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		body := `{"location":"eastus","properties":{"which":"%s"}}`
		for _, tc := range []struct {
			name   string
			status int
		}{{"kv1", 201}, {"\u212Av1", 201}, {"KV1", 200}} {
			r := s.Do(t, "PUT", storagePath(s, "rg1", tc.name)+storageAV, strings.Replace(body, "%s", tc.name, 1))
			if r.Status != tc.status {
				t.Errorf("PUT %q: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
			}
		}
		for name, want := range map[string]string{"Kv1": "KV1", "\u212AV1": "\u212Av1"} {
			r := s.Do(t, "GET", storagePath(s, "rg1", name)+storageAV, nil)
			props, _ := r.JSON()["properties"].(map[string]any)
			if r.Status != 200 || props["which"] != want {
				t.Errorf("GET %q: %d %s, want the resource last written as %q", name, r.Status, r.Body, want)
			}
		}
		if r := s.Do(t, "GET", s.RG("rg1")+"/providers/Microsoft.Storage/storageAccounts"+storageAV, nil); len(r.JSON()["value"].([]any)) != 2 {
			t.Errorf("list: %s, want 2 storage accounts", r.Body)
		}
		mustCreateRG(t, s, "\u212Arg")
		if r := s.Do(t, "PUT", s.RG("krg")+"?api-version=2021-04-01", `{"location":"eastus"}`); r.Status != 201 {
			t.Errorf("PUT resource group krg after \\u212Arg: %d %s, want 201 (a different group)", r.Status, r.Body)
		}
	})
}

// TestBadQueryValues: $top, $skipToken and $filter values that are not
// what the API takes are a 400 naming the parameter, on the activity log
// and on resource lists; good values still page.
func TestBadQueryValues(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		mustCreateRG(t, s, "rg2")
		events := "/subscriptions/" + s.SubscriptionID + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01"
		groups := "/subscriptions/" + s.SubscriptionID + "/resourcegroups?api-version=2021-04-01"
		for _, base := range []string{events, groups} {
			for _, top := range []string{"-1", "0", "1001", "abc", "1.5", "+5", "%205", "99999999999999999999", ""} {
				wantError(t, base+" $top="+top, s.Do(t, "GET", base+"&$top="+top, nil), 400, "InvalidQueryParameter", "", "$top")
			}
			for _, tok := range []string{"-1", "zzzz%25", "not%20base64!", "AAAA"} {
				wantError(t, base+" $skipToken="+tok, s.Do(t, "GET", base+"&$skipToken="+tok, nil), 400, "InvalidSkipToken", "", "$skipToken")
			}
			r := s.Do(t, "GET", base+"&$top=1", nil)
			next, _ := r.JSON()["nextLink"].(string)
			if vals, _ := r.JSON()["value"].([]any); r.Status != 200 || len(vals) != 1 || next == "" {
				t.Errorf("%s $top=1: %d, %d items, nextLink %q; want 200, 1 item and a nextLink", base, r.Status, len(vals), next)
			}
		}
		for _, f := range []string{
			"eventTimestamp ge 'yesterday'",
			"resourceGroupName eq 'rg1' and resourceGroupName eq 'rg2'",
			"eventTimestamp ge '2026-01-01T00:00:00Z' and eventTimestamp gt '2026-01-02T00:00:00Z'",
			"resourceGroupName eq 'a'b'",
			"resourceGroupName ne 'rg1'",
			"status eq 'Failed'",
			"eventTimestamp ge '2026-01-02T00:00:00Z' and eventTimestamp le '2026-01-01T00:00:00Z'",
			"resourceGroupName eq rg1",
			"and",
		} {
			wantError(t, "$filter="+f, s.Do(t, "GET", events+"&$filter="+url.QueryEscape(f), nil), 400, "InvalidFilter", "")
		}
		if got := s.Events(t, "resourceGroupName eq 'RG1' and eventTimestamp ge '2020-01-01T00:00:00Z'", 1); len(got) != 2 {
			t.Errorf("events of rg1, one per page: %d, want 2 (started, succeeded)", len(got))
		}
	})
}

// TestAPIVersionForm: api-versions have ARM's form (a real date, one of
// the known suffixes); for the types mlgov serves with a version list,
// only those versions.
func TestAPIVersionForm(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		for _, v := range []string{"2024-02-30", "1999-01-01", "2024-04-01-evil", "2024-4-1", "latest"} {
			wantError(t, "api-version "+v, s.Do(t, "PUT", storagePath(s, "rg1", "st1")+"?api-version="+v, `{"location":"eastus"}`),
				400, "InvalidApiVersionParameter", "", v)
		}
		wantError(t, "unknown ML version", s.Do(t, "PUT", wsPath(s, "rg1", "ws1")+"?api-version=2099-01-01", `{"location":"eastus"}`),
			400, "NoRegisteredProviderFound", "", "2099-01-01", "2024-04-01")
	})
}

// TestLocation: a new resource's location is one mlgov serves (display
// names normalized), "global" only for the types that live there, and
// bounded in length; the refusal names the location and what is
// available.
func TestLocation(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		huge := strings.Repeat("x", 1<<20)
		wantError(t, "1 MB location", s.Do(t, "PUT", storagePath(s, "rg1", "st1")+storageAV, `{"location":"`+huge+`"}`),
			400, "InvalidResourceLocation", "location", "at most 64 characters")
		wantError(t, "unknown region", s.Do(t, "PUT", storagePath(s, "rg1", "st1")+storageAV, `{"location":"moon"}`),
			400, "LocationNotAvailableForResourceType", "location", "'moon'", "Microsoft.Storage/storageAccounts", "westeurope")
		wantError(t, "number", s.Do(t, "PUT", storagePath(s, "rg1", "st1")+storageAV, `{"location":42}`),
			400, "InvalidResourceLocation", "location", "string")
		wantError(t, "global workspace", s.Do(t, "PUT", wsPath(s, "rg1", "ws1")+av, `{"location":"global"}`),
			400, "LocationNotAvailableForResourceType", "location", "global")
		wantError(t, "resource group", s.Do(t, "PUT", s.RG("rg2")+"?api-version=2021-04-01", `{"location":"atlantis"}`),
			400, "LocationNotAvailableForResourceGroup", "location", "atlantis")
		r := s.Do(t, "PUT", storagePath(s, "rg1", "st1")+storageAV, `{"location":"West Europe"}`)
		if r.Status != 201 || r.JSON()["location"] != "westeurope" {
			t.Errorf("PUT West Europe: %d %s, want 201 with location westeurope", r.Status, r.Body)
		}
		// An existing resource: still bounded, and the answer does not echo 1 MB.
		for _, method := range []string{"PUT", "PATCH"} {
			r := s.Do(t, method, storagePath(s, "rg1", "st1")+storageAV, `{"location":"`+huge+`"}`)
			wantError(t, method+" 1 MB location over an existing resource", r, 400, "InvalidResourceLocation", "location", "at most 64 characters")
			if len(r.Body) > 4096 {
				t.Errorf("%s 1 MB location: the error body has %d bytes", method, len(r.Body))
			}
		}
		zone := s.RG("rg1") + "/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms?api-version=2020-06-01"
		if r := s.Do(t, "PUT", zone, `{"location":"global"}`); r.Status != 201 {
			t.Errorf("PUT private DNS zone in global: %d %s, want 201", r.Status, r.Body)
		}
	})
}

// TestGenericProviders: by default, resources of namespaces and types
// mlgov does not serve are refused (naming the setting); with
// Config.GenericProviders they are stored as they are.
func TestGenericProviders(t *testing.T) {
	evil := func(s *Server) string {
		return s.RG("rg1") + "/providers/Evil.Provider/things/t1?api-version=2024-01-01"
	}
	mlUnknown := func(s *Server) string {
		return wsPath(s, "rg1", "ws1") + "/gadgets/g1" + av
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		wantError(t, "unknown namespace", s.Do(t, "PUT", evil(s), `{"properties":{}}`),
			400, "NoRegisteredProviderFound", "", "Evil.Provider", "--generic-providers", "Microsoft.MachineLearningServices")
		wantError(t, "unknown namespace, PATCH", s.Do(t, "PATCH", evil(s), `{"properties":{}}`),
			400, "NoRegisteredProviderFound", "", "Evil.Provider")
		if r := s.Do(t, "PUT", wsPath(s, "rg1", "ws1")+av, `{"location":"eastus"}`); r.Status >= 300 {
			t.Fatalf("PUT workspace: %d %s", r.Status, r.Body)
		}
		wantError(t, "unknown type of a served namespace", s.Do(t, "PUT", mlUnknown(s), `{"properties":{}}`),
			400, "InvalidResourceType", "", "gadgets", "--generic-providers")
	})
	// Namespaces mlgov implements refuse what they do not implement even
	// with generic providers on: nothing is answered 201 that did not happen.
	own := func(s *Server) []string {
		return []string{
			wsPath(s, "rg1", "ws1") + "/gadgets/g1" + av,
			s.RG("rg1") + "/providers/Microsoft.Resources/deploymentStacks/d1?api-version=2024-03-01",
			"/subscriptions/" + s.SubscriptionID + "/providers/Microsoft.Authorization/accessReviewScheduleDefinitions/r1?api-version=2021-12-01-preview",
			s.RG("rg1") + "/providers/microsoft.policyinsights/componentPolicyStates/a1?api-version=2022-04-01",
		}
	}
	t.Run("own-namespaces", func(t *testing.T) {
		eachBackend(t, func(c *resources.Config) { c.GenericProviders = true }, func(t *testing.T, s *Server) {
			mustCreateRG(t, s, "rg1")
			if r := s.Do(t, "PUT", wsPath(s, "rg1", "ws1")+av, `{"location":"eastus"}`); r.Status >= 300 {
				t.Fatalf("PUT workspace: %d %s", r.Status, r.Body)
			}
			for _, p := range own(s) {
				wantError(t, p, s.Do(t, "PUT", p, `{"properties":{"policyDefinitionId":"x"}}`), 400, "InvalidResourceType", "")
				if r := s.Do(t, "GET", p, nil); r.Status != 404 {
					t.Errorf("GET %s after the refused PUT: %d %s, want 404", p, r.Status, r.Body)
				}
			}
		})
	})
	t.Run("enabled", func(t *testing.T) {
		eachBackend(t, func(c *resources.Config) { c.GenericProviders = true }, func(t *testing.T, s *Server) {
			mustCreateRG(t, s, "rg1")
			if r := s.Do(t, "PUT", evil(s), `{"location":"global","properties":{"n":1.50}}`); r.Status != 201 {
				t.Fatalf("PUT Evil.Provider with generic providers: %d %s, want 201", r.Status, r.Body)
			}
			if r := s.Do(t, "GET", evil(s), nil); r.Status != 200 || !strings.Contains(string(r.Body), `"n":1.50`) {
				t.Errorf("GET: %d %s", r.Status, r.Body)
			}
		})
	})
}
