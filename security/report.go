package security

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"
)

// Scanners whose reports ParseReport reads.
const (
	ScannerTrivy = "Trivy"
	ScannerGrype = "Grype"
)

// Severities of a finding as Azure's sub-assessments have them.
const (
	SeverityLow    = "Low"
	SeverityMedium = "Medium"
	SeverityHigh   = "High"
)

// Import is one scanner report of one image, as the importFindings
// action takes it.
type Import struct {
	Scanner string `json:"scanner"`
	// Image is the image scanned as the report names it
	// (registry/repository:tag or @digest).
	Image       string `json:"image"`
	ImageDigest string `json:"imageDigest,omitempty"`
	// MinimumSeverity is the lowest severity of an unresolved finding
	// that makes the assessment Unhealthy (default Low: any).
	MinimumSeverity string    `json:"minimumSeverity,omitempty"`
	Findings        []Finding `json:"findings"`
}

// Finding is one vulnerability of one package of the image.
type Finding struct {
	ID               string `json:"id"`
	Package          string `json:"package"`
	InstalledVersion string `json:"installedVersion,omitempty"`
	FixedVersion     string `json:"fixedVersion,omitempty"`
	// Severity is Low, Medium or High; ScannerSeverity the scanner's own
	// word (CRITICAL, Negligible, ...).
	Severity        string `json:"severity"`
	ScannerSeverity string `json:"scannerSeverity,omitempty"`
	Title           string `json:"title,omitempty"`
	Description     string `json:"description,omitempty"`
	Link            string `json:"link,omitempty"`
}

// ReportError is a report that cannot be read: Pointer is the JSON
// pointer of the bad part ("" for the whole document).
type ReportError struct {
	Pointer string
	Msg     string
}

func (e *ReportError) Error() string {
	if e.Pointer == "" {
		return e.Msg
	}
	return e.Pointer + ": " + e.Msg
}

type trivyReport struct {
	SchemaVersion *int   `json:"SchemaVersion"`
	ArtifactName  string `json:"ArtifactName"`
	ArtifactType  string `json:"ArtifactType"`
	Metadata      struct {
		RepoDigests []string `json:"RepoDigests"`
		ImageID     string   `json:"ImageID"`
	} `json:"Metadata"`
	Results []struct {
		Target          string `json:"Target"`
		Vulnerabilities []struct {
			VulnerabilityID  string `json:"VulnerabilityID"`
			PkgName          string `json:"PkgName"`
			InstalledVersion string `json:"InstalledVersion"`
			FixedVersion     string `json:"FixedVersion"`
			Severity         string `json:"Severity"`
			Title            string `json:"Title"`
			Description      string `json:"Description"`
			PrimaryURL       string `json:"PrimaryURL"`
		} `json:"Vulnerabilities"`
	} `json:"Results"`
}

type grypeReport struct {
	Matches []struct {
		Vulnerability struct {
			ID          string `json:"id"`
			Severity    string `json:"severity"`
			Description string `json:"description"`
			DataSource  string `json:"dataSource"`
			Fix         struct {
				Versions []string `json:"versions"`
				State    string   `json:"state"`
			} `json:"fix"`
		} `json:"vulnerability"`
		Artifact struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"artifact"`
	} `json:"matches"`
	Source *struct {
		Type   string          `json:"type"`
		Target json.RawMessage `json:"target"`
	} `json:"source"`
	Descriptor *struct {
		Name string `json:"name"`
	} `json:"descriptor"`
}

// ParseReport reads a Trivy or Grype JSON report (which one is told by
// its members: Trivy's SchemaVersion and Results, Grype's matches and
// descriptor). Findings are sorted by id and package; a vulnerability
// listed twice for one package (several Trivy targets) is one finding,
// of the highest severity.
func ParseReport(data []byte) (*Import, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, jsonError(err)
	}
	_, trivy := probe["SchemaVersion"]
	_, results := probe["Results"]
	_, matches := probe["matches"]
	switch {
	case trivy || (results && !matches):
		return parseTrivy(data)
	case matches:
		return parseGrype(data)
	}
	return nil, &ReportError{Msg: "not a report mlgov reads: a Trivy JSON report (trivy image -f json: SchemaVersion, ArtifactName, Results) or a Grype JSON report (grype -o json: matches, source) was expected; SARIF, CycloneDX and table output are not read"}
}

func parseTrivy(data []byte) (*Import, error) {
	var r trivyReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jsonError(err)
	}
	if r.SchemaVersion != nil && *r.SchemaVersion != 2 {
		return nil, &ReportError{Pointer: "/SchemaVersion", Msg: fmt.Sprintf("Trivy report schema version %d; mlgov reads version 2", *r.SchemaVersion)}
	}
	if strings.TrimSpace(r.ArtifactName) == "" {
		return nil, &ReportError{Pointer: "/ArtifactName", Msg: "missing: the report does not name the image it scanned"}
	}
	if r.ArtifactType != "" && r.ArtifactType != "container_image" {
		return nil, &ReportError{Pointer: "/ArtifactType", Msg: fmt.Sprintf("%q: only container image reports are imported", r.ArtifactType)}
	}
	imp := &Import{Scanner: ScannerTrivy, Image: r.ArtifactName}
	if len(r.Metadata.RepoDigests) > 0 {
		imp.ImageDigest = digestOf(r.Metadata.RepoDigests[0])
	}
	for i, res := range r.Results {
		for j, v := range res.Vulnerabilities {
			at := fmt.Sprintf("/Results/%d/Vulnerabilities/%d", i, j)
			if v.VulnerabilityID == "" {
				return nil, &ReportError{Pointer: at + "/VulnerabilityID", Msg: "missing"}
			}
			if v.PkgName == "" {
				return nil, &ReportError{Pointer: at + "/PkgName", Msg: "missing"}
			}
			sev, ok := severityOf(v.Severity)
			if !ok {
				return nil, &ReportError{Pointer: at + "/Severity", Msg: fmt.Sprintf("%q is not a severity (CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)", v.Severity)}
			}
			imp.Findings = append(imp.Findings, Finding{ID: v.VulnerabilityID, Package: v.PkgName, InstalledVersion: v.InstalledVersion,
				FixedVersion: v.FixedVersion, Severity: sev, ScannerSeverity: v.Severity, Title: v.Title, Description: v.Description, Link: v.PrimaryURL})
		}
	}
	imp.Findings = dedupe(imp.Findings)
	return imp, nil
}

func parseGrype(data []byte) (*Import, error) {
	var r grypeReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jsonError(err)
	}
	if r.Source == nil {
		return nil, &ReportError{Pointer: "/source", Msg: "missing: the report does not name the image it scanned"}
	}
	if r.Source.Type != "" && r.Source.Type != "image" {
		return nil, &ReportError{Pointer: "/source/type", Msg: fmt.Sprintf("%q: only image reports are imported", r.Source.Type)}
	}
	var target struct {
		UserInput      string   `json:"userInput"`
		ImageID        string   `json:"imageID"`
		ManifestDigest string   `json:"manifestDigest"`
		RepoDigests    []string `json:"repoDigests"`
	}
	if len(r.Source.Target) > 0 {
		if err := json.Unmarshal(r.Source.Target, &target); err != nil {
			return nil, &ReportError{Pointer: "/source/target", Msg: "not an image's description (an object with userInput)"}
		}
	}
	imp := &Import{Scanner: ScannerGrype, Image: target.UserInput, ImageDigest: target.ManifestDigest}
	if imp.Image == "" {
		return nil, &ReportError{Pointer: "/source/target/userInput", Msg: "missing: the report does not name the image it scanned"}
	}
	if imp.ImageDigest == "" && len(target.RepoDigests) > 0 {
		imp.ImageDigest = digestOf(target.RepoDigests[0])
	}
	for i, m := range r.Matches {
		at := fmt.Sprintf("/matches/%d", i)
		v := m.Vulnerability
		if v.ID == "" {
			return nil, &ReportError{Pointer: at + "/vulnerability/id", Msg: "missing"}
		}
		if m.Artifact.Name == "" {
			return nil, &ReportError{Pointer: at + "/artifact/name", Msg: "missing"}
		}
		sev, ok := severityOf(v.Severity)
		if !ok {
			return nil, &ReportError{Pointer: at + "/vulnerability/severity", Msg: fmt.Sprintf("%q is not a severity (Critical, High, Medium, Low, Negligible, Unknown)", v.Severity)}
		}
		f := Finding{ID: v.ID, Package: m.Artifact.Name, InstalledVersion: m.Artifact.Version, Severity: sev, ScannerSeverity: v.Severity,
			Description: v.Description, Link: v.DataSource}
		if v.Fix.State == "fixed" && len(v.Fix.Versions) > 0 {
			f.FixedVersion = strings.Join(v.Fix.Versions, ", ")
		}
		imp.Findings = append(imp.Findings, f)
	}
	imp.Findings = dedupe(imp.Findings)
	return imp, nil
}

// severityOf maps a scanner's severity to Azure's Low, Medium, High:
// critical is High; negligible and unknown are Low.
func severityOf(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "critical", "high":
		return SeverityHigh, true
	case "medium":
		return SeverityMedium, true
	case "low", "negligible", "unknown", "":
		return SeverityLow, true
	}
	return "", false
}

func severityRank(s string) int {
	switch s {
	case SeverityHigh:
		return 3
	case SeverityMedium:
		return 2
	case SeverityLow:
		return 1
	}
	return 0
}

// digestOf is the digest of a repo digest (name@sha256:...).
func digestOf(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Lengths a finding's texts are cut to: a report of thousands of
// findings stays one request (4 MiB at most).
const (
	maxTitle       = 512
	maxDescription = 1024
)

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func dedupe(fs []Finding) []Finding {
	for i := range fs {
		fs[i].Title, fs[i].Description = clip(fs[i].Title, maxTitle), clip(fs[i].Description, maxDescription)
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].ID != fs[j].ID {
			return fs[i].ID < fs[j].ID
		}
		return fs[i].Package < fs[j].Package
	})
	out := fs[:0]
	for _, f := range fs {
		if n := len(out); n > 0 && out[n-1].ID == f.ID && out[n-1].Package == f.Package {
			if severityRank(f.Severity) > severityRank(out[n-1].Severity) {
				out[n-1] = f
			}
			continue
		}
		out = append(out, f)
	}
	if out == nil {
		out = []Finding{} // a clean report: an empty list, not null
	}
	return out
}

// jsonError names where a report's JSON is wrong.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &ReportError{Msg: fmt.Sprintf("not valid JSON at byte %d: %v", se.Offset, se)}
	case errors.As(err, &te):
		p := "/" + strings.ReplaceAll(te.Field, ".", "/")
		if te.Field == "" {
			p = ""
		}
		return &ReportError{Pointer: p, Msg: fmt.Sprintf("a JSON %s where %s was expected (byte %d)", te.Value, jsonKind(te.Type), te.Offset)}
	}
	if bytes.Contains([]byte(err.Error()), []byte("unexpected end")) {
		return &ReportError{Msg: "not valid JSON: the document ends early"}
	}
	return &ReportError{Msg: "not valid JSON: " + err.Error()}
}

// jsonKind names a Go type as the JSON it decodes.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a number"
}
