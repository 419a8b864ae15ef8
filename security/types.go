package security

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// The types served.
const (
	TypeAssessment    = "Microsoft.Security/assessments"
	TypeSubAssessment = "Microsoft.Security/assessments/subAssessments"
	// typeSubAssessmentList is the path of the lists of sub-assessments
	// at a scope ({scope}/providers/Microsoft.Security/subAssessments).
	typeSubAssessmentList = "Microsoft.Security/subAssessments"
)

// ContainerImageAssessment is the assessment of a container registry's
// images (Azure's "Azure registry container images should have
// vulnerabilities resolved", which the built-in policy
// 090c7b07-b4ed-4561-ad20-e9075f3ccaff audits); mlgov records the
// findings of a workspace's environment images under the same name.
const ContainerImageAssessment = "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"

// ContainerImageDisplayName is its display name.
const ContainerImageDisplayName = "Azure registry container images should have vulnerabilities resolved"

// Status codes of assessments and sub-assessments.
const (
	Healthy       = "Healthy"
	Unhealthy     = "Unhealthy"
	NotApplicable = "NotApplicable"
)

// APIVersions of the assessments (the SDK's 2021-06-01 and earlier) and
// sub-assessments (2019-01-01-preview, all Azure has).
var (
	assessmentAPIVersions    = []string{"2019-01-01-preview", "2020-01-01", "2021-06-01"}
	subAssessmentAPIVersions = []string{"2019-01-01-preview"}
)

// Register adds the Microsoft.Security types to reg.
func Register(reg *resources.Registry) {
	reg.Add(&resources.TypeSpec{Type: TypeAssessment, APIVersions: assessmentAPIVersions, Extension: true, ReadsStore: true, NoProvisioningState: true,
		Validate: validateAssessment, Build: buildAssessment, Mirrors: importMirrors, ScopeList: noFilter("assessments"),
		Actions: map[string]*resources.ActionSpec{"importfindings": {Name: "importFindings", Run: importFindings}}})
	reg.Add(&resources.TypeSpec{Type: TypeSubAssessment, APIVersions: subAssessmentAPIVersions, NoProvisioningState: true,
		ReadOnly: "Sub-assessments are read-only: the importFindings action of their assessment records them."})
	reg.Add(&resources.TypeSpec{Type: typeSubAssessmentList, APIVersions: subAssessmentAPIVersions, Extension: true, NoProvisioningState: true,
		ReadOnly:  "Sub-assessments are read-only: the importFindings action of their assessment records them.",
		ScopeList: noFilter("sub-assessments"), ScopeListType: TypeSubAssessment})
}

func noFilter(what string) func(string) (*resources.ScopeFilter, error) {
	return func(f string) (*resources.ScopeFilter, error) {
		if strings.TrimSpace(f) == "" {
			return &resources.ScopeFilter{}, nil
		}
		e := arm.Errorf("InvalidFilter", "The $filter '%s' is not supported on a list of %s: they take none.", arm.Clip(f, 200), what)
		e.Target = "$filter"
		return nil, e
	}
}

func bad(target, format string, args ...any) error {
	e := arm.Errorf("InvalidRequestContent", format, args...)
	e.Target = target
	return e
}

// validateAssessment checks a PUT of an assessment (Azure's custom
// assessments): resourceDetails and status.code are required.
func validateAssessment(body value.Value, create bool) error {
	if !body.Field("findings").IsUndefined() {
		return bad("findings", "Findings are recorded with the assessment's importFindings action, not by PUT.")
	}
	p := body.Field("properties")
	if p.Kind() != value.Object {
		return bad("properties", "The assessment has no properties: resourceDetails and status are required.")
	}
	rd := p.Field("resourceDetails")
	if rd.Kind() != value.Object {
		return bad("properties.resourceDetails", "properties.resourceDetails is required: {\"source\": \"Azure\"}.")
	}
	if src := rd.Field("source").Str(); !strings.EqualFold(src, "Azure") && !strings.EqualFold(src, "OnPremise") && !strings.EqualFold(src, "OnPremiseSql") {
		return bad("properties.resourceDetails.source", "properties.resourceDetails.source %s is not Azure, OnPremise or OnPremiseSql.", rd.Field("source").JSON())
	}
	st := p.Field("status")
	if st.Kind() != value.Object {
		return bad("properties.status", "properties.status is required: {\"code\": \"Healthy\" | \"Unhealthy\" | \"NotApplicable\"}.")
	}
	switch st.Field("code").Str() {
	case Healthy, Unhealthy, NotApplicable:
	default:
		return bad("properties.status.code", "properties.status.code %s is not Healthy, Unhealthy or NotApplicable.", st.Field("code").JSON())
	}
	if md := p.Field("metadata"); !md.IsUndefined() && md.Kind() != value.Object {
		return bad("properties.metadata", "properties.metadata must be an object.")
	}
	if ad := p.Field("additionalData"); !ad.IsUndefined() {
		if ad.Kind() != value.Object {
			return bad("properties.additionalData", "properties.additionalData must be an object of strings.")
		}
		for _, m := range ad.Members() {
			if m.Value.Kind() != value.String {
				return bad("properties.additionalData."+m.Key, "properties.additionalData.%s must be a string.", m.Key)
			}
		}
	}
	return nil
}

// assessed is the resource an assessment (or its sub-assessment)
// assesses: its id before the Microsoft.Security provider group.
func assessed(id *arm.ID) *arm.ID {
	i := len(id.Parts) - 1
	for i > 0 && id.Parts[i].Namespace == "" {
		i--
	}
	return &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[:i]}
}

// assessmentOf is the assessment of a sub-assessment's or an action's id.
func assessmentOf(id *arm.ID) *arm.ID {
	for i := len(id.Parts) - 1; i >= 0; i-- {
		if id.Parts[i].Namespace != "" {
			return &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[:i+1]}
		}
	}
	return id
}

// buildAssessment completes an assessment as stored: the display name
// (its metadata's, or the known one), status dates, resourceDetails.id.
func buildAssessment(c *resources.Ctx, obj, body, existing value.Value) (value.Value, error) {
	var a map[string]any
	if err := json.Unmarshal([]byte(obj.JSON()), &a); err != nil {
		return value.Value{}, err
	}
	var old map[string]any
	if !existing.IsUndefined() {
		_ = json.Unmarshal([]byte(existing.JSON()), &old)
	}
	props, _ := a["properties"].(map[string]any)
	oldProps, _ := old["properties"].(map[string]any)
	setStatus(props, oldProps, c.Now)
	if _, ok := props["displayName"]; !ok {
		md, _ := props["metadata"].(map[string]any)
		switch {
		case md != nil && md["displayName"] != nil:
			props["displayName"] = md["displayName"]
		case strings.EqualFold(c.ID.Name(), ContainerImageAssessment):
			props["displayName"] = ContainerImageDisplayName
		}
	}
	if rd, _ := props["resourceDetails"].(map[string]any); rd != nil && strings.EqualFold(fmt.Sprint(rd["source"]), "Azure") {
		rd["source"] = "Azure"
		rd["id"] = assessed(c.ID).String()
	}
	return value.FromGo(a)
}

// setStatus keeps the first evaluation date and sets the date of the
// status' change when its code changed.
func setStatus(props, oldProps map[string]any, now time.Time) {
	st, _ := props["status"].(map[string]any)
	if st == nil {
		return
	}
	oldSt, _ := oldProps["status"].(map[string]any)
	ts := now.UTC().Format(time.RFC3339Nano)
	st["firstEvaluationDate"], st["statusChangeDate"] = ts, ts
	if oldSt != nil {
		if f, ok := oldSt["firstEvaluationDate"]; ok {
			st["firstEvaluationDate"] = f
		}
		if oldSt["code"] == st["code"] && oldSt["statusChangeDate"] != nil {
			st["statusChangeDate"] = oldSt["statusChangeDate"]
		}
	}
}

// parseImport checks an importFindings body; each error names its
// member.
func parseImport(body value.Value) (*Import, error) {
	if body.Kind() != value.Object {
		return nil, bad("", "The importFindings body must be a JSON object: {\"scanner\", \"image\", \"findings\": [...]}.")
	}
	var imp Import
	if err := json.Unmarshal([]byte(body.JSON()), &imp); err != nil {
		return nil, bad("", "The importFindings body does not have the shape {\"scanner\": string, \"image\": string, \"findings\": [{\"id\", \"package\", \"severity\", ...}]}: %v.", err)
	}
	switch {
	case imp.Scanner != ScannerTrivy && imp.Scanner != ScannerGrype:
		return nil, bad("scanner", "scanner %s is not Trivy or Grype.", body.Field("scanner").JSON())
	case strings.TrimSpace(imp.Image) == "":
		return nil, bad("image", "image is required: the image the report scanned.")
	case body.Field("findings").Kind() != value.Array:
		return nil, bad("findings", "findings is required: an array (empty for a clean report).")
	}
	if imp.MinimumSeverity == "" {
		imp.MinimumSeverity = SeverityLow
	} else if severityRank(imp.MinimumSeverity) == 0 {
		return nil, bad("minimumSeverity", "minimumSeverity %s is not Low, Medium or High.", body.Field("minimumSeverity").JSON())
	}
	for i, f := range imp.Findings {
		at := "findings[" + strconv.Itoa(i) + "]"
		switch {
		case strings.TrimSpace(f.ID) == "":
			return nil, bad(at+".id", "%s.id is required: the vulnerability (CVE-...).", at)
		case strings.TrimSpace(f.Package) == "":
			return nil, bad(at+".package", "%s.package is required: the vulnerable package.", at)
		case severityRank(f.Severity) == 0:
			return nil, bad(at+".severity", "%s.severity %s is not Low, Medium or High.", at, body.Field("findings").Index(i).Field("severity").JSON())
		}
	}
	imp.Findings = dedupe(imp.Findings)
	return &imp, nil
}

// SubAssessmentName is the name of a finding's sub-assessment: a GUID
// derived from the image, the vulnerability and the package.
func SubAssessmentName(image, id, pkg string) string {
	h := sha256.Sum256([]byte(image + "\x00" + strings.ToUpper(id) + "\x00" + pkg))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// sub is a stored sub-assessment as this package reads it.
type sub struct {
	name string
	body map[string]any
}

func subProps(b map[string]any) map[string]any {
	p, _ := b["properties"].(map[string]any)
	return p
}

func subData(b map[string]any) map[string]any {
	d, _ := subProps(b)["additionalData"].(map[string]any)
	return d
}

func subStatus(b map[string]any) map[string]any {
	s, _ := subProps(b)["status"].(map[string]any)
	return s
}

// plan works out what an import does to the sub-assessments of an
// assessment: the bodies to write by name (new, changed, reopened or
// resolved) and all of them as they will be.
func plan(assessment *arm.ID, existing []*store.Resource, imp *Import, now time.Time) (writes map[string]map[string]any, all map[string]map[string]any, err error) {
	ts := now.UTC().Format(time.RFC3339Nano)
	all = map[string]map[string]any{}
	for _, r := range existing {
		var b map[string]any
		if err := json.Unmarshal(r.Body, &b); err != nil {
			return nil, nil, err
		}
		all[strings.ToLower(fmt.Sprint(b["name"]))] = b
	}
	writes = map[string]map[string]any{}
	seen := map[string]bool{}
	for _, f := range imp.Findings {
		name := SubAssessmentName(imp.Image, f.ID, f.Package)
		k := strings.ToLower(name)
		seen[k] = true
		cur := all[k]
		next := findingBody(assessment, name, imp, f)
		firstSeen := ts
		if cur != nil {
			if fs, ok := subData(cur)["firstSeen"].(string); ok {
				firstSeen = fs
			}
		}
		subData(next)["firstSeen"] = firstSeen
		subProps(next)["timeGenerated"] = ts
		if cur != nil && subStatus(cur)["code"] == Unhealthy {
			// Still open: unchanged unless the finding's details changed.
			subProps(next)["timeGenerated"] = subProps(cur)["timeGenerated"]
			if sameJSON(cur, next) {
				continue
			}
		}
		writes[k], all[k] = next, next
	}
	for k, cur := range all {
		if seen[k] || subData(cur)["imageName"] != imp.Image || subStatus(cur)["code"] != Unhealthy {
			continue
		}
		next := cloneMap(cur)
		st := subStatus(next)
		st["code"], st["cause"], st["description"] = Healthy, "Resolved", fmt.Sprintf("Not found in the %s report of %s.", imp.Scanner, imp.Image)
		subData(next)["resolvedTime"] = ts
		subProps(next)["timeGenerated"] = ts
		writes[k], all[k] = next, next
	}
	return writes, all, nil
}

func sameJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func cloneMap(m map[string]any) map[string]any {
	var out map[string]any
	b, _ := json.Marshal(m)
	_ = json.Unmarshal(b, &out)
	return out
}

// findingBody is a finding's sub-assessment (api-version
// 2019-01-01-preview, additionalData ContainerRegistryVulnerability).
func findingBody(assessment *arm.ID, name string, imp *Import, f Finding) map[string]any {
	id := assessment.Child("subAssessments", name)
	display := f.Title
	if display == "" {
		display = f.ID + " in " + f.Package
	}
	remediation := "No fixed version of " + f.Package + " is known."
	if f.FixedVersion != "" {
		remediation = "Upgrade " + f.Package + " to " + f.FixedVersion + "."
	}
	cve := map[string]any{"title": f.ID}
	if f.Link != "" {
		cve["link"] = f.Link
	}
	data := map[string]any{
		"assessedResourceType": "ContainerRegistryVulnerability",
		"type":                 "Vulnerability",
		"patchable":            f.FixedVersion != "",
		"cve":                  []any{cve},
		"repositoryName":       repositoryOf(imp.Image),
		"imageDigest":          imp.ImageDigest,
		"imageName":            imp.Image,
		"packageName":          f.Package,
		"installedVersion":     f.InstalledVersion,
		"fixedVersion":         f.FixedVersion,
		"scanner":              imp.Scanner,
		"scannerSeverity":      f.ScannerSeverity,
	}
	return map[string]any{
		"id": id.String(), "name": name, "type": TypeSubAssessment,
		"properties": map[string]any{
			"id":              f.ID,
			"displayName":     display,
			"status":          map[string]any{"code": Unhealthy, "severity": f.Severity, "cause": "", "description": f.ID + " in " + f.Package + " " + f.InstalledVersion},
			"remediation":     remediation,
			"impact":          f.Title,
			"category":        "Vulnerability",
			"description":     f.Description,
			"resourceDetails": map[string]any{"source": "Azure", "id": assessed(assessment).String()},
			"additionalData":  data,
		},
	}
}

// repositoryOf is an image reference's repository: without the
// registry host, tag and digest.
func repositoryOf(image string) string {
	r := image
	if i := strings.IndexByte(r, '@'); i >= 0 {
		r = r[:i]
	}
	if i := strings.LastIndexByte(r, ':'); i > strings.LastIndexByte(r, '/') {
		r = r[:i]
	}
	if i := strings.IndexByte(r, '/'); i >= 0 {
		if host := r[:i]; strings.ContainsAny(host, ".:") || host == "localhost" {
			r = r[i+1:]
		}
	}
	return r
}

// importFindings is the action's Run: the assessment's status from its
// sub-assessments as the import leaves them (the mirrors write them).
func importFindings(c *resources.Ctx, cur, body value.Value) (value.Value, value.Value, error) {
	imp, err := parseImport(body)
	if err != nil {
		return value.Value{}, value.Value{}, err
	}
	aid := assessmentOf(c.ID)
	existing, err := c.Children(aid, TypeSubAssessment)
	if err != nil {
		return value.Value{}, value.Value{}, err
	}
	writes, all, err := plan(aid, existing, imp, c.Now)
	if err != nil {
		return value.Value{}, value.Value{}, err
	}
	counts := map[string]int{}
	opened, resolved := 0, 0
	for _, w := range writes {
		if subStatus(w)["code"] == Unhealthy {
			opened++
		} else {
			resolved++
		}
	}
	unresolved := 0
	for _, b := range all {
		st := subStatus(b)
		if st["code"] != Unhealthy {
			continue
		}
		sev, _ := st["severity"].(string)
		counts[sev]++
		if severityRank(sev) >= severityRank(imp.MinimumSeverity) {
			unresolved++
		}
	}
	var a map[string]any
	if err := json.Unmarshal([]byte(cur.JSON()), &a); err != nil {
		return value.Value{}, value.Value{}, err
	}
	old := cloneMap(a)
	props, _ := a["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		a["properties"] = props
	}
	code, desc := Healthy, "No unresolved vulnerability at or above severity "+imp.MinimumSeverity+"."
	if unresolved > 0 {
		code = Unhealthy
		desc = fmt.Sprintf("%d unresolved vulnerabilities at or above severity %s.", unresolved, imp.MinimumSeverity)
	}
	props["status"] = map[string]any{"code": code, "description": desc}
	setStatus(props, subProps(old), c.Now)
	ad, _ := props["additionalData"].(map[string]any)
	if ad == nil {
		ad = map[string]any{}
		props["additionalData"] = ad
	}
	ad["unresolvedHigh"], ad["unresolvedMedium"], ad["unresolvedLow"] = strconv.Itoa(counts[SeverityHigh]), strconv.Itoa(counts[SeverityMedium]), strconv.Itoa(counts[SeverityLow])
	ad["lastScanner"], ad["lastImage"], ad["lastImport"] = imp.Scanner, imp.Image, c.Now.UTC().Format(time.RFC3339Nano)
	ad["minimumSeverity"] = imp.MinimumSeverity
	next, err := value.FromGo(a)
	if err != nil {
		return value.Value{}, value.Value{}, err
	}
	resp, err := value.FromGo(map[string]any{"status": code, "image": imp.Image, "findings": len(imp.Findings),
		"opened": opened, "resolved": resolved, "unresolved": unresolved})
	return next, resp, err
}

// importMirrors writes the sub-assessments of an importFindings action
// (the request's body); other writes of an assessment mirror nothing.
func importMirrors(c *resources.Ctx, obj, old value.Value) []resources.Mirror {
	if obj.IsUndefined() || c.Body.Kind() != value.Object || c.Body.Field("findings").IsUndefined() || !c.Body.Field("properties").IsUndefined() {
		return nil
	}
	imp, err := parseImport(c.Body)
	if err != nil || c.Children == nil {
		return nil
	}
	aid := assessmentOf(c.ID)
	existing, err := c.Children(aid, TypeSubAssessment)
	if err != nil {
		return nil
	}
	writes, _, err := plan(aid, existing, imp, c.Now)
	if err != nil {
		return nil
	}
	var out []resources.Mirror
	for _, w := range writes {
		v, err := value.FromGo(w)
		if err != nil {
			continue
		}
		id := aid.Child("subAssessments", fmt.Sprint(w["name"]))
		out = append(out, resources.Mirror{ID: id, Update: func(value.Value) value.Value { return v }})
	}
	return out
}
