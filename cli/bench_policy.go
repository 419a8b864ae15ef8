package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
)

// benchPolicyAPIVersion is the api-version of the policy resources the
// bench writes (what @azure/arm-policy 7.x sends).
const benchPolicyAPIVersion = "2025-03-01"

// assignBuiltins makes n policy assignments in force at the scopes of the
// computes the bench writes: the server's Machine Learning built-ins that
// need no parameter, at the subscription and at the bench's resource
// group, then custom definitions (each evaluates every compute, and
// denies none of the bench's) assigned at one or the other. The
// subscription's assignments leave out notScope (the control resource
// group, whose computes no assignment covers). It returns the paths of
// what it created, for removal after the run.
func (c *benchClient) assignBuiltins(ctx context.Context, sub, rg, notScope string, n int, logw io.Writer) ([]string, error) {
	var defs []string
	next := "/providers/Microsoft.Authorization/policyDefinitions?api-version=" + benchPolicyAPIVersion
	for next != "" {
		st, _, b, err := c.do(ctx, "GET", next, nil, true)
		if err != nil || st != 200 {
			return nil, setupErr("listing the built-in policy definitions", st, b, err)
		}
		var page struct {
			Value []struct {
				ID         string `json:"id"`
				Properties struct {
					Metadata struct {
						Category string `json:"category"`
					} `json:"metadata"`
				} `json:"properties"`
			} `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("listing the built-in policy definitions: %w", err)
		}
		for _, d := range page.Value {
			if d.Properties.Metadata.Category == "Machine Learning" {
				defs = append(defs, d.ID)
			}
		}
		next = ""
		if page.NextLink != "" {
			u, err := url.Parse(page.NextLink)
			if err != nil {
				return nil, err
			}
			next = u.RequestURI()
		}
	}
	if len(defs) == 0 {
		return nil, fmt.Errorf("--assignments %d: the server has no Machine Learning built-ins (start it with --policy-definitions)", n)
	}
	scopes := []string{"/subscriptions/" + sub, "/subscriptions/" + sub + "/resourceGroups/" + rg}
	var made []string
	assigned := 0
	assign := func(scope, name, def string) (bool, error) {
		p := fmt.Sprintf("%s/providers/Microsoft.Authorization/policyAssignments/%s?api-version=%s", scope, name, benchPolicyAPIVersion)
		not := ""
		if scope == scopes[0] && notScope != "" {
			not = `,"notScopes":["` + notScope + `"]`
		}
		st, _, b, err := c.do(ctx, "PUT", p, []byte(`{"properties":{"policyDefinitionId":"`+def+`"`+not+`}}`), false)
		if err != nil {
			return false, err
		}
		if st == 400 && strings.Contains(string(b), "Parameter") {
			return false, nil // a built-in that needs parameter values
		}
		if st != 201 {
			return false, setupErr("assigning "+def, st, b, nil)
		}
		made = append(made, p)
		assigned++
		return true, nil
	}
	builtins := 0
	for _, scope := range scopes {
		for i, def := range defs {
			if assigned == n {
				break
			}
			ok, err := assign(scope, fmt.Sprintf("mlgov-bench-b%d", i), def)
			if err != nil {
				return made, err
			}
			if ok {
				builtins++
			}
		}
	}
	// Custom definitions for the rest: each evaluates every compute (its
	// type and a tag) and denies none of the bench's, as most policies
	// pass most writes.
	for i := 0; assigned < n; i++ {
		name := fmt.Sprintf("mlgov-bench-c%d", i)
		def := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/policyDefinitions/" + name
		body := fmt.Sprintf(`{"properties":{"mode":"Indexed","displayName":"bench %d","policyRule":{"if":{"allOf":[`+
			`{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces/computes"},`+
			`{"field":"tags['team']","equals":"blocked-%d"}]},"then":{"effect":"Deny"}}}}`, i, i)
		st, _, b, err := c.do(ctx, "PUT", def+"?api-version="+benchPolicyAPIVersion, []byte(body), false)
		if err != nil || st != 201 {
			return made, setupErr("creating the custom definition "+name, st, b, err)
		}
		made = append(made, def+"?api-version="+benchPolicyAPIVersion) // deleted after its assignment (listed first below)
		if _, err := assign(scopes[i%2], name, def); err != nil {
			return made, err
		}
	}
	fmt.Fprintf(logw, "bench: %d policy assignments in force (%d of the Machine Learning built-ins at the subscription and %s, custom definitions for the rest)\n", n, builtins, rg)
	// Assignments before definitions when removing.
	slices.SortStableFunc(made, func(a, b string) int {
		return boolInt(strings.Contains(a, "policyDefinitions/")) - boolInt(strings.Contains(b, "policyDefinitions/"))
	})
	return made, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// unassign deletes the bench's assignments.
func (c *benchClient) unassign(ctx context.Context, paths []string) {
	for _, p := range paths {
		c.do(ctx, "DELETE", p, nil, false)
	}
}
