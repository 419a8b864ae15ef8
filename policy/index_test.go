package policy

import (
	"sync"
	"testing"
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
