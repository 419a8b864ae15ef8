package armtest

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
)

// tagger is a mutating admission plugin: it sets the tag "admitted" on
// every object it sees, and records the operations it was shown.
type tagger struct {
	mu  sync.Mutex
	ops []string
}

func (p *tagger) Admit(ctx context.Context, a *resources.Attributes) error {
	p.mu.Lock()
	p.ops = append(p.ops, a.Operation.String()+" "+a.Action)
	p.mu.Unlock()
	if a.Object.Kind() == value.Object {
		tags := a.Object.Field("tags")
		if tags.Kind() != value.Object {
			tags = value.ObjectValue()
		}
		a.Object = a.Object.With("tags", tags.With("admitted", value.StringValue(a.Operation.String())))
	}
	return nil
}

// refuser is a validating admission plugin: it refuses objects tagged
// refuse=yes (recording a refusal event) and deletes of resources tagged
// keep=yes; its version is bumped by hand.
type refuser struct {
	version atomic.Uint64
	calls   atomic.Int64
	bumped  atomic.Bool
	newID   func() string
}

func (p *refuser) AdmissionVersion() uint64 { return p.version.Load() }

func (p *refuser) Validate(ctx context.Context, a *resources.Attributes) error {
	p.calls.Add(1)
	if a.Object.Field("tags").Field("bump").Str() == "yes" && p.bumped.CompareAndSwap(false, true) {
		p.version.Add(1) // as if an assignment changed after this was worked out
	}
	if a.Operation == resources.OpDelete && a.OldObject.Field("tags").Field("keep").Str() == "yes" {
		return arm.Errorf("RequestDisallowedByPolicy", "'%s' is kept.", a.ID.Name())
	}
	if a.Object.Field("tags").Field("refuse").Str() == "yes" {
		op := activitylog.Op{OperationName: a.Action, ResourceID: a.ID.String(), ResourceType: a.Spec.Type, SubscriptionID: a.ID.SubscriptionID,
			ResourceGroup: a.ID.ResourceGroup, OperationID: p.newID(), Caller: a.Principal}
		a.RefusalEvents = append(a.RefusalEvents, activitylog.PolicyEvent(op, "deny", []byte(`[{"policyAssignmentId":"x"}]`), "", p.newID(), a.Now))
		return arm.Errorf("RequestDisallowedByPolicy", "'%s' was refused.", a.ID.Name())
	}
	return nil
}

// TestWritePipeline: every write goes through the one write path:
// mutating admission changes what is stored and returned (PUT, PATCH),
// validating admission refuses a write (nothing stored, the refusal's
// events written), DELETE is admitted against the stored object, and the
// committers are told of committed writes only.
func TestWritePipeline(t *testing.T) {
	mut := &tagger{}
	val := &refuser{newID: uuidV4}
	var commits atomic.Int64
	eachBackend(t, func(c *resources.Config) {
		c.Mutating = []resources.MutatingAdmission{mut}
		c.Validating = []resources.ValidatingAdmission{val}
		c.Committers = []resources.Committer{resources.CommitFunc(func(a *resources.Attributes) {
			if a != nil {
				commits.Add(1)
			}
		})}
	}, func(t *testing.T, s *Server) {
		commits.Store(0)
		rg := s.RG("pipe")
		if r := s.Do(t, "PUT", rg+"?api-version=2021-04-01", `{"location":"westeurope"}`); r.Status != 201 {
			t.Fatalf("create rg: %d %s", r.Status, r.Body)
		}
		va := rg + "/providers/Microsoft.KeyVault/vaults/v1?api-version=2023-07-01"
		r := s.Do(t, "PUT", va, `{"location":"westeurope","tags":{"a":"b"},"properties":{}}`)
		if r.Status != 201 || !strings.Contains(string(r.Body), `"admitted":"Create"`) {
			t.Fatalf("PUT: the mutating plugin's tag is not in the answer: %d %s", r.Status, r.Body)
		}
		if g := s.Do(t, "GET", va, nil); !strings.Contains(string(g.Body), `"admitted":"Create"`) {
			t.Fatalf("GET after PUT: the mutating plugin's tag was not stored: %s", g.Body)
		}
		r = s.Do(t, "PATCH", va, `{"tags":{"keep":"yes"}}`)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"admitted":"Update"`) {
			t.Fatalf("PATCH: %d %s", r.Status, r.Body)
		}
		// Refused: 403, nothing changed, the refusal event in the log.
		r = s.Do(t, "PUT", va, `{"location":"westeurope","tags":{"refuse":"yes"},"properties":{}}`)
		if r.Status != 403 || r.ErrorCode() != "RequestDisallowedByPolicy" {
			t.Fatalf("refused PUT: %d %s", r.Status, r.Body)
		}
		if g := s.Do(t, "GET", va, nil); strings.Contains(string(g.Body), "refuse") || !strings.Contains(string(g.Body), `"keep":"yes"`) {
			t.Fatalf("a refused PUT changed the resource: %s", g.Body)
		}
		r = s.Do(t, "DELETE", va, nil)
		if r.Status != 403 {
			t.Fatalf("DELETE of a kept resource: %d %s", r.Status, r.Body)
		}
		if g := s.Do(t, "GET", va, nil); g.Status != 200 {
			t.Fatalf("a refused DELETE deleted the resource: %d", g.Status)
		}
		deny := 0
		for _, e := range s.Events(t, "", 0) {
			if on, _ := e["operationName"].(map[string]any); on["value"] == "Microsoft.Authorization/policies/deny/action" {
				deny++
				if cat, _ := e["category"].(map[string]any); cat["value"] != "Policy" || e["level"] != "Error" {
					t.Errorf("deny event: category %v level %v", cat, e["level"])
				}
			}
		}
		if deny != 1 {
			t.Errorf("%d deny events in the activity log, want 1 (the refused PUT)", deny)
		}
		if n := commits.Load(); n != 3 {
			t.Errorf("committers were told of %d writes, want 3 (rg, PUT, PATCH)", n)
		}
		// A PUT is prepared before the write lock and the preparation
		// reused inside, unless the admission version changed in
		// between: then it is prepared again.
		before := val.calls.Load()
		s.Do(t, "PUT", va, `{"location":"westeurope","tags":{"x":"1"},"properties":{}}`)
		if got := val.calls.Load() - before; got != 1 {
			t.Errorf("an unchanged admission version: validated %d times, want 1", got)
		}
		val.bumped.Store(false)
		before = val.calls.Load()
		s.Do(t, "PUT", va, `{"location":"westeurope","tags":{"bump":"yes"},"properties":{}}`)
		if got := val.calls.Load() - before; got != 2 {
			t.Errorf("the admission version changed during the write: validated %d times, want 2", got)
		}
	})
	if len(mut.ops) == 0 || !strings.HasPrefix(mut.ops[0], "Create Microsoft.Resources/resourceGroups/write") {
		t.Errorf("mutating plugin saw %v", mut.ops)
	}
}
