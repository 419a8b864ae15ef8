package live_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/live"
	"github.com/mlgov/mlgov/resources"
)

// scoped allows every action at and below the scope named by the
// caller's Name: a role assignment's decision, as a prefix check.
type scoped struct{}

func (scoped) Decider(_ context.Context, c *activitylog.Caller) (resources.Decider, error) {
	return prefix(c.Name), nil
}

type prefix string

func (p prefix) Allowed(_, scope string) bool {
	return strings.HasPrefix(strings.ToLower(scope), string(p))
}

func event(key string) live.Event {
	return live.Event{Data: []byte(`{"kind":"resource","id":"` + key + `"}`), Key: key, Action: "x/read", Scope: key}
}

// TestSlowSubscriberDropped: a subscriber that does not read is dropped
// once its queue is full, without holding up publishing or the others;
// a principal's subscriptions are bounded, and a closed one frees its
// place.
func TestSlowSubscriberDropped(t *testing.T) {
	ctx := context.Background()
	h := live.New(live.Config{Authorizer: scoped{}, Queue: 2, PerCaller: 2})
	slow, err := h.Subscribe(ctx, &activitylog.Caller{Name: "/subscriptions/s", ObjectID: "a"}, "")
	if err != nil {
		t.Fatal(err)
	}
	fast, err := h.Subscribe(ctx, &activitylog.Caller{Name: "/subscriptions/s/resourcegroups/rg1", ObjectID: "a"}, "/subscriptions/s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(ctx, &activitylog.Caller{Name: "/", ObjectID: "a"}, ""); err == nil {
		t.Fatal("a third subscription of one principal was allowed")
	}
	for i := range 5 {
		h.Publish(ctx, []live.Event{event(fmt.Sprintf("/subscriptions/s/resourcegroups/rg2/x/%d", i))})
		h.Publish(ctx, []live.Event{event(fmt.Sprintf("/subscriptions/s/resourcegroups/rg1/x/%d", i))})
		for len(fast.Events()) > 0 {
			if e := string(<-fast.Events()); !strings.Contains(e, "/rg1/") {
				t.Errorf("the reader of rg1 got %s", e)
			}
		}
	}
	select {
	case <-slow.Dropped():
	default:
		t.Fatal("the slow subscriber was not dropped")
	}
	select {
	case <-fast.Dropped():
		t.Fatal("the subscriber that reads was dropped")
	default:
	}
	if n := h.Subscribers(); n != 1 {
		t.Errorf("%d subscribers, want 1", n)
	}
	if _, err := h.Subscribe(ctx, &activitylog.Caller{Name: "/", ObjectID: "a"}, ""); err != nil {
		t.Errorf("the dropped subscription's place: %v", err)
	}
}

// BenchmarkFanOut: one batch of 100 resource events offered to 1,000
// subscribers, each with its own scope and decider (the hot path of
// every write on a busy dashboard); readers drain their queues.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			ctx := context.Background()
			h := live.New(live.Config{Authorizer: scoped{}, Queue: 1 << 16, PerCaller: 1})
			var subs []*live.Subscription
			for i := range n {
				s, err := h.Subscribe(ctx, &activitylog.Caller{Name: fmt.Sprintf("/subscriptions/s/resourcegroups/rg%d", i%50), ObjectID: fmt.Sprint(i)}, "")
				if err != nil {
					b.Fatal(err)
				}
				subs = append(subs, s)
			}
			evs := make([]live.Event, 100)
			for i := range evs {
				evs[i] = event(fmt.Sprintf("/subscriptions/s/resourcegroups/rg%d/providers/microsoft.machinelearningservices/workspaces/ws/computes/c%d", i%50, i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h.Publish(ctx, evs)
				b.StopTimer()
				for _, s := range subs {
					for len(s.Events()) > 0 {
						<-s.Events()
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(evs)*n), "ns/offer")
		})
	}
}
