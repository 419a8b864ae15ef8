package policy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// TestConditionTree: with Explain, Result.Conditions is the if-condition
// as evaluated: groups with their results and the conditions they
// evaluated (an allOf stops at its first false, an anyOf at its first
// true), each condition pointing at its ExpressionResult.
func TestConditionTree(t *testing.T) {
	doc, err := definition.Parse([]byte(`{"properties":{"mode":"All","policyRule":{"if":{"allOf":[
		{"field":"type","equals":"Microsoft.Foo/bars"},
		{"not":{"anyOf":[{"field":"name","equals":"a"},{"field":"location","equals":"eastus"},{"field":"kind","equals":"k"}]}},
		{"field":"name","like":"*"}]},"then":{"effect":"audit"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(doc.Policy, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := value.Parse([]byte(`{"type":"Microsoft.Foo/bars","name":"b","location":"eastus"}`))
	res := p.Evaluate(&Input{Resource: r, Explain: true})
	var lines []string
	var walk func(n *ConditionNode, depth int)
	walk = func(n *ConditionNode, depth int) {
		line := strings.Repeat("  ", depth) + n.Kind + " " + strconv.FormatBool(n.Result)
		if n.Expression >= 0 {
			line += " " + res.Expressions[n.Expression].Expression
		}
		lines = append(lines, line)
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	if res.Conditions == nil {
		t.Fatal("no condition tree with Explain")
	}
	walk(res.Conditions, 0)
	want := []string{
		"allOf false",
		"  condition true type",
		"  not false",
		"    anyOf true",
		"      condition false name",
		"      condition true location",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("tree:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if res := p.Evaluate(&Input{Resource: r}); res.Conditions != nil || res.Expressions != nil {
		t.Error("a tree without Explain")
	}
}
