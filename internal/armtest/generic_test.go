package armtest

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
)

// The generic resource operations of @azure/arm-resources (getById,
// createOrUpdateById, updateById, deleteById, checkExistenceById, their
// by-name forms, list, listByResourceGroup) on every type mlgov stores,
// with the status codes the SDK accepts.

// genericCase is one type's resource for the generic operations.
type genericCase struct {
	typ  string
	path string // resource id, after the earlier cases made its parents
	av   string // api-version the caller chooses
	body string
	// patch is the updateById body; listed: in the resource lists
	// (tracked); deleteQuery: what a DELETE of the type needs besides
	// the api-version (the generic deleteById cannot send it).
	patch, deleteQuery string
	listed             bool
	// readOnly types are made by the resource provider (a key's
	// versions): createOrUpdateById and deleteById are refused with 400.
	readOnly bool
	// noPatch types are not updated (a deployment is PUT again):
	// updateById is refused with 405.
	noPatch bool
}

const mlGenericAV = "2022-10-01" // @azure/arm-machinelearning 2.1.1's

func genericCases(s *Server) []genericCase {
	rg := s.RG("rg1")
	ws := wsPath(s, "rg1", "ws1")
	ml := rg + "/providers/Microsoft.MachineLearningServices"
	st := storagePath(s, "rg1", "st1")
	net := rg + "/providers/Microsoft.Network"
	tags := `{"tags":{"generic":"yes"}}`
	props := `{"properties":{"description":"patched"}}`
	res := `{"location":"eastus","properties":{}}`
	def := s.sub() + "/providers/Microsoft.Authorization/policyDefinitions/gdef"
	asg := rg + "/providers/Microsoft.Authorization/policyAssignments/gasg"
	modDef := s.sub() + "/providers/Microsoft.Authorization/policyDefinitions/gmod"
	modAsg := rg + "/providers/Microsoft.Authorization/policyAssignments/gmodasg"
	return []genericCase{
		{typ: "Microsoft.Storage/storageAccounts", path: st, av: "2023-05-01", body: res, patch: tags, listed: true},
		{typ: "Microsoft.KeyVault/vaults", path: rg + "/providers/Microsoft.KeyVault/vaults/kv1", av: "2023-07-01", body: res, patch: tags, listed: true},
		{typ: "Microsoft.KeyVault/vaults/keys", path: rg + "/providers/Microsoft.KeyVault/vaults/kv1/keys/k1", av: "2023-07-01", body: `{"properties":{"kty":"RSA"}}`, patch: tags},
		{typ: "Microsoft.KeyVault/vaults/keys/versions", path: rg + "/providers/Microsoft.KeyVault/vaults/kv1/keys/k1/versions/v1", av: "2023-07-01", body: `{"properties":{}}`, readOnly: true},
		{typ: "Microsoft.ContainerRegistry/registries", path: rg + "/providers/Microsoft.ContainerRegistry/registries/acr1", av: "2023-07-01", body: res, patch: tags, listed: true},
		{typ: "Microsoft.Insights/components", path: rg + "/providers/Microsoft.Insights/components/ai1", av: "2020-02-02", body: res, patch: tags, listed: true},
		{typ: "Microsoft.Security/assessments", path: rg + "/providers/Microsoft.ContainerRegistry/registries/acr1/providers/Microsoft.Security/assessments/gassess", av: "2021-06-01",
			body: `{"properties":{"resourceDetails":{"source":"Azure"},"status":{"code":"Healthy"}}}`, patch: `{"properties":{"status":{"code":"Unhealthy"}}}`},
		{typ: "Microsoft.Security/assessments/subAssessments", path: rg + "/providers/Microsoft.ContainerRegistry/registries/acr1/providers/Microsoft.Security/assessments/gassess/subAssessments/gsub",
			av: "2019-01-01-preview", body: `{"properties":{}}`, readOnly: true},
		{typ: "Microsoft.Security/subAssessments", path: rg + "/providers/Microsoft.Security/subAssessments/gsub", av: "2019-01-01-preview", body: `{"properties":{}}`, readOnly: true},
		{typ: "Microsoft.Insights/diagnosticSettings", path: st + "/providers/Microsoft.Insights/diagnosticSettings/d1", av: "2021-05-01-preview", body: `{"properties":{}}`, patch: props},
		{typ: "Microsoft.ManagedIdentity/userAssignedIdentities", path: rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1", av: "2023-01-31", body: res, patch: tags, listed: true},
		{typ: "Microsoft.Network/virtualNetworks", path: net + "/virtualNetworks/vnet1", av: "2023-09-01", body: res, patch: tags, listed: true},
		{typ: "Microsoft.Network/virtualNetworks/subnets", path: net + "/virtualNetworks/vnet1/subnets/sn1", av: "2023-09-01", body: `{"properties":{}}`, patch: props},
		{typ: "Microsoft.Network/privateEndpoints", path: net + "/privateEndpoints/pe1", av: "2023-09-01", body: res, patch: tags, listed: true},
		{typ: "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", path: net + "/privateEndpoints/pe1/privateDnsZoneGroups/g1", av: "2023-09-01", body: `{"properties":{}}`, patch: props},
		{typ: "Microsoft.Network/privateDnsZones", path: net + "/privateDnsZones/z1.example", av: "2020-06-01", body: `{"location":"global"}`, patch: tags, listed: true},
		{typ: "Microsoft.Network/privateDnsZones/virtualNetworkLinks", path: net + "/privateDnsZones/z1.example/virtualNetworkLinks/l1", av: "2020-06-01", body: `{"location":"global","properties":{}}`, patch: tags, listed: true},
		{typ: "Microsoft.MachineLearningServices/workspaces", path: ws, av: mlGenericAV, body: `{"location":"eastus"}`, patch: tags, listed: true},
		{typ: "Microsoft.MachineLearningServices/workspaces/computes", path: ws + "/computes/c1", av: mlGenericAV,
			// scaleSettings given: without, the defaults leave a
			// scaleSettings without maxNodeCount that a PATCH's
			// validation then refuses (ml.go).
			body: `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`, patch: tags, deleteQuery: "underlyingResourceAction=Delete", listed: true},
		{typ: "Microsoft.MachineLearningServices/workspaces/jobs", path: ws + "/jobs/j1", av: mlGenericAV,
			body: `{"properties":{"jobType":"Command","command":"python x.py","environmentId":"e"}}`, patch: `{"properties":{"description":"patched"}}`},
		{typ: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints", path: ws + "/onlineEndpoints/ep1", av: mlGenericAV, body: `{"location":"eastus","properties":{"authMode":"Key"}}`, patch: tags, listed: true},
		{typ: "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments", path: ws + "/onlineEndpoints/ep1/deployments/blue", av: mlGenericAV, body: res, patch: tags, listed: true},
		{typ: "Microsoft.MachineLearningServices/workspaces/batchEndpoints", path: ws + "/batchEndpoints/bep1", av: mlGenericAV, body: res, patch: tags, listed: true},
		{typ: "Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments", path: ws + "/batchEndpoints/bep1/deployments/d1", av: mlGenericAV, body: res, patch: tags, listed: true},
		{typ: "Microsoft.MachineLearningServices/workspaces/datastores", path: ws + "/datastores/ds1", av: mlGenericAV, body: `{"properties":{"datastoreType":"AzureBlob"}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/connections", path: ws + "/connections/conn1", av: mlGenericAV, body: `{"properties":{"category":"Git","target":"https://example.com"}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/outboundRules", path: ws + "/outboundRules/rule1", av: mlGenericAV, body: `{"properties":{"type":"FQDN","destination":"example.com"}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/managedNetworks", path: ws + "/managedNetworks/default", av: mlGenericAV, body: `{"properties":{}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections", path: ws + "/privateEndpointConnections/pec1", av: mlGenericAV, body: `{"properties":{}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/codes", path: ws + "/codes/code1", av: mlGenericAV, body: `{"properties":{}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/codes/versions", path: ws + "/codes/code1/versions/1", av: mlGenericAV, body: `{"properties":{"codeUri":"https://sa.blob.core.windows.net/c/src"}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/components", path: ws + "/components/comp1", av: mlGenericAV, body: `{"properties":{}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/components/versions", path: ws + "/components/comp1/versions/1", av: mlGenericAV, body: `{"properties":{"componentSpec":{"name":"comp1","type":"command"}}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/data", path: ws + "/data/data1", av: mlGenericAV, body: `{"properties":{"dataType":"uri_folder"}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/data/versions", path: ws + "/data/data1/versions/1", av: mlGenericAV, body: `{"properties":{"dataType":"uri_folder","dataUri":"azureml://datastores/ds/paths/d1/"}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/environments", path: ws + "/environments/env1", av: mlGenericAV, body: `{"properties":{}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/environments/versions", path: ws + "/environments/env1/versions/1", av: mlGenericAV, body: `{"properties":{"image":"mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/models", path: ws + "/models/model1", av: mlGenericAV, body: `{"properties":{}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/models/versions", path: ws + "/models/model1/versions/1", av: mlGenericAV, body: `{"properties":{"modelUri":"azureml://datastores/ds/paths/m1"}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/workspaces/schedules", path: ws + "/schedules/nightly", av: mlGenericAV,
			body: `{"properties":{"action":{"actionType":"CreateJob","jobDefinition":{"jobType":"Command"}},"trigger":{"triggerType":"Cron","expression":"0 2 * * *"}}}`, patch: props},
		{typ: "Microsoft.MachineLearningServices/registries", path: ml + "/registries/reg1", av: mlGenericAV, body: res, patch: tags, listed: true},
		{typ: "Microsoft.Authorization/policyDefinitions", path: def, av: "2025-03-01",
			body: `{"properties":{"mode":"All","policyRule":{"if":{"field":"type","equals":"Contoso.X/y"},"then":{"effect":"Audit"}}}}`, patch: props},
		{typ: "Microsoft.Authorization/policySetDefinitions", path: s.sub() + "/providers/Microsoft.Authorization/policySetDefinitions/gset", av: "2025-03-01",
			body: `{"properties":{"policyDefinitions":[{"policyDefinitionId":"` + def + `"}]}}`, patch: props},
		{typ: "Microsoft.Authorization/policyAssignments", path: asg, av: "2025-03-01", body: `{"properties":{"policyDefinitionId":"` + def + `"}}`, patch: props},
		// A Modify definition, assigned with an identity, and a
		// remediation of it (which finds nothing to do).
		{typ: "Microsoft.Authorization/policyDefinitions", path: modDef, av: "2025-03-01",
			body: `{"properties":{"mode":"All","policyRule":{"if":{"field":"type","equals":"Contoso.X/y"},"then":{"effect":"Modify","details":{"roleDefinitionIds":["/providers/microsoft.authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],"operations":[{"operation":"addOrReplace","field":"tags.x","value":"y"}]}}}}}`, patch: props},
		{typ: "Microsoft.Authorization/policyAssignments", path: modAsg, av: "2025-03-01", body: `{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"` + modDef + `"}}`, patch: props},
		{typ: "Microsoft.PolicyInsights/remediations", path: rg + "/providers/Microsoft.PolicyInsights/remediations/grem", av: "2024-10-01",
			body: `{"properties":{"policyAssignmentId":"` + modAsg + `"}}`, patch: props},
		{typ: "Microsoft.Authorization/policyExemptions", path: rg + "/providers/Microsoft.Authorization/policyExemptions/gex", av: "2022-07-01-preview",
			body: `{"properties":{"policyAssignmentId":"` + asg + `","exemptionCategory":"Waiver"}}`, patch: props},
		{typ: "Microsoft.Authorization/policyDefinitions", path: s.sub() + "/providers/Microsoft.Authorization/policyDefinitions/gman", av: "2025-03-01",
			body: `{"properties":{"mode":"All","policyRule":{"if":{"field":"type","equals":"Microsoft.Storage/storageAccounts"},"then":{"effect":"manual"}}}}`, patch: props},
		{typ: "Microsoft.Authorization/policyAssignments", path: rg + "/providers/Microsoft.Authorization/policyAssignments/gmanasg", av: "2025-03-01",
			body: `{"properties":{"policyDefinitionId":"` + s.sub() + `/providers/Microsoft.Authorization/policyDefinitions/gman"}}`, patch: props},
		{typ: "Microsoft.PolicyInsights/attestations", path: st + "/providers/Microsoft.PolicyInsights/attestations/gatt", av: "2024-10-01",
			body:  `{"properties":{"policyAssignmentId":"` + rg + `/providers/Microsoft.Authorization/policyAssignments/gmanasg","complianceState":"Compliant"}}`,
			patch: `{"properties":{"comments":"patched"}}`},
		{typ: "Microsoft.Authorization/roleDefinitions", path: s.sub() + "/providers/Microsoft.Authorization/roleDefinitions/5c2f6c1e-1f0a-4d5e-9f3b-2a7b8c9d0e1f", av: "2022-04-01",
			body: `{"properties":{"roleName":"Generic reader","permissions":[{"actions":["*/read"]}],"assignableScopes":["` + s.sub() + `"]}}`, patch: `{"properties":{"description":"patched"}}`},
		{typ: "Microsoft.Authorization/roleAssignments", path: rg + "/providers/Microsoft.Authorization/roleAssignments/6d1b2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", av: "2022-04-01",
			body:  `{"properties":{"roleDefinitionId":"` + s.sub() + `/providers/Microsoft.Authorization/roleDefinitions/5c2f6c1e-1f0a-4d5e-9f3b-2a7b8c9d0e1f","principalId":"` + s.AdminObjectID + `"}}`,
			patch: `{"properties":{"description":"patched"}}`},
		{typ: "Microsoft.Resources/deployments", path: rg + "/providers/Microsoft.Resources/deployments/gdep", av: "2026-06-01",
			body: `{"properties":{"mode":"Incremental","template":{"$schema":"` + rgSchema + `","contentVersion":"1.0.0.0","resources":[]}}}`, noPatch: true},
		{typ: "Microsoft.Resources/deployments/operations", path: rg + "/providers/Microsoft.Resources/deployments/gdep/operations/0000000000000000", av: "2026-06-01", body: `{"properties":{}}`, readOnly: true},
		{typ: "Microsoft.Management/managementGroups", path: mgPath("gen-mg"), av: "2021-04-01", body: `{"properties":{"displayName":"generic"}}`, patch: `{"displayName":"patched"}`},
		{typ: "Microsoft.Management/managementGroups/subscriptions", path: mgPath("gen-mg") + "/subscriptions/" + s.SubscriptionID, av: "2021-04-01", patch: `{}`},
		{typ: "Microsoft.Subscription/aliases", path: "/providers/Microsoft.Subscription/aliases/gen-alias", av: "2021-10-01", body: `{"properties":{"displayName":"generic","workload":"DevTest"}}`, patch: `{}`},
		{typ: "Mlgov.Governance/landingZones", path: "/providers/Mlgov.Governance/landingZones/gen-lz", av: "2026-12-01",
			body: `{"properties":{"team":"` + s.AdminObjectID + `","template":{"managementGroup":{"name":"gen-lz-mg"}}}}`, noPatch: true},
		// Last: deleted first, before it would refuse the others' deletes.
		{typ: "Microsoft.Authorization/locks", path: rg + "/providers/Microsoft.Authorization/locks/glock", av: "2016-09-01",
			body: `{"properties":{"level":"CanNotDelete"}}`, patch: `{"properties":{"notes":"patched"}}`},
	}
}

// byName is the by-name form of a resource id in a resource group, as
// @azure/arm-resources builds it: lower-case resourcegroups, and an empty
// parentResourcePath leaves "//" (which ARM collapses).
func byName(t *testing.T, id string) string {
	t.Helper()
	p, err := arm.ParseID(id)
	if err != nil || p.ResourceGroup == "" || p.IsExtension() {
		return ""
	}
	parent := ""
	for _, q := range p.Parts[:len(p.Parts)-1] {
		parent += q.Type + "/" + q.Name + "/"
	}
	last := p.Parts[len(p.Parts)-1]
	return "/subscriptions/" + p.SubscriptionID + "/resourcegroups/" + p.ResourceGroup + "/providers/" + p.Parts[0].Namespace + "/" +
		strings.TrimSuffix(parent, "/") + "/" + last.Type + "/" + last.Name
}

// settle waits for the operation a write answered with (if any) and
// checks that it succeeded.
func (s *Server) settle(t *testing.T, what string, r *Response) {
	t.Helper()
	if op := r.Header.Get("Azure-AsyncOperation"); op != "" {
		if st := s.WaitLRO(t, op); st != "Succeeded" {
			t.Fatalf("%s: the operation ended %s", what, st)
		}
	}
}

func wantStatus(t *testing.T, what string, r *Response, ok ...int) bool {
	t.Helper()
	if !slices.Contains(ok, r.Status) {
		t.Errorf("%s: %d %.400s, want one of %v (what @azure/arm-resources 8.0.0 accepts)", what, r.Status, r.Body, ok)
		return false
	}
	return true
}

// TestGenericByID: every type the registry serves has a case, and for
// each the by-id and by-name calls answer what the SDK accepts: create
// 200/201/202 (then the operation completes), get 200, checkExistence
// 204 then 404, update 200/202, list or not as ARM lists it, delete
// 200/202/204 (204 for one that is already gone).
func TestGenericByID(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		cases := genericCases(s)
		covered := map[string]bool{}
		for _, c := range cases {
			covered[arm.KeyOf(c.typ)] = true
		}
		for _, typ := range s.Manager.Registry().Types() {
			if !covered[arm.KeyOf(typ)] {
				t.Errorf("no generic-operations case for the served type %s: add one to genericCases", typ)
			}
		}
		q := func(c genericCase) string { return "?api-version=" + c.av }
		for _, c := range cases {
			if c.readOnly {
				wantError(t, c.typ+" createOrUpdateById", s.Do(t, "PUT", c.path+q(c), c.body), 400, "OperationNotSupported", "", "read-only")
				continue
			}
			r := s.Do(t, "PUT", c.path+q(c), c.body)
			if !wantStatus(t, c.typ+" createOrUpdateById", r, 200, 201, 202) {
				continue
			}
			s.settle(t, c.typ+" createOrUpdateById", r)
			got := s.Do(t, "GET", c.path+q(c), nil)
			if wantStatus(t, c.typ+" getById", got, 200) && !strings.EqualFold(got.JSON()["id"].(string), c.path) {
				t.Errorf("%s getById: id %v", c.typ, got.JSON()["id"])
			}
			wantStatus(t, c.typ+" checkExistenceById", s.Do(t, "HEAD", c.path+q(c), nil), 204)
			if strings.Contains(c.typ, "MachineLearningServices") {
				// An api-version the type does not serve: refused as by
				// GET, not answered 204 (HEAD has no body to say why).
				wantStatus(t, c.typ+" checkExistenceById with api-version 2015-01-01", s.Do(t, "HEAD", c.path+"?api-version=2015-01-01", nil), 400)
			}
			if n := byName(t, c.path); n != "" {
				wantStatus(t, c.typ+" get (by name)", s.Do(t, "GET", n+q(c), nil), 200)
				wantStatus(t, c.typ+" checkExistence (by name)", s.Do(t, "HEAD", n+q(c), nil), 204)
			}
			if c.noPatch {
				wantError(t, c.typ+" updateById", s.Do(t, "PATCH", c.path+q(c), `{"tags":{}}`), 405, "MethodNotAllowed", "")
				continue
			}
			r = s.Do(t, "PATCH", c.path+q(c), c.patch)
			if wantStatus(t, c.typ+" updateById", r, 200, 202) {
				s.settle(t, c.typ+" updateById", r)
				if strings.Contains(c.patch, "generic") {
					if tags, _ := s.Do(t, "GET", c.path+q(c), nil).JSON()["tags"].(map[string]any); tags["generic"] != "yes" {
						t.Errorf("%s updateById: tags %v", c.typ, tags)
					}
				}
			}
		}
		listed := map[string]bool{}
		for _, it := range s.listAll(t, s.RG("rg1")+"/resources"+tav) {
			listed[strings.ToLower(it["id"].(string))] = true
		}
		for _, c := range cases {
			if listed[strings.ToLower(c.path)] != c.listed && !strings.HasPrefix(c.path, s.sub()+"/providers/") {
				t.Errorf("%s: in listByResourceGroup %v, want %v (ARM lists tracked resources only)", c.typ, !c.listed, c.listed)
			}
		}
		// Deletes, children first.
		for i := len(cases) - 1; i >= 0; i-- {
			c := cases[i]
			if c.readOnly {
				wantError(t, c.typ+" deleteById", s.Do(t, "DELETE", c.path+q(c), nil), 400, "OperationNotSupported", "", "read-only")
				continue
			}
			if c.deleteQuery != "" {
				// The generic deleteById cannot send the type's required
				// query parameter: a clear 400 that names it.
				wantError(t, c.typ+" deleteById without "+c.deleteQuery, s.Do(t, "DELETE", c.path+q(c), nil), 400, "InvalidQueryParameter", "", strings.Split(c.deleteQuery, "=")[0])
			}
			path := c.path + q(c)
			if c.deleteQuery != "" {
				path += "&" + c.deleteQuery
			}
			r := s.Do(t, "DELETE", path, nil)
			if !wantStatus(t, c.typ+" deleteById", r, 200, 202, 204) {
				continue
			}
			s.settle(t, c.typ+" deleteById", r)
			wantStatus(t, c.typ+" checkExistenceById after delete", s.Do(t, "HEAD", c.path+q(c), nil), 404)
			wantStatus(t, c.typ+" getById after delete", s.Do(t, "GET", c.path+q(c), nil), 404)
			wantStatus(t, c.typ+" deleteById again", s.Do(t, "DELETE", path, nil), 200, 204)
		}
	})
}

// listAll follows a list's nextLinks.
func (s *Server) listAll(t *testing.T, path string) []map[string]any {
	t.Helper()
	return s.listAllAs(t, s.token, path)
}

// listAllAs is listAll with a caller's token.
func (s *Server) listAllAs(t *testing.T, token, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for pages := 0; path != ""; pages++ {
		r := s.DoAs(t, token, "GET", path, nil)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		m := r.JSON()
		vals, _ := m["value"].([]any)
		for _, v := range vals {
			out = append(out, v.(map[string]any))
		}
		next, _ := m["nextLink"].(string)
		path = strings.TrimPrefix(next, s.URL)
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	return out
}

func names(items []map[string]any) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it["name"].(string))
	}
	slices.Sort(out)
	return out
}

// TestGenericList: the resource lists of a subscription and of a resource
// group list tracked resources (nested ones as "parent/child"), never
// proxy or extension resources, groups or the subscription; $filter
// (resourceType, name, resourceGroup, location, tags, substringof,
// startswith, and/or) selects, an unsupported one is a 400 naming it;
// $expand adds times and state; $top pages; moves are refused.
func TestGenericList(t *testing.T) {
	eachBackend(t, func(c *resources.Config) { c.GenericProviders = true }, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		mustCreateRG(t, s, "rg2")
		st1 := storagePath(s, "rg1", "st1")
		s.put(t, st1+storageAV, `{"location":"eastus","tags":{"env":"prod"},"properties":{}}`, 201)
		s.put(t, storagePath(s, "rg2", "st2")+storageAV, `{"location":"westus","properties":{}}`, 201)
		s.put(t, s.RG("rg1")+"/providers/Microsoft.KeyVault/vaults/kv1?api-version=2023-07-01", `{"location":"eastus","tags":{"ENV":"dev","team":"ml"},"properties":{}}`, 201)
		ws := wsPath(s, "rg1", "ws1")
		s.settle(t, "workspace", s.put(t, ws+av, `{"location":"eastus"}`, 201))
		s.settle(t, "compute", s.put(t, ws+"/computes/c1"+av, computeBody, 201))
		s.put(t, ws+"/jobs/j1"+av, `{"properties":{"jobType":"Command","command":"python x.py","environmentId":"e"}}`, 201)
		s.put(t, s.RG("rg1")+"/providers/Microsoft.Network/virtualNetworks/v1?api-version=2023-09-01", `{"location":"eastus","properties":{}}`, 201)
		s.put(t, s.RG("rg1")+"/providers/Microsoft.Network/virtualNetworks/v1/subnets/sn1?api-version=2023-09-01", `{"properties":{}}`, 201)
		s.put(t, st1+"/providers/Microsoft.Insights/diagnosticSettings/d1?api-version=2021-05-01-preview", `{"properties":{}}`, 201)
		def := s.define(t, "audit-x", "All", `{"if":{"field":"type","equals":"Contoso.X/y"},"then":{"effect":"Audit"}}`, "")
		s.assign(t, s.RG("rg1"), "audit-x", def, "")
		s.put(t, s.RG("rg1")+"/providers/Contoso.Widgets/widgets/w1?api-version=2024-01-01", `{"location":"eastus","properties":{}}`, 201)
		s.put(t, s.RG("rg1")+"/providers/Contoso.Widgets/settings/p1?api-version=2024-01-01", `{"properties":{}}`, 201)

		rg1 := []string{"kv1", "st1", "v1", "w1", "ws1", "ws1/c1"}
		if d := cmp.Diff(rg1, names(s.listAll(t, s.RG("rg1")+"/resources"+tav))); d != "" {
			t.Errorf("listByResourceGroup (-want +got):\n%s", d)
		}
		all := append(slices.Clone(rg1), "st2")
		slices.Sort(all)
		if d := cmp.Diff(all, names(s.listAll(t, s.sub()+"/resources"+tav))); d != "" {
			t.Errorf("list (-want +got):\n%s", d)
		}
		for _, it := range s.listAll(t, s.sub()+"/resources"+tav) {
			if it["name"] == "ws1/c1" && it["type"] != "Microsoft.MachineLearningServices/workspaces/computes" {
				t.Errorf("nested item: %v", it)
			}
		}

		filters := []struct{ filter, scope string }{
			{"resourceType eq 'Microsoft.Storage/storageAccounts'", "st1 st2"},
			{"resourceType eq 'microsoft.machinelearningservices/workspaces/computes'", "ws1/c1"},
			{"resourceType ne 'Microsoft.Storage/storageAccounts' and resourceGroup eq 'rg1'", "kv1 v1 w1 ws1 ws1/c1"},
			{"name eq 'WS1/c1'", "ws1/c1"},
			{"substringof('st', name)", "st1 st2"},
			{"substringof('G2', resourceGroup)", "st2"},
			{"resourceGroup eq 'RG2'", "st2"},
			{"location eq 'West US'", "st2"},
			{"location ne 'eastus'", "st2"},
			{"tagName eq 'env'", "kv1 st1"},
			{"tagName eq 'env' and tagValue eq 'prod'", "st1"},
			{"tagname eq 'ENV' and tagvalue eq 'DEV'", "kv1"},
			{"startswith(tagName, 'te')", "kv1"},
			{"resourceType eq 'Microsoft.Storage/storageAccounts' and (substringof('1', name) or location eq 'westus')", "st1 st2"},
			{"(tagName eq 'team') or name eq 'w1'", "kv1 w1"},
		}
		for _, f := range filters {
			got := names(s.listAll(t, s.sub()+"/resources"+tav+"&$filter="+url.QueryEscape(f.filter)))
			if d := cmp.Diff(strings.Fields(f.scope), got); d != "" {
				t.Errorf("$filter=%s (-want +got):\n%s", f.filter, d)
			}
		}
		if got := names(s.listAll(t, s.RG("rg1")+"/resources"+tav+"&$filter="+url.QueryEscape("resourceType eq 'Microsoft.Storage/storageAccounts'"))); !slices.Equal(got, []string{"st1"}) {
			t.Errorf("listByResourceGroup with a type filter: %v", got)
		}
		bad := []struct{ filter, part string }{
			{"tagValue eq 'prod'", "paired"},
			{"tagName eq 'a' and tagName eq 'b' and tagValue eq 'c'", "exactly one tagName"},
			{"tagName ne 'env'", "eq only"},
			{"plan eq 'x'", "'plan' is not supported"},
			{"identity/principalId eq 'x'", "not supported"},
			{"foo eq 'x'", "unknown property 'foo'"},
			{"name gt 'a'", "'gt' is not supported"},
			{"name eq 'open", "unterminated string"},
			{"name eq x", "single quotes"},
			{"substringof('x', location)", "name and resourceGroup only"},
			{"endswith(name, 'x')", "'endswith' is not supported"},
			{"startswith(name, 'x')", "tagName only"},
			{"name eq 'a' and", "found the end"},
			{"(name eq 'a'", "expected ')'"},
			{"name eq 'a' name eq 'b'", "unexpected"},
			{strings.Repeat("(", 40) + "name eq 'a'" + strings.Repeat(")", 40), "nested more than 32"},
		}
		for _, b := range bad {
			r := s.Do(t, "GET", s.sub()+"/resources"+tav+"&$filter="+url.QueryEscape(b.filter), nil)
			wantError(t, "$filter="+b.filter, r, 400, "InvalidFilter", "$filter", b.part)
		}
		wantError(t, "bad filter on a group's list", s.Do(t, "GET", s.RG("rg1")+"/resources"+tav+"&$filter="+url.QueryEscape("name lt 'x'"), nil), 400, "InvalidFilter", "$filter", "'lt'")

		// $expand.
		items := s.listAll(t, s.RG("rg1")+"/resources"+tav+"&$expand="+url.QueryEscape("createdTime, changedTime,provisioningState"))
		for _, it := range items {
			if it["createdTime"] == nil || it["changedTime"] == nil {
				t.Errorf("$expand: %s has no createdTime/changedTime", it["name"])
			}
			if it["name"] == "ws1" && it["provisioningState"] != "Succeeded" {
				t.Errorf("$expand=provisioningState: %v", it["provisioningState"])
			}
		}
		if len(items) != len(rg1) {
			t.Errorf("$expand changed the list: %d items", len(items))
		}
		wantError(t, "$expand=properties", s.Do(t, "GET", s.RG("rg1")+"/resources"+tav+"&$expand=properties", nil), 400, "InvalidQueryParameter", "$expand", "'properties'")

		// $top pages.
		p := s.Do(t, "GET", s.sub()+"/resources"+tav+"&$top=2", nil).JSON()
		if vals, _ := p["value"].([]any); len(vals) != 2 || p["nextLink"] == nil {
			t.Errorf("$top=2: %v", p)
		}
		if got := names(s.listAll(t, s.sub()+"/resources"+tav+"&$top=2")); !slices.Equal(got, all) {
			t.Errorf("pages of 2: %v", got)
		}
		if got := names(s.listAll(t, s.sub()+"/resources"+tav+"&$top=1&$filter="+url.QueryEscape("tagName eq 'env'"))); !slices.Equal(got, []string{"kv1", "st1"}) {
			t.Errorf("filtered pages of 1: %v", got)
		}

		// Resource groups: their $filter is tags only.
		s.put(t, s.RG("rg2")+"?api-version=2021-04-01", `{"location":"eastus","tags":{"stage":"qa"}}`, 200)
		if got := names(s.listAll(t, s.sub()+"/resourcegroups"+tav+"&$filter="+url.QueryEscape("tagName eq 'stage' and tagValue eq 'qa'"))); !slices.Equal(got, []string{"rg2"}) {
			t.Errorf("resource groups by tag: %v", got)
		}
		wantError(t, "groups by name", s.Do(t, "GET", s.sub()+"/resourcegroups"+tav+"&$filter="+url.QueryEscape("name eq 'rg2'"), nil), 400, "InvalidFilter", "$filter", "tagName")

		// Refusals.
		wantError(t, "missing group", s.Do(t, "GET", s.RG("nope")+"/resources"+tav, nil), 404, "ResourceGroupNotFound", "")
		for _, move := range []string{"moveResources", "validateMoveResources"} {
			wantError(t, move, s.Do(t, "POST", s.RG("rg1")+"/"+move+tav, `{"resources":["`+st1+`"],"targetResourceGroup":"`+s.RG("rg2")+`"}`), 400, "OperationNotSupported", "", move)
		}
		if g := s.Do(t, "GET", st1+storageAV, nil); g.Status != 200 {
			t.Errorf("a refused move moved: %d", g.Status)
		}
		wantError(t, "POST resources", s.Do(t, "POST", s.sub()+"/resources"+tav, "{}"), 405, "MethodNotAllowed", "")
	})
}
