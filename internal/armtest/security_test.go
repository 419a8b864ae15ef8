package armtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/security"
)

// The vulnerability findings of scanners' reports as
// Microsoft.Security/assessments (package security), and the built-in
// "Azure registry container images should have vulnerabilities
// resolved" over them.

const (
	secAV = "?api-version=2021-06-01"
	subAV = "?api-version=2019-01-01-preview"
	// acrVulnBuiltin is the built-in's file, read in place.
	acrVulnBuiltin = "peer-cases/azure-policy-builtins/built-in-policies/policyDefinitions/Security Center/MDC_AzureContainerRegistryVulnerabilityAssessment_Audit.json"
)

// securityReport reads a fixture of package security's testdata.
func securityReport(t *testing.T, file string) *security.Import {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../security/testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	imp, err := security.ParseReport(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return imp
}

// importReport does what `mlgov security import` does: creates the
// assessment if it does not exist, then posts the findings.
func (s *Server) importReport(t *testing.T, resource string, imp *security.Import) map[string]any {
	t.Helper()
	a := resource + "/providers/Microsoft.Security/assessments/" + security.ContainerImageAssessment
	if r := s.Do(t, "PUT", a+secAV, security.CreateBody(security.ContainerImageAssessment, imp), "If-None-Match", "*"); r.Status != 201 && r.Status != 412 {
		t.Fatalf("PUT %s: %d %s", a, r.Status, r.Body)
	}
	r := s.Do(t, "POST", a+"/importFindings"+secAV, security.ImportBody(imp))
	if r.Status != 200 {
		t.Fatalf("importFindings: %d %s", r.Status, r.Body)
	}
	return r.JSON()
}

// subAssessments lists an assessment's sub-assessments by their
// vulnerability and package.
func (s *Server) subAssessments(t *testing.T, assessment string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, it := range s.listAll(t, assessment+"/subAssessments"+subAV) {
		p := it["properties"].(map[string]any)
		d := p["additionalData"].(map[string]any)
		out[p["id"].(string)+" "+d["packageName"].(string)] = it
	}
	return out
}

func subCode(it map[string]any) string {
	return it["properties"].(map[string]any)["status"].(map[string]any)["code"].(string)
}

// TestSecurityFindingsBuiltin: Trivy and Grype reports of two images of a
// registry imported; the assessment Unhealthy with a sub-assessment per
// finding; the built-in audit NonCompliant for the registry; a clean
// report of one image resolves that image's findings only (Healthy,
// kept); a clean report of the other makes the registry Compliant; the
// findings coming back reopen them.
func TestSecurityFindingsBuiltin(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(SharedDir, acrVulnBuiltin))
	if err != nil {
		t.Skipf("SKIP: the built-in is not available (reference data %s absent): %v", SharedDir, err)
	}
	var def struct {
		Properties struct {
			Mode       string          `json:"mode"`
			Parameters json.RawMessage `json:"parameters"`
			PolicyRule json.RawMessage `json:"policyRule"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &def); err != nil {
		t.Fatal(err)
	}
	trivy, trivyClean := securityReport(t, "trivy-pytorch.json"), securityReport(t, "trivy-pytorch-clean.json")
	grype, grypeClean := securityReport(t, "grype-api.json"), securityReport(t, "grype-api-clean.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg1")
		acr := s.RG("rg1") + "/providers/Microsoft.ContainerRegistry/registries/acr1"
		s.put(t, acr+"?api-version=2023-07-01", `{"location":"eastus","properties":{}}`, 201)
		id := s.define(t, "acrvuln", def.Properties.Mode, string(def.Properties.PolicyRule), string(def.Properties.Parameters))
		asg := s.assign(t, s.RG("rg1"), "acrvuln", id, "")
		state := func(what, want string) {
			t.Helper()
			s.waitStatesFor(t, 10*time.Second, s.RG("rg1"), "&$filter="+urlq("policyAssignmentId eq '"+asg+"' and resourceType eq 'Microsoft.ContainerRegistry/registries'"), what,
				func(recs []map[string]any) bool { return len(recs) == 1 && recs[0]["complianceState"] == want })
		}
		state("no assessment", "NonCompliant")

		a := acr + "/providers/Microsoft.Security/assessments/" + security.ContainerImageAssessment
		// A clean report first: Healthy, Compliant.
		if got := s.importReport(t, acr, grypeClean); got["status"] != "Healthy" {
			t.Fatalf("clean import: %v", got)
		}
		state("a clean report", "Compliant")

		got := s.importReport(t, acr, trivy)
		if got["status"] != "Unhealthy" || got["opened"] != float64(5) {
			t.Fatalf("Trivy import: %v", got)
		}
		if got := s.importReport(t, acr, grype); got["opened"] != float64(4) || got["unresolved"] != float64(9) {
			t.Fatalf("Grype import: %v", got)
		}
		body := s.Do(t, "GET", a+secAV, nil)
		props, _ := body.JSON()["properties"].(map[string]any)
		if body.Status != 200 || props["status"].(map[string]any)["code"] != "Unhealthy" || props["displayName"] != security.ContainerImageDisplayName ||
			!strings.EqualFold(props["resourceDetails"].(map[string]any)["id"].(string), acr) {
			t.Fatalf("assessment: %d %s", body.Status, body.Body)
		}
		subs := s.subAssessments(t, a)
		if len(subs) != 9 {
			t.Fatalf("%d sub-assessments, want 9: %v", len(subs), subs)
		}
		z := subs["CVE-2023-45853 zlib1g"]["properties"].(map[string]any)
		zd := z["additionalData"].(map[string]any)
		if subCode(subs["CVE-2023-45853 zlib1g"]) != "Unhealthy" || z["status"].(map[string]any)["severity"] != "High" || zd["patchable"] != false ||
			zd["scannerSeverity"] != "CRITICAL" || zd["repositoryName"] != "train/pytorch" || zd["assessedResourceType"] != "ContainerRegistryVulnerability" {
			t.Errorf("zlib1g finding: %v", z)
		}
		if c := subs["CVE-2023-38545 libcurl4"]["properties"].(map[string]any); c["remediation"] != "Upgrade libcurl4 to 7.88.1-10+deb12u4." {
			t.Errorf("libcurl4 finding: %v", c)
		}
		state("findings imported", "NonCompliant")

		// The pytorch image clean: its findings resolved, the api image's
		// still open.
		if got := s.importReport(t, acr, trivyClean); got["status"] != "Unhealthy" || got["resolved"] != float64(5) || got["unresolved"] != float64(4) {
			t.Fatalf("clean Trivy import: %v", got)
		}
		subs = s.subAssessments(t, a)
		for k, it := range subs {
			want := "Unhealthy"
			if it["properties"].(map[string]any)["additionalData"].(map[string]any)["imageName"] == trivy.Image {
				want = "Healthy"
				if it["properties"].(map[string]any)["additionalData"].(map[string]any)["resolvedTime"] == nil {
					t.Errorf("%s: resolved without a resolvedTime", k)
				}
			}
			if subCode(it) != want {
				t.Errorf("%s: %s, want %s", k, subCode(it), want)
			}
		}
		if len(subs) != 9 {
			t.Fatalf("%d sub-assessments after the clean report, want 9 (resolved, not deleted)", len(subs))
		}
		state("one image still vulnerable", "NonCompliant")

		if got := s.importReport(t, acr, grypeClean); got["status"] != "Healthy" || got["resolved"] != float64(4) {
			t.Fatalf("clean Grype import: %v", got)
		}
		state("every image clean", "Compliant")
		// A new assignment's scan finds the assessment too.
		asg2 := s.assign(t, s.RG("rg1"), "acrvuln2", id, "")
		s.waitStatesFor(t, 10*time.Second, s.RG("rg1"), "&$filter="+urlq("policyAssignmentId eq '"+asg2+"' and resourceType eq 'Microsoft.ContainerRegistry/registries'"), "the scan of a new assignment",
			func(recs []map[string]any) bool { return len(recs) == 1 && recs[0]["complianceState"] == "Compliant" })

		// The same findings again: reopened.
		if got := s.importReport(t, acr, trivy); got["status"] != "Unhealthy" || got["opened"] != float64(5) {
			t.Fatalf("Trivy import again: %v", got)
		}
		state("findings back", "NonCompliant")
	})
}

// TestSecurityImportRefusals: importing needs the action (a Reader reads
// but is refused); bad bodies are refused naming the member; an
// environment version of a workspace holds its images' findings too.
func TestSecurityImportRefusals(t *testing.T) {
	trivy := securityReport(t, "trivy-pytorch.json")
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		env := ws + "/environments/e1/versions/1"
		s.put(t, ws+"/environments/e1?api-version=2024-10-01", `{"properties":{}}`, 201)
		s.put(t, env+"?api-version=2024-10-01", `{"properties":{"image":"acr1.azurecr.io/train/pytorch:2.1"}}`, 201)
		a := env + "/providers/Microsoft.Security/assessments/" + security.ContainerImageAssessment
		if got := s.importReport(t, env, trivy); got["status"] != "Unhealthy" {
			t.Fatalf("import at an environment version: %v", got)
		}
		subs := s.subAssessments(t, a)
		if len(subs) != 5 {
			t.Fatalf("%d sub-assessments, want 5", len(subs))
		}
		for k, it := range subs {
			rd := it["properties"].(map[string]any)["resourceDetails"].(map[string]any)
			if !strings.EqualFold(rd["id"].(string), env) {
				t.Errorf("%s: resourceDetails %v, want the environment version", k, rd)
			}
		}
		if all := s.listAll(t, ws+"/providers/Microsoft.Security/subAssessments"+subAV); len(all) != 5 {
			t.Errorf("subAssessments at the workspace: %d, want the 5 below it", len(all))
		}

		// The import is in the activity log, as the action it is.
		found := false
		for _, e := range s.Events(t, "resourceGroupName eq 'rg1'", 0) {
			op, _ := e["operationName"].(map[string]any)
			if v, _ := op["value"].(string); strings.EqualFold(v, "Microsoft.Security/assessments/importFindings/action") && strings.EqualFold(fmt.Sprint(e["resourceId"]), a) {
				found = true
			}
		}
		if !found {
			t.Error("no importFindings event in the activity log")
		}

		reader := s.NewPrincipal(t, "sec-reader")
		s.assignRole(t, s.RG("rg1"), roleIDByName(t, s, "Reader"), reader.ObjectID, "ServicePrincipal")
		if r := s.DoAs(t, reader.Token, "GET", a+secAV, nil); r.Status != 200 {
			t.Errorf("a Reader reads the assessment: %d %s", r.Status, r.Body)
		}
		wantError(t, "a Reader's import", s.DoAs(t, reader.Token, "POST", a+"/importFindings"+secAV, security.ImportBody(trivy)), 403, "AuthorizationFailed", "",
			"Microsoft.Security/assessments/importFindings/action")
		wantError(t, "a Reader's PUT", s.DoAs(t, reader.Token, "PUT", a+secAV, security.CreateBody("x", trivy)), 403, "AuthorizationFailed", "")

		post := func(body string) *Response { return s.Do(t, "POST", a+"/importFindings"+secAV, body) }
		wantError(t, "another scanner", post(`{"scanner":"Clair","image":"x:1","findings":[]}`), 400, "InvalidRequestContent", "scanner", "Trivy or Grype")
		wantError(t, "no image", post(`{"scanner":"Trivy","findings":[]}`), 400, "InvalidRequestContent", "image")
		wantError(t, "no findings", post(`{"scanner":"Trivy","image":"x:1"}`), 400, "InvalidRequestContent", "findings")
		wantError(t, "a finding without id", post(`{"scanner":"Trivy","image":"x:1","findings":[{"id":"CVE-1","package":"p","severity":"Low"},{"package":"p","severity":"Low"}]}`),
			400, "InvalidRequestContent", "findings[1].id")
		wantError(t, "a scanner's severity", post(`{"scanner":"Trivy","image":"x:1","findings":[{"id":"CVE-1","package":"p","severity":"CRITICAL"}]}`),
			400, "InvalidRequestContent", "findings[0].severity", "Low, Medium or High")
		wantError(t, "a bad minimum", post(`{"scanner":"Trivy","image":"x:1","minimumSeverity":"Severe","findings":[]}`), 400, "InvalidRequestContent", "minimumSeverity")
		wantError(t, "findings of a missing assessment", s.Do(t, "POST", env+"/providers/Microsoft.Security/assessments/other/importFindings"+secAV, security.ImportBody(trivy)), 404, "ResourceNotFound", "")

		put := func(name, body string) *Response {
			return s.Do(t, "PUT", env+"/providers/Microsoft.Security/assessments/"+name+secAV, body)
		}
		wantError(t, "no status", put("c1", `{"properties":{"resourceDetails":{"source":"Azure"}}}`), 400, "InvalidRequestContent", "properties.status")
		wantError(t, "a bad status code", put("c1", `{"properties":{"resourceDetails":{"source":"Azure"},"status":{"code":"Broken"}}}`), 400, "InvalidRequestContent", "properties.status.code", `"Broken"`)
		wantError(t, "no resourceDetails", put("c1", `{"properties":{"status":{"code":"Healthy"}}}`), 400, "InvalidRequestContent", "properties.resourceDetails")
		wantError(t, "findings by PUT", put("c1", `{"findings":[],"properties":{"resourceDetails":{"source":"Azure"},"status":{"code":"Healthy"}}}`), 400, "InvalidRequestContent", "findings")
		wantError(t, "a sub-assessment PUT", s.Do(t, "PUT", a+"/subAssessments/x"+subAV, `{"properties":{}}`), 400, "OperationNotSupported", "", "read-only")
		wantError(t, "a $filter", s.Do(t, "GET", ws+"/providers/Microsoft.Security/assessments"+secAV+"&$filter="+urlq("name eq 'x'"), nil), 400, "InvalidFilter", "$filter")
		if r := s.Do(t, "GET", a+"?api-version=2015-06-01-preview", nil); r.Status != 400 {
			t.Errorf("an api-version not served: %d %s", r.Status, r.Body)
		}
	})
}
