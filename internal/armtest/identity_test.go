package armtest

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/activitylog"
)

// roleRows lists the role assignments of a principal at, above and
// below a scope, as "role GUID@scope" rows, sorted.
func (s *Server) roleRows(t *testing.T, scope, principal string) []string {
	t.Helper()
	q := url.Values{"api-version": {"2022-04-01"}, "$filter": {"principalId eq '" + principal + "'"}}
	r := s.Do(t, "GET", scope+"/providers/Microsoft.Authorization/roleAssignments?"+q.Encode(), nil)
	if r.Status != 200 {
		t.Fatalf("role assignments at %s: %d %s", scope, r.Status, r.Body)
	}
	var out struct {
		Value []struct {
			ID         string `json:"id"`
			Properties struct {
				RoleDefinitionID string `json:"roleDefinitionId"`
				Scope            string `json:"scope"`
			} `json:"properties"`
		} `json:"value"`
	}
	json.Unmarshal(r.Body, &out)
	rows := []string{}
	for _, v := range out.Value {
		role := v.Properties.RoleDefinitionID[strings.LastIndexByte(v.Properties.RoleDefinitionID, '/')+1:]
		rows = append(rows, role+"@"+v.Properties.Scope)
	}
	slices.Sort(rows)
	return rows
}

// TestWorkspaceIdentityRoles: a workspace's system-assigned identity
// gets exactly the role table of resource-model §5.1 with the
// workspace, the roles hold, resyncKeys restores one removed, and the
// table goes with the workspace.
func TestWorkspaceIdentityRoles(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		rg := s.RG("rg1")
		ws := wsPath(s, "rg1", "ws1")
		sa := rg + "/providers/Microsoft.Storage/storageAccounts/sa1"
		kv := rg + "/providers/Microsoft.KeyVault/vaults/kv1"
		acr := rg + "/providers/Microsoft.ContainerRegistry/registries/acr1"
		r := s.Do(t, "PUT", ws+av, `{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"storageAccount":"`+sa+`","keyVault":"`+kv+`","containerRegistry":"`+acr+`"}}`)
		s.settle(t, "the workspace", r)
		var got struct {
			Identity struct {
				PrincipalID string `json:"principalId"`
			} `json:"identity"`
		}
		json.Unmarshal(s.Do(t, "GET", ws+av, nil).Body, &got)
		p := got.Identity.PrincipalID
		if p == "" {
			t.Fatal("the workspace has no principalId")
		}
		const contributor, blob, kvAdmin = "b24988ac-6180-42a0-ab88-20f7382dd24c", "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "00482a5a-887f-4fb3-b363-3b7fe8e74483"
		want := []string{contributor + "@" + acr, contributor + "@" + rg, contributor + "@" + ws, kvAdmin + "@" + kv, blob + "@" + sa}
		slices.Sort(want)
		if rows := s.roleRows(t, rg, p); !slices.Equal(rows, want) {
			t.Fatalf("the identity's roles:\n%v\nwant\n%v", rows, want)
		}
		// They hold: Contributor on the resource group.
		d, err := s.Access.Decider(context.Background(), &activitylog.Caller{ObjectID: p})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed("Microsoft.Storage/storageAccounts/write", sa) || d.Allowed("Microsoft.Authorization/roleAssignments/write", rg) {
			t.Error("the identity's decisions are not its roles' (Contributor on rg1)")
		}
		// One removed; resyncKeys restores it, and only it.
		q := url.Values{"api-version": {"2022-04-01"}, "$filter": {"principalId eq '" + p + "'"}}
		var list struct {
			Value []struct {
				ID         string `json:"id"`
				Properties struct {
					Scope string `json:"scope"`
				} `json:"properties"`
			} `json:"value"`
		}
		json.Unmarshal(s.Do(t, "GET", rg+"/providers/Microsoft.Authorization/roleAssignments?"+q.Encode(), nil).Body, &list)
		list.Value = slices.DeleteFunc(list.Value, func(v struct {
			ID         string `json:"id"`
			Properties struct {
				Scope string `json:"scope"`
			} `json:"properties"`
		}) bool {
			return v.Properties.Scope != sa
		})
		if len(list.Value) != 1 {
			t.Fatalf("the storage account's role assignments: %v", list.Value)
		}
		if r := s.Do(t, "DELETE", list.Value[0].ID+"?api-version=2022-04-01", nil); r.Status != 200 {
			t.Fatalf("removing the storage role: %d %s", r.Status, r.Body)
		}
		if rows := s.roleRows(t, rg, p); len(rows) != 4 {
			t.Fatalf("after the removal: %v", rows)
		}
		s.post(t, ws+"/resyncKeys", "", 200)
		if rows := s.roleRows(t, rg, p); !slices.Equal(rows, want) {
			t.Errorf("after resyncKeys:\n%v\nwant\n%v", rows, want)
		}
		if r := s.Do(t, "GET", list.Value[0].ID+"?api-version=2022-04-01", nil); r.Status != 200 {
			t.Errorf("resyncKeys made another assignment than the one removed: %d", r.Status)
		}
		// The identity is a principal of the directory: a role for it
		// needs no principalType.
		r = s.Do(t, "PUT", rg+"/providers/Microsoft.Authorization/roleAssignments/2f6e0c1d-3b4a-4c5d-9e8f-0a1b2c3d4e5f?api-version=2022-04-01",
			`{"properties":{"roleDefinitionId":"`+roleIDByName(t, s, "Reader")+`","principalId":"`+p+`"}}`)
		if r.Status != 201 || !strings.Contains(string(r.Body), `"principalType":"ServicePrincipal"`) {
			t.Errorf("a role for the workspace identity: %d %s", r.Status, r.Body)
		}
		s.Do(t, "DELETE", rg+"/providers/Microsoft.Authorization/roleAssignments/2f6e0c1d-3b4a-4c5d-9e8f-0a1b2c3d4e5f?api-version=2022-04-01", nil)
		// The table goes with the workspace.
		s.settle(t, "the workspace's delete", s.Do(t, "DELETE", ws+av, nil))
		if rows := s.roleRows(t, rg, p); len(rows) != 0 {
			t.Errorf("after the workspace's delete: %v", rows)
		}
		// A workspace without a system-assigned identity gets none.
		ws2 := s.mustWorkspace(t, "rg1", "ws2")
		r = s.Do(t, "GET", rg+"/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", nil)
		if strings.Contains(string(r.Body), strings.ToLower(ws2)) || strings.Contains(string(r.Body), ws2) {
			t.Errorf("a workspace without an identity has role assignments: %s", r.Body)
		}
	})
}
