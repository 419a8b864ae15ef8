// Package landingzone vends landing zones: an administrator describes
// one as a template of mlgov's own (docs/landing-zones.md) and a request
// (Mlgov.Governance/landingZones, or mlgov landingzone create) makes it
// for a team: a management group to land in, a subscription in it, the
// policy assignments at the group, the team's roles at the subscription,
// and the template's resources through the deployment engine. Every step
// is a request through the write path, as the caller who asked.
package landingzone

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
)

// Schema is the $schema of a landing zone template (optional in the file).
const Schema = "https://mlgov.dev/schemas/landing-zone/2026-12-01#"

// Template is a landing zone as the administrator describes it.
type Template struct {
	Description string
	// Group is the management group the zones land in (made when it does
	// not exist), under Parent ("" : the tenant root group).
	Group, GroupDisplayName, Parent string
	Workload                        string // the subscription's: Production or DevTest
	Assignments                     []Assignment
	// TeamRoles are the roles (names or role definition GUIDs) the team
	// gets at its subscription.
	TeamRoles []string
	// Deployment is the template deployed at the subscription, and its
	// parameters ({name: {value}}); Undefined when none.
	Deployment, Parameters value.Value
}

// Assignment is a policy assignment the template makes at its group.
type Assignment struct {
	Name string
	Body value.Value // the assignment's properties
}

// Error is a template's fault, with the JSON pointer of what is wrong.
type Error struct {
	Pointer, Message string
}

func (e *Error) Error() string { return e.Pointer + ": " + e.Message }

func bad(ptr, format string, args ...any) *Error {
	return &Error{Pointer: ptr, Message: fmt.Sprintf(format, args...)}
}

// Parse reads a landing zone template.
func Parse(data []byte) (*Template, error) {
	v, err := value.ParseStrict(data)
	if err != nil {
		return nil, &Error{Pointer: "", Message: "the template is not JSON: " + err.Error()}
	}
	return FromValue(v)
}

var known = map[string]bool{"$schema": true, "description": true, "managementgroup": true, "subscription": true,
	"policyassignments": true, "teamroles": true, "deployment": true}

// FromValue checks a template given as a value.
func FromValue(v value.Value) (*Template, error) {
	if v.Kind() != value.Object {
		return nil, bad("", "a landing zone template is a JSON object")
	}
	for _, m := range v.Members() {
		if !known[strings.ToLower(m.Key)] {
			return nil, bad("/"+m.Key, "'%s' is not a member of a landing zone template (managementGroup, subscription, policyAssignments, teamRoles, deployment, description, $schema)", m.Key)
		}
	}
	t := &Template{Workload: "Production"}
	if s := v.Field("$schema"); !s.IsUndefined() && s.Str() != Schema {
		return nil, bad("/$schema", "the schema must be '%s'", Schema)
	}
	t.Description = v.Field("description").Str()
	g := v.Field("managementGroup")
	if g.Kind() != value.Object {
		return nil, bad("/managementGroup", "the management group to land in is required: {\"name\": ..., \"displayName\": ..., \"parent\": ...}")
	}
	t.Group = g.Field("name").Str()
	if t.Group == "" || !validGroupName(t.Group) {
		return nil, bad("/managementGroup/name", "'%s' is not a management group name (1 to 90 letters, digits, '-', '_', '(', ')', '.')", arm.Clip(t.Group, 100))
	}
	t.GroupDisplayName = g.Field("displayName").Str()
	if p := g.Field("parent"); !p.IsNullish() {
		if p.Kind() != value.String || !validGroupName(p.Str()) {
			return nil, bad("/managementGroup/parent", "the parent is a management group's name")
		}
		t.Parent = p.Str()
	}
	if s := v.Field("subscription"); !s.IsUndefined() {
		if s.Kind() != value.Object {
			return nil, bad("/subscription", "subscription is an object: {\"workload\": \"Production\" | \"DevTest\"}")
		}
		if w := s.Field("workload"); !w.IsUndefined() {
			if w.Str() != "Production" && w.Str() != "DevTest" {
				return nil, bad("/subscription/workload", "the workload is Production or DevTest, not '%s'", arm.Clip(w.Str(), 40))
			}
			t.Workload = w.Str()
		}
	}
	pas := v.Field("policyAssignments")
	if !pas.IsUndefined() && pas.Kind() != value.Array {
		return nil, bad("/policyAssignments", "policyAssignments is an array")
	}
	names := map[string]bool{}
	for i, a := range pas.Elems() {
		ptr := "/policyAssignments/" + strconv.Itoa(i)
		if a.Kind() != value.Object {
			return nil, bad(ptr, "a policy assignment is an object with name and policyDefinitionId")
		}
		name := a.Field("name").Str()
		if err := arm.ValidateResourceName(name); err != nil || name == "" || len(name) > 64 {
			return nil, bad(ptr+"/name", "'%s' is not a policy assignment name", arm.Clip(name, 100))
		}
		if names[strings.ToLower(name)] {
			return nil, bad(ptr+"/name", "the name '%s' is given twice", name)
		}
		names[strings.ToLower(name)] = true
		if a.Field("policyDefinitionId").Kind() != value.String {
			return nil, bad(ptr+"/policyDefinitionId", "policyDefinitionId is required: the definition or initiative to assign")
		}
		props := value.ObjectValue()
		for _, m := range a.Members() {
			switch strings.ToLower(m.Key) {
			case "name":
			case "displayname", "description", "policydefinitionid", "parameters", "enforcementmode", "noncompliancemessages", "notscopes", "metadata", "overrides", "resourceselectors":
				props = props.With(m.Key, m.Value)
			default:
				return nil, bad(ptr+"/"+m.Key, "'%s' is not a property of a policy assignment here", m.Key)
			}
		}
		t.Assignments = append(t.Assignments, Assignment{Name: name, Body: props})
	}
	roles := v.Field("teamRoles")
	if !roles.IsUndefined() && roles.Kind() != value.Array {
		return nil, bad("/teamRoles", "teamRoles is an array of role names")
	}
	for i, r := range roles.Elems() {
		if r.Kind() != value.String || strings.TrimSpace(r.Str()) == "" {
			return nil, bad("/teamRoles/"+strconv.Itoa(i), "a team role is a role's name (Owner, Contributor, ...) or its GUID")
		}
		t.TeamRoles = append(t.TeamRoles, r.Str())
	}
	if d := v.Field("deployment"); !d.IsUndefined() {
		if d.Kind() != value.Object || d.Field("template").Kind() != value.Object {
			return nil, bad("/deployment/template", "the deployment needs 'template': an ARM template of subscription scope")
		}
		for _, m := range d.Members() {
			if k := strings.ToLower(m.Key); k != "template" && k != "parameters" {
				return nil, bad("/deployment/"+m.Key, "a deployment has 'template' and 'parameters' only")
			}
		}
		t.Deployment = d.Field("template")
		t.Parameters = d.Field("parameters")
		if !t.Parameters.IsUndefined() && t.Parameters.Kind() != value.Object {
			return nil, bad("/deployment/parameters", "parameters is an object: {\"name\": {\"value\": ...}}")
		}
	}
	return t, nil
}

func validGroupName(n string) bool {
	if len(n) == 0 || len(n) > 90 || strings.HasSuffix(n, ".") {
		return false
	}
	for _, c := range n {
		ok := c == '-' || c == '_' || c == '(' || c == ')' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}
