package armtest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// checkPolicyRestrictions (Microsoft.PolicyInsights), as
// @azure/arm-policyinsights 6.x sends it, on both backends; and mlgov's
// what-if fields (docs/policy-what-if.md).

const (
	ruleAllowedLocations = `{"if":{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},{"not":{"field":"location","in":"[parameters('allowed')]"}}]},"then":{"effect":"deny"}}`
	paramsAllowed        = `{"allowed":{"type":"Array"}}`
	ruleTagModify        = `{"if":{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},"then":{"effect":"modify","details":{"roleDefinitionIds":["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],"operations":[{"operation":"addOrReplace","field":"tags['costCenter']","value":"ml-platform"}]}}}`
	ruleTagAppend        = `{"if":{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},{"field":"tags['owner']","exists":false}]},"then":{"effect":"append","details":[{"field":"tags['owner']","value":"platform-team"}]}}`
	ruleAuditPublic      = `{"if":{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},{"field":"Microsoft.MachineLearningServices/workspaces/publicNetworkAccess","notEquals":"Disabled"}]},"then":{"effect":"audit"}}`
	ruleNeedsCompute     = `{"if":{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},"then":{"effect":"auditIfNotExists","details":{"type":"Microsoft.MachineLearningServices/workspaces/computes","existenceCondition":{"field":"Microsoft.MachineLearningServices/workspaces/computes/computeType","equals":"AmlCompute"}}}}`
	ruleDeployCompute    = `{"if":{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},"then":{"effect":"deployIfNotExists","details":{"type":"Microsoft.MachineLearningServices/workspaces/computes","roleDefinitionIds":["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],"existenceCondition":{"field":"name","equals":"cpu"},"deployment":{"properties":{"mode":"incremental","template":{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0","parameters":{"ws":{"type":"string"},"location":{"type":"string"}},"resources":[{"type":"Microsoft.MachineLearningServices/workspaces/computes","apiVersion":"2024-04-01","name":"[concat(parameters('ws'), '/cpu')]","location":"[parameters('location')]","properties":{"computeType":"AmlCompute"}}]},"parameters":{"ws":{"value":"[field('name')]"},"location":{"value":"[field('location')]"}}}}}}}`
)

// checkAt posts a CheckRestrictionsRequest at scope and returns the
// answer (failing the test unless 200).
func (s *Server) checkAt(t *testing.T, scope, body string) map[string]any {
	t.Helper()
	r := s.Do(t, "POST", scope+"/providers/Microsoft.PolicyInsights/checkPolicyRestrictions"+iav, body)
	if r.Status != 200 {
		t.Fatalf("checkPolicyRestrictions at %s: %d %s", scope, r.Status, r.Body)
	}
	return r.JSON()
}

// restrictionsOf returns the restrictions of field in an answer.
func restrictionsOf(ans map[string]any, field string) []map[string]any {
	var out []map[string]any
	for _, f := range asSlice(ans["fieldRestrictions"]) {
		fm, _ := f.(map[string]any)
		if strings.EqualFold(fm["field"].(string), field) {
			for _, r := range asSlice(fm["restrictions"]) {
				out = append(out, r.(map[string]any))
			}
		}
	}
	return out
}

// evaluationsOf returns the policy evaluations of an assignment.
func evaluationsOf(ans map[string]any, assignment string) []map[string]any {
	cer, _ := ans["contentEvaluationResult"].(map[string]any)
	var out []map[string]any
	for _, e := range asSlice(cer["policyEvaluations"]) {
		em := e.(map[string]any)
		if info, _ := em["policyInfo"].(map[string]any); strings.EqualFold(info["policyAssignmentId"].(string), assignment) {
			out = append(out, em)
		}
	}
	return out
}

func effectOfEval(e map[string]any) string {
	d, _ := e["effectDetails"].(map[string]any)
	s, _ := d["policyEffect"].(string)
	return s
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestCheckPolicyRestrictionsDeny: an allowed-locations Deny restricts
// the pending field location: the values it refuses among those given,
// the values it requires when none are given; the content as given is
// reported NonCompliant with its evaluated expressions; at subscription
// scope without a resource group, the resource group's assignment is not
// met.
func TestCheckPolicyRestrictionsDeny(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		def := s.define(t, "allowed-locations", "Indexed", ruleAllowedLocations, paramsAllowed)
		asg := s.assign(t, s.RG("rg1"), "locations", def, `"parameters":{"allowed":{"value":["eastus","westus2"]}},"nonComplianceMessages":[{"message":"Only eastus and westus2."}]`)
		ws := `{"type":"Microsoft.MachineLearningServices/workspaces","name":"ws1"}`

		ans := s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":`+ws+`,"apiVersion":"2024-04-01"},"pendingFields":[{"field":"location","values":["eastus","westeurope","westus2","northeurope"]}]}`)
		rs := restrictionsOf(ans, "location")
		if len(rs) != 1 || rs[0]["result"] != "Deny" || jsonOf(rs[0]["values"]) != `["westeurope","northeurope"]` || rs[0]["policyEffect"] != "Deny" ||
			rs[0]["reason"] != "Only eastus and westus2." || !strings.EqualFold(rs[0]["policy"].(map[string]any)["policyAssignmentId"].(string), asg) ||
			rs[0]["policy"].(map[string]any)["policyDefinitionId"] != def {
			t.Errorf("location restrictions with values: %s", jsonOf(ans["fieldRestrictions"]))
		}

		ans = s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":`+ws+`},"pendingFields":[{"field":"location"}]}`)
		rs = restrictionsOf(ans, "location")
		if len(rs) != 1 || rs[0]["result"] != "Required" || jsonOf(rs[0]["values"]) != `["eastus","westus2"]` {
			t.Errorf("location restrictions without values: %s", jsonOf(ans["fieldRestrictions"]))
		}
		if n := len(restrictionsOf(ans, "name")); n != 0 {
			t.Errorf("name is not restricted: %d", n)
		}

		// The content: westeurope is denied, eastus passes.
		ans = s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"ws1","location":"westeurope"}}}`)
		ev := evaluationsOf(ans, asg)
		if len(ev) != 1 || ev[0]["evaluationResult"] != "NonCompliant" || effectOfEval(ev[0]) != "Deny" ||
			!strings.Contains(jsonOf(ev[0]["evaluationDetails"]), `"expression":"location","expressionKind":"Field"`) {
			t.Errorf("content evaluation (westeurope): %s", jsonOf(ans["contentEvaluationResult"]))
		}
		if len(asSlice(ans["fieldRestrictions"])) != 0 {
			t.Errorf("no pending fields, no restrictions: %s", jsonOf(ans["fieldRestrictions"]))
		}
		ans = s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"ws1","location":"eastus"}}}`)
		if ev := evaluationsOf(ans, asg); len(ev) != 0 {
			t.Errorf("content evaluation (eastus): %s", jsonOf(ev))
		}
		// resourceDetails.scope places the resource in rg1 from the
		// subscription; without it the assignment of rg1 is not met.
		ans = s.checkAt(t, s.sub(), `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","location":"westeurope"},"scope":"`+s.RG("rg1")+`"}}`)
		if ev := evaluationsOf(ans, asg); len(ev) != 1 {
			t.Errorf("subscription scope with resourceDetails.scope: %s", jsonOf(ans))
		}
		ans = s.checkAt(t, s.sub(), `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","location":"westeurope"}}}`)
		if ev := evaluationsOf(ans, asg); len(ev) != 0 {
			t.Errorf("subscription scope: %s", jsonOf(ans))
		}
	})
}

// TestCheckPolicyRestrictionsEffects: Modify and Append make the tags
// they set Required with their defaultValue, Audit is reported with
// includeAuditEffect only, and with mlgov.whatIf every effect is
// reported: the changes with before and after, the content as stored,
// AuditIfNotExists and DeployIfNotExists with their existence check
// against the stored computes and the deployment with its evaluated
// parameters.
func TestCheckPolicyRestrictionsEffects(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws1 := s.mustWorkspace(t, "rg1", "ws1")
		s.put(t, ws1+"/computes/cpu"+av, computeBody, 201)
		mod := s.assign(t, s.sub(), "tag-cost", s.define(t, "tag-cost", "Indexed", ruleTagModify, ""), `"location":"eastus","identity":{"type":"SystemAssigned"}`)
		app := s.assign(t, s.sub(), "tag-owner", s.define(t, "tag-owner", "Indexed", ruleTagAppend, ""), "")
		aud := s.assign(t, s.sub(), "audit-public", s.define(t, "audit-public", "Indexed", ruleAuditPublic, ""), "")
		aine := s.assign(t, s.sub(), "needs-compute", s.define(t, "needs-compute", "Indexed", ruleNeedsCompute, ""), "")
		dine := s.assign(t, s.sub(), "deploy-cpu", s.define(t, "deploy-cpu", "Indexed", ruleDeployCompute, ""), `"location":"eastus","identity":{"type":"SystemAssigned"}`)

		content := func(name string) string {
			return `{"type":"Microsoft.MachineLearningServices/workspaces","name":"` + name + `","location":"eastus","tags":{"env":"dev"},"properties":{"publicNetworkAccess":"Enabled"}}`
		}
		ans := s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":`+content("ws1")+`,"apiVersion":"2024-04-01"},"pendingFields":[{"field":"tags"}]}`)
		if rs := restrictionsOf(ans, "tags.costCenter"); len(rs) != 1 || rs[0]["result"] != "Required" || rs[0]["defaultValue"] != "ml-platform" || rs[0]["policyEffect"] != "Modify" {
			t.Errorf("tags.costCenter: %s", jsonOf(ans["fieldRestrictions"]))
		}
		if rs := restrictionsOf(ans, "tags.owner"); len(rs) != 1 || rs[0]["result"] != "Required" || rs[0]["defaultValue"] != "platform-team" || rs[0]["policyEffect"] != "Append" {
			t.Errorf("tags.owner: %s", jsonOf(ans["fieldRestrictions"]))
		}
		for _, a := range []string{mod, app, aud, aine, dine} {
			if ev := evaluationsOf(ans, a); len(ev) != 0 {
				t.Errorf("without includeAuditEffect or mlgov.whatIf, %s is not reported: %s", a, jsonOf(ev))
			}
		}
		ans = s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":`+content("ws1")+`,"apiVersion":"2024-04-01"},"includeAuditEffect":true}`)
		if ev := evaluationsOf(ans, aud); len(ev) != 1 || effectOfEval(ev[0]) != "Audit" || ev[0]["evaluationResult"] != "NonCompliant" {
			t.Errorf("includeAuditEffect: %s", jsonOf(ans))
		}

		// mlgov.whatIf: ws1 has its compute cpu, ws9 has none.
		ans = s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":`+content("ws1")+`,"apiVersion":"2024-04-01"},"mlgov.whatIf":true}`)
		ev := evaluationsOf(ans, mod)
		if len(ev) != 1 || effectOfEval(ev[0]) != "Modify" ||
			!strings.Contains(jsonOf(ev[0]["effectDetails"]), `"mlgov.changes":[{"after":"ml-platform","before":null,"field":"tags['costCenter']","operation":"addOrReplace","path":"tags.costCenter"}]`) {
			t.Errorf("Modify: %s", jsonOf(ev))
		}
		if ev := evaluationsOf(ans, app); len(ev) != 1 || effectOfEval(ev[0]) != "Append" || !strings.Contains(jsonOf(ev[0]), `"after":"platform-team"`) {
			t.Errorf("Append: %s", jsonOf(ev))
		}
		rc := jsonOf(ans["mlgov.resourceContent"])
		if !strings.Contains(rc, `"costCenter":"ml-platform"`) || !strings.Contains(rc, `"owner":"platform-team"`) || !strings.Contains(rc, `"env":"dev"`) {
			t.Errorf("mlgov.resourceContent: %s", rc)
		}
		ev = evaluationsOf(ans, aine)
		if len(ev) != 1 || ev[0]["evaluationResult"] != "Compliant" || effectOfEval(ev[0]) != "AuditIfNotExists" {
			t.Fatalf("AuditIfNotExists for ws1: %s", jsonOf(ev))
		}
		ex, _ := ev[0]["effectDetails"].(map[string]any)["mlgov.existence"].(map[string]any)
		if ex["exists"] != true || !strings.EqualFold(jsonOf(ex["evaluatedResourceIds"]), jsonOf([]string{ws1 + "/computes/cpu"})) {
			t.Errorf("existence for ws1: %s", jsonOf(ex))
		}
		if ev := evaluationsOf(ans, dine); len(ev) != 1 || ev[0]["evaluationResult"] != "Compliant" || ev[0]["effectDetails"].(map[string]any)["mlgov.deployment"] != nil {
			t.Errorf("DeployIfNotExists for ws1: %s", jsonOf(ev))
		}

		ans = s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":`+content("ws9")+`,"apiVersion":"2024-04-01"},"mlgov.whatIf":true}`)
		ev = evaluationsOf(ans, aine)
		if len(ev) != 1 || ev[0]["evaluationResult"] != "NonCompliant" || !strings.Contains(jsonOf(ev[0]), `"exists":false`) ||
			!strings.Contains(jsonOf(ev[0]), `"ifNotExistsDetails":{"totalResources":0}`) {
			t.Errorf("AuditIfNotExists for ws9: %s", jsonOf(ev))
		}
		ev = evaluationsOf(ans, dine)
		if len(ev) != 1 || ev[0]["evaluationResult"] != "NonCompliant" || effectOfEval(ev[0]) != "DeployIfNotExists" {
			t.Fatalf("DeployIfNotExists for ws9: %s", jsonOf(ev))
		}
		dep := jsonOf(ev[0]["effectDetails"].(map[string]any)["mlgov.deployment"])
		if !strings.Contains(dep, `"parameters":{"location":{"value":"eastus"},"ws":{"value":"ws9"}}`) && !strings.Contains(dep, `"parameters":{"ws":{"value":"ws9"},"location":{"value":"eastus"}}`) ||
			!strings.Contains(dep, `"deploymentScope":"ResourceGroup"`) || !strings.Contains(dep, `"template":{`) {
			t.Errorf("the deployment DeployIfNotExists would run: %s", dep)
		}
		if ev := evaluationsOf(ans, aud); len(ev) != 1 {
			t.Errorf("mlgov.whatIf reports Audit: %s", jsonOf(ev))
		}
		// The audited property set as the policy wants: the Audit applies
		// with no effect (Compliant, no expressions).
		ans = s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"ws1","location":"eastus","properties":{"publicNetworkAccess":"Disabled"}},"apiVersion":"2024-04-01"},"mlgov.whatIf":true}`)
		if ev := evaluationsOf(ans, aud); len(ev) != 1 || ev[0]["evaluationResult"] != "Compliant" || effectOfEval(ev[0]) != "Audit" || ev[0]["evaluationDetails"].(map[string]any)["evaluatedExpressions"] != nil {
			t.Errorf("Audit without effect: %s", jsonOf(ev))
		}
		// Nothing was written.
		if r := s.Do(t, "GET", wsPath(s, "rg1", "ws9")+av, nil); r.Status != 404 {
			t.Errorf("ws9 was written: %d", r.Status)
		}
	})
}

// TestCheckPolicyRestrictionsScopes: what a write would not meet is not
// reported: an assignment with enforcementMode DoNotEnforce, a
// resource group in notScopes, an exempt resource group.
func TestCheckPolicyRestrictionsScopes(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		for _, rg := range []string{"rg1", "rg2", "rg3"} {
			mustCreateRG(t, s, rg)
		}
		def := s.define(t, "allowed-locations", "Indexed", ruleAllowedLocations, paramsAllowed)
		params := `"parameters":{"allowed":{"value":["eastus"]}}`
		asg := s.assign(t, s.sub(), "locations", def, params+`,"notScopes":["`+s.RG("rg2")+`"]`)
		s.put(t, s.RG("rg3")+"/providers/Microsoft.Authorization/policyExemptions/waive"+pav,
			`{"properties":{"policyAssignmentId":"`+asg+`","exemptionCategory":"Waiver"}}`, 201)
		body := `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"w","location":"westeurope"}},"pendingFields":[{"field":"location","values":["eastus","westeurope"]}]}`
		if ev := evaluationsOf(s.checkAt(t, s.RG("rg1"), body), asg); len(ev) != 1 {
			t.Fatalf("rg1: %v", ev)
		}
		for _, rg := range []string{"rg2", "rg3"} {
			ans := s.checkAt(t, s.RG(rg), body)
			if ev := evaluationsOf(ans, asg); len(ev) != 0 || len(restrictionsOf(ans, "location")) != 0 {
				t.Errorf("%s (notScopes, exemption): %s", rg, jsonOf(ans))
			}
		}
		s.put(t, asg+pav, `{"properties":{"policyDefinitionId":"`+def+`",`+params+`,"enforcementMode":"DoNotEnforce"}}`, 201)
		if ans := s.checkAt(t, s.RG("rg1"), body); len(evaluationsOf(ans, asg)) != 0 || len(restrictionsOf(ans, "location")) != 0 {
			t.Errorf("DoNotEnforce: %s", jsonOf(ans))
		}
	})
}

// TestCheckPolicyRestrictionsBadRequests: refused with 400 (405 for
// another method) and an ARM error naming the bad property.
func TestCheckPolicyRestrictionsBadRequests(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		path := s.RG("rg1") + "/providers/Microsoft.PolicyInsights/checkPolicyRestrictions"
		ws := `{"type":"Microsoft.MachineLearningServices/workspaces","name":"w"}`
		for _, c := range []struct{ name, body, target, msg string }{
			{"empty", ``, "resourceDetails", "empty"},
			{"not JSON", `{"resourceDetails":`, "", "not valid JSON"},
			{"no resourceDetails", `{"pendingFields":[]}`, "resourceDetails", "required"},
			{"no resourceContent", `{"resourceDetails":{"apiVersion":"2024-04-01"}}`, "resourceDetails.resourceContent", "required"},
			{"content not an object", `{"resourceDetails":{"resourceContent":[1]}}`, "resourceDetails.resourceContent", "object"},
			{"no type", `{"resourceDetails":{"resourceContent":{"name":"w"}}}`, "resourceDetails.resourceContent.type", "resource type"},
			{"unknown property", `{"resourceDetails":{"resourceContent":` + ws + `},"resourceDetail":{}}`, "resourceDetail", "not part of"},
			{"pending field operation", `{"resourceDetails":{"resourceContent":` + ws + `},"pendingFields":[{"field":"location","operation":"audit"}]}`, "pendingFields[0].operation", "not part of a PendingField"},
			{"pending field without field", `{"resourceDetails":{"resourceContent":` + ws + `},"pendingFields":[{"values":["a"]}]}`, "pendingFields[0].field", "required"},
			{"pending values not strings", `{"resourceDetails":{"resourceContent":` + ws + `},"pendingFields":[{"field":"location","values":[1]}]}`, "pendingFields[0].values[0]", "string"},
			{"includeAuditEffect not a boolean", `{"resourceDetails":{"resourceContent":` + ws + `},"includeAuditEffect":"yes"}`, "includeAuditEffect", "boolean"},
			{"scope elsewhere", `{"resourceDetails":{"resourceContent":` + ws + `,"scope":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/x"}}`, "resourceDetails.scope", "not under"},
			{"type with an empty child", `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/"}}}`, "resourceDetails.resourceContent.type", "resource type"},
			{"name with too many segments", `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"a/b"}}}`, "resourceDetails.resourceContent.name", "one segment per level"},
			{"grandchild with one name", `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments","name":"d1"},"scope":"` + wsPath(s, "rg1", "w") + `"}}`, "resourceDetails.resourceContent.name", "one segment per level (2)"},
			{"unknown alias with values", `{"resourceDetails":{"resourceContent":` + ws + `},"pendingFields":[{"field":"Microsoft.MachineLearningServices/workspaces/noSuchThing","values":["a"]}]}`, "pendingFields[0].field", "cannot be given values"},
		} {
			r := s.Do(t, "POST", path+iav, c.body)
			if r.Status != 400 || r.ErrorCode() != "InvalidCheckRestrictionsRequest" || !strings.Contains(r.ErrorMessage(), c.msg) {
				t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
				continue
			}
			var e struct{ Error struct{ Target string } }
			json.Unmarshal(r.Body, &e)
			if e.Error.Target != c.target {
				t.Errorf("%s: target %q, want %q", c.name, e.Error.Target, c.target)
			}
		}
		// Nested names: a grandchild of the scope's workspace, its name with
		// one segment per level (or its full name, with the workspace's).
		for _, name := range []string{"e1/d1", "w/e1/d1"} {
			ans := s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments","name":"`+name+`"},"scope":"`+wsPath(s, "rg1", "w")+`"},"mlgov.whatIf":true}`)
			if got, want := ans["mlgov.resourceId"], wsPath(s, "rg1", "w")+"/onlineEndpoints/e1/deployments/d1"; !strings.EqualFold(got.(string), want) {
				t.Errorf("name %s: the resource %v, want %s", name, got, want)
			}
		}
		if r := s.Do(t, "POST", path, `{"resourceDetails":{"resourceContent":`+ws+`}}`); r.Status != 400 || r.ErrorCode() != "MissingApiVersionParameter" {
			t.Errorf("no api-version: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "GET", path+iav, nil); r.Status != 405 || r.ErrorCode() != "MethodNotAllowed" {
			t.Errorf("GET: %d %s", r.Status, r.Body)
		}
	})
}

// TestCheckPolicyRestrictionsAuthorization: the caller needs
// Microsoft.PolicyInsights/checkPolicyRestrictions/read at the scope
// (Reader has it): without a role, 403 AuthorizationFailed naming the
// action; with Reader on the resource group, the answer.
func TestCheckPolicyRestrictionsAuthorization(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		p := s.NewPrincipal(t, "checker")
		path := s.RG("rg1") + "/providers/Microsoft.PolicyInsights/checkPolicyRestrictions" + iav
		body := `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"w"}}}`
		r := s.DoAs(t, p.Token, "POST", path, body)
		if r.Status != 403 || r.ErrorCode() != "AuthorizationFailed" || !strings.Contains(r.ErrorMessage(), "Microsoft.PolicyInsights/checkPolicyRestrictions/read") {
			t.Fatalf("without a role: %d %s", r.Status, r.Body)
		}
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Reader"), p.ObjectID, "ServicePrincipal")
		deadline := time.Now().Add(5 * time.Second)
		for {
			r = s.DoAs(t, p.Token, "POST", path, body)
			if r.Status == 200 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if r.Status != 200 {
			t.Errorf("with Reader: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, p.Token, "POST", s.sub()+"/providers/Microsoft.PolicyInsights/checkPolicyRestrictions"+iav, body); r.Status != 403 {
			t.Errorf("at the subscription, where it has no role: %d %s", r.Status, r.Body)
		}
	})
}

// TestCheckPolicyRestrictionsModifyConflict: two Modify policies setting
// one tag to different values, both with conflictEffect deny, would
// refuse the write: both are reported NonCompliant with effect Deny and
// their conflicts; mlgov.resourceContent is the content unchanged.
func TestCheckPolicyRestrictionsModifyConflict(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		rule := func(v string) string {
			return strings.Replace(ruleTagModify, `"value":"ml-platform"`, `"value":"`+v+`"`, 1)
		}
		a := s.assign(t, s.sub(), "tag-a", s.define(t, "tag-a", "Indexed", rule("a"), ""), `"location":"eastus","identity":{"type":"SystemAssigned"}`)
		b := s.assign(t, s.sub(), "tag-b", s.define(t, "tag-b", "Indexed", rule("b"), ""), `"location":"eastus","identity":{"type":"SystemAssigned"}`)
		ans := s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"w","location":"eastus"}},"mlgov.whatIf":true}`)
		for _, asg := range []string{a, b} {
			ev := evaluationsOf(ans, asg)
			if len(ev) != 1 || ev[0]["evaluationResult"] != "NonCompliant" || effectOfEval(ev[0]) != "Deny" ||
				!strings.Contains(jsonOf(ev[0]["effectDetails"]), `"mlgov.conflicts":[{`) {
				t.Errorf("%s: %s", asg, jsonOf(ev))
			}
		}
		if rc := jsonOf(ans["mlgov.resourceContent"]); strings.Contains(rc, "costCenter") {
			t.Errorf("a refused write changes nothing: %s", rc)
		}
	})
}

// TestCheckPolicyRestrictionsEvaluationError: a policy that cannot be
// evaluated against the content refuses the write at request time: it is
// reported once, evaluationResult Error with the reason, whether its
// effect is written or worked out from the resource.
func TestCheckPolicyRestrictionsEvaluationError(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		const cond = `{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},{"value":"[int(field('name'))]","equals":1}]}`
		static := s.assign(t, s.sub(), "bad-static", s.define(t, "bad-static", "Indexed", `{"if":`+cond+`,"then":{"effect":"deny"}}`, ""), "")
		// An effect worked out from the resource (not known before evaluation).
		param := s.assign(t, s.sub(), "bad-param", s.define(t, "bad-param", "Indexed", `{"if":`+cond+`,"then":{"effect":"[if(equals(field('location'), 'eastus'), 'Deny', 'Audit')]"}}`, ""), "")
		ans := s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"w","location":"eastus"}}}`)
		for _, a := range []string{static, param} {
			ev := evaluationsOf(ans, a)
			if len(ev) != 1 || ev[0]["evaluationResult"] != "Error" || !strings.Contains(jsonOf(ev[0]["evaluationDetails"]), "could not be evaluated") {
				t.Errorf("%s: %s", a, jsonOf(ev))
			}
		}
	})
}

// TestCheckPolicyRestrictionsAliasField: a pending field that is an
// alias, with values: the content is evaluated with the property set to
// each (as a Modify would set it), and the Deny on it refuses Enabled.
func TestCheckPolicyRestrictionsAliasField(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		const pna = "Microsoft.MachineLearningServices/workspaces/publicNetworkAccess"
		def := s.define(t, "deny-public", "Indexed", `{"if":{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},{"field":"`+pna+`","equals":"Enabled"}]},"then":{"effect":"deny"}}`, "")
		s.assign(t, s.RG("rg1"), "deny-public", def, "")
		ans := s.checkAt(t, s.RG("rg1"), `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"w","location":"eastus","properties":{}},"apiVersion":"2024-04-01"},
			"pendingFields":[{"field":"`+pna+`","values":["Enabled","Disabled"]}]}`)
		rs := restrictionsOf(ans, pna)
		if len(rs) != 1 || rs[0]["result"] != "Deny" || jsonOf(rs[0]["values"]) != `["Enabled"]` {
			t.Errorf("%s: %s", pna, jsonOf(ans))
		}
	})
}
