package e2e

// Two `mlgov serve` replicas on one PostgreSQL schema govern together: a
// policy resource written through one is enforced by the other within a
// second (the change feed invalidates its policy snapshot), the
// compliance records of a write through one are queryable through the
// other, and a scan's tasks are claimed by both. Every helper here is
// prefixed rp.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	rpPolicyAPI   = "?api-version=2025-03-01" // @azure/arm-policy 7.x
	rpInsightsAPI = "?api-version=2024-10-01" // @azure/arm-policyinsights 6.x
	rpMLAPI       = "?api-version=" + hxAPI
	rpRGAPI       = "?api-version=2021-04-01"

	rpNoLocalAuth = "/providers/Microsoft.Authorization/policyDefinitions/e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f" // Computes should have local authentication methods disabled
	rpIdle        = "/providers/Microsoft.Authorization/policyDefinitions/679ddf89-ab8f-48a5-9029-e76054077449" // idle shutdown (Audit)

	rpCompute      = `{"location":"eastus","properties":{"computeType":"AmlCompute","disableLocalAuth":false,"properties":{"vmSize":"STANDARD_DS3_V2"}}}`
	rpComputeNoIdl = `{"location":"eastus","properties":{"computeType":"ComputeInstance","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2"}}}`
)

// rpPair is two replicas on one PostgreSQL schema, a client of each.
type rpPair struct {
	a, b   *crashClient
	sub    string // /subscriptions/{id}
	base   string // PostgreSQL URL without search_path
	schema string
	logA   func() string
	logB   func() string
}

// rpStart starts replica A (it creates the store) and replica B on the
// same schema with A's master key, both with the ML built-ins; extra are
// serve arguments for both.
func rpStart(t *testing.T, extra ...string) *rpPair {
	t.Helper()
	if testing.Short() {
		t.Skip("starts two mlgov serve")
	}
	bin := hsPrepare(t)
	builtins := builtinArgs(t)
	if builtins == nil {
		requireOrSkip(t, "the ML built-ins are not beside the checkout (../shared): the replica tests assign them")
	}
	storeURL, base, schema := hsPostgres(t) // skips when PostgreSQL is unreachable
	args := hsArgs(append(append([]string{"--store", storeURL}, builtins...), extra...)...)
	dirA := filepath.Join(t.TempDir(), "a")
	a := StartServer(t, ServerOptions{Bin: bin, DataDir: dirA, Args: args})
	dirB := filepath.Join(t.TempDir(), "b")
	pb := hsStartBare(t, bin, dirB, append(args, "--master-key-file", filepath.Join(dirA, "keys", "master.key")))
	bb := hsReadBootstrap(t, dirB)
	bb.ClientSecret = a.Bootstrap.ClientSecret // B's bootstrap.json has none: the store's administrator is A's
	p := &rpPair{a: newCrashClient(t, a.Bootstrap), b: newCrashClient(t, bb), sub: "/subscriptions/" + a.Bootstrap.SubscriptionID,
		base: base, schema: schema, logA: func() string { return a.LogTail(60) }, logB: func() string { return pb.log() }}
	t.Cleanup(p.a.close)
	t.Cleanup(p.b.close)
	if p.a.endpoint == p.b.endpoint {
		t.Fatalf("both replicas at %s", p.a.endpoint)
	}
	return p
}

// rpMust sends a request and fails the test unless the status is one of want.
func rpMust(t *testing.T, c *crashClient, method, path, body string, want ...int) *crashAnswer {
	t.Helper()
	var b []byte
	if body != "" || method == "PUT" || method == "POST" {
		b = []byte(body)
	}
	a, err := c.do(method, path, "", nil, b)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, c.endpoint, path, err)
	}
	for _, w := range want {
		if a.status == w {
			return a
		}
	}
	t.Fatalf("%s %s%s: %s, want %v", method, c.endpoint, path, a, want)
	return nil
}

// workspace creates a resource group and a workspace in it through c.
func (p *rpPair) workspace(t *testing.T, c *crashClient, rg, ws string) string {
	t.Helper()
	rgID := p.sub + "/resourceGroups/" + rg
	rpMust(t, c, "PUT", rgID+rpRGAPI, `{"location":"eastus"}`, 200, 201)
	w := rgID + "/providers/Microsoft.MachineLearningServices/workspaces/" + ws
	rpMust(t, c, "PUT", w+rpMLAPI, `{"location":"eastus","properties":{}}`, 200, 201, 202)
	return w
}

// rpCode is error.code of an ARM error body.
func rpCode(a *crashAnswer) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(a.body, &e)
	return e.Error.Code
}

// TestReplicasGovernAssignment: an assignment written through replica A
// denies on replica B within a second, its deletion through B allows on A
// within a second, and the compliance records of a write through A are
// queryable through B within a second.
func TestReplicasGovernAssignment(t *testing.T) {
	p := rpStart(t)
	ws := p.workspace(t, p.a, "rg-rep", "ws-rep")
	asg := p.sub + "/providers/Microsoft.Authorization/policyAssignments/no-local-auth"
	asgBody := `{"properties":{"displayName":"no local auth","policyDefinitionId":"` + rpNoLocalAuth + `","parameters":{"effect":{"value":"Deny"}}}}`

	// Before: B allows the compute.
	rpMust(t, p.b, "PUT", ws+"/computes/before"+rpMLAPI, rpCompute, 200, 201, 202)

	// The assignment through A; B denies within a second.
	rpMust(t, p.a, "PUT", asg+rpPolicyAPI, asgBody, 201)
	t0 := time.Now()
	var slipped []string
	var denied time.Duration
	for i := 0; ; i++ {
		name := fmt.Sprintf("deny-%d", i)
		r, err := p.b.do("PUT", ws+"/computes/"+name+rpMLAPI, "", nil, []byte(rpCompute))
		if err != nil {
			t.Fatalf("PUT through B: %v", err)
		}
		if r.status == 403 && rpCode(r) == "RequestDisallowedByPolicy" {
			denied = time.Since(t0)
			if !strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(asg)) {
				t.Errorf("B's refusal does not name the assignment %s: %s", asg, r)
			}
			break
		}
		if r.status/100 != 2 {
			t.Fatalf("PUT through B while the assignment reaches it: %s", r)
		}
		slipped = append(slipped, name) // allowed before B's snapshot caught up
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("B still allows the compute %v after A's 201 of the Deny assignment\nB's log:\n%s", time.Since(t0), p.logB())
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Logf("assignment through A -> first deny on B: %v (%d PUTs allowed before)", denied.Round(time.Millisecond), len(slipped))
	if denied >= time.Second {
		t.Errorf("B denied %v after A's 201, want < 1 s", denied.Round(time.Millisecond))
	}
	for _, n := range slipped {
		rpMust(t, p.b, "DELETE", ws+"/computes/"+n+rpMLAPI+"&underlyingResourceAction=Delete", "", 200, 202, 204)
	}
	// A denies too (its own write), and the same on an update.
	if r := rpMust(t, p.a, "PUT", ws+"/computes/on-a"+rpMLAPI, rpCompute, 403); rpCode(r) != "RequestDisallowedByPolicy" {
		t.Errorf("A: %s", r)
	}

	// The deletion through B; A allows within a second.
	rpMust(t, p.b, "DELETE", asg+rpPolicyAPI, "", 200)
	t0 = time.Now()
	var allowed time.Duration
	for {
		r, err := p.a.do("PUT", ws+"/computes/after"+rpMLAPI, "", nil, []byte(rpCompute))
		if err != nil {
			t.Fatalf("PUT through A: %v", err)
		}
		if r.status/100 == 2 {
			allowed = time.Since(t0)
			break
		}
		if r.status != 403 || rpCode(r) != "RequestDisallowedByPolicy" {
			t.Fatalf("PUT through A after the deletion: %s", r)
		}
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("A still denies %v after B deleted the assignment\nA's log:\n%s", time.Since(t0), p.logA())
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Logf("assignment deleted through B -> first allow on A: %v", allowed.Round(time.Millisecond))
	if allowed >= time.Second {
		t.Errorf("A allowed %v after B's deletion, want < 1 s", allowed.Round(time.Millisecond))
	}

	// Live compliance across replicas: an Audit assignment at the resource
	// group; a compute instance without idle shutdown written through A is
	// NonCompliant in B's policyStates within a second.
	rg := p.sub + "/resourceGroups/rg-rep"
	rpMust(t, p.a, "PUT", rg+"/providers/Microsoft.Authorization/policyAssignments/idle"+rpPolicyAPI,
		`{"properties":{"displayName":"idle","policyDefinitionId":"`+rpIdle+`"}}`, 201)
	ci := ws + "/computes/ci-no-idle"
	rpMust(t, p.a, "PUT", ci+rpMLAPI, rpComputeNoIdl, 200, 201, 202)
	t0 = time.Now()
	var recs []map[string]any
	for {
		recs = rpStates(t, p.b, ci, "")
		if rpStateOf(recs, ci, "idle") == "NonCompliant" {
			break
		}
		if time.Since(t0) > 5*time.Second {
			t.Fatalf("no NonCompliant record of %s through B %v after A's write: %v\nB's log:\n%s", ci, time.Since(t0), recs, p.logB())
		}
		time.Sleep(25 * time.Millisecond)
	}
	seen := time.Since(t0)
	t.Logf("compute written through A -> NonCompliant in B's policyStates: %v", seen.Round(time.Millisecond))
	if seen >= time.Second {
		t.Errorf("the record reached B's policyStates %v after A's write, want < 1 s", seen.Round(time.Millisecond))
	}
}

// rpStates runs queryResults at scope through c and returns every record.
func rpStates(t *testing.T, c *crashClient, scope, query string) []map[string]any {
	t.Helper()
	next := scope + "/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults" + rpInsightsAPI + query
	method := "POST"
	var all []map[string]any
	for pages := 0; next != ""; pages++ {
		r := rpMust(t, c, method, next, "", 200)
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Value...)
		next, method = page.NextLink, "GET"
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
	}
	return all
}

func rpStateOf(recs []map[string]any, resourceID, assignment string) string {
	for _, r := range recs {
		if strings.EqualFold(fmt.Sprint(r["resourceId"]), resourceID) && strings.EqualFold(fmt.Sprint(r["policyAssignmentName"]), assignment) {
			return fmt.Sprint(r["complianceState"])
		}
	}
	return ""
}

// rpTask is a row of the store's scan_tasks table.
type rpTask struct {
	taskID, scope, owner string
	done                 bool
	processed            int64
}

// rpScanTasks reads the tasks of a scan from the store: the table of
// store/internal/generic (scan_tasks: owner per task, processed), with
// psql, which the PostgreSQL tests need anyway (the e2e tests import
// only the standard library).
func (p *rpPair) rpScanTasks(t *testing.T, scanID string) []rpTask {
	t.Helper()
	out := hsPSQL(t, p.base, fmt.Sprintf("SELECT task_id, scope, owner, done, processed FROM %s.scan_tasks WHERE scan_id = %s ORDER BY task_id",
		p.schema, rpQuote(scanID)))
	var tasks []rpTask
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 5 {
			t.Fatalf("scan_tasks row %q", line)
		}
		n, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			t.Fatalf("scan_tasks row %q: %v", line, err)
		}
		tasks = append(tasks, rpTask{taskID: f[0], scope: f[1], owner: f[2], done: f[3] == "t", processed: n})
	}
	return tasks
}

// rpCount runs a count query on the replicas' schema.
func (p *rpPair) rpCount(t *testing.T, sql string) int64 {
	t.Helper()
	out := strings.TrimSpace(hsPSQL(t, p.base, "SET search_path TO "+p.schema+"; "+sql))
	n, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		t.Fatalf("%s: %q", sql, out)
	}
	return n
}

// rpQuote is a SQL string literal.
func rpQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestReplicasSplitScan: a triggerEvaluation through A is split into
// per-resource-group tasks that both replicas claim (read from the
// store's scan_tasks), it ends Succeeded, and its tasks processed every
// resource of the subscription once.
func TestReplicasSplitScan(t *testing.T) {
	// The replica that takes the trigger starts at once; the others look
	// for scan tasks every second (RunScans' poll), so they join a scan
	// that lasts longer than that. A resource group is a task: 1000 of
	// them take 2.5 s with both replicas here (320 took 0.6-1.3 s, and B
	// sometimes came too late), so B's poll falls inside the scan. 8 of
	// them hold a workspace and computes.
	const groups, withComputes, computes = 1000, 8, 3
	p := rpStart(t)
	rpMust(t, p.a, "PUT", p.sub+"/providers/Microsoft.Authorization/policyAssignments/audit-local-auth"+rpPolicyAPI,
		`{"properties":{"displayName":"audit local auth","policyDefinitionId":"`+rpNoLocalAuth+`","parameters":{"effect":{"value":"Audit"}}}}`, 201)
	setup := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, groups)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := []*crashClient{p.a, p.b}[w%2] // written through both
			for g := w; g < groups; g += 4 {
				rg := fmt.Sprintf("%s/resourceGroups/rg-scan-%03d", p.sub, g)
				reqs := [][2]string{{rg + rpRGAPI, `{"location":"eastus"}`}}
				if g < withComputes {
					ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/ws-scan"
					reqs = append(reqs, [2]string{ws + rpMLAPI, `{"location":"eastus","properties":{}}`})
					for i := 0; i < computes; i++ {
						reqs = append(reqs, [2]string{fmt.Sprintf("%s/computes/c%d%s", ws, i, rpMLAPI), rpCompute})
					}
				}
				for _, r := range reqs {
					a, err := c.do("PUT", r[0], "", nil, []byte(r[1]))
					if err == nil && a.status/100 != 2 {
						err = fmt.Errorf("PUT %s: %s", r[0], a)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d resource groups written in %v", groups, time.Since(setup).Round(time.Millisecond))

	tr := rpMust(t, p.a, "POST", p.sub+"/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation"+rpInsightsAPI, "", 202)
	loc := tr.header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil || !strings.Contains(u.Path, "/providers/Microsoft.PolicyInsights/asyncOperationResults/") {
		t.Fatalf("triggerEvaluation Location %q", loc)
	}
	scanID := u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	t0 := time.Now()
	for {
		r := rpMust(t, p.a, "GET", loc, "", 200, 202)
		if r.status == 200 {
			if !strings.Contains(string(r.body), `"Succeeded"`) {
				t.Errorf("operation result: %s", r)
			}
			break
		}
		if time.Since(t0) > 60*time.Second {
			t.Fatalf("the evaluation has not ended after %v", time.Since(t0))
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(t0)

	tasks := p.rpScanTasks(t, scanID)
	owners := map[string]int{}
	var processed int64
	for _, k := range tasks {
		if !k.done {
			t.Errorf("task %s (%s) not done", k.taskID, k.scope)
		}
		owners[k.owner]++
		processed += k.processed
	}
	t.Logf("scan %s: %d tasks in %v, by owner %v, %d resources processed", scanID, len(tasks), took.Round(time.Millisecond), owners, processed)
	if len(tasks) != groups+1 {
		t.Errorf("%d tasks, want %d (one per resource group and one for the subscription)", len(tasks), groups+1)
	}
	subKey := strings.ToLower(p.sub)
	want := p.rpCount(t, "SELECT count(*) FROM resources WHERE key = "+rpQuote(subKey)+" OR key LIKE "+rpQuote(subKey+"/%"))
	if processed != want {
		t.Errorf("the tasks processed %d resources, the subscription has %d", processed, want)
	}
	if len(owners) < 2 {
		t.Errorf("one replica claimed every task (%v): the scan was not split", owners)
	}
	// The assignment, the only policy change, started one scan of its
	// scope, not one per replica (each names it after the change).
	if n := p.rpCount(t, `SELECT count(DISTINCT scan_id) FROM scan_tasks WHERE scan_id LIKE 'change-%'`); n != 1 {
		t.Errorf("the assignment started %d scans, want 1 for both replicas", n)
	}
}
