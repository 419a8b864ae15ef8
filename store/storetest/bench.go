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

// benchStatesPerResource is the records per resource in
// BenchmarkPolicyStates: 6 assignments of single definitions and one of a
// set of 20.
const benchStatesPerResource = 26

// benchStateBody is a PolicyInsights record of typical size (about 1 KB).
const benchStateBody = `{"@odata.id":null,"@odata.context":"https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.PolicyInsights/policyStates/$metadata#latest/$entity","timestamp":"2026-03-01T12:00:00Z","resourceId":%q,"policyAssignmentId":%q,"policyDefinitionId":"/providers/Microsoft.Authorization/policyDefinitions/438c38d2-3772-465a-a9cc-7a6666a275ce","effectiveParameters":"","isCompliant":false,"subscriptionId":"00000000-0000-0000-0000-000000000001","resourceType":"Microsoft.MachineLearningServices/workspaces","resourceLocation":"westeurope","resourceGroup":"rg1","resourceTags":"tbd","policyAssignmentName":"a","policyAssignmentOwner":"tbd","policyAssignmentParameters":"{}","policyAssignmentScope":"/subscriptions/00000000-0000-0000-0000-000000000001","policyDefinitionName":"438c38d2-3772-465a-a9cc-7a6666a275ce","policyDefinitionAction":"audit","policyDefinitionCategory":"tbd","policySetDefinitionId":"","managementGroupIds":"","policyDefinitionReferenceId":%q,"complianceState":%q,"policyDefinitionGroupNames":[""],"policyDefinitionVersion":"2.0.0"}`

// benchStates returns the 26 records of resource i; the state depends on
// i and the record.
func benchStates(i int) []*store.PolicyState {
	out := make([]*store.PolicyState, 0, benchStatesPerResource)
	rg := fmt.Sprintf("rg%d", i%10)
	name := fmt.Sprintf("w%06d", i)
	states := []string{"Compliant", "Compliant", "NonCompliant", "Compliant", "Exempt", "Unknown", "Compliant"}
	for j := range benchStatesPerResource {
		a, ref := fmt.Sprintf("a%d", j), ""
		if j >= 6 {
			a, ref = "set", fmt.Sprintf("r%02d", j-6)
		}
		p := policyState(rg, name, a, ref, states[(i+j)%len(states)])
		p.Body = fmt.Appendf(nil, benchStateBody, p.ResourceKey, p.AssignmentKey, ref, p.State)
		out = append(out, p)
	}
	return out
}

// BenchmarkPolicyStates measures compliance records on s, an empty store:
// a scan writing 100,000 records (3,847 resources x 26) with
// PutPolicyStatesBatch in Writes of 200 resources (5,200 records) that
// replace the resources' records (records/s), into an empty store and
// over a previous scan, and, over those records, counts
// grouped by state and by assignment and state, and a page of 100.
func BenchmarkPolicyStates(b *testing.B, s store.Store) {
	ctx := context.Background()
	const records = 100000
	const perWrite = 200
	resources := (records + benchStatesPerResource - 1) / benchStatesPerResource
	batches := make([][]*store.PolicyState, 0, resources/perWrite+1)
	keys := make([][]string, 0, cap(batches))
	for i := 0; i < resources; i += perWrite {
		var batch []*store.PolicyState
		var ks []string
		for r := i; r < min(i+perWrite, resources); r++ {
			ss := benchStates(r)
			batch = append(batch, ss...)
			ks = append(ks, ss[0].ResourceKey)
		}
		batches = append(batches, batch)
		keys = append(keys, ks)
	}
	loaded := false // the records are in s
	scan := func(b *testing.B) {
		loaded = true
		for i, batch := range batches {
			if err := s.Write(ctx, func(tx store.Tx) error { return tx.PutPolicyStatesBatch(ctx, batch, keys[i]) }); err != nil {
				b.Fatal(err)
			}
		}
	}

	// Scan100k writes into an empty store (its first run) and Rescan100k
	// over the records of the previous scan, which every Write deletes
	// first: what a periodic scan does.
	for _, name := range []string{"Scan100k", "Rescan100k"} {
		b.Run(name, func(b *testing.B) {
			if name == "Rescan100k" && !loaded {
				scan(b)
			}
			n := 0
			for b.Loop() {
				scan(b)
				n += resources * benchStatesPerResource
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}

	count := func(b *testing.B, q store.PolicyStateQuery, groupBy []string, want int) {
		if !loaded {
			scan(b)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Read(ctx, func(tx store.Tx) error {
				cs, err := tx.CountPolicyStates(ctx, q, groupBy)
				total := 0
				for _, c := range cs {
					total += c.Count
				}
				if err == nil && total != want {
					err = fmt.Errorf("counted %d records, want %d", total, want)
				}
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	all := resources * benchStatesPerResource
	b.Run("CountByState100k", func(b *testing.B) {
		count(b, store.PolicyStateQuery{}, []string{"state"}, all)
	})
	b.Run("CountByAssignmentState100k", func(b *testing.B) {
		count(b, store.PolicyStateQuery{}, []string{"assignment_key", "state"}, all)
	})
	// A subscription's summary as govern asks for it (SubscriptionKey),
	// and by the key-prefix range.
	b.Run("CountSubscriptionByResourceState100k", func(b *testing.B) {
		count(b, store.PolicyStateQuery{SubscriptionKey: psSub}, []string{"resource_key", "state"}, all)
	})
	b.Run("CountPrefixByAssignmentState100k", func(b *testing.B) {
		count(b, store.PolicyStateQuery{KeyPrefix: psSub + "/"}, []string{"assignment_key", "state"}, all)
	})
	// A resource group's (10% of the records).
	b.Run("CountResourceGroupByAssignmentState100k", func(b *testing.B) {
		count(b, store.PolicyStateQuery{SubscriptionKey: psSub, ResourceGroupKey: psSub + "/resourcegroups/rg3"}, []string{"assignment_key", "state"}, (resources+6)/10*benchStatesPerResource)
	})
	b.Run("ListNonCompliant100", func(b *testing.B) {
		if !loaded {
			scan(b)
		}
		b.ReportAllocs()
		q := store.PolicyStateQuery{KeyPrefix: psSub + "/resourcegroups/rg3/", Where: "state = ?", Args: []any{"NonCompliant"}, Limit: 100}
		for b.Loop() {
			if err := s.Read(ctx, func(tx store.Tx) error {
				ss, err := tx.ListPolicyStates(ctx, q)
				if err == nil && len(ss) != 100 {
					err = fmt.Errorf("listed %d records, want 100", len(ss))
				}
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
