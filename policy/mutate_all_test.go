package policy

import (
	"fmt"
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

// TestApplyAll covers conflicts between several Modify programs
// (policy-language.md §10.4) and Appends after them.
func TestApplyAll(t *testing.T) {
	cat := mutateCatalog(t)
	const body = `{"type":"Contoso.Test/widgets","name":"w1","tags":{"keep":"1"}}`
	tag := func(conflict, name, val string) string {
		return modifyThen(conflict, `{"operation":"addOrReplace","field":"tags['`+name+`']","value":"`+val+`"}`)
	}
	tests := []struct {
		name   string
		thens  []string
		want   string
		lost   []int // results that lost a conflict (have Conflicts)
		denied bool
	}{
		{name: "different properties", thens: []string{tag("audit", "a", "1"), tag("audit", "b", "2")},
			want: `{"type":"Contoso.Test/widgets","name":"w1","tags":{"keep":"1","a":"1","b":"2"}}`},
		{name: "same value is no conflict", thens: []string{tag("audit", "a", "1"), tag("deny", "a", "1")},
			want: `{"type":"Contoso.Test/widgets","name":"w1","tags":{"keep":"1","a":"1"}}`},
		{name: "all audit: none applies", thens: []string{tag("audit", "a", "1"), tag("audit", "a", "2"), tag("audit", "b", "3")},
			want: `{"type":"Contoso.Test/widgets","name":"w1","tags":{"keep":"1","b":"3"}}`, lost: []int{0, 1}},
		{name: "deny wins over audit", thens: []string{tag("audit", "a", "1"), tag("", "a", "2")},
			want: `{"type":"Contoso.Test/widgets","name":"w1","tags":{"keep":"1","a":"2"}}`, lost: []int{0}},
		{name: "two denies: denied", thens: []string{tag("deny", "a", "1"), tag("deny", "a", "2"), tag("audit", "b", "3")},
			want: body, lost: []int{0, 1}, denied: true},
		{name: "remove against set", thens: []string{tag("audit", "keep", "2"), modifyThen("audit", `{"operation":"remove","field":"tags.keep"}`)},
			want: body, lost: []int{0, 1}},
		{name: "whole tags against one tag", thens: []string{modifyThen("audit", `{"operation":"addOrReplace","field":"tags","value":{"x":"1"}}`), tag("audit", "a", "1")},
			want: body, lost: []int{0, 1}},
		{name: "append after modify, same value", thens: []string{tag("audit", "a", "1"), appendThen(`{"field":"tags.a","value":"1"}`)},
			want: `{"type":"Contoso.Test/widgets","name":"w1","tags":{"keep":"1","a":"1"}}`},
		{name: "append overriding a modify: denied", thens: []string{appendThen(`{"field":"tags.a","value":"2"}`), tag("audit", "a", "1")},
			want: body, denied: true},
		{name: "other effects ignored", thens: []string{`{"effect":"audit"}`, tag("audit", "a", "1")},
			want: `{"type":"Contoso.Test/widgets","name":"w1","tags":{"keep":"1","a":"1"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var results []*Result
			var b value.Value
			for _, th := range tt.thens {
				var r *Result
				r, b = mutateResult(t, cat, th, body, "")
				results = append(results, r)
			}
			all, err := ApplyAll(b, results, ApplyOptions{Aliases: cat})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := value.ParseString(tt.want)
			if !value.Equal(all.Body, want) {
				t.Errorf("body = %s\nwant   %s", all.Body.JSON(), want.JSON())
			}
			if all.Denied != tt.denied {
				t.Errorf("Denied = %v, want %v", all.Denied, tt.denied)
			}
			if len(all.Mutations) != len(results) {
				t.Fatalf("%d mutations for %d results", len(all.Mutations), len(results))
			}
			var lost []int
			for i, m := range all.Mutations {
				if results[i].Effect == Modify && len(m.Conflicts) > 0 {
					lost = append(lost, i)
					if len(m.Changes) != 0 {
						t.Errorf("result %d lost but has changes %v", i, m.Changes)
					}
				}
			}
			if fmt.Sprint(lost) != fmt.Sprint(tt.lost) {
				t.Errorf("lost = %v, want %v (%+v)", lost, tt.lost, all.Mutations)
			}
		})
	}
}
