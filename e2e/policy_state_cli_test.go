package e2e

// The compliance commands of the CLI (mlgov policy scan, mlgov policy
// state list|summarize) run as the real binary against a real `mlgov
// serve` with the ML built-ins: the idle-shutdown built-in assigned at a
// resource group, a compute instance without idle shutdown and one with it
// written by plain HTTPS PUTs, a scan to the end, the NonCompliant record,
// the summary's count, and a bad $filter.

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// idleShutdownBuiltin is "Compute instances should have idle shutdown"
// (Audit).
const idleShutdownBuiltin = "679ddf89-ab8f-48a5-9029-e76054077449"

func TestPolicyStateCLI(t *testing.T) {
	srv, hc, token := serveWithToken(t)
	b := srv.Bootstrap
	put := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", b.Endpoint+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("PUT %s: %v", path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, raw)
		}
	}
	sub := "/subscriptions/" + b.SubscriptionID
	rg := sub + "/resourceGroups/rg-state"
	put(rg+"?api-version=2021-04-01", `{"location":"eastus"}`)

	// The built-in assigned at the resource group with the existing command.
	r := policyCLI(t, srv, "assignment", "create", "-n", "idle", "--policy", idleShutdownBuiltin, "-g", "rg-state", "-o", "json").ok(t, "assignment create")
	var asg armResource
	r.jsonOut(t, "assignment create", &asg)
	if !strings.EqualFold(asg.ID, rg+"/providers/Microsoft.Authorization/policyAssignments/idle") {
		t.Fatalf("assignment: %+v", asg)
	}

	// A workspace, a compute instance without idle shutdown and one with it.
	ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/ws-state"
	const mlav = "?api-version=2024-04-01"
	put(ws+mlav, `{"location":"eastus"}`)
	compute := func(name, idle string) string {
		props := `"vmSize":"STANDARD_DS3_V2"`
		if idle != "" {
			props += `,"idleTimeBeforeShutdown":"` + idle + `"`
		}
		p := ws + "/computes/" + name
		put(p+mlav, `{"location":"eastus","properties":{"computeType":"ComputeInstance","disableLocalAuth":true,"properties":{`+props+`}}}`)
		return p
	}
	bad := compute("ci-no-idle", "")
	good := compute("ci-idle", "PT30M")

	// The scan runs to the end (stderr is a pipe: one line at the end, on stdout).
	r = policyCLI(t, srv, "scan", "-g", "rg-state").ok(t, "scan")
	if !strings.HasPrefix(r.stdout, "evaluation of "+rg+": Succeeded in ") || strings.Count(r.stdout, "\n") != 1 || r.stderr != "" {
		t.Errorf("scan output: %q %q", r.stdout, r.stderr)
	}
	r = policyCLI(t, srv, "scan", "--scope", sub, "--no-wait").ok(t, "scan --no-wait")
	if loc := strings.TrimSpace(r.stdout); !strings.HasPrefix(loc, b.Endpoint+sub+"/providers/Microsoft.PolicyInsights/asyncOperationResults/") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("scan --no-wait: %q", r.stdout)
	}

	// states runs `state list ARGS -o json` (into a new slice: json.Unmarshal
	// would merge into the maps of a reused one).
	states := func(what string, args ...string) []map[string]any {
		t.Helper()
		var recs []map[string]any
		policyCLI(t, srv, append(append([]string{"state", "list"}, args...), "-o", "json")...).ok(t, what).jsonOut(t, what, &recs)
		return recs
	}

	// The NonCompliant record: the compute without idle shutdown only.
	recs := states("state list NonCompliant", "-g", "rg-state", "--filter", "complianceState eq 'NonCompliant'")
	if len(recs) != 1 || !strings.EqualFold(recs[0]["resourceId"].(string), bad) || recs[0]["complianceState"] != "NonCompliant" ||
		!strings.EqualFold(recs[0]["policyAssignmentId"].(string), asg.ID) || !strings.EqualFold(recs[0]["policyDefinitionName"].(string), idleShutdownBuiltin) {
		t.Fatalf("NonCompliant records: %v", recs)
	}
	if _, ok := recs[0]["policyEvaluationDetails"]; ok {
		t.Errorf("policyEvaluationDetails without --expand: %v", recs[0])
	}
	recs = states("state list --expand", "--resource", bad, "--expand", "PolicyEvaluationDetails")
	if len(recs) != 1 || recs[0]["policyEvaluationDetails"] == nil {
		t.Errorf("--resource --expand: %v", recs)
	}
	// The table: both computes with their states.
	r = policyCLI(t, srv, "state", "list", "-a", "idle", "-g", "rg-state").ok(t, "state list table")
	badRow, goodRow := tableRow(r.stdout, "rg-state/workspaces/ws-state/computes/ci-no-idle"), tableRow(r.stdout, "rg-state/workspaces/ws-state/computes/ci-idle")
	for _, c := range []struct{ row, state string }{{badRow, "NonCompliant"}, {goodRow, "Compliant"}} {
		f := strings.Fields(c.row)
		if len(f) != 6 || f[1] != "Microsoft.MachineLearningServices/workspaces/computes" || f[2] != "idle" || f[3] != idleShutdownBuiltin || f[4] != c.state || !strings.EqualFold(f[5], "audit") {
			t.Errorf("state list table: row %q (want %s):\n%s", c.row, c.state, r.stdout)
		}
	}
	if !strings.HasPrefix(r.stdout, "RESOURCE ") || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("state list table:\n%s", r.stdout)
	}
	// ci-no-idle sorts after ci-idle.
	recs = states("state list --top --order-by --select", "-g", "rg-state", "--top", "1", "--order-by", "resourceId desc", "--select", "resourceId, complianceState")
	if len(recs) != 1 || len(recs[0]) != 2 || !strings.EqualFold(recs[0]["resourceId"].(string), bad) {
		t.Errorf("--top 1 --order-by resourceId desc --select: %v (want %s only)", recs, bad)
	}
	recs = states("state list --order-by asc", "-g", "rg-state", "--order-by", "resourceId asc", "--select", "resourceId")
	if len(recs) != 2 || !strings.EqualFold(recs[0]["resourceId"].(string), good) {
		t.Errorf("--order-by resourceId asc: %v (want %s first)", recs, good)
	}
	recs = states("state list --apply", "-g", "rg-state", "--apply", "groupby((complianceState), aggregate($count as n))", "--order-by", "complianceState")
	if len(recs) != 2 || recs[0]["complianceState"] != "Compliant" || recs[0]["n"] != float64(1) || recs[1]["complianceState"] != "NonCompliant" || recs[1]["n"] != float64(1) {
		t.Errorf("--apply: %v", recs)
	}

	// summarize: its non-compliant count is the list's.
	var sum struct {
		Value []struct {
			Results struct {
				NonCompliantResources int `json:"nonCompliantResources"`
			} `json:"results"`
			PolicyAssignments []struct {
				ID      string `json:"policyAssignmentId"`
				Results struct {
					NonCompliantResources int `json:"nonCompliantResources"`
					NonCompliantPolicies  int `json:"nonCompliantPolicies"`
				} `json:"results"`
			} `json:"policyAssignments"`
		} `json:"value"`
	}
	policyCLI(t, srv, "state", "summarize", "-g", "rg-state", "-o", "json").ok(t, "summarize json").jsonOut(t, "summarize", &sum)
	if len(sum.Value) != 1 || sum.Value[0].Results.NonCompliantResources != 1 || len(sum.Value[0].PolicyAssignments) != 1 ||
		!strings.EqualFold(sum.Value[0].PolicyAssignments[0].ID, asg.ID) || sum.Value[0].PolicyAssignments[0].Results.NonCompliantResources != 1 {
		t.Errorf("summarize -o json: %+v", sum)
	}
	r = policyCLI(t, srv, "state", "summarize", "-g", "rg-state", "--filter", "resourceType eq 'Microsoft.MachineLearningServices/workspaces/computes'").ok(t, "summarize table")
	if row := strings.Fields(tableRow(r.stdout, "idle")); len(row) != 4 || !strings.EqualFold(row[1], rg) || row[2] != "1" || row[3] != "1" {
		t.Errorf("summarize table row %q:\n%s", row, r.stdout)
	}
	if row := strings.Fields(tableRow(r.stdout, "TOTAL")); len(row) != 3 || row[1] != "1" || row[2] != "1" {
		t.Errorf("summarize table total %q:\n%s", row, r.stdout)
	}

	// Bad input: the server's 400 naming $filter; a scan where none runs.
	policyCLI(t, srv, "state", "list", "-g", "rg-state", "--filter", "Complianc eq 'x'").failed(t, "a bad --filter",
		"error: InvalidQueryParameterValue: ", "$filter", "target: $filter")
	policyCLI(t, srv, "state", "summarize", "--filter", "resourceLocation eq 'eastus'").failed(t, "summarize on an unindexed property",
		"error: InvalidQueryParameterValue: ", "summarize supports $filter")
	policyCLI(t, srv, "scan", "--scope", rg+"/providers/Microsoft.MachineLearningServices/workspaces/ws-state").failed(t, "a scan at a resource",
		"a scan runs at a subscription or a resource group")
	policyCLI(t, srv, "state", "list", "--top", "-1").failed(t, "a negative --top", "--top -1")
	if all := states("state list --all", "--all"); len(all) != 2 {
		t.Errorf("state list --all at the subscription: %d records", len(all))
	}
}
