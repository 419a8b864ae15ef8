package policytest

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlgov/mlgov/policy/suggest"
)

// The keys of mlgov's own test format, per mapping (runOwn).
var (
	ownFileKeys    = []string{"kind", "definition", "aliases", "parameters", "cases", "description"}
	ownCaseKeys    = []string{"name", "note", "description", "why", "skip", "resource", "parameters", "context", "related", "want"}
	ownWantKeys    = []string{"effect", "error", "details"}
	ownContextKeys = []string{"resourceGroup", "subscription", "requestContext", "now"}
)

// checkOwnKeys returns an error per key of an own-format file that the
// format does not have ("line 7: unknown key 'resouce' in case 2; did you
// mean 'resource'?"): a misspelt key would otherwise make a case pass or
// fail for the wrong reason.
func checkOwnKeys(data []byte) []string {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil || len(root.Content) == 0 {
		return nil // reported by the caller's own parse
	}
	var errs []string
	check := func(n *yaml.Node, allowed []string, where string) {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if slices.Contains(allowed, k.Value) {
				continue
			}
			msg := fmt.Sprintf("line %d: unknown key '%s' in %s", k.Line, k.Value, where)
			if near := suggest.Nearest(k.Value, allowed, 2, 3); len(near) > 0 {
				msg += "; did you mean '" + strings.Join(near, "' or '") + "'?"
			} else {
				msg += " (its keys are " + strings.Join(allowed, ", ") + ")"
			}
			errs = append(errs, msg)
		}
	}
	doc := root.Content[0]
	check(doc, ownFileKeys, "the file")
	cases := mapValue(doc, "cases")
	if cases == nil || cases.Kind != yaml.SequenceNode {
		return errs
	}
	for i, c := range cases.Content {
		where := fmt.Sprintf("case %d", i+1)
		check(c, ownCaseKeys, where)
		check(mapValue(c, "want"), ownWantKeys, where+"'s want")
		check(mapValue(c, "context"), ownContextKeys, where+"'s context")
	}
	return errs
}

// mapValue returns the value of key in a mapping node (nil if none).
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
