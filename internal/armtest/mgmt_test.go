package armtest

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store/feed"
)

const mgav = "?api-version=2021-04-01"

func mgPath(name string) string { return "/providers/Microsoft.Management/managementGroups/" + name }

// group creates a management group under parent ("" : the root group).
func (s *Server) group(t *testing.T, name, parent string) map[string]any {
	t.Helper()
	body := map[string]any{"properties": map[string]any{"displayName": strings.ToUpper(name)}}
	if parent != "" {
		body["properties"].(map[string]any)["details"] = map[string]any{"parent": map[string]any{"id": mgPath(parent)}}
	}
	r := s.Do(t, "PUT", mgPath(name)+mgav, body)
	if r.Status != 200 {
		t.Fatalf("PUT group %s: %d %s", name, r.Status, r.Body)
	}
	return r.JSON()
}

// newSubscription creates a subscription through an alias, in group
// (""; the root group), and returns its id.
func (s *Server) newSubscription(t *testing.T, alias, group string) string {
	t.Helper()
	p := map[string]any{"displayName": alias, "workload": "Production"}
	if group != "" {
		p["additionalProperties"] = map[string]any{"managementGroupId": mgPath(group)}
	}
	r := s.Do(t, "PUT", "/providers/Microsoft.Subscription/aliases/"+alias+"?api-version=2021-10-01", map[string]any{"properties": p})
	if r.Status != 200 && r.Status != 201 {
		t.Fatalf("PUT alias %s: %d %s", alias, r.Status, r.Body)
	}
	props, _ := r.JSON()["properties"].(map[string]any)
	sub, _ := props["subscriptionId"].(string)
	if sub == "" || props["provisioningState"] != "Succeeded" {
		t.Fatalf("alias %s: %s", alias, r.Body)
	}
	return sub
}

// TestManagementGroups: the root group, a hierarchy, its rules (parent
// must exist, no cycle, no delete with children, root kept), subscription
// aliases and moves, descendants.
func TestManagementGroups(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		root := s.Do(t, "GET", mgPath(s.TenantID)+mgav, nil)
		if root.Status != 200 || !strings.Contains(string(root.Body), `"Tenant Root Group"`) {
			t.Fatalf("root group: %d %s", root.Status, root.Body)
		}
		platform := s.group(t, "platform", "")
		details := platform["properties"].(map[string]any)["details"].(map[string]any)
		if p := details["parent"].(map[string]any); !strings.EqualFold(p["id"].(string), mgPath(s.TenantID)) {
			t.Fatalf("default parent: %v", p)
		}
		s.group(t, "landingzones", "platform")
		s.group(t, "corp", "landingzones")
		// Bad parents: missing, itself, below itself; a bad name.
		for _, c := range []struct{ name, parent, code string }{
			{"x1", "nosuch", "ParentManagementGroupNotFound"},
			{"platform", "platform", "InvalidManagementGroupHierarchy"},
			{"platform", "corp", "InvalidManagementGroupHierarchy"},
		} {
			r := s.Do(t, "PUT", mgPath(c.name)+mgav, map[string]any{"properties": map[string]any{"details": map[string]any{"parent": map[string]any{"id": mgPath(c.parent)}}}})
			if r.Status != 400 || r.ErrorCode() != c.code {
				t.Errorf("%s under %s: %d %s, want 400 %s", c.name, c.parent, r.Status, r.Body, c.code)
			}
		}
		if r := s.Do(t, "PUT", mgPath("bad.")+mgav, `{}`); r.Status != 400 || r.ErrorCode() != "InvalidResourceName" {
			t.Errorf("bad name: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "PUT", mgPath("x2")+mgav, `{"properties":{"details":{"parent":{"id":"/subscriptions/x"}}}}`); r.Status != 400 || !strings.Contains(string(r.Body), "properties.details.parent.id") {
			t.Errorf("parent not a group: %d %s", r.Status, r.Body)
		}

		// A subscription made by an alias lands in corp; the default
		// subscription is moved into platform, then back to the root.
		sub := s.newSubscription(t, "team-a", "corp")
		if r := s.Do(t, "GET", "/subscriptions/"+sub+"?api-version=2022-12-01", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"team-a"`) {
			t.Fatalf("the alias's subscription: %d %s", r.Status, r.Body)
		}
		if got := names(s.listAll(t, mgPath("corp")+"/subscriptions"+mgav)); len(got) != 1 || got[0] != sub {
			t.Fatalf("corp's subscriptions: %v", got)
		}
		if r := s.Do(t, "PUT", mgPath("platform")+"/subscriptions/"+s.SubscriptionID+mgav, nil); r.Status != 200 {
			t.Fatalf("move: %d %s", r.Status, r.Body)
		}
		desc := names(s.listAll(t, mgPath("platform")+"/descendants"+mgav))
		want := []string{"corp", "landingzones", sub, s.SubscriptionID}
		slices.Sort(want)
		if !slices.Equal(desc, want) {
			t.Fatalf("descendants of platform: %v", desc)
		}
		// update (PATCH) renames a group and moves it.
		r := s.Do(t, "PATCH", mgPath("corp")+mgav, `{"displayName":"Corp two","parentGroupId":"`+mgPath("platform")+`"}`)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"Corp two"`) || !strings.Contains(string(r.Body), `"name":"platform"`) {
			t.Fatalf("PATCH corp: %d %s", r.Status, r.Body)
		}
		if got := names(s.listAll(t, mgPath("landingzones")+"/descendants"+mgav)); len(got) != 0 {
			t.Fatalf("landingzones after corp moved: %v", got)
		}
		// Moving it again takes it out of platform.
		s.put(t, mgPath("landingzones")+"/subscriptions/"+s.SubscriptionID+mgav, "", 200)
		if got := names(s.listAll(t, mgPath("platform")+"/subscriptions"+mgav)); len(got) != 0 {
			t.Fatalf("platform still holds %v", got)
		}
		if r := s.Do(t, "PUT", mgPath("platform")+"/subscriptions/00000000-0000-0000-0000-00000000dead"+mgav, nil); r.Status != 404 || r.ErrorCode() != "SubscriptionNotFound" {
			t.Errorf("unknown subscription: %d %s", r.Status, r.Body)
		}
		// Deletes: not with children, not the root.
		if r := s.Do(t, "DELETE", mgPath("landingzones")+mgav, nil); r.Status != 400 || r.ErrorCode() != "ManagementGroupHasChildren" {
			t.Errorf("delete with children: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "DELETE", mgPath(s.TenantID)+mgav, nil); r.Status != 400 || r.ErrorCode() != "InvalidManagementGroupOperation" {
			t.Errorf("delete root: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "DELETE", mgPath("landingzones")+"/subscriptions/"+s.SubscriptionID+mgav, nil); r.Status != 200 && r.Status != 204 {
			t.Errorf("back to root: %d %s", r.Status, r.Body)
		}
		all := names(s.listAll(t, "/providers/Microsoft.Management/managementGroups"+mgav))
		if len(all) != 4 {
			t.Errorf("groups: %v", all)
		}
		// An alias's bad input names the field.
		for body, field := range map[string]string{
			`{"properties":{"workload":"Production"}}`:                                                  "properties.displayName",
			`{"properties":{"displayName":"x","workload":"Gold"}}`:                                      "properties.workload",
			`{"properties":{"displayName":"x","additionalProperties":{"subscriptionOwnerId":"abc"}}}`:   "subscriptionOwnerId",
			`{"properties":{"displayName":"x","additionalProperties":{"managementGroupId":"/nosuch"}}}`: "managementGroupId",
		} {
			r := s.Do(t, "PUT", "/providers/Microsoft.Subscription/aliases/bad?api-version=2021-10-01", body)
			if r.Status != 400 || !strings.Contains(string(r.Body), field) {
				t.Errorf("alias %s: %d %s, want 400 naming %s", body, r.Status, r.Body, field)
			}
		}
	})
}

// TestManagementGroupInheritance: a policy assignment and a role
// assignment at a management group apply to the subscriptions moved
// under it (requests, compliance, RBAC) and stop when one is moved out;
// a subscription's Owner cannot change the assignments above it.
func TestManagementGroupInheritance(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		def := mlBuiltin(t, "Workspace_PublicNetworkAccessDisabled_Audit.json")
		s.group(t, "corp", "")
		s.group(t, "online", "corp")
		asg := s.assign(t, mgPath("corp"), "no-public", def, `"parameters":{"effect":{"value":"Deny"}}`)
		mustCreateRG(t, s, "rg1")
		public := `{"location":"eastus","properties":{"publicNetworkAccess":"Enabled"}}`
		before := wsPath(s, "rg1", "before")
		if r := s.Do(t, "PUT", before+av, public); r.Status >= 300 {
			t.Fatalf("outside the group: %d %s", r.Status, r.Body)
		}

		// Under online (below corp): Deny by the group's assignment.
		s.put(t, mgPath("online")+"/subscriptions/"+s.SubscriptionID+mgav, "", 200)
		r := s.Do(t, "PUT", wsPath(s, "rg1", "denied")+av, public)
		if info := violation(t, r); !strings.EqualFold(info["policyAssignmentId"].(string), asg) {
			t.Fatalf("refused by %v, want %s", info["policyAssignmentId"], asg)
		}
		if r := s.Do(t, "PUT", wsPath(s, "rg1", "private")+av, `{"location":"eastus","properties":{"publicNetworkAccess":"Disabled"}}`); r.Status >= 300 {
			t.Fatalf("private workspace: %d %s", r.Status, r.Body)
		}
		// A custom definition at the group, assigned at a subscription
		// below it (a definition at a group is visible below it only).
		tagDef := mgPath("corp") + "/providers/Microsoft.Authorization/policyDefinitions/storage-env-tag"
		s.put(t, tagDef+pav, `{"properties":{"mode":"Indexed","policyRule":{"if":{"allOf":[{"field":"type","equals":"Microsoft.Storage/storageAccounts"},{"field":"tags.env","exists":false}]},"then":{"effect":"deny"}}}}`, 201)
		s.assign(t, s.sub(), "storage-env", tagDef, "")
		if r := s.Do(t, "PUT", storagePath(s, "rg1", "st1")+"?api-version=2023-05-01", `{"location":"eastus"}`); r.Status != 403 {
			t.Fatalf("storage without env tag: %d %s", r.Status, r.Body)
		}
		other := s.newSubscription(t, "elsewhere", "")
		r = s.Do(t, "PUT", "/subscriptions/"+other+"/providers/Microsoft.Authorization/policyAssignments/x"+pav, `{"properties":{"policyDefinitionId":"`+tagDef+`"}}`)
		if r.Status != 400 || r.ErrorCode() != "PolicyDefinitionNotFound" {
			t.Fatalf("a group's definition outside the group: %d %s", r.Status, r.Body)
		}
		// The workspace written before the move is re-evaluated.
		s.waitStatesFor(t, 10*time.Second, s.sub(), "", "NonCompliant under the group", func(recs []map[string]any) bool {
			return stateOf(recs, before, "no-public") == "NonCompliant"
		})

		// RBAC: Reader at corp reads below; the subscription's Owner
		// cannot delete or change the group's assignment, nor the group.
		reader := s.NewPrincipal(t, "mg-reader")
		s.assignRole(t, mgPath("corp"), roleIDByName(t, s, "Reader"), reader.ObjectID, "ServicePrincipal")
		if r := s.DoAs(t, reader.Token, "GET", before+av, nil); r.Status != 200 {
			t.Fatalf("reader at the group: %d %s", r.Status, r.Body)
		}
		// The subscription's role assignments that hold for it list the
		// group's (atScope(): at or above).
		found := false
		for _, ra := range s.listAll(t, s.sub()+"/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()") {
			p, _ := ra["properties"].(map[string]any)
			found = found || (p["principalId"] == reader.ObjectID && strings.EqualFold(p["scope"].(string), mgPath("corp")))
		}
		if !found {
			t.Error("the group's role assignment is not listed at the subscription with atScope()")
		}
		owner := s.NewPrincipal(t, "sub-owner")
		s.assignRole(t, s.sub(), roleIDByName(t, s, "Owner"), owner.ObjectID, "ServicePrincipal")
		for _, c := range []struct{ method, path string }{
			{"DELETE", asg + pav},
			{"PUT", mgPath("corp") + "/providers/Microsoft.Authorization/policyAssignments/other" + pav},
			{"DELETE", mgPath("online") + "/subscriptions/" + s.SubscriptionID + mgav},
			{"PUT", mgPath("online") + mgav},
		} {
			r := s.DoAs(t, owner.Token, c.method, c.path, `{"properties":{"policyDefinitionId":"`+def+`"}}`)
			if r.Status != 403 || r.ErrorCode() != "AuthorizationFailed" {
				t.Errorf("owner %s %s: %d %s, want 403", c.method, c.path, r.Status, r.Body)
			}
		}
		if r := s.DoAs(t, owner.Token, "PUT", wsPath(s, "rg1", "owner-public")+av, public); r.Status != 403 || r.ErrorCode() != "RequestDisallowedByPolicy" {
			t.Errorf("owner's public workspace: %d %s", r.Status, r.Body)
		}

		s.Do(t, "DELETE", s.sub()+"/providers/Microsoft.Authorization/policyAssignments/storage-env"+pav, nil)
		// Back to the root group: neither applies any more.
		if r := s.Do(t, "DELETE", mgPath("online")+"/subscriptions/"+s.SubscriptionID+mgav, nil); r.Status >= 300 {
			t.Fatalf("move out: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "PUT", wsPath(s, "rg1", "after")+av, public); r.Status >= 300 {
			t.Fatalf("after the move out: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, reader.Token, "GET", before+av, nil); r.Status != 403 {
			t.Fatalf("reader after the move out: %d %s", r.Status, r.Body)
		}
		s.waitStatesFor(t, 10*time.Second, s.sub(), "", "no records of the group's assignment", func(recs []map[string]any) bool {
			return stateOf(recs, before, "no-public") == ""
		})
	})
}

// TestHierarchyOtherReplica: another replica's Hierarchy, following the
// change feed, puts a move in force (and tells its listeners).
func TestHierarchyOtherReplica(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		other := resources.NewHierarchy(s.Store, s.TenantID)
		changes := make(chan struct{}, 16)
		other.OnChange(func(old, new *arm.Tree) { changes <- struct{}{} })
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		if err := other.Load(ctx); err != nil {
			t.Fatal(err)
		}
		fd := feed.New(s.Store, feed.Options{Interval: 20 * time.Millisecond})
		other.Follow(fd)
		go fd.Run(ctx)
		<-fd.Ready()
		s.group(t, "corp", "")
		s.put(t, mgPath("corp")+"/subscriptions/"+s.SubscriptionID+mgav, "", 200)
		subKey := "/subscriptions/" + arm.KeyOf(s.SubscriptionID)
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Contains(other.Tree().Above(subKey), arm.ManagementGroupKey("corp")) {
			if time.Now().After(deadline) {
				t.Fatalf("the other replica's tree: %v above the subscription", other.Tree().Above(subKey))
			}
			time.Sleep(20 * time.Millisecond)
		}
		select {
		case <-changes:
		default:
			t.Fatal("no listener was told")
		}
	})
}

// TestManagementGroupCompliance: a group's policy states are those of
// the subscriptions below it (queryResults, $filter, summarize), and an
// assignment at a group has its own; a group with none answers none.
func TestManagementGroupCompliance(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		def := mlBuiltin(t, "Workspace_PublicNetworkAccessDisabled_Audit.json")
		s.group(t, "corp", "")
		s.group(t, "empty", "")
		asg := s.assign(t, mgPath("corp"), "audit-public", def, "")
		s.put(t, mgPath("corp")+"/subscriptions/"+s.SubscriptionID+mgav, "", 200)
		public := s.mustWorkspace(t, "rg1", "public")
		other := s.newSubscription(t, "outside", "")
		s.put(t, "/subscriptions/"+other+"/resourceGroups/rg9?api-version=2021-04-01", `{"location":"eastus"}`, 201)
		recs := s.waitStatesFor(t, 10*time.Second, mgPath("corp"), "", "the group's records", func(recs []map[string]any) bool {
			return stateOf(recs, public, "audit-public") == "NonCompliant"
		})
		for _, r := range recs {
			if !strings.HasPrefix(strings.ToLower(r["resourceId"].(string)), strings.ToLower(s.sub())) {
				t.Errorf("a record outside the group's subscriptions: %v", r["resourceId"])
			}
		}
		if got := s.states(t, asg, ""); stateOf(got, public, "audit-public") != "NonCompliant" {
			t.Errorf("the group's assignment's records: %v", got)
		}
		if got := s.states(t, mgPath("corp"), "&$filter="+url.QueryEscape("complianceState eq 'Compliant'")); stateOf(got, public, "audit-public") != "" {
			t.Errorf("$filter: %v", got)
		}
		if got := s.states(t, mgPath("empty"), ""); len(got) != 0 {
			t.Errorf("an empty group's records: %v", got)
		}
		r := s.Do(t, "POST", mgPath("corp")+"/providers/Microsoft.PolicyInsights/policyStates/latest/summarize"+iav, nil)
		sum, _ := r.JSON()["value"].([]any)
		if r.Status != 200 || len(sum) != 1 || !strings.Contains(string(r.Body), `"nonCompliantResources":1`) {
			t.Errorf("summarize at the group: %d %s", r.Status, r.Body)
		}
		for _, p := range []string{
			mgPath("nosuch") + "/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults" + iav,
			mgPath("corp") + "/providers/Microsoft.PolicyInsights/policyEvents/default/queryResults" + iav,
			mgPath("corp") + "/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation" + iav,
		} {
			if r := s.Do(t, "POST", p, nil); r.Status < 400 || r.Status == 500 {
				t.Errorf("POST %s: %d %s", p, r.Status, r.Body)
			}
		}
	})
}

// TestPolicyAssignmentLists: a list of policy assignments (and
// exemptions) at a scope holds those at, above (the management groups
// above included) and below it, as Azure's list does; atScope() those at
// or above, atExactScope() those at it, policyDefinitionId eq (exemptions:
// policyAssignmentId eq, excludeExpired()) narrows it; pages cross from
// the groups' to the subscription's; any other filter is refused.
func TestPolicyAssignmentLists(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		def := mlBuiltin(t, "Workspace_PublicNetworkAccessDisabled_Audit.json")
		other := mlBuiltin(t, "DisableLocalAuth_Audit.json")
		mustCreateRG(t, s, "rg1")
		s.group(t, "corp", "")
		s.group(t, "elsewhere", "")
		s.put(t, mgPath("corp")+"/subscriptions/"+s.SubscriptionID+mgav, "", 200)
		aMG := s.assign(t, mgPath("corp"), "a-mg", def, "")
		s.assign(t, mgPath("elsewhere"), "a-elsewhere", def, "")
		s.assign(t, s.sub(), "a-sub", other, "")
		aRG := s.assign(t, s.RG("rg1"), "a-rg", def, "")
		list := func(scope, filter string) string {
			t.Helper()
			q := ""
			if filter != "" {
				q = "&$filter=" + url.QueryEscape(filter)
			}
			return strings.Join(names(s.listAll(t, scope+"/providers/Microsoft.Authorization/policyAssignments"+pav+q)), ",")
		}
		for _, c := range []struct{ scope, filter, want string }{
			{s.sub(), "", "a-mg,a-rg,a-sub"},
			{s.sub(), "atScope()", "a-mg,a-sub"},
			{s.sub(), "atExactScope()", "a-sub"},
			{s.RG("rg1"), "", "a-mg,a-rg,a-sub"},
			{s.RG("rg1"), "atExactScope()", "a-rg"},
			{s.RG("rg1"), "policyDefinitionId eq '" + strings.ToUpper(def) + "'", "a-mg,a-rg"},
			{s.sub(), "atScope() and policyDefinitionId eq '" + other + "'", "a-sub"},
			{mgPath("corp"), "", "a-mg"},
			{mgPath("elsewhere"), "atScope()", "a-elsewhere"},
		} {
			if got := list(c.scope, c.filter); got != c.want {
				t.Errorf("%s %q: %s, want %s", c.scope, c.filter, got, c.want)
			}
		}
		// One item a page: the group's, then the subscription's.
		var paged []string
		for next := s.sub() + "/providers/Microsoft.Authorization/policyAssignments" + pav + "&$top=1"; next != ""; {
			r := s.Do(t, "GET", next, nil)
			m := r.JSON()
			for _, v := range m["value"].([]any) {
				paged = append(paged, v.(map[string]any)["name"].(string))
			}
			n, _ := m["nextLink"].(string)
			next = strings.TrimPrefix(n, s.URL)
		}
		if strings.Join(paged, ",") != "a-mg,a-rg,a-sub" && strings.Join(paged, ",") != "a-mg,a-sub,a-rg" {
			t.Errorf("paged: %v", paged)
		}
		for _, f := range []string{"x", "atScope() and atExactScope()", "policyAssignmentId eq 'x'", "excludeExpired()", "policyDefinitionId eq 'a' and policyDefinitionId eq 'b'"} {
			r := s.Do(t, "GET", s.sub()+"/providers/Microsoft.Authorization/policyAssignments"+pav+"&$filter="+url.QueryEscape(f), nil)
			if r.Status != 400 || r.ErrorCode() != "InvalidFilter" {
				t.Errorf("$filter %q: %d %s", f, r.Status, r.Body)
			}
		}
		// Exemptions.
		s.put(t, s.RG("rg1")+"/providers/Microsoft.Authorization/policyExemptions/waive-rg"+pav, `{"properties":{"policyAssignmentId":"`+aRG+`","exemptionCategory":"Waiver"}}`, 201)
		s.put(t, s.RG("rg1")+"/providers/Microsoft.Authorization/policyExemptions/waive-mg"+pav, `{"properties":{"policyAssignmentId":"`+aMG+`","exemptionCategory":"Waiver"}}`, 201)
		s.put(t, s.RG("rg1")+"/providers/Microsoft.Authorization/policyExemptions/expired"+pav, `{"properties":{"policyAssignmentId":"`+aMG+`","exemptionCategory":"Waiver","expiresOn":"2020-01-01T00:00:00Z"}}`, 201)
		ex := func(filter string) string {
			return strings.Join(names(s.listAll(t, s.RG("rg1")+"/providers/Microsoft.Authorization/policyExemptions?api-version=2022-07-01-preview&$filter="+url.QueryEscape(filter))), ",")
		}
		if got := ex("policyAssignmentId eq '" + aMG + "'"); got != "expired,waive-mg" {
			t.Errorf("exemptions of the group's assignment: %s", got)
		}
		if got := ex("excludeExpired()"); got != "waive-mg,waive-rg" {
			t.Errorf("exemptions not expired: %s", got)
		}
	})
}
