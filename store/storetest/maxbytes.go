package storetest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/mlgov/mlgov/store"
)

// testListMaxBytes: ListQuery.MaxBytes ends a list after the resource at
// which the bodies reach the bound (at least one resource), in key order,
// together with Limit and After.
func testListMaxBytes(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	var all []*store.Resource
	for i := range 6 {
		r := workspace(fmt.Sprintf("ws%d", i))
		// bodies of 1000, 2000, ..., 6000 bytes
		r.Body = append(r.Body[:len(r.Body)-1], fmt.Appendf(nil, `,"pad":%q}`, bytes.Repeat([]byte("x"), (i+1)*1000-len(r.Body)-9))...)
		if len(r.Body) != (i+1)*1000 {
			t.Fatalf("fixture: body %d is %d bytes", i, len(r.Body))
		}
		all = append(all, r)
	}
	put(t, s, all...)
	for _, tc := range []struct {
		q    store.ListQuery
		want []int // indexes into all
	}{
		{store.ListQuery{KeyPrefix: "/subscriptions/"}, []int{0, 1, 2, 3, 4, 5}},
		{store.ListQuery{KeyPrefix: "/subscriptions/", MaxBytes: 1}, []int{0}},
		{store.ListQuery{KeyPrefix: "/subscriptions/", MaxBytes: 3000}, []int{0, 1}},    // 1000+2000 reaches 3000
		{store.ListQuery{KeyPrefix: "/subscriptions/", MaxBytes: 3001}, []int{0, 1, 2}}, // 6000 ≥ 3001
		{store.ListQuery{KeyPrefix: "/subscriptions/", MaxBytes: 100000}, []int{0, 1, 2, 3, 4, 5}},
		{store.ListQuery{KeyPrefix: "/subscriptions/", MaxBytes: 100000, Limit: 2}, []int{0, 1}},
		{store.ListQuery{KeyPrefix: "/subscriptions/", MaxBytes: 9000, After: all[2].Key}, []int{3, 4}},
	} {
		var want []string
		for _, i := range tc.want {
			want = append(want, all[i].Key)
		}
		got := listKeys(t, s, tc.q)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ListResources(%+v) = %v, want %v", tc.q, got, want)
		}
	}
}
