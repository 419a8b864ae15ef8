package armtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Remediations (Microsoft.PolicyInsights/remediations) of Modify
// policies: existing resources changed through the write path as the
// assignment's managed identity, on SQLite and PostgreSQL.

// remediationPath is a remediation at scope.
func remediationPath(scope, name string) string {
	return scope + "/providers/Microsoft.PolicyInsights/remediations/" + name
}

// assignWithIdentity assigns def at scope with a system-assigned
// identity (and params, a JSON object or "") and returns the
// assignment's id and its identity's principal id.
func (s *Server) assignWithIdentity(t *testing.T, scope, name, def, params string) (string, string) {
	t.Helper()
	if params == "" {
		params = "{}"
	}
	id := scope + "/providers/Microsoft.Authorization/policyAssignments/" + name
	r := s.put(t, id+pav, `{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"`+def+`","parameters":`+params+`}}`, 201)
	pid, _ := r.JSON()["identity"].(map[string]any)["principalId"].(string)
	if pid == "" {
		t.Fatalf("assignment without a principal: %s", r.Body)
	}
	return id, pid
}

// waitRemediation polls the remediation until its provisioningState is
// one of states and returns its properties.
func (s *Server) waitRemediation(t *testing.T, path string, states ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := s.Do(t, "GET", path+iav, nil)
		if r.Status != 200 {
			t.Fatalf("GET remediation: %d %s", r.Status, r.Body)
		}
		props, _ := r.JSON()["properties"].(map[string]any)
		for _, st := range states {
			if props["provisioningState"] == st {
				return props
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("remediation %s: not %v in time: %s", path, states, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deployments lists a remediation's deployments (every page of top).
func (s *Server) deployments(t *testing.T, path string, top int) []map[string]any {
	t.Helper()
	next := path + "/listDeployments" + iav
	if top > 0 {
		next += fmt.Sprintf("&$top=%d", top)
	}
	var all []map[string]any
	for pages := 0; next != ""; pages++ {
		r := s.Do(t, "POST", strings.TrimPrefix(next, s.URL), nil)
		if r.Status != 200 {
			t.Fatalf("listDeployments: %d %s", r.Status, r.Body)
		}
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"nextLink"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Value...)
		next = page.NextLink
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	return all
}

// summary is deploymentStatus as "total/succeeded/failed".
func summary(props map[string]any) string {
	d, _ := props["deploymentStatus"].(map[string]any)
	return fmt.Sprintf("%v/%v/%v", d["totalDeployments"], d["successfulDeployments"], d["failedDeployments"])
}

// nonCompliant waits until the assignment's records of the resources
// are NonCompliant (n of them).
func (s *Server) waitNonCompliant(t *testing.T, assignment string, n int) {
	t.Helper()
	s.waitStatesFor(t, 10*time.Second, s.sub(), "&$filter="+urlq("policyAssignmentId eq '"+assignment+"' and complianceState eq 'NonCompliant'"), "non-compliant records", func(recs []map[string]any) bool {
		return len(recs) == n
	})
}

func urlq(s string) string {
	return strings.NewReplacer(" ", "%20", "'", "%27").Replace(s)
}

// TestRemediationModify: the Modify built-ins remediate existing
// workspaces (publicNetworkAccess, at subscription scope) and computes
// (disableLocalAuth, at a resource group and at a workspace, with
// ReEvaluateCompliance): each written as the assignment's identity, the
// remediation Succeeded with its counters, its deployments listed (in
// pages), the resources changed and their records Compliant.
func TestRemediationModify(t *testing.T) {
	pna := mlBuiltin(t, "Workspace_PublicNetworkAccessDisabled_Modify.json")
	dla := mlBuiltin(t, "DisableLocalAuth_Modify.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		var wss []string
		for _, rg := range []string{"rg1", "rg2"} {
			mustCreateRG(t, s, rg)
			for _, n := range []string{"ws1", "ws2"} {
				ws := wsPath(s, rg, n)
				s.mustPut(t, ws+av, `{"location":"eastus","properties":{"publicNetworkAccess":"Enabled"}}`)
				wss = append(wss, ws)
			}
		}
		c1, c2, c3 := wss[0]+"/computes/c1", wss[0]+"/computes/c2", wss[1]+"/computes/c3"
		for _, c := range []string{c1, c2, c3} {
			s.mustPut(t, c+av, computeBody)
		}
		asg, pid := s.assignWithIdentity(t, s.sub(), "pna", pna, "")
		s.assignRole(t, s.sub(), roleIDByName(t, s, "Contributor"), pid, "ServicePrincipal")
		s.waitNonCompliant(t, asg, 4)

		rem := remediationPath(s.sub(), "fix-pna")
		r := s.put(t, rem+iav, `{"properties":{"policyAssignmentId":"`+asg+`"}}`, 201)
		props, _ := r.JSON()["properties"].(map[string]any)
		if props["provisioningState"] != "Accepted" || props["resourceDiscoveryMode"] != "ExistingNonCompliant" || props["resourceCount"] != 500.0 ||
			props["parallelDeployments"] != 10.0 || fmt.Sprint(props["failureThreshold"]) != "map[percentage:1]" || props["correlationId"] == "" || props["createdOn"] == "" {
			t.Errorf("created remediation: %s", r.Body)
		}
		if r.JSON()["type"] != "Microsoft.PolicyInsights/remediations" || !strings.EqualFold(fmt.Sprint(r.JSON()["id"]), rem) {
			t.Errorf("envelope: %s", r.Body)
		}
		props = s.waitRemediation(t, rem, "Succeeded", "Complete", "Failed")
		if props["provisioningState"] != "Succeeded" || summary(props) != "4/4/0" {
			t.Fatalf("remediation: %v", props)
		}
		for _, ws := range wss {
			if g := s.Do(t, "GET", ws+av, nil); !strings.Contains(string(g.Body), `"publicNetworkAccess":"Disabled"`) {
				t.Errorf("%s not remediated: %s", ws, g.Body)
			}
		}
		deps := s.deployments(t, rem, 3)
		if len(deps) != 4 {
			t.Fatalf("%d deployments, want 4: %v", len(deps), deps)
		}
		for _, d := range deps {
			if d["status"] != "Succeeded" || d["resourceLocation"] != "eastus" || d["createdOn"] == nil || d["lastUpdatedOn"] == nil || d["deploymentId"] == "" {
				t.Errorf("deployment: %v", d)
			}
		}
		// Written as the assignment's identity, through the write path.
		for _, ws := range wss {
			n := 0
			for _, e := range s.Events(t, "", 0) {
				on, _ := e["operationName"].(map[string]any)
				st, _ := e["status"].(map[string]any)
				if strings.EqualFold(fmt.Sprint(e["resourceId"]), ws) && on["value"] == "Microsoft.MachineLearningServices/workspaces/write" && st["value"] == "Started" && e["caller"] == pid {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s: %d writes by the assignment's identity, want 1", ws, n)
			}
		}
		s.waitStatesFor(t, 10*time.Second, s.sub(), "&$filter="+urlq("policyAssignmentId eq '"+asg+"'"), "compliant after the remediation", func(recs []map[string]any) bool {
			if len(recs) != 4 {
				return false
			}
			for _, rec := range recs {
				if rec["complianceState"] != "Compliant" {
					return false
				}
			}
			return true
		})

		// Computes: at a resource group, and at a workspace evaluating
		// again.
		asg2, pid2 := s.assignWithIdentity(t, s.sub(), "dla", dla, "")
		s.assignRole(t, s.sub(), roleIDByName(t, s, "Contributor"), pid2, "ServicePrincipal")
		s.waitNonCompliant(t, asg2, 3)
		rem2 := remediationPath(wss[0], "fix-computes")
		s.put(t, rem2+iav, `{"properties":{"policyAssignmentId":"`+asg2+`","resourceDiscoveryMode":"ReEvaluateCompliance"}}`, 201)
		if props := s.waitRemediation(t, rem2, "Succeeded", "Complete", "Failed"); props["provisioningState"] != "Succeeded" || summary(props) != "2/2/0" {
			t.Fatalf("remediation at a workspace: %v", props)
		}
		for _, c := range []string{c1, c2} {
			if g := s.Do(t, "GET", c+av, nil); !strings.Contains(string(g.Body), `"disableLocalAuth":true`) {
				t.Errorf("%s not remediated: %s", c, g.Body)
			}
		}
		if g := s.Do(t, "GET", c3+av, nil); strings.Contains(string(g.Body), `"disableLocalAuth":true`) {
			t.Errorf("%s outside the remediation's scope was changed", c3)
		}
		rem3 := remediationPath(s.RG("rg1"), "fix-rg")
		s.put(t, rem3+iav, `{"properties":{"policyAssignmentId":"`+asg2+`"}}`, 201)
		if props := s.waitRemediation(t, rem3, "Succeeded", "Complete", "Failed"); props["provisioningState"] != "Succeeded" || summary(props) != "1/1/0" {
			t.Fatalf("remediation at a resource group: %v", props)
		}
		// The lists, get and delete.
		l := s.Do(t, "GET", s.sub()+"/providers/Microsoft.PolicyInsights/remediations"+iav+"&$filter="+urlq("PolicyAssignmentId eq '"+asg2+"'"), nil)
		if l.Status != 200 || strings.Contains(string(l.Body), "fix-pna") || !strings.Contains(string(l.Body), "fix-rg") {
			t.Errorf("list with $filter: %d %s", l.Status, l.Body)
		}
		if d := s.Do(t, "DELETE", rem+iav, nil); d.Status != 200 {
			t.Errorf("DELETE: %d %s", d.Status, d.Body)
		}
		if g := s.Do(t, "GET", rem+iav, nil); g.Status != 404 {
			t.Errorf("GET after DELETE: %d", g.Status)
		}
	})
}

// computes creates computes (rg/ws/name, from "rg/ws/name" paths) and
// returns their ids.
func (s *Server) computes(t *testing.T, paths ...string) []string {
	t.Helper()
	var out []string
	for _, p := range paths {
		parts := strings.Split(p, "/")
		ws := wsPath(s, parts[0], parts[1])
		if g := s.Do(t, "GET", ws+av, nil); g.Status == 404 {
			s.mustWorkspace(t, parts[0], parts[1])
		}
		c := ws + "/computes/" + parts[2]
		s.mustPut(t, c+av, computeBody)
		out = append(out, c)
	}
	return out
}

// byResource are the deployments by lower-cased remediated resource id.
func byResource(deps []map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, d := range deps {
		out[strings.ToLower(fmt.Sprint(d["remediatedResourceId"]))] = d
	}
	return out
}

func deploymentError(d map[string]any) string {
	e, _ := d["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// TestRemediationFailures: the assignment's identity has a role at one
// resource group only: the other's computes fail with
// AuthorizationFailed, in the deployments and the counters. With a
// failure threshold of 30% the remediation stops (Failed) at the second
// failure of five and the fifth compute is not touched; without one it
// goes through them all (Complete).
func TestRemediationFailures(t *testing.T) {
	dla := mlBuiltin(t, "DisableLocalAuth_Modify.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		cs := s.computes(t, "rg1/ws1/a1", "rg1/ws1/a2", "rg2/ws1/b1", "rg2/ws1/b2", "rg2/ws1/b3")
		asg, pid := s.assignWithIdentity(t, s.sub(), "dla", dla, "")
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Contributor"), pid, "ServicePrincipal")
		s.waitNonCompliant(t, asg, 5)

		rem := remediationPath(s.sub(), "threshold")
		s.put(t, rem+iav, `{"properties":{"policyAssignmentId":"`+asg+`","parallelDeployments":1,"failureThreshold":{"percentage":0.3}}}`, 201)
		props := s.waitRemediation(t, rem, "Succeeded", "Complete", "Failed")
		if props["provisioningState"] != "Failed" || summary(props) != "5/2/2" || !strings.Contains(fmt.Sprint(props["statusMessage"]), "failure threshold") {
			t.Fatalf("remediation with a threshold: %v", props)
		}
		deps := byResource(s.deployments(t, rem, 0))
		if len(deps) != 4 {
			t.Fatalf("%d deployments, want 4 (the fifth not started): %v", len(deps), deps)
		}
		for i, c := range cs {
			d := deps[strings.ToLower(c)]
			switch {
			case i < 2 && (d["status"] != "Succeeded" || deploymentError(d) != ""):
				t.Errorf("%s: %v", c, d)
			case i >= 2 && i < 4 && (d["status"] != "Failed" || deploymentError(d) != "AuthorizationFailed"):
				t.Errorf("%s: %v, want Failed AuthorizationFailed", c, d)
			case i == 4 && d != nil:
				t.Errorf("%s was deployed after the threshold: %v", c, d)
			}
			g := s.Do(t, "GET", c+av, nil)
			if fixed := strings.Contains(string(g.Body), `"disableLocalAuth":true`); fixed != (i < 2) {
				t.Errorf("%s: disableLocalAuth written %v, want %v", c, fixed, i < 2)
			}
		}
		if d := deps[strings.ToLower(cs[2])]; !strings.Contains(fmt.Sprint(d["error"]), pid) {
			t.Errorf("the AuthorizationFailed error does not name the identity: %v", d["error"])
		}

		// No threshold: all the non-compliant ones are tried.
		s.waitNonCompliant(t, asg, 3)
		rem2 := remediationPath(s.sub(), "all")
		s.put(t, rem2+iav, `{"properties":{"policyAssignmentId":"`+asg+`"}}`, 201)
		props = s.waitRemediation(t, rem2, "Succeeded", "Complete", "Failed")
		if props["provisioningState"] != "Complete" || summary(props) != "3/0/3" {
			t.Fatalf("remediation without a threshold: %v", props)
		}
		for _, d := range s.deployments(t, rem2, 0) {
			if d["status"] != "Failed" || deploymentError(d) != "AuthorizationFailed" {
				t.Errorf("deployment: %v", d)
			}
		}
	})
}

// TestRemediationConflictAndConditions: a Modify whose value does not
// fit the property conflicts: with conflictEffect deny the deployment
// fails as the write path would refuse it, with audit nothing is applied
// (both say why); an operation whose api-version condition is false at
// the api-version remediations write with applies nothing, one whose
// condition is true does. The assignments do not enforce (DoNotEnforce):
// they are remediated all the same.
func TestRemediationConflictAndConditions(t *testing.T) {
	// The conflictEffect is %q, the operation %s (remove applies to tags
	// only: a conflict), the value %s; the operation applies from the
	// api-version parameter minAPI on.
	const rule = `{"if":{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces/computes"},
		{"field":"Microsoft.MachineLearningServices/workspaces/computes/disableLocalAuth","notEquals":true}]},
		"then":{"effect":"modify","details":{"roleDefinitionIds":["/providers/microsoft.authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],
		"conflictEffect":%q,"operations":[{"operation":%q,"field":"Microsoft.MachineLearningServices/workspaces/computes/disableLocalAuth",
		"value":%s,"condition":"[greaterOrEquals(requestContext().apiVersion, parameters('minAPI'))]"}]}}}`
	const params = `{"minAPI":{"type":"String","defaultValue":"2021-10-01"}}`
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		cs := s.computes(t, "rg1/ws1/c1")
		badDeny := s.define(t, "dla-remove-deny", "Indexed", fmt.Sprintf(rule, "deny", "remove", `true`), params)
		badAudit := s.define(t, "dla-remove-audit", "Indexed", fmt.Sprintf(rule, "audit", "remove", `true`), params)
		good := s.define(t, "dla-bool", "Indexed", fmt.Sprintf(rule, "audit", "addOrReplace", `true`), params)
		contributor := roleIDByName(t, s, "Contributor")
		run := func(name, def, ps string) map[string]any {
			t.Helper()
			asg := s.sub() + "/providers/Microsoft.Authorization/policyAssignments/" + name
			r := s.put(t, asg+pav, `{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"`+def+`","enforcementMode":"DoNotEnforce","parameters":`+ps+`}}`, 201)
			s.assignRole(t, s.sub(), contributor, r.JSON()["identity"].(map[string]any)["principalId"].(string), "ServicePrincipal")
			rem := remediationPath(s.sub(), name)
			s.put(t, rem+iav, `{"properties":{"policyAssignmentId":"`+asg+`","resourceDiscoveryMode":"ReEvaluateCompliance"}}`, 201)
			props := s.waitRemediation(t, rem, "Succeeded", "Complete", "Failed")
			deps := s.deployments(t, rem, 0)
			if len(deps) != 1 {
				t.Fatalf("%s: deployments %v (remediation %v)", name, deps, props)
			}
			return deps[0]
		}
		d := run("deny", badDeny, `{}`)
		if d["status"] != "Failed" || deploymentError(d) != "RequestDisallowedByPolicy" || !strings.Contains(fmt.Sprint(d["error"]), "conflictEffect is deny") {
			t.Errorf("conflictEffect deny: %v", d)
		}
		d = run("audit", badAudit, `{}`)
		if d["status"] != "Failed" || deploymentError(d) != "ModifyNotApplied" || !strings.Contains(fmt.Sprint(d["error"]), "remove applies only to tags") {
			t.Errorf("conflictEffect audit: %v", d)
		}
		d = run("old-api", good, `{"minAPI":{"value":"2099-01-01"}}`)
		if d["status"] != "Failed" || deploymentError(d) != "ModifyNotApplied" || !strings.Contains(fmt.Sprint(d["error"]), "condition is false") {
			t.Errorf("a false condition: %v", d)
		}
		if g := s.Do(t, "GET", cs[0]+av, nil); !strings.Contains(string(g.Body), `"disableLocalAuth":false`) {
			t.Fatalf("changed by a remediation that applied nothing: %s", g.Body)
		}
		d = run("new-api", good, `{}`)
		if d["status"] != "Succeeded" {
			t.Errorf("a true condition: %v", d)
		}
		if g := s.Do(t, "GET", cs[0]+av, nil); !strings.Contains(string(g.Body), `"disableLocalAuth":true`) {
			t.Errorf("not remediated: %s", g.Body)
		}
	})
}
