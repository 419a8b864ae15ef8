package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/mlgov/mlgov/store"
)

// benchBody is a resource body of about 1 KB, the size of a typical ML
// workspace.
var benchBody = []byte(`{"id":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws","name":"ws","type":"Microsoft.MachineLearningServices/workspaces","location":"westeurope","tags":{"team":"ml","env":"prod"},"identity":{"type":"SystemAssigned","principalId":"11111111-1111-1111-1111-111111111111","tenantId":"22222222-2222-2222-2222-222222222222"},"sku":{"name":"Basic","tier":"Basic"},"properties":{"friendlyName":"ws","description":"benchmark workspace","storageAccount":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/st1","keyVault":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1","applicationInsights":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Insights/components/ai1","publicNetworkAccess":"Disabled","hbiWorkspace":false,"v1LegacyMode":false,"managedNetwork":{"isolationMode":"AllowOnlyApprovedOutbound"},"encryption":{"status":"Disabled"},"provisioningState":"Succeeded"},"systemData":{"createdBy":"someone@example.com","createdByType":"User","createdAt":"2026-03-01T12:00:00Z"}}`)

const benchKeys = 1000

func benchResource(i int) *store.Resource {
	r := workspace(fmt.Sprintf("ws%04d", i))
	r.Body = benchBody
	return r
}

// Benchmark measures the basic operations on s, an empty store:
// PutResource (one Write each), PutResourceWithEvent (a resource write
// and its activity-log event, what a PUT does), GetResource (one Read
// each, serial and parallel) and ListResources (100 of one resource
// group).
func Benchmark(b *testing.B, s store.Store) {
	ctx := context.Background()
	var eventSeq atomic.Int64 // event IDs stay unique when -count reruns a sub-benchmark
	keys := make([]string, benchKeys)
	write(b, s, func(tx store.Tx) error {
		r0 := benchResource(0)
		sub := resource("/subscriptions/00000000-0000-0000-0000-000000000001", "Microsoft.Resources/subscriptions", "", "", "")
		rg := resource("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/RG1", "Microsoft.Resources/resourceGroups", r0.SubscriptionKey, r0.SubscriptionKey, "")
		if sub.Key != r0.SubscriptionKey || rg.Key != r0.ResourceGroupKey {
			return fmt.Errorf("benchmark fixture: subscription %q / resource group %q do not match %q / %q", sub.Key, rg.Key, r0.SubscriptionKey, r0.ResourceGroupKey)
		}
		for _, r := range []*store.Resource{sub, rg} {
			if err := tx.PutResource(ctx, r); err != nil {
				return err
			}
		}
		for i := range benchKeys {
			r := benchResource(i)
			keys[i] = r.Key
			if err := tx.PutResource(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})

	b.Run("PutResource", func(b *testing.B) {
		b.ReportAllocs()
		rs := make([]*store.Resource, benchKeys)
		for i := range rs {
			rs[i] = benchResource(i)
		}
		i := 0
		for b.Loop() {
			r := rs[i%benchKeys]
			i++
			if err := s.Write(ctx, func(tx store.Tx) error { return tx.PutResource(ctx, r) }); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("PutResourceWithEvent", func(b *testing.B) {
		b.ReportAllocs()
		r := benchResource(0)
		for b.Loop() {
			e := &store.Event{ID: "bench-" + strconv.FormatInt(eventSeq.Add(1), 10),
				SubscriptionKey: r.SubscriptionKey, Timestamp: base, ResourceGroup: "rg1", ResourceKey: r.Key,
				CorrelationID: "c", OperationID: "o", Body: benchBody}
			if err := s.Write(ctx, func(tx store.Tx) error {
				if err := tx.PutResource(ctx, r); err != nil {
					return err
				}
				return tx.AppendEvents(ctx, e)
			}); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("GetResource", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			key := keys[i%benchKeys]
			i++
			if err := s.Read(ctx, func(tx store.Tx) error {
				_, err := tx.GetResource(ctx, key, false)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("GetResourceParallel", func(b *testing.B) {
		b.ReportAllocs()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := keys[int(n.Add(1))%benchKeys]
				if err := s.Read(ctx, func(tx store.Tx) error {
					_, err := tx.GetResource(ctx, key, false)
					return err
				}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})

	// GetResources is what an ARM GET does: the resource with its
	// subscription and resource group, as of one committed state.
	b.Run("GetResourcesParallel", func(b *testing.B) {
		b.ReportAllocs()
		r0 := benchResource(0)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := keys[int(n.Add(1))%benchKeys]
				if _, err := store.GetResources(ctx, s, key, r0.SubscriptionKey, r0.ResourceGroupKey); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})

	b.Run("ListResources100", func(b *testing.B) {
		b.ReportAllocs()
		q := store.ListQuery{ParentKey: benchResource(0).ParentKey, Limit: 100}
		for b.Loop() {
			if err := s.Read(ctx, func(tx store.Tx) error {
				rs, err := tx.ListResources(ctx, q)
				if err == nil && len(rs) != 100 {
					err = fmt.Errorf("listed %d resources, want 100", len(rs))
				}
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
