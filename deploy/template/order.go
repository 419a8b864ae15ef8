package template

import (
	"fmt"
	"slices"
	"strings"
)

// order resolves dependsOn, adds the serial-loop batches and sorts the
// resources into waves (Kahn's algorithm); a cycle is an error naming
// the resources on it.
func (p *planner) order() (*Plan, ErrorList) {
	byID := map[string][]*inst{}
	byName := map[string][]*inst{}
	byTypeName := map[string][]*inst{}
	byLoop := map[string][]*inst{}
	for _, in := range p.insts {
		r := in.res
		byID[strings.ToLower(r.ID)] = append(byID[strings.ToLower(r.ID)], in)
		if strings.EqualFold(r.Type, "Microsoft.Resources/resourceGroups") {
			// subscriptionResourceId() names a resource group in its
			// provider form, which dependsOn matches as ARM does.
			alt := strings.Replace(strings.ToLower(r.ID), "/resourcegroups/", "/providers/microsoft.resources/resourcegroups/", 1)
			byID[alt] = append(byID[alt], in)
		}
		byName[strings.ToLower(r.Name)] = append(byName[strings.ToLower(r.Name)], in)
		tn := strings.ToLower(r.Type + "/" + r.Name)
		byTypeName[tn] = append(byTypeName[tn], in)
		if in.loop != "" {
			byLoop[in.loop] = append(byLoop[in.loop], in)
		}
	}
	var errs ErrorList
	for _, in := range p.insts {
		if in.skipped {
			continue
		}
		for j, d := range in.deps {
			ld := strings.ToLower(d)
			var targets []*inst
			switch {
			case strings.HasPrefix(d, "/"):
				targets = byID[ld]
			case len(byTypeName[ld]) > 0:
				targets = byTypeName[ld]
			case len(byName[ld]) > 0:
				targets = byName[ld]
				if len(targets) > 1 && !sameLoop(targets) {
					errs = append(errs, &Error{Code: CodeInvalidTemplate, Pointer: in.depPtrs[j], Message: fmt.Sprintf("the dependsOn entry '%s' names several resources; use resourceId()", d)})
					continue
				}
			default:
				targets = byLoop[ld]
			}
			if len(targets) == 0 {
				errs = append(errs, &Error{Code: CodeInvalidTemplate, Pointer: in.depPtrs[j], Message: fmt.Sprintf("the resource '%s' is not defined in the template", d)})
				continue
			}
			for _, t := range targets {
				if !t.skipped && !slices.Contains(in.resolved, t) {
					in.resolved = append(in.resolved, t)
				}
			}
		}
		// What a deferred body reads: a resource of the template (by id or
		// name) is a dependency; anything else is read as it is.
		for _, d := range in.implicit {
			ld := strings.ToLower(d)
			targets := byID[ld]
			if !strings.HasPrefix(d, "/") {
				targets = byName[ld]
			}
			for _, t := range targets {
				if t != in && !t.skipped && !slices.Contains(in.resolved, t) {
					in.resolved = append(in.resolved, t)
				}
			}
		}
	}
	// Serial loops: each batch waits for the previous one.
	for _, insts := range byLoop {
		var live []*inst
		for _, in := range insts {
			if !in.skipped {
				live = append(live, in)
			}
		}
		for i, in := range live {
			if in.serial == 0 || i < in.serial {
				continue
			}
			b := i / in.serial
			for _, prev := range live[(b-1)*in.serial : b*in.serial] {
				if !slices.Contains(in.resolved, prev) {
					in.resolved = append(in.resolved, prev)
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	// Kahn's algorithm with waves.
	pending := map[*inst]int{}
	users := map[*inst][]*inst{}
	var ready []*inst
	plan := &Plan{p: p}
	for _, in := range p.insts {
		if in.skipped {
			plan.Skipped = append(plan.Skipped, in.res.ID)
			continue
		}
		pending[in] = len(in.resolved)
		for _, d := range in.resolved {
			users[d] = append(users[d], in)
		}
		if len(in.resolved) == 0 {
			ready = append(ready, in)
		}
	}
	var done []*inst
	for len(ready) > 0 {
		in := ready[0]
		ready = ready[1:]
		done = append(done, in)
		for _, u := range users[in] {
			u.res.Wave = max(u.res.Wave, in.res.Wave+1)
			pending[u]--
			if pending[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(done) < len(pending) {
		var cyc []string
		first := ""
		for _, in := range p.insts {
			if !in.skipped && pending[in] > 0 {
				cyc = append(cyc, in.res.ID)
				if first == "" {
					first = in.res.Pointer + "/dependsOn"
				}
			}
		}
		return nil, ErrorList{{Code: CodeCircularReference, Pointer: first, Message: "circular dependency between the resources " + strings.Join(cyc, ", ")}}
	}
	slices.SortStableFunc(done, func(a, b *inst) int {
		if a.res.Wave != b.res.Wave {
			return a.res.Wave - b.res.Wave
		}
		return a.order - b.order
	})
	for _, in := range done {
		for _, d := range in.resolved {
			in.res.DependsOn = append(in.res.DependsOn, d.res.ID)
		}
		plan.Resources = append(plan.Resources, in.res)
	}
	return plan, nil
}

func sameLoop(l []*inst) bool {
	for _, in := range l {
		if in.loop == "" || in.loop != l[0].loop {
			return false
		}
	}
	return true
}
