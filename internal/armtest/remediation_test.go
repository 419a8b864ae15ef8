package armtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/govern"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
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
	return s.assignWithIdentityMode(t, scope, name, def, params, "Default")
}

// assignWithIdentityMode is assignWithIdentity with an enforcementMode.
func (s *Server) assignWithIdentityMode(t *testing.T, scope, name, def, params, mode string) (string, string) {
	t.Helper()
	if params == "" {
		params = "{}"
	}
	id := scope + "/providers/Microsoft.Authorization/policyAssignments/" + name
	r := s.put(t, id+pav, `{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"`+def+`","enforcementMode":"`+mode+`","parameters":`+params+`}}`, 201)
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

// waitAllCompliant waits until the assignment has n records, every one
// Compliant.
func (s *Server) waitAllCompliant(t *testing.T, assignment string, n int) {
	t.Helper()
	s.waitStatesFor(t, 10*time.Second, s.sub(), "&$filter="+urlq("policyAssignmentId eq '"+assignment+"'"), "compliant after the deployments", func(recs []map[string]any) bool {
		for _, rec := range recs {
			if rec["complianceState"] != "Compliant" {
				return false
			}
		}
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
		// again. The assignment does not enforce (its Modify is not
		// applied to writes): the remediation applies it all the same.
		asg2, pid2 := s.assignWithIdentityMode(t, s.sub(), "dla", dla, "", "DoNotEnforce")
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
		corr := s.Do(t, "GET", rem+iav, nil).JSON()["properties"].(map[string]any)["correlationId"].(string)
		if d := s.Do(t, "DELETE", rem+iav, nil); d.Status != 200 {
			t.Errorf("DELETE: %d %s", d.Status, d.Body)
		}
		if g := s.Do(t, "GET", rem+iav, nil); g.Status != 404 {
			t.Errorf("GET after DELETE: %d", g.Status)
		}
		// Its deployment records go with it.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var objs []*store.Object
			if err := s.Store.Read(context.Background(), func(tx store.Tx) error {
				var err error
				objs, err = tx.ListObjects(context.Background(), "remediation/"+corr)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if len(objs) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d deployment records left after the DELETE", len(objs))
			}
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

// TestRemediationCancel: a remediation canceled while it deploys is
// Cancelling, then Canceled once its deployment in flight ends; no
// further resource is touched. Canceling a finished one is refused.
func TestRemediationCancel(t *testing.T) {
	dla := mlBuiltin(t, "DisableLocalAuth_Modify.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		s.StopRemediator()
		cs := s.computes(t, "rg1/ws1/c1", "rg1/ws1/c2", "rg1/ws1/c3", "rg1/ws1/c4")
		asg, pid := s.assignWithIdentity(t, s.sub(), "dla", dla, "")
		s.assignRole(t, s.sub(), roleIDByName(t, s, "Contributor"), pid, "ServicePrincipal")
		s.waitNonCompliant(t, asg, 4)
		started, release := make(chan string, 10), make(chan struct{})
		rem := s.Governor.NewRemediator(govern.RemediatorConfig{TenantID: s.TenantID, BeforeWrite: func(key string) error {
			started <- key
			<-release
			return nil
		}})
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go rem.Run(ctx, s.Manager, "replica", 20*time.Millisecond, slog.New(slog.DiscardHandler))

		path := remediationPath(s.sub(), "to-cancel")
		s.put(t, path+iav, `{"properties":{"policyAssignmentId":"`+asg+`","parallelDeployments":1}}`, 201)
		first := <-started
		r := s.Do(t, "POST", path+"/cancel"+iav, nil)
		if r.Status != 200 || r.JSON()["properties"].(map[string]any)["provisioningState"] != "Cancelling" {
			t.Fatalf("cancel: %d %s", r.Status, r.Body)
		}
		close(release)
		props := s.waitRemediation(t, path, "Canceled", "Succeeded", "Complete", "Failed")
		if props["provisioningState"] != "Canceled" || summary(props) != "4/1/0" {
			t.Fatalf("canceled remediation: %v", props)
		}
		if deps := s.deployments(t, path, 0); len(deps) != 1 || !strings.EqualFold(fmt.Sprint(deps[0]["remediatedResourceId"]), first) || deps[0]["status"] != "Succeeded" {
			t.Errorf("deployments of the canceled remediation: %v (first %s)", deps, first)
		}
		n := 0
		for _, c := range cs {
			if g := s.Do(t, "GET", c+av, nil); strings.Contains(string(g.Body), `"disableLocalAuth":true`) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d computes changed, want 1 (the one in flight)", n)
		}
		r = s.Do(t, "POST", path+"/cancel"+iav, nil)
		wantError(t, "cancel of a canceled remediation", r, 400, "InvalidCancelRemediationRequest", "", "Canceled")
	})
}

// TestRemediationRestart: a replica stops in the middle of a remediation
// (after some writes, with one write done whose record still says
// Running); another replica takes it over once the lease ends and
// finishes it, and no compute is written twice.
func TestRemediationRestart(t *testing.T) {
	dla := mlBuiltin(t, "DisableLocalAuth_Modify.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		s.StopRemediator()
		cs := s.computes(t, "rg1/ws1/c1", "rg1/ws1/c2", "rg1/ws1/c3", "rg1/ws1/c4", "rg1/ws1/c5", "rg1/ws1/c6")
		asg, pid := s.assignWithIdentity(t, s.sub(), "dla", dla, "")
		s.assignRole(t, s.sub(), roleIDByName(t, s, "Contributor"), pid, "ServicePrincipal")
		s.waitNonCompliant(t, asg, 6)
		path := remediationPath(s.sub(), "restarted")
		s.put(t, path+iav, `{"properties":{"policyAssignmentId":"`+asg+`","parallelDeployments":2}}`, 201)

		// Replica a: the fourth write fails as a crash would, while the
		// third (in the same batch of two) goes through.
		var mu sync.Mutex
		calls := 0
		crashed := errors.New("crash")
		a := s.Governor.NewRemediator(govern.RemediatorConfig{TenantID: s.TenantID, Lease: 300 * time.Millisecond, BeforeWrite: func(string) error {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n == 4 {
				return crashed
			}
			if n == 3 {
				time.Sleep(50 * time.Millisecond) // after the crash of its batch mate
			}
			return nil
		}})
		if err := a.RunOnce(context.Background(), s.Manager, "replica-a"); !errors.Is(err, crashed) {
			t.Fatalf("replica a: %v", err)
		}
		props := s.waitRemediation(t, path, "Running")
		if summary(props) != "6/2/0" {
			t.Errorf("after the crash: %v", props)
		}
		running := 0
		for _, d := range s.deployments(t, path, 0) {
			if d["status"] == "Running" {
				running++
			}
		}
		if running != 2 {
			t.Errorf("%d deployments Running after the crash, want 2", running)
		}
		// Replica b takes over once a's lease has ended.
		b := s.Governor.NewRemediator(govern.RemediatorConfig{TenantID: s.TenantID})
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go b.Run(ctx, s.Manager, "replica-b", 20*time.Millisecond, slog.New(slog.DiscardHandler))
		props = s.waitRemediation(t, path, "Succeeded", "Complete", "Failed")
		if props["provisioningState"] != "Succeeded" || summary(props) != "6/6/0" {
			t.Fatalf("after the restart: %v", props)
		}
		writes := map[string]int{}
		for _, e := range s.Events(t, "", 0) {
			on, _ := e["operationName"].(map[string]any)
			st, _ := e["status"].(map[string]any)
			if on["value"] == "Microsoft.MachineLearningServices/workspaces/computes/write" && st["value"] == "Started" && e["caller"] == pid {
				writes[strings.ToLower(fmt.Sprint(e["resourceId"]))]++
			}
		}
		for _, c := range cs {
			if writes[strings.ToLower(c)] != 1 {
				t.Errorf("%s written %d times by the remediation, want 1", c, writes[strings.ToLower(c)])
			}
			if g := s.Do(t, "GET", c+av, nil); !strings.Contains(string(g.Body), `"disableLocalAuth":true`) {
				t.Errorf("%s not remediated", c)
			}
		}
		mu.Lock()
		if calls != 4 {
			t.Errorf("replica a wrote %d times", calls)
		}
		mu.Unlock()
	})
}

// TestRemediationScopeOfWork: filters.locations, filters.resourceIds and
// resourceCount choose the resources remediated; a member of an
// initiative is remediated by its policyDefinitionReferenceId.
func TestRemediationScopeOfWork(t *testing.T) {
	pna := mlBuiltin(t, "Workspace_PublicNetworkAccessDisabled_Modify.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		var east, west []string
		for i := range 6 {
			loc := "eastus"
			if i%2 == 1 {
				loc = "westus"
			}
			ws := wsPath(s, "rg1", fmt.Sprintf("ws%d", i))
			s.mustPut(t, ws+av, `{"location":"`+loc+`","properties":{"publicNetworkAccess":"Enabled"}}`)
			if loc == "eastus" {
				east = append(east, ws)
			} else {
				west = append(west, ws)
			}
		}
		set := s.sub() + "/providers/Microsoft.Authorization/policySetDefinitions/ml-fix"
		s.put(t, set+pav, `{"properties":{"displayName":"ML fixes","policyDefinitions":[{"policyDefinitionReferenceId":"pna","policyDefinitionId":"`+pna+`"}]}}`, 201)
		asg, pid := s.assignWithIdentity(t, s.sub(), "ml-fix", set, "")
		s.assignRole(t, s.sub(), roleIDByName(t, s, "Contributor"), pid, "ServicePrincipal")
		s.waitNonCompliant(t, asg, 6)
		fixed := func() map[string]bool {
			out := map[string]bool{}
			for _, ws := range append(append([]string{}, east...), west...) {
				if g := s.Do(t, "GET", ws+av, nil); strings.Contains(string(g.Body), `"publicNetworkAccess":"Disabled"`) {
					out[ws] = true
				}
			}
			return out
		}
		run := func(name, props, want string) {
			t.Helper()
			path := remediationPath(s.sub(), name)
			s.put(t, path+iav, `{"properties":{"policyAssignmentId":"`+asg+`","policyDefinitionReferenceId":"pna",`+props+`}}`, 201)
			if p := s.waitRemediation(t, path, "Succeeded", "Complete", "Failed"); p["provisioningState"] != "Succeeded" || summary(p) != want {
				t.Fatalf("%s: %v, want %s", name, p, want)
			}
		}
		run("west", `"filters":{"locations":["West US"]}`, "3/3/0")
		if f := fixed(); len(f) != 3 || !f[west[0]] || !f[west[1]] || !f[west[2]] {
			t.Fatalf("filters.locations: fixed %v", f)
		}
		run("by-id", `"filters":{"resourceIds":["`+east[1]+`"]}`, "1/1/0")
		if f := fixed(); len(f) != 4 || !f[east[1]] {
			t.Fatalf("filters.resourceIds: fixed %v", f)
		}
		run("one", `"resourceCount":1,"resourceDiscoveryMode":"ReEvaluateCompliance"`, "1/1/0")
		if f := fixed(); len(f) != 5 || f[east[2]] {
			t.Fatalf("resourceCount 1: fixed %v", f)
		}
		// At the last workspace's own scope, both ways of discovery.
		for _, mode := range []string{"ReEvaluateCompliance", "ExistingNonCompliant"} {
			path := remediationPath(east[2], "self-"+mode)
			s.put(t, path+iav, `{"properties":{"policyAssignmentId":"`+asg+`","policyDefinitionReferenceId":"pna","resourceDiscoveryMode":"`+mode+`"}}`, 201)
			p := s.waitRemediation(t, path, "Succeeded", "Complete", "Failed")
			if want := map[string]string{"ReEvaluateCompliance": "1/1/0", "ExistingNonCompliant": "0/0/0"}[mode]; p["provisioningState"] != "Succeeded" || summary(p) != want {
				t.Errorf("at the workspace's scope, %s: %v, want %s", mode, p, want)
			}
		}
		if f := fixed(); len(f) != 6 {
			t.Fatalf("at a workspace's scope: fixed %v", f)
		}
	})
}

// TestRemediationBadInput: bad remediation bodies are refused with ARM
// errors naming the property; nothing is stored.
func TestRemediationBadInput(t *testing.T) {
	pna := mlBuiltin(t, "Workspace_PublicNetworkAccessDisabled_Modify.json")
	audit := mlBuiltin(t, "DisableLocalAuth_Audit.json")
	dine := mlBuiltin(t, "Workspace_PrivateDnsZones_DINE.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		asg, _ := s.assignWithIdentity(t, s.sub(), "pna", pna, "")
		rgAsg, _ := s.assignWithIdentity(t, s.RG("rg1"), "pna-rg", pna, "")
		noIdentity := s.assign(t, s.sub(), "pna-no-identity", pna, "")
		auditAsg, _ := s.assignWithIdentity(t, s.sub(), "audit", audit, "")
		dineAsg, _ := s.assignWithIdentity(t, s.sub(), "dns", dine, `{"privateDnsZoneId":{"value":"/subscriptions/`+s.SubscriptionID+`/resourceGroups/dns/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms"}}`)
		set := s.sub() + "/providers/Microsoft.Authorization/policySetDefinitions/ml-fix"
		s.put(t, set+pav, `{"properties":{"displayName":"ML fixes","policyDefinitions":[{"policyDefinitionReferenceId":"pna","policyDefinitionId":"`+pna+`"}]}}`, 201)
		setAsg, _ := s.assignWithIdentity(t, s.sub(), "ml-fix", set, "")
		// A build without a deployment engine.
		s.Governor.NewRemediator(govern.RemediatorConfig{TenantID: s.TenantID})
		path := remediationPath(s.sub(), "bad")
		for _, c := range []struct {
			name, body, code, target, part string
			at                             string
		}{
			{"no properties", `{}`, "InvalidCreateRemediationRequest", "properties", "policyAssignmentId", ""},
			{"no assignment", `{"properties":{}}`, "InvalidCreateRemediationRequest", "properties.policyAssignmentId", "required", ""},
			{"assignment not a string", `{"properties":{"policyAssignmentId":7}}`, "InvalidCreateRemediationRequest", "properties.policyAssignmentId", "string", ""},
			{"unknown assignment", `{"properties":{"policyAssignmentId":"` + s.sub() + `/providers/Microsoft.Authorization/policyAssignments/nope"}}`, "InvalidCreateRemediationRequest", "properties.policyAssignmentId", "does not exist", ""},
			{"resourceCount 0", `{"properties":{"policyAssignmentId":"` + asg + `","resourceCount":0}}`, "InvalidCreateRemediationRequest", "properties.resourceCount", "from 1 to 50000", ""},
			{"resourceCount 50001", `{"properties":{"policyAssignmentId":"` + asg + `","resourceCount":50001}}`, "InvalidCreateRemediationRequest", "properties.resourceCount", "from 1 to 50000", ""},
			{"resourceCount 1.5", `{"properties":{"policyAssignmentId":"` + asg + `","resourceCount":1.5}}`, "InvalidCreateRemediationRequest", "properties.resourceCount", "integer", ""},
			{"parallelDeployments 31", `{"properties":{"policyAssignmentId":"` + asg + `","parallelDeployments":31}}`, "InvalidCreateRemediationRequest", "properties.parallelDeployments", "from 1 to 30", ""},
			{"parallelDeployments string", `{"properties":{"policyAssignmentId":"` + asg + `","parallelDeployments":"5"}}`, "InvalidCreateRemediationRequest", "properties.parallelDeployments", "integer", ""},
			{"threshold 1.5", `{"properties":{"policyAssignmentId":"` + asg + `","failureThreshold":{"percentage":1.5}}}`, "InvalidCreateRemediationRequest", "properties.failureThreshold.percentage", "0.0 to 1.0", ""},
			{"threshold not an object", `{"properties":{"policyAssignmentId":"` + asg + `","failureThreshold":0.5}}`, "InvalidCreateRemediationRequest", "properties.failureThreshold", "object", ""},
			{"discovery mode", `{"properties":{"policyAssignmentId":"` + asg + `","resourceDiscoveryMode":"Everything"}}`, "InvalidCreateRemediationRequest", "properties.resourceDiscoveryMode", "Everything", ""},
			{"locations not strings", `{"properties":{"policyAssignmentId":"` + asg + `","filters":{"locations":[1]}}}`, "InvalidCreateRemediationRequest", "properties.filters.locations[0]", "strings", ""},
			{"resourceIds empty", `{"properties":{"policyAssignmentId":"` + asg + `","filters":{"resourceIds":[]}}}`, "InvalidCreateRemediationRequest", "properties.filters.resourceIds", "cannot be empty", ""},
			{"resourceIds with ReEvaluateCompliance", `{"properties":{"policyAssignmentId":"` + asg + `","resourceDiscoveryMode":"ReEvaluateCompliance","filters":{"resourceIds":["` + s.RG("rg1") + `"]}}}`, "InvalidCreateRemediationRequest", "properties.filters.resourceIds", "ReEvaluateCompliance", ""},
			{"resourceIds not ids", `{"properties":{"policyAssignmentId":"` + asg + `","filters":{"resourceIds":["x"]}}}`, "InvalidCreateRemediationRequest", "properties.filters.resourceIds[0]", "not a resource ID", ""},
			{"no identity", `{"properties":{"policyAssignmentId":"` + noIdentity + `"}}`, "InvalidCreateRemediationRequest", "properties.policyAssignmentId", "managed identity", ""},
			{"audit policy", `{"properties":{"policyAssignmentId":"` + auditAsg + `"}}`, "InvalidCreateRemediationRequest", "properties.policyAssignmentId", "only Modify and DeployIfNotExists", ""},
			{"DeployIfNotExists without an engine", `{"properties":{"policyAssignmentId":"` + dineAsg + `"}}`, "DeployIfNotExistsRemediationNotAvailable", "properties.policyAssignmentId", "not available in this build", ""},
			{"initiative without reference", `{"properties":{"policyAssignmentId":"` + setAsg + `"}}`, "InvalidCreateRemediationRequest", "properties.policyDefinitionReferenceId", "required", ""},
			{"initiative unknown reference", `{"properties":{"policyAssignmentId":"` + setAsg + `","policyDefinitionReferenceId":"nope"}}`, "InvalidCreateRemediationRequest", "properties.policyDefinitionReferenceId", "nope", ""},
			{"reference of a single definition", `{"properties":{"policyAssignmentId":"` + asg + `","policyDefinitionReferenceId":"x"}}`, "InvalidCreateRemediationRequest", "properties.policyDefinitionReferenceId", "must not be given", ""},
			{"assignment of another scope", `{"properties":{"policyAssignmentId":"` + rgAsg + `"}}`, "InvalidCreateRemediationRequest", "properties.policyAssignmentId", "does not cover", remediationPath(s.RG("other"), "bad")},
			{"not JSON", `{"properties":`, "InvalidRequestContent", "", "", ""},
		} {
			p := path
			if c.at != "" {
				p = c.at
				if c.name == "assignment of another scope" {
					mustCreateRG(t, s, "other")
				}
			}
			r := s.Do(t, "PUT", p+iav, c.body)
			if c.code == "InvalidRequestContent" {
				if r.Status != 400 || r.ErrorCode() != c.code {
					t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
				}
				continue
			}
			wantError(t, c.name, r, 400, c.code, c.target, c.part)
		}
		if g := s.Do(t, "GET", path+iav, nil); g.Status != 404 {
			t.Errorf("a refused remediation was stored: %d %s", g.Status, g.Body)
		}
		// Settings cannot change once created.
		s.put(t, path+iav, `{"properties":{"policyAssignmentId":"`+asg+`"}}`, 201)
		wantError(t, "changed settings", s.Do(t, "PUT", path+iav, `{"properties":{"policyAssignmentId":"`+asg+`","resourceCount":7}}`), 400, "InvalidCreateRemediationRequest", "properties", "cannot be changed")
		if r := s.Do(t, "GET", s.sub()+"/providers/Microsoft.PolicyInsights/remediations"+iav+"&$filter=nonsense", nil); r.Status != 400 || r.ErrorCode() != "InvalidFilter" {
			t.Errorf("bad $filter: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "POST", remediationPath(s.sub(), "none")+"/listDeployments"+iav, nil); r.Status != 404 {
			t.Errorf("listDeployments of a missing remediation: %d %s", r.Status, r.Body)
		}
	})
}

// fakeDeployer stands in for the deployment engine: it records the
// deployments asked for and answers their states (fail: those whose
// parameter wsName is in it fail).
type fakeDeployer struct {
	mu    sync.Mutex
	calls map[string]int // by deployment ID
	asked []fakeDeployment
	fail  map[string]bool
}

type fakeDeployment struct {
	caller             activitylog.Caller
	scope, name, wsLoc string
	template, params   value.Value
}

func (f *fakeDeployer) Deploy(_ context.Context, caller activitylog.Caller, scope, name string, template, params value.Value) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := scope + "/providers/Microsoft.Resources/deployments/" + name
	f.calls[id]++
	f.asked = append(f.asked, fakeDeployment{caller: caller, scope: scope, name: name, template: template, params: params})
	return id, nil
}

func (f *fakeDeployer) Status(_ context.Context, id string) (string, value.Value, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.asked {
		if a.scope+"/providers/Microsoft.Resources/deployments/"+a.name == id && f.fail[a.params.Field("wsName").Field("value").Str()] {
			return "Failed", value.ObjectValue(value.Member{Key: "code", Value: value.StringValue("InvalidTemplateDeployment")},
				value.Member{Key: "message", Value: value.StringValue("The template deployment failed.")}), nil
		}
	}
	return "Succeeded", value.Value{}, nil
}

// TestRemediationDeployIfNotExists: with a Deployer configured, a
// DeployIfNotExists remediation runs the definition's deployment for
// each non-compliant workspace as the assignment's identity, at its
// resource group, with the parameters evaluated against the workspace,
// under a name of its own; a failed deployment is Failed with its error.
func TestRemediationDeployIfNotExists(t *testing.T) {
	const rule = `{"if":{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},
		"then":{"effect":"deployIfNotExists","details":{"type":"Microsoft.Insights/diagnosticSettings","name":"setbypolicy",
		"roleDefinitionIds":["/providers/microsoft.authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],
		"deployment":{"properties":{"mode":"incremental","template":{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0",
		"parameters":{"wsName":{"type":"string"},"location":{"type":"string"}},"resources":[]},
		"parameters":{"wsName":{"value":"[field('name')]"},"location":{"value":"[field('location')]"}}}}}}}`
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws1, ws2 := s.mustWorkspace(t, "rg1", "ws1"), s.mustWorkspace(t, "rg1", "ws2")
		def := s.define(t, "diag-dine", "Indexed", rule, "")
		asg, pid := s.assignWithIdentity(t, s.sub(), "diag", def, "")
		s.waitNonCompliant(t, asg, 2)
		// Without a deployment engine: refused.
		s.Governor.NewRemediator(govern.RemediatorConfig{TenantID: s.TenantID})
		wantError(t, "DeployIfNotExists without an engine", s.Do(t, "PUT", remediationPath(s.sub(), "diag")+iav, `{"properties":{"policyAssignmentId":"`+asg+`"}}`),
			400, "DeployIfNotExistsRemediationNotAvailable", "properties.policyAssignmentId", "not available in this build")

		s.StopRemediator()
		dep := &fakeDeployer{calls: map[string]int{}, fail: map[string]bool{"ws2": true}}
		rem := s.Governor.NewRemediator(govern.RemediatorConfig{TenantID: s.TenantID, Deployer: dep})
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go rem.Run(ctx, s.Manager, "replica", 20*time.Millisecond, slog.New(slog.DiscardHandler))
		path := remediationPath(s.sub(), "diag")
		s.put(t, path+iav, `{"properties":{"policyAssignmentId":"`+asg+`"}}`, 201)
		props := s.waitRemediation(t, path, "Succeeded", "Complete", "Failed")
		if props["provisioningState"] != "Complete" || summary(props) != "2/1/1" {
			t.Fatalf("remediation: %v", props)
		}
		deps := byResource(s.deployments(t, path, 0))
		d1, d2 := deps[strings.ToLower(ws1)], deps[strings.ToLower(ws2)]
		if d1["status"] != "Succeeded" || !strings.Contains(fmt.Sprint(d1["deploymentId"]), "/resourceGroups/rg1/providers/Microsoft.Resources/deployments/PolicyDeployment_") {
			t.Errorf("ws1's deployment: %v", d1)
		}
		if d2["status"] != "Failed" || deploymentError(d2) != "InvalidTemplateDeployment" {
			t.Errorf("ws2's deployment: %v", d2)
		}
		dep.mu.Lock()
		defer dep.mu.Unlock()
		if len(dep.asked) != 2 {
			t.Fatalf("deployments asked: %v", dep.asked)
		}
		for _, a := range dep.asked {
			if a.caller.ObjectID != pid || !strings.EqualFold(a.scope, s.RG("rg1")) || a.template.Field("contentVersion").Str() != "1.0.0.0" ||
				a.params.Field("location").Field("value").Str() != "eastus" || (a.params.Field("wsName").Field("value").Str() != "ws1" && a.params.Field("wsName").Field("value").Str() != "ws2") {
				t.Errorf("deployment asked: caller %v scope %s params %s", a.caller, a.scope, a.params.JSON())
			}
		}
		if dep.asked[0].name == dep.asked[1].name {
			t.Errorf("two workspaces, one deployment name %s", dep.asked[0].name)
		}
	})
}

// TestRemediationReplicas: two replicas run remediations on the same
// store at once; each remediation is worked on by the one holding its
// lease (renewed during a write longer than it), every compute is
// written once.
func TestRemediationReplicas(t *testing.T) {
	dla := mlBuiltin(t, "DisableLocalAuth_Modify.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		s.StopRemediator()
		var paths []string
		for i := range 8 {
			paths = append(paths, fmt.Sprintf("rg1/ws%d/c%d", i%2, i))
		}
		cs := s.computes(t, paths...)
		asg, pid := s.assignWithIdentity(t, s.sub(), "dla", dla, "")
		s.assignRole(t, s.sub(), roleIDByName(t, s, "Contributor"), pid, "ServicePrincipal")
		s.waitNonCompliant(t, asg, 8)
		var mu sync.Mutex
		by := map[string]string{} // compute key -> replica
		twice := []string{}
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		for _, owner := range []string{"replica-a", "replica-b"} {
			// A lease of 200 ms, and a first write that takes longer: the
			// lease is renewed while the batch runs, not taken over.
			rem := s.Governor.NewRemediator(govern.RemediatorConfig{TenantID: s.TenantID, Lease: 200 * time.Millisecond, BeforeWrite: func(key string) error {
				mu.Lock()
				first := len(by) == 0
				if by[key] != "" {
					twice = append(twice, key)
				}
				by[key] = owner
				mu.Unlock()
				if first {
					time.Sleep(500 * time.Millisecond)
				}
				return nil
			}})
			go rem.Run(ctx, s.Manager, owner, 10*time.Millisecond, slog.New(slog.DiscardHandler))
		}
		// Two remediations, one per workspace, each with batches of one.
		for i := range 2 {
			ws := wsPath(s, "rg1", fmt.Sprintf("ws%d", i))
			s.put(t, remediationPath(ws, "fix")+iav, `{"properties":{"policyAssignmentId":"`+asg+`","parallelDeployments":1}}`, 201)
		}
		for i := range 2 {
			ws := wsPath(s, "rg1", fmt.Sprintf("ws%d", i))
			if p := s.waitRemediation(t, remediationPath(ws, "fix"), "Succeeded", "Complete", "Failed"); p["provisioningState"] != "Succeeded" || summary(p) != "4/4/0" {
				t.Errorf("remediation of ws%d: %v", i, p)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(twice) > 0 || len(by) != len(cs) {
			t.Errorf("writes: %d computes, written twice: %v", len(by), twice)
		}
		for _, c := range cs {
			if g := s.Do(t, "GET", c+av, nil); !strings.Contains(string(g.Body), `"disableLocalAuth":true`) {
				t.Errorf("%s not remediated", c)
			}
		}
	})
}

// TestRemediationDeployIfNotExistsEngine: with the deployment engine (as
// serve wires it), a DeployIfNotExists remediation deploys the
// definition's template for each workspace without the related
// datastore, as the assignment's identity: the deployments succeed, the
// datastores exist, the records turn Compliant.
func TestRemediationDeployIfNotExistsEngine(t *testing.T) {
	const rule = `{"if":{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},
		"then":{"effect":"deployIfNotExists","details":{"type":"Microsoft.MachineLearningServices/workspaces/datastores","name":"policyds",
		"roleDefinitionIds":["/providers/microsoft.authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],
		"deployment":{"properties":{"mode":"incremental","template":{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0",
		"parameters":{"wsName":{"type":"string"}},
		"resources":[{"type":"Microsoft.MachineLearningServices/workspaces/datastores","apiVersion":"2024-04-01","name":"[concat(parameters('wsName'), '/policyds')]",
		"properties":{"datastoreType":"AzureBlob","description":"made by a remediation"}}]},
		"parameters":{"wsName":{"value":"[field('name')]"}}}}}}}`
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws1, ws2 := s.mustWorkspace(t, "rg1", "ws1"), s.mustWorkspace(t, "rg2", "ws2")
		def := s.define(t, "datastore-dine", "Indexed", rule, "")
		asg, pid := s.assignWithIdentity(t, s.sub(), "ds", def, "")
		s.assignRole(t, s.sub(), roleIDByName(t, s, "Contributor"), pid, "ServicePrincipal")
		s.waitNonCompliant(t, asg, 2)
		path := remediationPath(s.sub(), "ds")
		s.put(t, path+iav, `{"properties":{"policyAssignmentId":"`+asg+`"}}`, 201)
		props := s.waitRemediation(t, path, "Succeeded", "Complete", "Failed")
		if props["provisioningState"] != "Succeeded" || summary(props) != "2/2/0" {
			t.Fatalf("remediation: %v; deployments %v", props, s.deployments(t, path, 0))
		}
		for _, d := range s.deployments(t, path, 0) {
			dep := fmt.Sprint(d["deploymentId"])
			if d["status"] != "Succeeded" || !strings.Contains(dep, "/providers/Microsoft.Resources/deployments/PolicyDeployment_") {
				t.Errorf("deployment record: %v", d)
				continue
			}
			if g := s.Do(t, "GET", dep+"?api-version=2024-03-01", nil); g.Status != 200 || g.JSON()["properties"].(map[string]any)["provisioningState"] != "Succeeded" {
				t.Errorf("the deployment %s: %d %s", dep, g.Status, g.Body)
			}
		}
		for _, ws := range []string{ws1, ws2} {
			if g := s.Do(t, "GET", ws+"/datastores/policyds"+av, nil); g.Status != 200 || !strings.Contains(string(g.Body), "made by a remediation") {
				t.Errorf("%s: the datastore: %d %s", ws, g.Status, g.Body)
			}
		}
		s.waitAllCompliant(t, asg, 2)
	})
}
