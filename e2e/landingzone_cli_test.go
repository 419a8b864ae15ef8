package e2e

// mlgov landingzone create|show, as the real binary against a real mlgov
// serve: the example ML data landing zone vended for a team named by its
// display name; its subscription is in the zone's management group, with
// the zone's assignments above it. A template with a mistake is refused
// by the CLI naming the file and the pointer, before anything is sent.

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestLandingZoneCLI(t *testing.T) {
	srv, hc, token := serveWithToken(t)
	if builtinArgs(t) == nil {
		t.Skip("SKIP: the example landing zone assigns built-ins from ../shared, which is absent")
	}
	b := srv.Bootstrap
	r := mlgovCLI(t, srv, "directory", "group", "create", "ml team one")
	if r.code != 0 {
		t.Fatalf("group: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	tmpl, _ := filepath.Abs(filepath.Join("..", "examples", "landingzones", "ml-data-landing-zone.json"))
	r = mlgovCLI(t, srv, "landingzone", "create", "team-one", "--template", tmpl, "--team", "ml team one")
	var rec struct {
		Properties struct {
			ProvisioningState, SubscriptionID, ManagementGroupID string
			PolicyAssignments                                    []string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || r.code != 0 || rec.Properties.ProvisioningState != "Succeeded" {
		t.Fatalf("create: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if len(rec.Properties.PolicyAssignments) != 4 || !strings.HasSuffix(rec.Properties.ManagementGroupID, "/ml-data-zones") {
		t.Errorf("record: %+v", rec.Properties)
	}
	st, m := armSend(t, hc, b.Endpoint, token, "GET", "/providers/Microsoft.Management/managementGroups/ml-data-zones/subscriptions/"+rec.Properties.SubscriptionID+"?api-version=2021-04-01", "")
	if st != 200 {
		t.Errorf("the subscription's place: %d %v", st, m)
	}
	if r := mlgovCLI(t, srv, "landingzone", "show", "team-one"); r.code != 0 || !strings.Contains(r.stdout, rec.Properties.SubscriptionID) {
		t.Errorf("show: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	bad := writeTemp(t, `{"managementGroup": {"name": "x"}, "policyAssignments": [{"name": "a", "policyDefinitionId": "/p", "identity": {}}]}`)
	r = mlgovCLI(t, srv, "landingzone", "create", "team-two", "--template", bad, "--team", "00000000-0000-0000-0000-000000000001")
	if r.code == 0 || !strings.Contains(r.stderr, "/policyAssignments/0/identity") || !strings.Contains(r.stderr, bad) {
		t.Errorf("a bad template: exit %d %s", r.code, r.stderr)
	}
	r = mlgovCLI(t, srv, "landingzone", "create", "team-two", "--template", tmpl, "--team", "nobody")
	if r.code == 0 || !strings.Contains(r.stderr, `--team "nobody"`) {
		t.Errorf("an unknown team: exit %d %s", r.code, r.stderr)
	}
}
