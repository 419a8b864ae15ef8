package policy

import (
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

// evalCase is one program evaluated against one already-decoded resource.
type evalCase struct {
	prog *Program
	res  value.Value
}

// TestEvaluateNotApplicableAllocatesNothing: evaluating a compiled Machine
// Learning built-in against an already-decoded resource allocates nothing
// when the definition does not apply (the type and mode fast paths) and
// when it applies but its if-condition is false. The resources are
// generated ML resources of every shape (workspaces, computes, jobs,
// endpoints, private endpoints, data-plane components ...), so each
// built-in meets resources of other types and resources of its own type
// that comply.
func TestEvaluateNotApplicableAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	progs := mlPrograms(t)
	res := mlResources(t, 600, 3)
	in := Input{Now: benchNow}
	byReason := map[string][]evalCase{}
	var condFalse []evalCase
	for _, p := range progs {
		for _, r := range res {
			in.Resource = r
			out := p.Evaluate(&in)
			switch {
			case !out.Applicable:
				byReason[out.Reason] = append(byReason[out.Reason], evalCase{p, r})
			case !out.Matched && out.Err == nil:
				condFalse = append(condFalse, evalCase{p, r})
			}
		}
	}
	for _, reason := range []string{"type", "mode"} {
		if len(byReason[reason]) == 0 {
			t.Fatalf("no evaluation was rejected by %s: the resource mix does not exercise the fast path", reason)
		}
	}
	if len(condFalse) == 0 {
		t.Fatal("no evaluation had a false if-condition")
	}
	check := func(t *testing.T, cases []evalCase) {
		t.Helper()
		in := Input{Now: benchNow}
		run := func(cs []evalCase) float64 {
			return testing.AllocsPerRun(5, func() {
				for _, c := range cs {
					in.Resource = c.res
					c.prog.Evaluate(&in)
				}
			})
		}
		if n := run(cases); n != 0 {
			// Name the culprits.
			for _, c := range cases {
				if run([]evalCase{c}) != 0 {
					t.Errorf("%q on a %s allocates", c.prog.Describe(), c.res.Field("type").Str())
				}
			}
			t.Fatalf("%d evaluations allocate %v times in all, want 0", len(cases), n)
		}
	}
	progsFalse := map[*Program]bool{}
	for _, c := range condFalse {
		progsFalse[c.prog] = true
	}
	if len(progsFalse) < 15 {
		t.Errorf("only %d built-ins had a false if-condition on the generated resources", len(progsFalse))
	}
	t.Run("type", func(t *testing.T) { check(t, byReason["type"]) })
	t.Run("mode", func(t *testing.T) { check(t, byReason["mode"]) })
	t.Run("if-condition-false", func(t *testing.T) { check(t, condFalse) })
	t.Logf("checked %d type, %d mode and %d if-condition-false evaluations (%d built-ins)", len(byReason["type"]), len(byReason["mode"]), len(condFalse), len(progsFalse))
}
