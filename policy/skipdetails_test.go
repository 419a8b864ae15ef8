package policy

import (
	"testing"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// skipDetailsRules have effect details that fail or hold values that do
// not exist, for every kind of details (modify, append, AINE/DINE,
// free-form); p is a parameter without a value.
var skipDetailsRules = []string{
	// modify: a missing parameter as a value, alone and inside an object
	`{"if":{"field":"type","like":"Microsoft.MachineLearningServices/*"},"then":{"effect":"modify","details":{"roleDefinitionIds":[],"operations":[{"operation":"addOrReplace","field":"tags.a","value":"[parameters('p')]"}]}}}`,
	`{"if":{"field":"type","like":"Microsoft.MachineLearningServices/*"},"then":{"effect":"modify","details":{"roleDefinitionIds":[],"operations":[{"operation":"addOrReplace","field":"tags.a","value":{"a":"[parameters('p')]","b":"[field('name')]"}}]}}}`,
	// modify: a failing function, a field expression, a condition that is not a boolean
	`{"if":{"field":"name","exists":true},"then":{"effect":"modify","details":{"roleDefinitionIds":[],"operations":[{"operation":"addOrReplace","field":"tags.a","value":"[int(field('name'))]"}]}}}`,
	`{"if":{"field":"name","exists":true},"then":{"effect":"modify","details":{"operations":[{"operation":"add","field":"[concat('tags.', field('name'))]","value":"[field('location')]","condition":"[equals(field('kind'), 'Hub')]"}]}}}`,
	`{"if":{"field":"name","exists":true},"then":{"effect":"modify","details":{"operations":[{"operation":"add","field":"tags.b","value":"x","condition":"[field('name')]"}]}}}`,
	// append
	`{"if":{"field":"type","like":"Microsoft.Network/*"},"then":{"effect":"append","details":[{"field":"tags.x","value":"[parameters('p')]"}]}}`,
	`{"if":{"field":"type","like":"Microsoft.Network/*"},"then":{"effect":"append","details":[{"field":"[concat('tags.', field('name'))]","value":["[field('location')]","[parameters('p')]"]}]}}`,
	`{"if":{"field":"type","like":"Microsoft.Network/*"},"then":{"effect":"append","details":[{"field":"tags.y","value":"[substring(field('name'), 0, 100)]"}]}}`,
	// free-form details: constant with a missing value, an expression, a mix
	`{"if":{"field":"name","exists":true},"then":{"effect":"audit","details":{"x":"[parameters('p')]"}}}`,
	`{"if":{"field":"name","exists":true},"then":{"effect":"audit","details":"[parameters('p')]"}}`,
	`{"if":{"field":"name","exists":true},"then":{"effect":"deny","details":{"k":"[toLower(field('name'))]","n":["[parameters('p')]"]}}}`,
	`{"if":{"field":"name","exists":true},"then":{"effect":"deny","details":"[createObject('a', field('properties'))]"}}`,
	// AINE/DINE: expressions in the details, deployment parameters that fail
	`{"if":{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},"then":{"effect":"auditIfNotExists","details":{"type":"Microsoft.Insights/diagnosticSettings","name":"[field('name')]","extra":"[parameters('p')]"}}}`,
	`{"if":{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},"then":{"effect":"deployIfNotExists","details":{"type":"Microsoft.Network/privateEndpoints","roleDefinitionIds":[],"deployment":{"properties":{"mode":"incremental","template":{},"parameters":{"a":{"value":"[parameters('p')]"},"b":{"value":"[int(field('name'))]"},"c":{"value":"[field('location')]"}}}}}}}`,
	`{"if":{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},"then":{"effect":"deployIfNotExists","details":{"type":"Microsoft.Network/privateEndpoints","name":"[int(field('name'))]","roleDefinitionIds":[],"deployment":{"properties":{"mode":"incremental","template":{}}}}}}`,
}

// TestSkipDetailsSameOutcome: Input.SkipDetails changes nothing but the
// built details: the effect, the match and every error (including details
// that hold values that do not exist) are the same.
func TestSkipDetailsSameOutcome(t *testing.T) {
	progs := mlPrograms(t)
	for _, rule := range skipDetailsRules {
		progs = append(progs, compileRule(t, rule))
	}
	compareSkipDetails(t, progs, mlResources(t, 400, 5))
}

// compileRule compiles a policy rule in mode All with a parameter p that
// has no value.
func compileRule(t *testing.T, rule string) *Program {
	t.Helper()
	doc, err := definition.Parse([]byte(`{"properties":{"mode":"All","parameters":{"p":{"type":"String"}},"policyRule":` + rule + `}}`))
	if err != nil {
		t.Fatalf("%s: %v", rule, err)
	}
	p, err := Compile(doc.Policy, Options{Aliases: alias.Builtin(), AllowMissingParameters: true})
	if err != nil {
		t.Fatalf("%s: %v", rule, err)
	}
	return p
}

func compareSkipDetails(t *testing.T, progs []*Program, res []value.Value) {
	t.Helper()
	full := Input{Now: benchNow}
	skip := Input{Now: benchNow, SkipDetails: true}
	errs := 0
	for _, p := range progs {
		for _, r := range res {
			full.Resource, skip.Resource = r, r
			a, b := p.Evaluate(&full), p.Evaluate(&skip)
			if a.Effect != b.Effect || a.EffectName != b.EffectName || a.Matched != b.Matched ||
				a.Applicable != b.Applicable || a.Reason != b.Reason || errText(a.Err) != errText(b.Err) {
				t.Fatalf("%s on %s: with details %+v, without %+v", p.Describe(), r.Field("id").Str(), outcome(a), outcome(b))
			}
			if !b.Details.IsUndefined() || b.Existence != nil {
				t.Fatalf("%s: SkipDetails still built the details", p.Describe())
			}
			if a.Err != nil {
				errs++
			}
		}
	}
	if errs == 0 {
		t.Error("no evaluation failed: the cases do not exercise the details checks")
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func outcome(r Result) []any {
	return []any{r.Effect, r.EffectName, r.Matched, r.Applicable, r.Reason, errText(r.Err)}
}

// TestSkipDetailsSameOutcomeBuiltins runs the comparison over every
// built-in definition of the peer-case snapshot.
func TestSkipDetailsSameOutcomeBuiltins(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles 5,009 definitions")
	}
	dir := needShared(t, allBuiltinsDir)
	peer, err := alias.LoadFile(needShared(t, peerAliasesFile))
	if err != nil {
		t.Fatal(err)
	}
	cat := alias.Merge(alias.Builtin(), peer)
	files, err := definition.LoadPaths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var progs []*Program
	for _, f := range files {
		if f.Err != nil || f.Doc.Kind == definition.KindPolicySet {
			continue
		}
		if p, err := Compile(f.Doc.Policy, Options{Aliases: cat, AllowMissingParameters: true}); err == nil {
			progs = append(progs, p)
		}
	}
	compareSkipDetails(t, progs, mlResources(t, 200, 11))
}
