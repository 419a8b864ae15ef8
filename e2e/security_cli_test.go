package e2e

// mlgov security import, as the real binary against a real mlgov serve:
// a Trivy and a Grype report of two images of a registry recorded as
// its assessment with a sub-assessment per finding; a clean report of
// each image resolves its findings (kept, Healthy) and the assessment
// turns Healthy; a malformed report is refused naming the file and the
// JSON pointer, another scanner's format naming what is read.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecurityImportCLI(t *testing.T) {
	srv, hc, token := serveWithToken(t)
	b := srv.Bootstrap
	rg := "/subscriptions/" + b.SubscriptionID + "/resourceGroups/rg-sec"
	if st, m := armSend(t, hc, b.Endpoint, token, "PUT", rg+"?api-version=2021-04-01", `{"location":"westeurope"}`); st != 201 && st != 200 {
		t.Fatalf("resource group: %d %v", st, m)
	}
	acr := rg + "/providers/Microsoft.ContainerRegistry/registries/acrsec"
	if st, m := armSend(t, hc, b.Endpoint, token, "PUT", acr+"?api-version=2023-07-01", `{"location":"westeurope","properties":{}}`); st != 201 && st != 200 {
		t.Fatalf("registry: %d %v", st, m)
	}
	report := func(name string) string {
		p, _ := filepath.Abs(filepath.Join("..", "security", "testdata", name))
		return p
	}
	imp := func(args ...string) cliResult {
		return mlgovCLI(t, srv, append([]string{"security", "import", "--resource", acr}, args...)...)
	}
	assessment := acr + "/providers/Microsoft.Security/assessments/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
	status := func() string {
		st, m := armSend(t, hc, b.Endpoint, token, "GET", assessment+"?api-version=2021-06-01", "")
		if st != 200 {
			t.Fatalf("GET the assessment: %d %v", st, m)
		}
		return m["properties"].(map[string]any)["status"].(map[string]any)["code"].(string)
	}
	subs := func() (open, resolved int) {
		st, m := armSend(t, hc, b.Endpoint, token, "GET", assessment+"/subAssessments?api-version=2019-01-01-preview", "")
		if st != 200 {
			t.Fatalf("list the sub-assessments: %d %v", st, m)
		}
		for _, it := range m["value"].([]any) {
			switch it.(map[string]any)["properties"].(map[string]any)["status"].(map[string]any)["code"] {
			case "Unhealthy":
				open++
			case "Healthy":
				resolved++
			}
		}
		return open, resolved
	}

	r := imp(report("trivy-pytorch.json"), report("grype-api.json"))
	if r.code != 0 || !strings.Contains(r.stdout, "acr1.azurecr.io/train/pytorch:2.1") || !strings.Contains(r.stdout, "Unhealthy (9 unresolved)") {
		t.Fatalf("import: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if s := status(); s != "Unhealthy" {
		t.Errorf("after the reports with findings: %s", s)
	}
	if o, res := subs(); o != 9 || res != 0 {
		t.Errorf("sub-assessments: %d open, %d resolved; want 9, 0", o, res)
	}

	r = imp("-o", "json", report("trivy-pytorch-clean.json"))
	var out struct {
		Imports []map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || len(out.Imports) != 1 || out.Imports[0]["resolved"] != float64(5) {
		t.Fatalf("clean Trivy report: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if o, res := subs(); o != 4 || res != 5 {
		t.Errorf("after the clean Trivy report: %d open, %d resolved; want 4, 5", o, res)
	}
	if r = imp(report("grype-api-clean.json")); r.code != 0 || status() != "Healthy" {
		t.Fatalf("clean Grype report: exit %d, status %s\n%s%s", r.code, status(), r.stdout, r.stderr)
	}
	if o, res := subs(); o != 0 || res != 9 {
		t.Errorf("after both clean reports: %d open, %d resolved; want 0, 9 (resolved, not deleted)", o, res)
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"SchemaVersion":2,"ArtifactName":"a:1","Results":[{"Vulnerabilities":[{"PkgName":"openssl","Severity":"HIGH"}]}]}`), 0o600)
	if r = imp(bad); r.code == 0 || !strings.Contains(r.stderr, bad) || !strings.Contains(r.stderr, "/Results/0/Vulnerabilities/0/VulnerabilityID") {
		t.Errorf("malformed report: exit %d\n%s", r.code, r.stderr)
	}
	sarif := filepath.Join(t.TempDir(), "report.sarif")
	os.WriteFile(sarif, []byte(`{"version":"2.1.0","$schema":"https://json.schemastore.org/sarif-2.1.0.json","runs":[]}`), 0o600)
	if r = imp(sarif); r.code == 0 || !strings.Contains(r.stderr, "Trivy") || !strings.Contains(r.stderr, "SARIF") {
		t.Errorf("SARIF report: exit %d\n%s", r.code, r.stderr)
	}
	if r = mlgovCLI(t, srv, "security", "import", report("trivy-pytorch.json")); r.code == 0 || !strings.Contains(r.stderr, "--resource") {
		t.Errorf("without --resource: exit %d\n%s", r.code, r.stderr)
	}
	if s := status(); s != "Healthy" {
		t.Errorf("refused imports changed the assessment: %s", s)
	}
}
