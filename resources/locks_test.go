package resources

import (
	"context"
	"fmt"
	"testing"

	"github.com/mlgov/mlgov/arm"
)

// The locks stage on a write where no lock applies, from the index (the
// subscription's Seq unchanged, so no query): its cost on put-compute,
// with no locks and with 100 locks elsewhere in the subscription (on
// other resource groups). The stage's behaviour is tested through the
// API (internal/armtest/locks_test.go).

const benchSub = "00000000-0000-0000-0000-000000000001"

// lockCheckCase is a write of a compute, and the locks of its
// subscription in the index.
type lockCheckCase struct {
	name  string
	locks int
	op    Operation
}

var lockCheckCases = []lockCheckCase{
	{"none/put", 0, OpUpdate},
	{"100-elsewhere/put", 100, OpUpdate},
	{"100-elsewhere/delete", 100, OpDelete},
}

func lockCheckSetup(t testing.TB, c lockCheckCase) (*Manager, *Attributes) {
	m := New(nil, NewRegistry(), Config{})
	subKey := arm.KeyOf(benchSub)
	s := &subLocks{seq: 7, at: map[string][]lockEntry{}}
	for i := 0; i < c.locks; i++ {
		scope := &arm.ID{SubscriptionID: benchSub, ResourceGroup: fmt.Sprintf("other%d", i)}
		e := lockEntry{key: scope.Key() + "/providers/microsoft.authorization/locks/l", scope: scope.Key(), scopeID: scope.String(), level: lockReadOnly}
		s.add(e)
	}
	m.locks.subs = map[string]*subLocks{subKey: s}
	id, err := arm.ParseID("/subscriptions/" + benchSub + "/resourceGroups/mlgov-bench/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/c1")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := m.reg.Lookup(id.Type())
	return m, &Attributes{Operation: c.op, ID: id, Spec: spec, subSeq: 7}
}

func BenchmarkCheckLocks(b *testing.B) {
	ctx := context.Background()
	for _, c := range lockCheckCases {
		b.Run(c.name, func(b *testing.B) {
			m, a := lockCheckSetup(b, c)
			b.ReportAllocs()
			for b.Loop() {
				if err := m.checkLocks(ctx, nil, a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCheckLocksAllocs: the stage's allocation budget where no lock
// applies: none without locks in the subscription, the resource's key
// with some (and a delete the prefix of what is below it).
func TestCheckLocksAllocs(t *testing.T) {
	ctx := context.Background()
	for _, c := range lockCheckCases {
		m, a := lockCheckSetup(t, c)
		budget := 0.0
		switch {
		case c.locks > 0 && c.op == OpDelete:
			budget = 3
		case c.locks > 0:
			budget = 2
		}
		if n := testing.AllocsPerRun(100, func() {
			if err := m.checkLocks(ctx, nil, a); err != nil {
				t.Fatal(err)
			}
		}); n > budget {
			t.Errorf("%s: %.0f allocations, budget %.0f", c.name, n, budget)
		}
	}
}
