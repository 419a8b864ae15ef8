package policy

import (
	"strconv"

	"github.com/mlgov/mlgov/policy/value"
)

// Mutations is the outcome of ApplyAll.
type Mutations struct {
	// Body is the body to store: every applied change; the input body
	// unchanged when Denied.
	Body value.Value
	// Mutations has one entry per result, in order: the zero Mutation for
	// a result whose effect is neither Append nor Modify. The Changes of
	// each are relative to the body its program was applied to (after the
	// programs before it). A Modify that lost a conflict with another
	// program has no Changes and a Conflict naming the other program.
	Mutations []Mutation
	// Denied reports whether the request must be refused: some mutation
	// is Denied.
	Denied bool
}

// ApplyAll applies the Append and Modify results of all the programs that
// apply to one request (other results are ignored), the way Azure's
// request pipeline does (policy-language.md §10.1, §10.4):
//
//   - Every Modify is first applied alone to the input body. Two Modifies
//     conflict when they change the same property (a change path equal to
//     or inside the other's) to different values. In a group of programs
//     that conflict, the one with conflictEffect deny wins and the others
//     skip all their operations; with more than one deny, the request is
//     denied (each deny program gets a Conflict); with none, no program of
//     the group applies (each gets a Conflict, which the caller reports per
//     its conflictEffect: audit or disabled).
//   - The Modifies left are applied in order, then the Appends in order,
//     each to the body as the ones before it left it: an Append that would
//     override a different value, also one a Modify set, is a conflict and
//     denies the request.
//
// The error is Apply's for the first result it cannot use.
func ApplyAll(body value.Value, results []*Result, opts ApplyOptions) (Mutations, error) {
	out := Mutations{Body: body, Mutations: make([]Mutation, len(results))}
	// Plan: each Modify alone against the input body.
	var mods []int
	for i, r := range results {
		if r.Effect != Modify {
			continue
		}
		m, err := Apply(body, r, opts)
		if err != nil {
			return Mutations{}, err
		}
		out.Mutations[i] = m
		mods = append(mods, i)
	}
	// Group conflicting Modifies (union-find over pairs).
	parent := make(map[int]int, len(mods))
	var find func(int) int
	find = func(x int) int {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		return x
	}
	other := map[int]int{} // a program it conflicts with, for the message
	for a := 0; a < len(mods); a++ {
		for b := a + 1; b < len(mods); b++ {
			i, j := mods[a], mods[b]
			if changesConflict(out.Mutations[i].Changes, out.Mutations[j].Changes) {
				parent[find(j)] = find(i)
				if _, ok := other[i]; !ok {
					other[i] = j
				}
				if _, ok := other[j]; !ok {
					other[j] = i
				}
			}
		}
	}
	groups := map[int][]int{}
	for _, i := range mods {
		if _, ok := other[i]; ok {
			groups[find(i)] = append(groups[find(i)], i)
		}
	}
	lost := map[int]bool{}
	for _, g := range groups {
		var denies []int
		for _, i := range g {
			if out.Mutations[i].ConflictEffect == ConflictDeny {
				denies = append(denies, i)
			}
		}
		for _, i := range g {
			if len(denies) == 1 && denies[0] == i {
				continue // the deny program wins
			}
			lost[i] = true
			m := &out.Mutations[i]
			reason := "it changes the same property as the Modify of result " + strconv.Itoa(other[i]) + " with a different value"
			switch {
			case len(denies) > 1:
				reason += "; more than one conflicting program has conflictEffect deny"
			case len(denies) == 1:
				reason += "; result " + strconv.Itoa(denies[0]) + " has conflictEffect deny and wins"
			}
			c := Conflict{Operation: "modify", Reason: reason}
			if len(m.Changes) > 0 {
				c.Operation, c.Field, c.Path = m.Changes[0].Operation, m.Changes[0].Field, m.Changes[0].Path
			}
			m.Conflicts = append(m.Conflicts, c)
			m.Body, m.Changes = body, nil
		}
	}
	// Apply the Modifies left, then the Appends.
	cur := body
	for _, want := range []Effect{Modify, Append} {
		for i, r := range results {
			if r.Effect != want || lost[i] {
				continue
			}
			m, err := Apply(cur, r, opts)
			if err != nil {
				return Mutations{}, err
			}
			out.Mutations[i] = m
			cur = m.Body
		}
	}
	for i := range out.Mutations {
		if out.Mutations[i].Denied() {
			out.Denied = true
		}
	}
	if out.Denied {
		out.Body = body
	} else {
		out.Body = cur
	}
	return out, nil
}

// changesConflict reports whether two programs' changes touch the same
// property with different outcomes.
func changesConflict(a, b []Change) bool {
	for _, x := range a {
		for _, y := range b {
			switch {
			case value.EqualFold(x.Path, y.Path):
				if !value.Equal(x.New, y.New) || x.New.IsUndefined() != y.New.IsUndefined() {
					return true
				}
			case pathInside(x.Path, y.Path), pathInside(y.Path, x.Path):
				return true
			}
		}
	}
	return false
}

// pathInside reports whether rendered path p is below q (q.x, q[i], q['k']).
func pathInside(p, q string) bool {
	if len(p) <= len(q) || !value.EqualFold(p[:len(q)], q) {
		return false
	}
	c := p[len(q)]
	return c == '.' || c == '['
}
