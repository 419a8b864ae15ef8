package policy

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

// TestEvaluateEachMatchesEvaluate: Index.EvaluateEach gives, for every
// candidate, what Program.Evaluate gives (with and without details and
// explanations), also when several goroutines share the programs.
func TestEvaluateEachMatchesEvaluate(t *testing.T) {
	progs := mlPrograms(t)
	for _, rule := range skipDetailsRules[:3] {
		progs = append(progs, compileRule(t, rule))
	}
	ix := NewIndex(progs)
	res := mlResources(t, 300, 9)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k, r := range res {
				in := Input{Now: benchNow, Resource: r, SkipDetails: k%2 == 0, Explain: k%3 == 0}
				var buf [256]byte
				cands := ix.Candidates(r.Field("type").Str(), buf[:0])
				n := 0
				ix.EvaluateEach(&in, func(i int, got Result) {
					if n >= len(cands) || cands[n] != i {
						t.Errorf("EvaluateEach visited program %d as candidate %d; candidates %v", i, n, cands)
						return
					}
					n++
					want := progs[i].Evaluate(&in)
					if got.Effect != want.Effect || got.EffectName != want.EffectName || got.Matched != want.Matched ||
						got.Applicable != want.Applicable || got.Reason != want.Reason || errText(got.Err) != errText(want.Err) ||
						got.Details.JSON() != want.Details.JSON() || len(got.Expressions) != len(want.Expressions) ||
						(got.Existence == nil) != (want.Existence == nil) {
						t.Errorf("%s on %s: EvaluateEach %v, Evaluate %v", progs[i].Describe(), r.Field("id").Str(), outcome(got), outcome(want))
					}
				})
				if n != len(cands) {
					t.Errorf("EvaluateEach visited %d of %d candidates", n, len(cands))
				}
			}
		}()
	}
	wg.Wait()
}

// TestSubjectMatchesEvaluate: a Subject evaluates a resource against many
// programs, each with its own policy() object, as Program.Evaluate does
// with that object in the input, whatever the order of the programs and
// the objects, with and without details and explanations.
func TestSubjectMatchesEvaluate(t *testing.T) {
	progs := mlPrograms(t)
	// A rule that reads policy(): its outcome depends on the object.
	byPolicy := compileRule(t, `{"if":{"field":"name","equals":"[policy().assignmentId]"},"then":{"effect":"audit"}}`)
	res := mlResources(t, 200, 11)
	for k, r := range res {
		in := Input{Now: benchNow, Resource: r, SkipDetails: k%2 == 0, Explain: k%3 == 0}
		sub := NewSubject(&in)
		for j := range 2 * len(progs) {
			p := progs[(j*7+k)%len(progs)]
			pin := value.ObjectValue(value.Member{Key: "assignmentId", Value: value.StringValue(fmt.Sprint(j))})
			if j%5 == 0 {
				p = byPolicy
				if j%10 == 0 {
					pin = value.ObjectValue(value.Member{Key: "assignmentId", Value: r.Field("name")})
				}
			}
			got := sub.Evaluate(p, pin)
			in.Policy = pin
			want := p.Evaluate(&in)
			if got.Effect != want.Effect || got.Matched != want.Matched || got.Applicable != want.Applicable ||
				got.Reason != want.Reason || errText(got.Err) != errText(want.Err) || got.Details.JSON() != want.Details.JSON() ||
				len(got.Expressions) != len(want.Expressions) {
				t.Errorf("%s on %s with %s: Subject %v, Evaluate %v", p.Describe(), r.Field("id").Str(), pin.JSON(), outcome(got), outcome(want))
			}
		}
		sub.Close()
	}
	// The rule that reads policy() fires with the object that names the
	// resource and not with another: the object is the one given.
	r := res[0]
	sub := NewSubject(&Input{Now: benchNow, Resource: r})
	defer sub.Close()
	if got := sub.Evaluate(byPolicy, value.ObjectValue(value.Member{Key: "assignmentId", Value: r.Field("name")})); got.Effect != Audit {
		t.Errorf("policy() naming the resource: %v", outcome(got))
	}
	if got := sub.Evaluate(byPolicy, value.ObjectValue(value.Member{Key: "assignmentId", Value: value.StringValue("other")})); got.Effect == Audit {
		t.Errorf("policy() naming another: %v", outcome(got))
	}
}
