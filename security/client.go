package security

import (
	"encoding/json"
	"strings"
)

// AssessmentAPIVersion is the api-version of the requests an import
// makes of assessments (the one @azure/arm-security 5.0.0 sends).
const AssessmentAPIVersion = "2021-06-01"

// CreateBody is the body of the PUT that creates an assessment before
// its first import (If-None-Match: *): Unhealthy when the import has a
// finding at or above its minimum severity, else Healthy; the import
// that follows works the status out of its sub-assessments.
func CreateBody(name string, imp *Import) []byte {
	min := imp.MinimumSeverity
	if min == "" {
		min = SeverityLow
	}
	code := Healthy
	for _, f := range imp.Findings {
		if severityRank(f.Severity) >= severityRank(min) {
			code = Unhealthy
			break
		}
	}
	display := "Container images should have vulnerabilities resolved"
	if strings.EqualFold(name, ContainerImageAssessment) {
		display = ContainerImageDisplayName
	}
	b, _ := json.Marshal(map[string]any{"properties": map[string]any{
		"resourceDetails": map[string]any{"source": "Azure"},
		"status":          map[string]any{"code": code},
		"metadata": map[string]any{"displayName": display, "severity": SeverityHigh, "assessmentType": "CustomerManaged",
			"description": "Vulnerabilities that scanners (Trivy, Grype) found in the container images, imported with mlgov security import."},
	}})
	return b
}

// ImportBody is the body of an importFindings action.
func ImportBody(imp *Import) []byte {
	b, _ := json.Marshal(imp)
	return b
}
