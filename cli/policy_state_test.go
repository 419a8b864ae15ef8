package cli

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPolicyStateFlags: bad flags are refused before any connection (the
// bootstrap file does not exist), naming the flag, with exit status 1.
func TestPolicyStateFlags(t *testing.T) {
	bs := []string{"--bootstrap", filepath.Join(t.TempDir(), "none.json")}
	asg := "/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/a"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad output", []string{"state", "list", "-o", "yaml"}, `--output "yaml"`},
		{"scope and resource", []string{"state", "list", "--scope", "/subscriptions/s", "--resource", "/subscriptions/s/resourceGroups/r/providers/P/t/n"}, "one of --scope, --resource and --policy-assignment"},
		{"scope and assignment", []string{"state", "list", "--scope", "/subscriptions/s", "--policy-assignment", "a"}, "one of --scope, --resource and --policy-assignment"},
		{"scope and resource group", []string{"state", "list", "--scope", "/subscriptions/s", "-g", "rg"}, "--resource-group goes with --policy-assignment NAME only"},
		{"bad scope", []string{"state", "list", "--scope", "rg1"}, `--scope "rg1"`},
		{"resource not a resource", []string{"state", "list", "--resource", "/subscriptions/s/resourceGroups/r"}, `--resource "/subscriptions/s/resourceGroups/r": expected a resource id`},
		{"assignment id with resource group", []string{"state", "list", "-a", asg, "-g", "rg"}, "an assignment name, not an id"},
		{"assignment id not an assignment", []string{"state", "list", "-a", "/subscriptions/s/resourceGroups/r"}, `--policy-assignment "/subscriptions/s/resourceGroups/r": expected a name or a policy assignment id`},
		{"assignment name with a slash", []string{"state", "list", "-a", "a?b"}, `--policy-assignment "a?b"`},
		{"negative top", []string{"state", "list", "--top", "-1"}, "--top -1"},
		{"bad expand", []string{"state", "list", "--expand", "Everything"}, `--expand "Everything"`},
		{"top not a number", []string{"state", "list", "--top", "x"}, `invalid argument "x" for "--top"`},
		{"summarize bad scope", []string{"state", "summarize", "--scope", "/tenants/x"}, `--scope "/tenants/x"`},
		{"summarize has no --resource", []string{"state", "summarize", "--resource", "/subscriptions/s"}, "unknown flag: --resource"},
		{"scan at a resource", []string{"scan", "--scope", "/subscriptions/s/resourceGroups/r/providers/P/t/n"}, "a scan runs at a subscription or a resource group"},
		{"scan scope and resource group", []string{"scan", "--scope", "/subscriptions/s", "-g", "r"}, "--scope or --resource-group, not both"},
		{"scan bad resource group", []string{"scan", "-g", "a/b"}, `--resource-group "a/b"`},
		{"scan has no --output", []string{"scan", "-o", "json"}, "unknown shorthand flag: 'o'"},
		{"scan endpoint without credentials", []string{"scan", "--endpoint", "https://x"}, "--endpoint and --credentials go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, append(append([]string{"policy"}, tc.args...), bs...)...)
			if code == 0 || !strings.Contains(errOut, tc.want) || out != "" || strings.Contains(errOut, "start `mlgov serve` first") {
				t.Errorf("exit %d, stdout %q, stderr %q; want a failure with %q", code, out, errOut, tc.want)
			}
		})
	}
	// Valid flags get as far as the connection.
	for _, args := range [][]string{
		{"state", "list", "-g", "rg", "-a", "asg", "--filter", "x", "--top", "3", "--all", "--expand", "policyEvaluationDetails"},
		{"state", "list", "-a", asg},
		{"state", "summarize", "--scope", "/subscriptions/s/resourceGroups/r"},
		{"scan", "--scope", "/subscriptions/s/resourceGroups/r"},
		{"scan", "--scope", "/subscriptions/s"},
	} {
		_, errOut, code := run(t, append(append([]string{"policy"}, args...), bs...)...)
		if code != 1 || !strings.Contains(errOut, "start `mlgov serve` first") {
			t.Errorf("%v: exit %d %q", args, code, errOut)
		}
	}
}

// TestPolicyStatePaths: the scope each flag combination queries, and the
// OData parameters sent.
func TestPolicyStatePaths(t *testing.T) {
	cl := &armClient{bs: &Bootstrap{SubscriptionID: "s1"}}
	asg := "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Authorization/policyAssignments/a1"
	res := "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
	for _, tc := range []struct {
		s    stateScope
		want string
	}{
		{stateScope{}, "/subscriptions/s1"},
		{stateScope{rg: "rg 1"}, "/subscriptions/s1/resourceGroups/rg%201"},
		{stateScope{scope: "/subscriptions/s2/resourceGroups/x/"}, "/subscriptions/s2/resourceGroups/x"},
		{stateScope{resource: res}, res},
		{stateScope{assignment: "a1"}, "/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/a1"},
		{stateScope{assignment: "a1", rg: "rg"}, asg},
		{stateScope{assignment: asg}, asg},
	} {
		s := tc.s
		if err := s.check(); err != nil {
			t.Errorf("%+v: %v", tc.s, err)
			continue
		}
		got, err := s.resolve(cl)
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q %v, want %q", tc.s, got, err, tc.want)
		}
	}
	p := statesPath("/subscriptions/s1", "latest", "queryResults", url.Values{"$filter": {"complianceState eq 'NonCompliant'"}, "$top": {"5"}, "$select": {""}})
	u, err := url.Parse(p)
	if err != nil || u.Path != "/subscriptions/s1/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults" {
		t.Fatalf("statesPath: %s %v", p, err)
	}
	q := u.Query()
	if q.Get("api-version") != "2024-10-01" || q.Get("$filter") != "complianceState eq 'NonCompliant'" || q.Get("$top") != "5" || q.Has("$select") || len(q) != 3 {
		t.Errorf("statesPath query: %v", q)
	}
	for in, want := range map[string]string{
		"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/ci1": "rg1/workspaces/ws1/computes/ci1",
		"/subscriptions/s1/resourceGroups/rg1": "rg1",
		"/subscriptions/s1":                    "s1",
		"/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/a": "policyAssignments/a",
		"not-an-id": "not-an-id",
	} {
		if got := shortResourceID(in); got != want {
			t.Errorf("shortResourceID(%s) = %q, want %q", in, got, want)
		}
	}
}

// Recorded answers of mlgov serve (internal/armtest TestComplianceLive).
const (
	recordedStates = `{"@odata.context":"https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#latest","@odata.count":2,"value":[
{"@odata.id":null,"@odata.context":"https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#latest/$entity","timestamp":"2026-12-06T09:00:00Z","resourceId":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/ci-bad","policyAssignmentId":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Authorization/policyAssignments/idle","policyDefinitionId":"/providers/Microsoft.Authorization/policyDefinitions/679ddf89-ab8f-48a5-9029-e76054077449","isCompliant":false,"subscriptionId":"s1","resourceType":"Microsoft.MachineLearningServices/workspaces/computes","resourceLocation":"eastus","resourceGroup":"rg1","policyAssignmentName":"idle","policyDefinitionName":"679ddf89-ab8f-48a5-9029-e76054077449","policyDefinitionAction":"audit","policyDefinitionReferenceId":"","complianceState":"NonCompliant"},
{"timestamp":"2026-12-06T09:00:00Z","resourceId":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/ci-good","policyAssignmentId":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Authorization/policyAssignments/ml","policySetDefinitionId":"/subscriptions/s1/providers/Microsoft.Authorization/policySetDefinitions/ml","resourceType":"Microsoft.MachineLearningServices/workspaces/computes","policyAssignmentName":"ml","policyDefinitionName":"679ddf89-ab8f-48a5-9029-e76054077449","policyDefinitionAction":"audit","policyDefinitionReferenceId":"idleShutdown","complianceState":"Compliant"}]}`
	recordedSummary = `{"@odata.context":"https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#summary","@odata.count":1,"value":[{"@odata.id":null,"@odata.context":"https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#summary/$entity","results":{"nonCompliantResources":6,"nonCompliantPolicies":1,"resourceDetails":[{"complianceState":"nonCompliant","count":6},{"complianceState":"compliant","count":1}],"policyDetails":[{"complianceState":"nonCompliant","count":1}],"policyGroupDetails":[]},"policyAssignments":[{"policyAssignmentId":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Authorization/policyAssignments/idle","policySetDefinitionId":"","results":{"nonCompliantResources":6,"nonCompliantPolicies":1,"resourceDetails":[{"complianceState":"nonCompliant","count":6},{"complianceState":"compliant","count":1}]},"policyDefinitions":[],"policyGroups":[]},{"policyAssignmentId":"/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/ml","policySetDefinitionId":"/subscriptions/s1/providers/Microsoft.Authorization/policySetDefinitions/ml","results":{"nonCompliantResources":0,"nonCompliantPolicies":0,"resourceDetails":[{"complianceState":"compliant","count":1}]},"policyDefinitions":[],"policyGroups":[]}]}]}`
)

func TestPolicyStateTables(t *testing.T) {
	var page struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(recordedStates), &page); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := stateTable(&out, "table", nil).many(page.Value); err != nil {
		t.Fatal(err)
	}
	want := `RESOURCE                         TYPE                                                   ASSIGNMENT  DEFINITION                            STATE         EFFECT
rg1/workspaces/ws1/computes/ci-bad   Microsoft.MachineLearningServices/workspaces/computes  idle        679ddf89-ab8f-48a5-9029-e76054077449  NonCompliant  audit
rg1/workspaces/ws1/computes/ci-good  Microsoft.MachineLearningServices/workspaces/computes  ml          idleShutdown                          Compliant     audit
`
	if norm(out.String()) != norm(want) {
		t.Errorf("state table:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	stateTable(&out, "table", selectFields("resourceId, complianceState")).many([]json.RawMessage{json.RawMessage(`{"resourceId":"/x","complianceState":"Compliant"}`)})
	if norm(out.String()) != "RESOURCEID COMPLIANCESTATE\n/x Compliant\n" {
		t.Errorf("--select table:\n%s", out.String())
	}
	rows := []json.RawMessage{json.RawMessage(`{"@odata.id":null,"complianceState":"NonCompliant","count":6}`), json.RawMessage(`{"complianceState":"Compliant","count":1}`)}
	out.Reset()
	stateTable(&out, "table", recordKeys(rows)).many(rows)
	if norm(out.String()) != "COMPLIANCESTATE COUNT\nNonCompliant 6\nCompliant 1\n" {
		t.Errorf("--apply table:\n%s", out.String())
	}
	out.Reset()
	if err := summaryTable(&out, []byte(recordedSummary)); err != nil {
		t.Fatal(err)
	}
	wantSum := "ASSIGNMENT SCOPE NON-COMPLIANT RESOURCES NON-COMPLIANT POLICIES\n" +
		"idle /subscriptions/s1/resourceGroups/rg1 6 1\n" +
		"ml /subscriptions/s1 0 0\n" +
		"TOTAL 6 1\n" +
		"resources: nonCompliant 6, compliant 1\n"
	if norm(out.String()) != wantSum {
		t.Errorf("summary table:\n%s\nwant (spacing aside):\n%s", out.String(), wantSum)
	}
	if err := summaryTable(&out, []byte(`{"value":[]}`)); err == nil {
		t.Error("an empty summary is not an error")
	}
}

// norm collapses the runs of spaces of a table (column widths aside).
func norm(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// fakeInsights is a TLS PolicyInsights endpoint: queryResults in pages of
// two records linked by @odata.nextLink, summarize, triggerEvaluation
// whose operation answers 202 polls times then 200; it records requests.
type fakeInsights struct {
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []string
	polls int
}

func (f *fakeInsights) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func newFakeInsights(t *testing.T, records int) (*fakeInsights, []string) {
	f := &fakeInsights{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasSuffix(p, "/oauth2/v2.0/token") {
			w.Write([]byte(`{"access_token":"tok"}`))
			return
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI())
		f.mu.Unlock()
		q := r.URL.Query()
		switch {
		case r.Header.Get("Authorization") != "Bearer tok":
			w.WriteHeader(401)
		case q.Get("api-version") != "2024-10-01":
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"code":"InvalidApiVersionParameter","message":"api-version"}}`))
		case strings.HasSuffix(p, "/policyStates/latest/queryResults") && strings.Contains(q.Get("$filter"), "Complianc "):
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"code":"InvalidQueryParameterValue","message":"$filter: unknown property 'Complianc' at 1.","target":"$filter"}}`))
		case strings.HasSuffix(p, "/policyStates/latest/queryResults") || strings.HasSuffix(p, "/policyStates/default/queryResults"):
			if (q.Get("$skiptoken") == "") != (r.Method == "POST") {
				w.WriteHeader(405) // the first page is POSTed, the next links are GETs
				return
			}
			off := 0
			fmt.Sscan(q.Get("$skiptoken"), &off)
			var vals []string
			for i := off; i < records && i < off+2; i++ {
				vals = append(vals, fmt.Sprintf(`{"resourceId":"/subscriptions/s1/resourceGroups/rg1/providers/P/t/r%d","complianceState":"NonCompliant","policyAssignmentName":"a"}`, i))
			}
			next := ""
			if off+2 < records {
				nq := url.Values{"api-version": {"2024-10-01"}, "$skiptoken": {fmt.Sprint(off + 2)}}
				next = `,"@odata.nextLink":"` + f.srv.URL + p + "?" + nq.Encode() + `"`
			}
			fmt.Fprintf(w, `{"@odata.context":"x","value":[%s]%s}`, strings.Join(vals, ","), next)
		case strings.HasSuffix(p, "/policyStates/latest/summarize") && r.Method == "POST":
			w.Write([]byte(recordedSummary))
		case strings.HasSuffix(p, "/resourceGroups/locked/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation"):
			w.WriteHeader(403)
			w.Write([]byte(`{"error":{"code":"AuthorizationFailed","message":"The client does not have authorization to perform action 'Microsoft.PolicyInsights/policyStates/triggerEvaluation/action'.","target":"/subscriptions/s1/resourceGroups/locked"}}`))
		case strings.HasSuffix(p, "/policyStates/latest/triggerEvaluation") && r.Method == "POST":
			w.Header().Set("Location", f.srv.URL+"/subscriptions/s1/providers/Microsoft.PolicyInsights/asyncOperationResults/op1?api-version=2024-10-01")
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(202)
		case p == "/subscriptions/s1/providers/Microsoft.PolicyInsights/asyncOperationResults/op1" && r.Method == "GET":
			f.mu.Lock()
			f.polls--
			left := f.polls
			f.mu.Unlock()
			if left >= 0 {
				w.WriteHeader(202)
				return
			}
			w.Write([]byte(`{"status":"Succeeded"}`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"error":{"code":"NotFound","message":"` + r.Method + " " + p + `"}}`))
		}
	}))
	t.Cleanup(f.srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600)
	bsPath := filepath.Join(dir, "bootstrap.json")
	b, _ := json.Marshal(Bootstrap{TenantID: "t", SubscriptionID: "s1", ClientID: "c", ClientSecret: "x", Endpoint: f.srv.URL, AuthorityHost: f.srv.URL, CACertFile: ca})
	os.WriteFile(bsPath, b, 0o600)
	return f, []string{"--bootstrap", bsPath}
}

// TestPolicyStateClient: list follows every @odata.nextLink (POST then
// GETs) unless --top, sends the OData flags, summarize prints the table and
// the JSON as returned, and an ARM error is printed with its target.
func TestPolicyStateClient(t *testing.T) {
	f, bs := newFakeInsights(t, 5)
	out, errOut, code := run(t, append([]string{"policy", "state", "list", "-g", "rg1", "--filter", "complianceState eq 'NonCompliant'", "-o", "json"}, bs...)...)
	var items []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &items) != nil || len(items) != 5 || items[4]["resourceId"] != "/subscriptions/s1/resourceGroups/rg1/providers/P/t/r4" {
		t.Fatalf("list across pages: exit %d\n%s%s", code, out, errOut)
	}
	log := f.log()
	if len(log) != 3 || !strings.HasPrefix(log[0], "POST /subscriptions/s1/resourceGroups/rg1/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?") ||
		!strings.Contains(log[0], "%24filter=complianceState+eq+%27NonCompliant%27") || !strings.HasPrefix(log[1], "GET ") || !strings.HasPrefix(log[2], "GET ") {
		t.Errorf("requests: %q", log)
	}
	out, errOut, code = run(t, append([]string{"policy", "state", "list", "--top", "3", "--all"}, bs...)...)
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, "rg1/t/r2") || strings.Contains(out, "r3") {
		t.Errorf("--top 3: exit %d\n%s%s", code, out, errOut)
	}
	if l := f.log(); !strings.Contains(l[3], "/policyStates/default/queryResults?") || !strings.Contains(l[3], "%24top=3") {
		t.Errorf("--top --all request: %q", l[3:])
	}
	out, errOut, code = run(t, append([]string{"policy", "state", "summarize", "-a", "idle", "-g", "rg1"}, bs...)...)
	if code != 0 || !strings.Contains(norm(out), "idle /subscriptions/s1/resourceGroups/rg1 6 1") || !strings.Contains(norm(out), "TOTAL 6 1") {
		t.Errorf("summarize: exit %d\n%s%s", code, out, errOut)
	}
	if l := f.log(); !strings.HasPrefix(l[len(l)-1], "POST /subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Authorization/policyAssignments/idle/providers/Microsoft.PolicyInsights/policyStates/latest/summarize?") {
		t.Errorf("summarize request: %q", l[len(l)-1])
	}
	out, _, code = run(t, append([]string{"policy", "state", "summarize", "-o", "json"}, bs...)...)
	var sum map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil || sum["@odata.count"] != float64(1) {
		t.Errorf("summarize -o json: exit %d\n%s", code, out)
	}
	out, errOut, code = run(t, append([]string{"policy", "state", "list", "--filter", "Complianc eq 'x'"}, bs...)...)
	want := "error: InvalidQueryParameterValue: $filter: unknown property 'Complianc' at 1.\ntarget: $filter\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("bad filter: exit %d %q\n%q\nwant %q", code, out, errOut, want)
	}
}

// TestPolicyScan: scan polls the operation's Location to the end and
// prints one line (stderr is no terminal), --no-wait prints the operation
// URL, and a refusal is the ARM error with exit 1.
func TestPolicyScan(t *testing.T) {
	defer func(d, min time.Duration) { scanPoll, scanPollMin = d, min }(scanPoll, scanPollMin)
	scanPoll, scanPollMin = 5*time.Millisecond, time.Millisecond
	f, bs := newFakeInsights(t, 0)
	f.polls = 3
	out, errOut, code := run(t, append([]string{"policy", "scan", "-g", "rg1"}, bs...)...)
	if code != 0 || !strings.HasPrefix(out, "evaluation of /subscriptions/s1/resourceGroups/rg1: Succeeded in ") || strings.Count(out, "\n") != 1 || errOut != "" {
		t.Errorf("scan: exit %d\n%q\n%q", code, out, errOut)
	}
	var gets int
	for _, r := range f.log() {
		if strings.HasPrefix(r, "GET /subscriptions/s1/providers/Microsoft.PolicyInsights/asyncOperationResults/op1?") {
			gets++
		}
	}
	if l := f.log(); gets != 4 || !strings.HasPrefix(l[0], "POST /subscriptions/s1/resourceGroups/rg1/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation?api-version=2024-10-01") {
		t.Errorf("scan requests (%d polls): %q", gets, l)
	}
	// On a terminal: a progress line with the elapsed time, cleared at the end.
	defer func(f func(io.Writer) bool) { isTerminal = f }(isTerminal)
	isTerminal = func(io.Writer) bool { return true }
	f.polls = 2
	out, errOut, code = run(t, append([]string{"policy", "scan"}, bs...)...)
	if code != 0 || !strings.HasPrefix(out, "evaluation of /subscriptions/s1: Succeeded in ") ||
		!strings.HasPrefix(errOut, "\r\033[Kevaluating /subscriptions/s1 ... 0s") || !strings.HasSuffix(errOut, "\r\033[K") {
		t.Errorf("scan on a terminal: exit %d\n%q\n%q", code, out, errOut)
	}
	isTerminal = func(io.Writer) bool { return false }
	out, errOut, code = run(t, append([]string{"policy", "scan", "--no-wait"}, bs...)...)
	if code != 0 || out != f.srv.URL+"/subscriptions/s1/providers/Microsoft.PolicyInsights/asyncOperationResults/op1?api-version=2024-10-01\n" {
		t.Errorf("--no-wait: exit %d %q %q", code, out, errOut)
	}
	out, errOut, code = run(t, append([]string{"policy", "scan", "-g", "locked"}, bs...)...)
	want := "error: AuthorizationFailed: The client does not have authorization to perform action 'Microsoft.PolicyInsights/policyStates/triggerEvaluation/action'.\ntarget: /subscriptions/s1/resourceGroups/locked\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("refused scan: exit %d %q\n%q\nwant %q", code, out, errOut, want)
	}
}
