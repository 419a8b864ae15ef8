package armtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The governance scenarios: policy resources written through the API and
// enforced on the writes that follow, on SQLite and PostgreSQL.

const pav = "?api-version=2025-03-01" // what @azure/arm-policy 7.x sends

func (s *Server) sub() string { return "/subscriptions/" + s.SubscriptionID }

// put sends a PUT and fails the test unless the status is want.
func (s *Server) put(t *testing.T, path, body string, want int) *Response {
	t.Helper()
	r := s.Do(t, "PUT", path, body)
	if r.Status != want {
		t.Fatalf("PUT %s: %d %s, want %d", path, r.Status, r.Body, want)
	}
	return r
}

// define creates a custom policy definition at the subscription.
func (s *Server) define(t *testing.T, name, mode, rule, params string) string {
	t.Helper()
	if params == "" {
		params = "{}"
	}
	id := s.sub() + "/providers/Microsoft.Authorization/policyDefinitions/" + name
	s.put(t, id+pav, `{"properties":{"displayName":"`+name+` (custom)","mode":"`+mode+`","parameters":`+params+`,"policyRule":`+rule+`}}`, 201)
	return id
}

// assign assigns a definition (or initiative) at scope; props are extra
// assignment properties (a JSON object's members, without braces).
func (s *Server) assign(t *testing.T, scope, name, defID, props string) string {
	t.Helper()
	id := scope + "/providers/Microsoft.Authorization/policyAssignments/" + name
	if props != "" {
		props = "," + props
	}
	s.put(t, id+pav, `{"properties":{"displayName":"`+name+`","policyDefinitionId":"`+defID+`"`+props+`}}`, 201)
	return id
}

func mlBuiltin(t *testing.T, file string) string {
	t.Helper()
	id, ok := BuiltinID(file)
	if !ok {
		t.Skipf("SKIP: the built-in %s is not available (reference data %s absent)", file, SharedDir)
	}
	return id
}

const computeBody = `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2"}}}`
const computeNoLocalAuth = `{"location":"eastus","properties":{"computeType":"AmlCompute","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2"}}}`

// violation returns the first PolicyViolation info of a refusal.
func violation(t *testing.T, r *Response) map[string]any {
	t.Helper()
	if r.Status != 403 || r.ErrorCode() != "RequestDisallowedByPolicy" {
		t.Fatalf("want 403 RequestDisallowedByPolicy, got %d %s", r.Status, r.Body)
	}
	var body struct {
		Error struct {
			Target         string
			AdditionalInfo []struct {
				Type string
				Info map[string]any
			}
		}
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body.Error.AdditionalInfo) == 0 {
		t.Fatalf("no additionalInfo in %s", r.Body)
	}
	if ai := body.Error.AdditionalInfo[0]; ai.Type != "PolicyViolation" {
		t.Fatalf("additionalInfo type %q", ai.Type)
	}
	return body.Error.AdditionalInfo[0].Info
}

// policyEvents returns the Policy events of an effect for a resource.
func (s *Server) policyEvents(t *testing.T, effect, resourceID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range s.Events(t, "", 0) {
		on, _ := e["operationName"].(map[string]any)
		if on["value"] == "Microsoft.Authorization/policies/"+effect+"/action" && strings.EqualFold(fmt.Sprint(e["resourceId"]), resourceID) {
			out = append(out, e)
		}
	}
	return out
}

func (s *Server) mustWorkspace(t *testing.T, rg, ws string) string {
	t.Helper()
	mustCreateRG(t, s, rg)
	p := wsPath(s, rg, ws)
	if r := s.Do(t, "PUT", p+av, `{"location":"eastus"}`); r.Status >= 300 {
		t.Fatalf("PUT workspace: %d %s", r.Status, r.Body)
	}
	return p
}

// TestGovernDenyBuiltin: the ML built-in "Computes should have local
// authentication methods disabled" assigned with Deny refuses a compute
// with local auth, with §3.6's body (the assignment and definition ids,
// the evaluated expressions), writes nothing, logs the deny event; a
// compliant compute is created.
func TestGovernDenyBuiltin(t *testing.T) {
	def := mlBuiltin(t, "DisableLocalAuth_Audit.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		asg := s.assign(t, s.sub(), "no-local-auth", def, `"parameters":{"effect":{"value":"Deny"}}`)
		c1 := ws + "/computes/c1"
		r := s.Do(t, "PUT", c1+av, computeBody)
		info := violation(t, r)
		if !strings.EqualFold(fmt.Sprint(info["policyAssignmentId"]), asg) || fmt.Sprint(info["policyDefinitionId"]) != def ||
			info["policyDefinitionEffect"] != "Deny" || info["policyAssignmentName"] != "no-local-auth" {
			t.Errorf("violation info: %v", info)
		}
		ed, _ := info["evaluationDetails"].(map[string]any)
		exprs, _ := ed["evaluatedExpressions"].([]any)
		if len(exprs) < 3 || !strings.Contains(string(r.Body), `"path":"properties.disableLocalAuth"`) {
			t.Errorf("evaluated expressions: %v", ed)
		}
		if !strings.Contains(r.ErrorMessage(), "was disallowed by policy. Policy identifiers:") {
			t.Errorf("message: %s", r.ErrorMessage())
		}
		if g := s.Do(t, "GET", c1+av, nil); g.Status != 404 {
			t.Errorf("the denied compute was stored: %d", g.Status)
		}
		evs := s.policyEvents(t, "deny", c1)
		if len(evs) != 1 || evs[0]["level"] != "Error" {
			t.Fatalf("deny events: %v", evs)
		}
		props, _ := evs[0]["properties"].(map[string]any)
		pol, _ := props["policies"].(string)
		var pols []map[string]any
		if err := json.Unmarshal([]byte(pol), &pols); err != nil || len(pols) != 1 || !strings.EqualFold(fmt.Sprint(pols[0]["policyAssignmentId"]), asg) {
			t.Errorf("properties.policies is not the JSON string of the denying policies: %q (%v)", pol, err)
		}
		s.put(t, ws+"/computes/c2"+av, computeNoLocalAuth, 201)
		// DoNotEnforce: evaluated later for compliance, never blocks.
		s.put(t, asg+pav, `{"properties":{"policyDefinitionId":"`+def+`","parameters":{"effect":{"value":"Deny"}},"enforcementMode":"DoNotEnforce"}}`, 201)
		s.put(t, c1+av, computeBody, 201)
		if evs := s.policyEvents(t, "deny", c1); len(evs) != 1 {
			t.Errorf("DoNotEnforce logged a deny: %d events", len(evs))
		}
	})
}

// TestGovernModifyAndAudit: the Modify built-in stores a new workspace
// with publicNetworkAccess Disabled (and logs the modify), the Audit
// built-in lets the compute through and logs the audit event (Warning).
func TestGovernModifyAndAudit(t *testing.T) {
	mod := mlBuiltin(t, "Workspace_PublicNetworkAccessDisabled_Modify.json")
	aud := mlBuiltin(t, "DisableLocalAuth_Audit.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		pna := s.put(t, s.sub()+"/providers/Microsoft.Authorization/policyAssignments/pna"+pav,
			`{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"`+mod+`"}}`, 201)
		// The assignment's identity is a principal role assignments name
		// (what its remediations will act as): without principalType, the
		// directory's lookup finds it as a service principal.
		pid := pna.JSON()["identity"].(map[string]any)["principalId"].(string)
		if r := s.Do(t, "PUT", s.RG("rg1")+"/providers/Microsoft.Authorization/roleAssignments/"+uuidV4()+"?api-version=2022-04-01",
			`{"properties":{"roleDefinitionId":"`+roleIDByName(t, s, "Contributor")+`","principalId":"`+pid+`"}}`); r.Status != 201 || !strings.Contains(string(r.Body), `"principalType":"ServicePrincipal"`) {
			t.Errorf("a role for the policy assignment's identity: %d %s", r.Status, r.Body)
		}
		ws := wsPath(s, "rg1", "ws1")
		r := s.Do(t, "PUT", ws+"?api-version=2024-04-01", `{"location":"eastus","properties":{"publicNetworkAccess":"Enabled"}}`)
		if r.Status != 201 || !strings.Contains(string(r.Body), `"publicNetworkAccess":"Disabled"`) {
			t.Fatalf("PUT workspace under Modify: %d %s", r.Status, r.Body)
		}
		if g := s.Do(t, "GET", ws+av, nil); !strings.Contains(string(g.Body), `"publicNetworkAccess":"Disabled"`) {
			t.Errorf("GET: the modified value was not stored: %s", g.Body)
		}
		if evs := s.policyEvents(t, "modify", ws); len(evs) != 1 {
			t.Errorf("%d modify events, want 1", len(evs))
		}
		// An older api-version: the operation's condition is false.
		ws2 := wsPath(s, "rg1", "ws2")
		if r := s.Do(t, "PUT", ws2+"?api-version=2021-07-01", `{"location":"eastus","properties":{"publicNetworkAccess":"Enabled"}}`); r.Status != 201 || !strings.Contains(string(r.Body), `"publicNetworkAccess":"Enabled"`) {
			t.Errorf("PUT at 2021-07-01: %d %s", r.Status, r.Body)
		}
		s.assign(t, s.sub(), "audit-local-auth", aud, "")
		c := ws + "/computes/c1"
		s.put(t, c+av, computeBody, 201)
		evs := s.policyEvents(t, "audit", c)
		if len(evs) != 1 || evs[0]["level"] != "Warning" {
			t.Fatalf("audit events: %v", evs)
		}
		if cat, _ := evs[0]["category"].(map[string]any); cat["value"] != "Policy" {
			t.Errorf("category %v", cat)
		}
	})
}

// TestGovernScopes: notScopes, resource selectors, exemptions (waived
// resource group; expiry takes effect without any write) and overrides.
func TestGovernScopes(t *testing.T) {
	def := mlBuiltin(t, "DisableLocalAuth_Audit.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws1 := s.mustWorkspace(t, "rg1", "ws1")
		ws2 := s.mustWorkspace(t, "rg2", "ws2")
		deny := `"parameters":{"effect":{"value":"Deny"}}`
		asg := s.assign(t, s.sub(), "deny-local", def, deny+`,"notScopes":["`+s.RG("rg2")+`"]`)
		violation(t, s.Do(t, "PUT", ws1+"/computes/c1"+av, computeBody))
		s.put(t, ws2+"/computes/c1"+av, computeBody, 201)

		// Resource selectors: only westus resources.
		s.put(t, asg+pav, `{"properties":{"policyDefinitionId":"`+def+`",`+deny+`,"resourceSelectors":[{"name":"west","selectors":[{"kind":"resourceLocation","in":["westus"]}]}]}}`, 201)
		s.put(t, ws1+"/computes/c2"+av, computeBody, 201)
		violation(t, s.Do(t, "PUT", ws1+"/computes/c3"+av, strings.Replace(computeBody, "eastus", "westus", 1)))

		// Override: Deny → Audit.
		s.put(t, asg+pav, `{"properties":{"policyDefinitionId":"`+def+`",`+deny+`,"overrides":[{"kind":"policyEffect","value":"Audit"}]}}`, 201)
		s.put(t, ws1+"/computes/c4"+av, computeBody, 201)
		if evs := s.policyEvents(t, "audit", ws1+"/computes/c4"); len(evs) != 1 {
			t.Errorf("override to Audit: %d audit events", len(evs))
		}

		// Exemption of rg1, expiring in 3 seconds.
		s.put(t, asg+pav, `{"properties":{"policyDefinitionId":"`+def+`",`+deny+`}}`, 201)
		violation(t, s.Do(t, "PUT", ws1+"/computes/c5"+av, computeBody))
		exp := time.Now().UTC().Add(3 * time.Second).Format(time.RFC3339)
		s.put(t, s.RG("rg1")+"/providers/Microsoft.Authorization/policyExemptions/waive"+pav,
			`{"properties":{"policyAssignmentId":"`+asg+`","exemptionCategory":"Waiver","expiresOn":"`+exp+`"}}`, 201)
		s.put(t, ws1+"/computes/c5"+av, computeBody, 201)
		violation(t, s.Do(t, "PUT", ws2+"/computes/c5"+av, computeBody)) // rg2 is not exempt
		time.Sleep(3100 * time.Millisecond)                              // the exemption expires; nothing is written
		violation(t, s.Do(t, "PUT", ws1+"/computes/c6"+av, computeBody))
	})
}

// TestGovernCustom: the seed document's custom definitions (deny Spark
// jobs; deny computes with a public IP, effect by parameter),
// nonComplianceMessages, Append, DenyAction, an evaluation error, and an
// initiative passing its parameters to members by reference id.
func TestGovernCustom(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		spark := s.define(t, "deny-spark", "All",
			`{"if":{"allOf":[{"field":"Microsoft.MachineLearningServices/workspaces/jobs/jobType","in":["Spark"]}]},"then":{"effect":"Deny"}}`, "")
		pip := s.define(t, "deny-public-ip", "All",
			`{"if":{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces/computes"},{"field":"Microsoft.MachineLearningServices/workspaces/computes/computeType","notEquals":"AKS"},{"field":"Microsoft.MachineLearningServices/workspaces/computes/enableNodePublicIP","equals":true}]},"then":{"effect":"[parameters('effectType')]"}}`,
			`{"effectType":{"type":"String","defaultValue":"Deny","allowedValues":["Deny","Audit","Disabled"]}}`)
		s.assign(t, s.sub(), "no-spark", spark, `"nonComplianceMessages":[{"message":"Spark jobs are not allowed here."}]`)
		s.assign(t, s.sub(), "no-public-ip", pip, "")
		r := s.Do(t, "PUT", ws+"/jobs/j1"+av, `{"properties":{"jobType":"Spark","entry":{"file":"main.py"}}}`)
		info := violation(t, r)
		if !strings.Contains(r.ErrorMessage(), "Reasons: 'Spark jobs are not allowed here.'") {
			t.Errorf("the nonComplianceMessage is not the reason: %s", r.ErrorMessage())
		}
		if ed, _ := info["evaluationDetails"].(map[string]any); ed["reason"] != "Spark jobs are not allowed here." {
			t.Errorf("evaluationDetails.reason: %v", ed)
		}
		if r := s.Do(t, "PUT", ws+"/jobs/j2"+av, `{"properties":{"jobType":"Command","command":"python x.py","environmentId":"e"}}`); r.Status >= 300 {
			t.Errorf("a command job: %d %s", r.Status, r.Body)
		}
		violation(t, s.Do(t, "PUT", ws+"/computes/pub"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"enableNodePublicIP":true}}}`))
		s.put(t, ws+"/computes/priv"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"enableNodePublicIP":false}}}`, 201)

		// Append: a tag added when missing; a different value is refused.
		app := s.define(t, "append-owner", "Indexed",
			`{"if":{"field":"type","equals":"Microsoft.KeyVault/vaults"},"then":{"effect":"Append","details":[{"field":"tags['owner']","value":"platform"}]}}`, "")
		s.assign(t, s.RG("rg1"), "owner", app, "")
		kv := s.RG("rg1") + "/providers/Microsoft.KeyVault/vaults/kv1?api-version=2023-07-01"
		if r := s.put(t, kv, `{"location":"eastus","properties":{}}`, 201); !strings.Contains(string(r.Body), `"owner":"platform"`) {
			t.Errorf("Append: %s", r.Body)
		}
		violation(t, s.Do(t, "PUT", s.RG("rg1")+"/providers/Microsoft.KeyVault/vaults/kv2?api-version=2023-07-01", `{"location":"eastus","tags":{"owner":"me"},"properties":{}}`))

		// DenyAction: protected vaults cannot be deleted.
		da := s.define(t, "keep-vaults", "Indexed",
			`{"if":{"field":"tags['protect']","equals":"yes"},"then":{"effect":"DenyAction","details":{"actionNames":["delete"]}}}`, "")
		s.assign(t, s.RG("rg1"), "keep", da, "")
		kv3 := s.RG("rg1") + "/providers/Microsoft.KeyVault/vaults/kv3?api-version=2023-07-01"
		s.put(t, kv3, `{"location":"eastus","tags":{"protect":"yes","owner":"platform"},"properties":{}}`, 201)
		info = violation(t, s.Do(t, "DELETE", kv3, nil))
		if info["policyDefinitionEffect"] != "DenyAction" {
			t.Errorf("DenyAction info: %v", info)
		}
		if g := s.Do(t, "GET", kv3, nil); g.Status != 200 {
			t.Errorf("the protected vault was deleted: %d", g.Status)
		}
		if evs := s.policyEvents(t, "denyAction", strings.Split(kv3, "?")[0]); len(evs) != 1 {
			t.Errorf("%d denyAction events", len(evs))
		}
		// Deleting the resource group would delete the vault: refused
		// (mode Indexed, cascadeBehaviors deny by default).
		if r := s.Do(t, "DELETE", s.RG("rg1")+"?api-version=2021-04-01", nil); r.Status != 403 || !strings.Contains(string(r.Body), "keep-vaults") {
			t.Errorf("deleting the resource group of a protected vault: %d %s", r.Status, r.Body)
		}
		if g := s.Do(t, "GET", kv3, nil); g.Status != 200 {
			t.Errorf("the protected vault went with its resource group: %d", g.Status)
		}

		// An evaluation error blocks, naming the policy and the error.
		bad := s.define(t, "bad-eval", "All",
			`{"if":{"value":"[substring(field('name'), 0, 100)]","equals":"x"},"then":{"effect":"Audit"}}`, "")
		s.assign(t, s.RG("rg1"), "bad", bad, "")
		r = s.Do(t, "PUT", s.RG("rg1")+"/providers/Microsoft.KeyVault/vaults/kv4?api-version=2023-07-01", `{"location":"eastus","tags":{"owner":"platform"},"properties":{}}`)
		violation(t, r)
		if !strings.Contains(r.ErrorMessage(), "could not be evaluated") {
			t.Errorf("evaluation error message: %s", r.ErrorMessage())
		}
		s.Do(t, "DELETE", s.RG("rg1")+"/providers/Microsoft.Authorization/policyAssignments/bad"+pav, nil)

		// An initiative: its parameter passed to both members, reference
		// ids in the violation.
		set := s.sub() + "/providers/Microsoft.Authorization/policySetDefinitions/ml-guard"
		s.put(t, set+pav, `{"properties":{"displayName":"ML guard","parameters":{"eff":{"type":"String","defaultValue":"Audit"}},
			"policyDefinitions":[{"policyDefinitionReferenceId":"publicip","policyDefinitionId":"`+pip+`","parameters":{"effectType":{"value":"[parameters('eff')]"}}}]}}`, 201)
		s.Do(t, "DELETE", s.sub()+"/providers/Microsoft.Authorization/policyAssignments/no-public-ip"+pav, nil)
		s.put(t, ws+"/computes/pub2"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"enableNodePublicIP":true}}}`, 201)
		s.assign(t, s.sub(), "guard", set, `"parameters":{"eff":{"value":"Deny"}}`)
		info = violation(t, s.Do(t, "PUT", ws+"/computes/pub3"+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"enableNodePublicIP":true}}}`))
		if info["policyDefinitionReferenceId"] != "publicip" || !strings.EqualFold(fmt.Sprint(info["policySetDefinitionId"]), set) {
			t.Errorf("initiative violation: %v", info)
		}
		// The compute made before the initiative was assigned is found by
		// the scan of the change, and summarize counts it under the
		// initiative's reference.
		memberNC := func(body []byte) int {
			var sum struct {
				Value []struct {
					PolicyAssignments []struct {
						PolicyDefinitions []struct {
							Ref     string `json:"policyDefinitionReferenceId"`
							Effect  string `json:"effect"`
							Results struct {
								NonCompliantResources int `json:"nonCompliantResources"`
							} `json:"results"`
						} `json:"policyDefinitions"`
					} `json:"policyAssignments"`
				} `json:"value"`
			}
			json.Unmarshal(body, &sum)
			for _, v := range sum.Value {
				for _, a := range v.PolicyAssignments {
					for _, d := range a.PolicyDefinitions {
						if d.Ref == "publicip" && d.Effect == "deny" {
							return d.Results.NonCompliantResources
						}
					}
				}
			}
			return -1
		}
		var body []byte
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			body = s.Do(t, "POST", s.sub()+"/providers/Microsoft.PolicyInsights/policyStates/latest/summarize?api-version=2024-10-01", nil).Body
			if memberNC(body) == 1 {
				break
			}
		}
		if memberNC(body) != 1 {
			t.Errorf("summarize of the initiative's member: %.1500s", body)
		}
	})
}

// TestGovernBadInput: malformed definitions and assignments are refused
// with a stable code naming the bad part, and nothing is stored.
func TestGovernBadInput(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		def := s.sub() + "/providers/Microsoft.Authorization/policyDefinitions/"
		asg := s.sub() + "/providers/Microsoft.Authorization/policyAssignments/"
		good := s.define(t, "good", "All", `{"if":{"field":"type","equals":"Microsoft.KeyVault/vaults"},"then":{"effect":"[parameters('e')]"}}`,
			`{"e":{"type":"String","allowedValues":["Audit","Deny"]}}`)
		for _, tc := range []struct {
			name, path, body, code, target string
		}{
			{"rule not an object", def + "d1", `{"properties":{"mode":"All","policyRule":"hello"}}`, "InvalidPolicyRule", "/properties/policyRule"},
			{"unknown effect", def + "d2", `{"properties":{"mode":"All","policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"Banana"}}}}`, "", "/properties/policyRule/then/effect"},
			{"bad expression", def + "d3", `{"properties":{"mode":"All","policyRule":{"if":{"value":"[concat('a']","equals":"x"},"then":{"effect":"Audit"}}}}`, "", "/properties/policyRule/if/value"},
			{"unknown definition", asg + "a1", `{"properties":{"policyDefinitionId":"` + def + `nope"}}`, "PolicyDefinitionNotFound", "/properties/policyDefinitionId"},
			{"parameter of the wrong type", asg + "a2", `{"properties":{"policyDefinitionId":"` + good + `","parameters":{"e":{"value":3}}}}`, "", "/properties/parameters/e"},
			{"missing parameter", asg + "a3", `{"properties":{"policyDefinitionId":"` + good + `"}}`, "MissingPolicyParameter", ""},
			{"exemption of no assignment", s.RG("rg1") + "/providers/Microsoft.Authorization/policyExemptions/x1", `{"properties":{"policyAssignmentId":"` + asg + `nope","exemptionCategory":"Waiver"}}`, "", "/properties/policyAssignmentId"},
		} {
			if strings.Contains(tc.path, "rg1") {
				mustCreateRG(t, s, "rg1")
			}
			r := s.Do(t, "PUT", tc.path+pav, tc.body)
			var e struct {
				Error struct{ Code, Target, Message string }
			}
			json.Unmarshal(r.Body, &e)
			if r.Status != 400 || (tc.code != "" && e.Error.Code != tc.code) || (tc.target != "" && !strings.HasPrefix(e.Error.Target, tc.target)) || e.Error.Code == "" {
				t.Errorf("%s: %d %s, want 400 %s at %s", tc.name, r.Status, r.Body, tc.code, tc.target)
			}
			if g := s.Do(t, "GET", tc.path+pav, nil); g.Status != 404 {
				t.Errorf("%s: stored after the refusal (GET %d)", tc.name, g.Status)
			}
		}
	})
}
