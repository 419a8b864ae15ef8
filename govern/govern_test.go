package govern_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/govern"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

const shared = "../../shared"

// fixture is an in-process control plane (SQLite) with the governor wired
// in and the ML built-ins loaded from the reference data, read in place.
type fixture struct {
	mgr         *resources.Manager
	gov         *govern.Governor
	sub         string
	builtins    []string // ids of the ML built-in definitions
	builtinDefs []*definition.Definition
	st          store.Store
	cs          store.Store // the compliance records
	notify      func()      // called after each commit (a feed's Notify, as serve wires it)
	caller      activitylog.Caller
	// publicAccess is the workspaces' publicNetworkAccess that seed writes ("": Enabled).
	publicAccess string
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	dir := filepath.Join(shared, "corpus/azure-policy/policyDefinitions/Machine Learning")
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("SKIP: the ML built-ins are not at %s", dir)
	}
	ctx := context.Background()
	data := tb.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(data, "mlgov.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	defs := map[string]json.RawMessage{}
	f := &fixture{st: st, sub: "00000000-0000-0000-0000-0000000000a1", caller: activitylog.Caller{Name: "bench", ObjectID: "o", Type: "ServicePrincipal"}}
	files, err := definition.LoadPaths([]string{dir})
	if err != nil {
		tb.Fatal(err)
	}
	for _, fl := range files {
		if fl.Err != nil || fl.Doc.Kind != definition.KindPolicy {
			continue
		}
		raw, _ := os.ReadFile(fl.Path)
		r, err := govern.BuiltinResource(raw, "policyDefinitions", fl.Doc.Policy.Name)
		if err != nil {
			tb.Fatal(err)
		}
		defs[fl.Doc.Policy.Name] = r
		f.builtins = append(f.builtins, "/providers/Microsoft.Authorization/policyDefinitions/"+fl.Doc.Policy.Name)
		f.builtinDefs = append(f.builtinDefs, fl.Doc.Policy)
	}
	cats := []*alias.Catalog{alias.Builtin()}
	if c, err := alias.LoadFile(filepath.Join(shared, "corpus/aliases/Microsoft.MachineLearningServices.json")); err == nil {
		cats = append(cats, c)
	}
	f.st = st
	// The compliance records in a database of their own, as serve keeps
	// them on SQLite.
	cs, err := sqlite.Open(ctx, filepath.Join(data, "mlgov-compliance.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cs.Close() })
	f.cs = cs
	f.gov = govern.New(st, govern.Config{Builtins: govern.NewBuiltins(defs, nil), Aliases: alias.Merge(cats...), NewID: uuid.New, Compliance: cs})
	reg := resources.NewRegistry()
	f.gov.Register(reg)
	f.mgr = resources.New(st, reg, resources.Config{Now: func() time.Time { return time.Now().UTC() }, NewID: uuid.New, TenantID: "t",
		LROLatency: time.Hour, Mutating: []resources.MutatingAdmission{f.gov}, Validating: []resources.ValidatingAdmission{f.gov},
		Committers: []resources.Committer{f.gov, resources.CommitFunc(func(*resources.Attributes) {
			if f.notify != nil {
				f.notify()
			}
		})}})
	if err := f.mgr.EnsureSubscription(ctx, f.sub, "bench"); err != nil {
		tb.Fatal(err)
	}
	return f
}

// do sends one request through the manager (no HTTP).
func (f *fixture) do(tb testing.TB, method, path, body string) (*resources.Response, error) {
	tb.Helper()
	u, err := url.Parse(path)
	if err != nil {
		tb.Fatal(err)
	}
	id, err := arm.ParseID(u.Path)
	if err != nil {
		tb.Fatal(err)
	}
	return f.mgr.Handle(context.Background(), &resources.Request{Method: method, Path: u.Path, ID: id, Query: u.Query(),
		APIVersion: u.Query().Get("api-version"), Body: []byte(body), Caller: f.caller, CorrelationID: "c"})
}

func (f *fixture) must(tb testing.TB, method, path, body string) {
	tb.Helper()
	if _, err := f.do(tb, method, path, body); err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
}

// assignInScope makes n assignments in force for the computes of
// resource group rg0, as mlgov bench --assignments does: the ML built-ins
// that need no parameter at the subscription and at rg0, then custom
// definitions (each evaluates every compute, on its type and a tag, and
// denies none of the benchmark's) assigned at one or the other.
func (f *fixture) assignInScope(tb testing.TB, n int) {
	scopes := []string{"/subscriptions/" + f.sub, "/subscriptions/" + f.sub + "/resourceGroups/rg0"}
	made := 0
	for _, at := range scopes {
		for i, def := range f.builtins {
			if made == n {
				return
			}
			p := fmt.Sprintf("%s/providers/Microsoft.Authorization/policyAssignments/b%d?api-version=2025-03-01", at, i)
			if _, err := f.do(tb, "PUT", p, `{"properties":{"policyDefinitionId":"`+def+`"}}`); err == nil {
				made++
			} // else a built-in that needs parameters
		}
	}
	for i := 0; made < n; i++ {
		def := fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Authorization/policyDefinitions/c%d", f.sub, i)
		f.must(tb, "PUT", def+"?api-version=2025-03-01", fmt.Sprintf(`{"properties":{"mode":"Indexed","policyRule":{"if":{"allOf":[`+
			`{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces/computes"},`+
			`{"field":"tags['team']","equals":"blocked-%d"}]},"then":{"effect":"Deny"}}}}`, i))
		f.must(tb, "PUT", fmt.Sprintf("%s/providers/Microsoft.Authorization/policyAssignments/c%d?api-version=2025-03-01", scopes[i%2], i),
			`{"properties":{"policyDefinitionId":"`+def+`"}}`)
		made++
	}
}

const computePUT = `{"location":"eastus","properties":{"computeType":"AmlCompute","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2"}}}`

// TestSnapshotFollowsCommits: an assignment written through the write
// path is in force for the next request (Committed rebuilds the
// snapshot), its deletion likewise; the admission version moves with
// them.
func TestSnapshotFollowsCommits(t *testing.T) {
	f := newFixture(t)
	rg := "/subscriptions/" + f.sub + "/resourceGroups/rg0"
	f.must(t, "PUT", rg+"?api-version=2021-04-01", `{"location":"eastus"}`)
	f.must(t, "PUT", rg+"/providers/Microsoft.MachineLearningServices/workspaces/ws1?api-version=2024-04-01", `{"location":"eastus"}`)
	v0 := f.gov.AdmissionVersion()
	var localAuth string
	for _, b := range f.builtins {
		if strings.HasSuffix(b, "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f") {
			localAuth = b
		}
	}
	asg := rg + "/providers/Microsoft.Authorization/policyAssignments/deny?api-version=2025-03-01"
	f.must(t, "PUT", asg, `{"properties":{"policyDefinitionId":"`+localAuth+`","parameters":{"effect":{"value":"Deny"}}}}`)
	if f.gov.AdmissionVersion() == v0 {
		t.Error("the admission version did not change with an assignment")
	}
	if n, _ := f.gov.Assignments(context.Background()); n != 1 {
		t.Errorf("snapshot holds %d assignments, want 1", n)
	}
	c := rg + "/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/c%d?api-version=2024-04-01"
	_, err := f.do(t, "PUT", fmt.Sprintf(c, 1), strings.Replace(computePUT, `"disableLocalAuth":true`, `"disableLocalAuth":false`, 1))
	var ae *arm.Error
	if !asARMError(err, &ae) || ae.Code != "RequestDisallowedByPolicy" {
		t.Fatalf("PUT right after the assignment: %v, want RequestDisallowedByPolicy", err)
	}
	f.must(t, "DELETE", asg, "")
	if _, err := f.do(t, "PUT", fmt.Sprintf(c, 2), strings.Replace(computePUT, `"disableLocalAuth":true`, `"disableLocalAuth":false`, 1)); err != nil {
		t.Fatalf("PUT right after the assignment's deletion: %v", err)
	}
}

func asARMError(err error, ae **arm.Error) bool {
	e, ok := err.(*arm.Error)
	*ae = e
	return ok
}

// BenchmarkPolicyStages measures the admission stages alone (Admit and
// Validate of the governor) for one compute create, with no assignment
// and with 200 assignments in scope, all of them over the compute
// (assignInScope, what mlgov bench --assignments 200 makes).
func BenchmarkPolicyStages(b *testing.B) {
	for _, n := range []int{0, 200} {
		b.Run(fmt.Sprintf("assignments=%d", n), func(b *testing.B) {
			f := newFixture(b)
			for i := 0; i < 16; i++ {
				f.must(b, "PUT", fmt.Sprintf("/subscriptions/%s/resourceGroups/rg%d?api-version=2021-04-01", f.sub, i), `{"location":"eastus"}`)
			}
			if n > 0 {
				f.assignInScope(b, n)
			}
			ctx := context.Background()
			id, _ := arm.ParseID("/subscriptions/" + f.sub + "/resourceGroups/rg0/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/c1")
			spec, _ := f.mgr.Registry().Lookup(id.Type())
			obj, _ := value.Parse([]byte(`{"id":"` + id.String() + `","name":"c1","type":"Microsoft.MachineLearningServices/workspaces/computes","location":"eastus","tags":{},
				"properties":{"computeType":"AmlCompute","disableLocalAuth":false,"properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":4,"minNodeCount":0}},"provisioningState":"Creating"}}`))
			rgv, _ := value.Parse([]byte(`{"id":"/subscriptions/` + f.sub + `/resourceGroups/rg0","name":"rg0","location":"eastus","tags":{}}`))
			subv, _ := value.Parse([]byte(`{"id":"/subscriptions/` + f.sub + `","subscriptionId":"` + f.sub + `","displayName":"bench"}`))
			req := &resources.Request{Method: "PUT", ID: id, APIVersion: "2024-04-01", Caller: f.caller}
			if _, err := f.gov.Assignments(ctx); err != nil {
				b.Fatal(err)
			}
			var events atomic.Int64
			took := make([]time.Duration, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				a := &resources.Attributes{Operation: resources.OpCreate, ID: id, Spec: spec, Action: spec.Type + "/write", Principal: f.caller,
					APIVersion: "2024-04-01", Request: req, Now: start, Object: obj, ResourceGroup: rgv, Subscription: subv}
				if err := f.gov.Admit(ctx, a); err != nil {
					b.Fatal(err)
				}
				if err := f.gov.Validate(ctx, a); err != nil {
					b.Fatal(err)
				}
				events.Add(int64(len(a.Events)))
				took[i] = time.Since(start)
			}
			b.ReportMetric(float64(events.Load())/float64(b.N), "events/op")
			// The stages' latency at the 50th and 99th percentiles of the
			// requests (the bound is on p99).
			slices.Sort(took)
			b.ReportMetric(float64(took[b.N/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(took[b.N*99/100].Microseconds()), "p99-µs")
		})
	}
}

// get returns a stored resource's body.
func (f *fixture) get(tb testing.TB, path string) value.Value {
	tb.Helper()
	r, err := f.do(tb, "GET", path, "")
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	v, err := value.Parse(r.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func (f *fixture) builtin(tb testing.TB, name string) string {
	for _, b := range f.builtins {
		if strings.HasSuffix(b, "/"+name) {
			return b
		}
	}
	tb.Fatalf("no built-in %s", name)
	return ""
}

// TestEvaluateCompliance: the compliance records of stored resources:
// NonCompliant and Compliant by the rule, with the evaluated expressions
// for the non-compliant; AuditIfNotExists by the related resources in the
// store (a diagnostic setting); Exempt under an exemption; no record where
// the definition does not apply (another type); DoNotEnforce assignments
// evaluated like the others.
func TestEvaluateCompliance(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sub := "/subscriptions/" + f.sub
	rg := sub + "/resourceGroups/rg0"
	ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/ws1"
	f.must(t, "PUT", rg+"?api-version=2021-04-01", `{"location":"eastus"}`)
	f.must(t, "PUT", ws+"?api-version=2024-04-01", `{"location":"eastus"}`)
	ws2 := rg + "/providers/Microsoft.MachineLearningServices/workspaces/ws2"
	f.must(t, "PUT", ws2+"?api-version=2024-04-01", `{"location":"eastus"}`)
	f.must(t, "PUT", ws2+"/providers/Microsoft.Insights/diagnosticSettings/all?api-version=2021-05-01-preview",
		`{"properties":{"logs":[{"category":"AmlComputeClusterEvent","enabled":true,"retentionPolicy":{"enabled":false,"days":0}}]}}`)
	ci := ws + "/computes/ci1"
	f.must(t, "PUT", ci+"?api-version=2024-04-01", `{"location":"eastus","properties":{"computeType":"ComputeInstance","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2"}}}`)
	ci2 := ws + "/computes/ci2"
	f.must(t, "PUT", ci2+"?api-version=2024-04-01", `{"location":"eastus","properties":{"computeType":"ComputeInstance","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2","idleTimeBeforeShutdown":"PT30M"}}}`)
	idle := sub + "/providers/Microsoft.Authorization/policyAssignments/idle"
	f.must(t, "PUT", idle+"?api-version=2025-03-01", `{"properties":{"policyDefinitionId":"`+f.builtin(t, "679ddf89-ab8f-48a5-9029-e76054077449")+`","enforcementMode":"DoNotEnforce"}}`)
	diag := sub + "/providers/Microsoft.Authorization/policyAssignments/diag"
	f.must(t, "PUT", diag+"?api-version=2025-03-01", `{"properties":{"policyDefinitionId":"`+f.builtin(t, "afe0c3be-ba3b-4544-ba52-0c99672a8ad6")+`"}}`)
	rgv, subv := f.get(t, rg+"?api-version=2021-04-01"), f.get(t, sub+"?api-version=2021-04-01")
	states := func(path string) map[string]govern.State {
		st, err := f.gov.Evaluate(ctx, f.get(t, path+"?api-version=2024-04-01"), rgv, subv, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]govern.State{}
		for _, s := range st {
			out[s.AssignmentName] = s
		}
		return out
	}
	got := states(ci)
	if s := got["idle"]; s.ComplianceState != govern.NonCompliant || s.Action != "audit" || s.Details.Field("evaluatedExpressions").Len() == 0 {
		t.Errorf("ci1 against idle shutdown: %+v", s)
	}
	if _, ok := got["diag"]; ok {
		t.Errorf("ci1 has a record of the workspace-only diagnostic policy: %+v", got["diag"])
	}
	if s := states(ci2)["idle"]; s.ComplianceState != govern.Compliant {
		t.Errorf("ci2 against idle shutdown: %+v", s)
	}
	if s := states(ws)["diag"]; s.ComplianceState != govern.NonCompliant || s.Action != "auditifnotexists" || s.Details.Field("ifNotExistsDetails").IsUndefined() {
		t.Errorf("ws1 without diagnostic settings: %+v", s)
	} else if ine := s.Details.Field("ifNotExistsDetails"); !strings.EqualFold(ine.Field("relatedResourceType").Str(), "Microsoft.Insights/diagnosticSettings") ||
		ine.Field("existenceScope").Str() != "ResourceGroup" || !ine.Field("matchedResourceId").IsUndefined() {
		// What the check looked for, and that nothing satisfied it.
		t.Errorf("ws1's existence check: %s", ine.JSON())
	}
	if s := states(ws2)["diag"]; s.ComplianceState != govern.Compliant {
		t.Errorf("ws2 with diagnostic settings: %+v (details %s)", s, s.Details.JSON())
	}
	f.must(t, "PUT", rg+"/providers/Microsoft.Authorization/policyExemptions/x?api-version=2024-12-01-preview",
		`{"properties":{"policyAssignmentId":"`+idle+`","exemptionCategory":"Waiver"}}`)
	if s := states(ci)["idle"]; s.ComplianceState != govern.Exempt || len(s.ExemptionIDs) != 1 {
		t.Errorf("ci1 exempted: %+v", s)
	}
	// Two Modify policies setting one tag to different values: Conflict
	// (a third setting another tag stays NonCompliant).
	tag := func(name, tagName, val string) {
		def := sub + "/providers/Microsoft.Authorization/policyDefinitions/" + name
		f.must(t, "PUT", def+"?api-version=2025-03-01", `{"properties":{"mode":"Indexed","policyRule":{"if":{"allOf":[`+
			`{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},{"field":"tags['`+tagName+`']","notEquals":"`+val+`"}]},`+
			`"then":{"effect":"modify","details":{"roleDefinitionIds":["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"],`+
			`"conflictEffect":"audit","operations":[{"operation":"addOrReplace","field":"tags['`+tagName+`']","value":"`+val+`"}]}}}}}`)
		f.must(t, "PUT", sub+"/providers/Microsoft.Authorization/policyAssignments/"+name+"?api-version=2025-03-01",
			`{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"policyDefinitionId":"`+def+`"}}`)
	}
	tag("env-prod", "env", "prod")
	tag("env-dev", "env", "dev")
	tag("owner", "owner", "ml")
	got = states(ws)
	if got["env-prod"].ComplianceState != govern.Conflict || got["env-dev"].ComplianceState != govern.Conflict {
		t.Errorf("contradicting Modify policies: %s and %s, want Conflict", got["env-prod"].ComplianceState, got["env-dev"].ComplianceState)
	}
	if got["owner"].ComplianceState != govern.NonCompliant {
		t.Errorf("a Modify policy of another tag: %s, want NonCompliant", got["owner"].ComplianceState)
	}
}

// TestTagsOnlyPatch: a PATCH that changes only tags is evaluated against
// the definitions whose condition inspects tags, and no others
// (policy-language.md §17): a workspace that a Deny on its properties
// would refuse can be tagged, a tag policy still refuses a tags-only
// PATCH, and a PATCH of tags and properties meets every definition.
func TestTagsOnlyPatch(t *testing.T) {
	f := newFixture(t)
	sub := "/subscriptions/" + f.sub
	rg := sub + "/resourceGroups/rg0"
	f.must(t, "PUT", rg+"?api-version=2021-04-01", `{"location":"eastus"}`)
	ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/ws1?api-version=2024-04-01"
	f.must(t, "PUT", ws, `{"location":"eastus","tags":{"env":"dev"},"properties":{"publicNetworkAccess":"Enabled"}}`)
	f.must(t, "PUT", rg+"/providers/Microsoft.Authorization/policyAssignments/private?api-version=2025-03-01",
		`{"properties":{"policyDefinitionId":"`+f.builtin(t, "438c38d2-3772-465a-a9cc-7a6666a275ce")+`","parameters":{"effect":{"value":"Deny"}}}}`)
	f.must(t, "PUT", sub+"/providers/Microsoft.Authorization/policyDefinitions/need-env?api-version=2025-03-01",
		`{"properties":{"mode":"Indexed","policyRule":{"if":{"allOf":[
			{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},
			{"field":"tags['env']","exists":"false"}]},"then":{"effect":"deny"}}}}`)
	f.must(t, "PUT", rg+"/providers/Microsoft.Authorization/policyAssignments/env?api-version=2025-03-01",
		`{"properties":{"policyDefinitionId":"`+sub+`/providers/Microsoft.Authorization/policyDefinitions/need-env"}}`)
	denied := func(body, assignment string) {
		t.Helper()
		_, err := f.do(t, "PATCH", ws, body)
		var ae *arm.Error
		if !asARMError(err, &ae) || ae.Code != "RequestDisallowedByPolicy" || !strings.Contains(ae.Message, "policyAssignments/"+assignment) {
			t.Errorf("PATCH %s: %v, want RequestDisallowedByPolicy by %s", body, err, assignment)
		}
	}
	if _, err := f.do(t, "PATCH", ws, `{"tags":{"env":"prod"}}`); err != nil {
		t.Errorf("a tags-only PATCH that meets the tag policy: %v (the Deny on public network access does not inspect tags)", err)
	}
	if got := f.get(t, ws).Field("tags").Field("env").Str(); got != "prod" {
		t.Errorf("tags after the PATCH: env = %q, want prod", got)
	}
	denied(`{"tags":{"owner":"me"}}`, "env")
	denied(`{"tags":{"env":"test"},"properties":{"description":"d"}}`, "private")
}
