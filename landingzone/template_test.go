package landingzone

import (
	"errors"
	"os"
	"testing"
)

func TestParseExample(t *testing.T) {
	b, err := os.ReadFile("../examples/landingzones/ml-data-landing-zone.json")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if tm.Group != "ml-data-zones" || len(tm.Assignments) != 4 || len(tm.TeamRoles) != 1 || tm.Deployment.Field("resources").Len() != 2 || tm.Workload != "Production" {
		t.Fatalf("%+v", tm)
	}
}

func TestParseErrors(t *testing.T) {
	for in, ptr := range map[string]string{
		`[]`:                                   "",
		`{"x": 1}`:                             "/x",
		`{"$schema": "other"}`:                 "/$schema",
		`{}`:                                   "/managementGroup",
		`{"managementGroup": {"name": "a b"}}`: "/managementGroup/name",
		`{"managementGroup": {"name": "a", "parent": 3}}`:                                                                                                 "/managementGroup/parent",
		`{"managementGroup": {"name": "a"}, "subscription": {"workload": "Gold"}}`:                                                                        "/subscription/workload",
		`{"managementGroup": {"name": "a"}, "policyAssignments": {}}`:                                                                                     "/policyAssignments",
		`{"managementGroup": {"name": "a"}, "policyAssignments": [{"name": "p", "policyDefinitionId": "/x"}, {"name": "P", "policyDefinitionId": "/x"}]}`: "/policyAssignments/1/name",
		`{"managementGroup": {"name": "a"}, "policyAssignments": [{"name": "p", "policyDefinitionId": "/x", "identity": {}}]}`:                            "/policyAssignments/0/identity",
		`{"managementGroup": {"name": "a"}, "teamRoles": [""]}`:                                                                                           "/teamRoles/0",
		`{"managementGroup": {"name": "a"}, "deployment": {"template": []}}`:                                                                              "/deployment/template",
		`{"managementGroup": {"name": "a"}, "deployment": {"template": {}, "parameters": 1}}`:                                                             "/deployment/parameters",
		`{"managementGroup": {"name": "a"}} x`:                                                                                                            "",
	} {
		_, err := Parse([]byte(in))
		var e *Error
		if !errors.As(err, &e) || e.Pointer != ptr {
			t.Errorf("%s: %v, want an error at %q", in, err, ptr)
		}
	}
}
