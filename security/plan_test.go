package security

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/store"
)

// stored turns planned bodies into the store's resources, as the
// mirrors write them.
func stored(t *testing.T, all map[string]map[string]any) []*store.Resource {
	t.Helper()
	var out []*store.Resource
	for _, b := range all {
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &store.Resource{Body: j})
	}
	return out
}

// TestPlan: a finding of one image is opened once, left alone while
// reported, resolved (kept) when a report of its image lacks it, not by a
// report of another image, and reopened when it comes back.
func TestPlan(t *testing.T) {
	aid, err := arm.ParseID("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr/providers/Microsoft.Security/assessments/" + ContainerImageAssessment)
	if err != nil {
		t.Fatal(err)
	}
	f1 := Finding{ID: "CVE-1", Package: "openssl", Severity: SeverityHigh}
	f2 := Finding{ID: "CVE-2", Package: "openssl", Severity: SeverityLow}
	g1 := Finding{ID: "CVE-1", Package: "libssl3", Severity: SeverityHigh}
	imgA := func(fs ...Finding) *Import { return &Import{Scanner: ScannerTrivy, Image: "r.io/a:1", Findings: fs} }
	imgB := func(fs ...Finding) *Import { return &Import{Scanner: ScannerGrype, Image: "r.io/b:1", Findings: fs} }
	type want struct{ writes, unhealthy, healthy int }
	steps := []struct {
		name string
		imp  *Import
		want want
	}{
		{"A with two findings", imgA(f1, f2), want{2, 2, 0}},
		{"the same report again: nothing to write", imgA(f1, f2), want{0, 2, 0}},
		{"B with the same CVE in another package", imgB(g1), want{1, 3, 0}},
		{"A without CVE-2: resolved", imgA(f1), want{1, 2, 1}},
		{"B clean: B's finding resolved, A's left", imgB(), want{1, 1, 2}},
		{"A with CVE-2 back: reopened", imgA(f1, f2), want{1, 2, 1}},
	}
	var existing []*store.Resource
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i, st := range steps {
		writes, all, err := plan(aid, existing, st.imp, now.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := want{writes: len(writes)}
		for _, b := range all {
			switch subStatus(b)["code"] {
			case Unhealthy:
				got.unhealthy++
			case Healthy:
				got.healthy++
				if subData(b)["resolvedTime"] == nil {
					t.Errorf("%s: a resolved finding without resolvedTime", st.name)
				}
			}
		}
		if got != st.want {
			t.Errorf("%s: %+v, want %+v", st.name, got, st.want)
		}
		existing = stored(t, all)
	}
	// CVE-2 of A, reopened: first seen at the first report.
	k := SubAssessmentName("r.io/a:1", "CVE-2", "openssl")
	for _, r := range existing {
		var b map[string]any
		json.Unmarshal(r.Body, &b)
		if b["name"] == k && subData(b)["firstSeen"] != now.Format(time.RFC3339Nano) {
			t.Errorf("reopened finding: firstSeen %v, want %v", subData(b)["firstSeen"], now.Format(time.RFC3339Nano))
		}
	}
}

func TestSubAssessmentName(t *testing.T) {
	a := SubAssessmentName("r.io/a:1", "CVE-1", "openssl")
	if a != SubAssessmentName("r.io/a:1", "cve-1", "openssl") {
		t.Error("the vulnerability's case changes the name")
	}
	for _, other := range []string{SubAssessmentName("r.io/a:2", "CVE-1", "openssl"), SubAssessmentName("r.io/a:1", "CVE-2", "openssl"), SubAssessmentName("r.io/a:1", "CVE-1", "libssl3")} {
		if other == a {
			t.Error("two findings share a name")
		}
	}
	if err := arm.ValidateResourceName(a); err != nil || len(a) != 36 {
		t.Errorf("%q: %v", a, err)
	}
}
