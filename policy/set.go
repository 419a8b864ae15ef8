package policy

import (
	"sort"
	"strings"

	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/expr"
	"github.com/mlgov/mlgov/policy/value"
)

// Member is one compiled member of an initiative.
type Member struct {
	ReferenceID string
	Program     *Program
}

// Resolver finds member definitions of an initiative by
// policyDefinitionId (full id or trailing name).
type Resolver func(id string) (*definition.Definition, bool)

// Cache shares compiled members between initiatives: many built-in
// initiatives reference the same definition with the same values.
type Cache struct{ m map[cacheKey]*Program }

type cacheKey struct {
	def    *definition.Definition
	params string
}

// NewCache returns an empty cache (not safe for concurrent use).
func NewCache() *Cache { return &Cache{m: map[cacheKey]*Program{}} }

func (c *Cache) compile(d *definition.Definition, opts Options) (*Program, error) {
	if c == nil {
		return Compile(d, opts)
	}
	keys := make([]string, 0, len(opts.Parameters))
	for k := range opts.Parameters {
		keys = append(keys, strings.ToLower(k))
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		for k2, v := range opts.Parameters {
			if strings.ToLower(k2) == k {
				b = append(b, k...)
				b = append(b, '=')
				b = value.AppendJSON(b, v)
				b = append(b, ';')
			}
		}
	}
	key := cacheKey{d, string(b) + "|" + opts.Effect}
	if p, ok := c.m[key]; ok {
		return p, nil
	}
	p, err := Compile(d, opts)
	if err == nil {
		c.m[key] = p
	}
	return p, err
}

// CompileSet compiles every member of an initiative: the initiative's
// parameters are bound (assignment values or defaults), then each member's
// parameter values — expressions over the initiative's parameters — are
// evaluated and passed to the member definition. Problems are reported per
// member with JSON pointers into the initiative.
func CompileSet(set *definition.SetDefinition, resolve Resolver, opts Options, cache *Cache) ([]*Member, error) {
	var errs definition.ErrorList
	// Bind the initiative's own parameters with a synthetic definition.
	holder := &definition.Definition{Parameters: set.Parameters, ParamsPointer: "/properties/parameters"}
	pc := &compiler{opts: opts, def: holder, unknown: map[string]bool{}}
	pc.res = resolver{aliases: opts.Aliases, raw: opts.Aliases == nil, strict: opts.Strict}
	pc.bindParams()
	errs = append(errs, pc.errs...)
	if len(errs) > 0 {
		return nil, errs
	}
	var out []*Member
	for _, m := range set.Members {
		d, ok := resolve(m.DefinitionID)
		if !ok {
			errs.Add(m.Pointer.Key("policyDefinitionId").String(), definition.CodeUnresolvedReference, "member definition %q was not found among the loaded definitions", m.DefinitionID)
			continue
		}
		vals := map[string]value.Value{}
		bad := false
		for _, b := range m.Parameters {
			pc.errs = nil
			e := pc.template(b.Value, b.Pointer)
			if e == nil {
				errs = append(errs, pc.errs...)
				bad = true
				continue
			}
			v, err := e.Eval(&expr.Activation{Params: pc.params})
			if err != nil {
				errs.Add(b.Pointer.String(), definition.CodeInvalidExpression, "evaluating the value of parameter %q: %v", b.Name, err)
				bad = true
				continue
			}
			if v.IsUndefined() {
				continue // an initiative parameter without a value
			}
			vals[b.Name] = v
		}
		if bad {
			continue
		}
		mopts := opts
		mopts.Parameters = vals
		mopts.AllowExtraParameters = true
		mopts.FoldAllowedValues = true
		mopts.MemberEffect = nil
		if opts.MemberEffect != nil {
			if e := opts.MemberEffect(m.ReferenceID); e != "" {
				mopts.Effect = e
			}
		}
		p, err := cache.compile(d, mopts)
		if err != nil {
			if el, ok := err.(definition.ErrorList); ok {
				for _, e := range el {
					errs.Add(m.Pointer.String(), e.Code, "member %q (%s): %s: %s", m.ReferenceID, m.DefinitionID, e.Pointer, e.Message)
				}
			} else {
				errs.Add(m.Pointer.String(), definition.CodeInvalidSetDefinition, "member %q: %v", m.ReferenceID, err)
			}
			continue
		}
		out = append(out, &Member{ReferenceID: m.ReferenceID, Program: p})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// Index groups programs by the resource types they can apply to, so that a
// resource is only evaluated against candidates.
type Index struct {
	byType map[string][]int
	any    []int
	progs  []*Program
}

// NewIndex indexes programs.
func NewIndex(progs []*Program) *Index {
	ix := &Index{byType: map[string][]int{}, progs: progs}
	for i, p := range progs {
		if p.types == nil {
			ix.any = append(ix.any, i)
			continue
		}
		for _, t := range p.types {
			ix.byType[t] = append(ix.byType[t], i)
		}
	}
	for t, l := range ix.byType {
		l = append(l, ix.any...)
		sort.Ints(l)
		ix.byType[t] = dedupe(l)
	}
	return ix
}

func dedupe(l []int) []int {
	out := l[:0]
	for i, x := range l {
		if i == 0 || x != l[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// Candidates returns the indexes (into the program slice given to
// NewIndex) of the programs that may apply to a resource type, in order.
// buf is scratch space for lower-casing the type without allocating.
func (ix *Index) Candidates(typ string, buf []byte) []int {
	l, _ := ix.candidates(typ, buf)
	return l
}

// candidates is Candidates; exact reports that the list was found under
// typ with its ASCII letters lower-cased, so that typ matches the types of
// every program in it that has types (case-insensitively).
func (ix *Index) candidates(typ string, buf []byte) (l []int, exact bool) {
	if len(typ) <= cap(buf) {
		b := buf[:len(typ)]
		for i := 0; i < len(typ); i++ {
			c := typ[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		if l, ok := ix.byType[string(b)]; ok {
			return l, true
		}
		return ix.any, false
	}
	if l, ok := ix.byType[strings.ToLower(typ)]; ok {
		return l, false
	}
	return ix.any, false
}

// EvaluateEach evaluates in.Resource against each program that may apply
// to it (the Candidates of its type, in order) and calls fn with the
// program's index and result. It is Program.Evaluate for every candidate,
// with the type looked up once and one scratch state (and one evaluation
// time, when in.Now is zero) for all of them.
func (ix *Index) EvaluateEach(in *Input, fn func(i int, res Result)) {
	sub := NewSubject(in)
	defer sub.Close()
	var buf [256]byte
	cands, exact := ix.candidates(sub.rt.s, buf[:0])
	for _, i := range cands {
		fn(i, sub.evaluate(ix.progs[i], in.Policy, !exact))
	}
}

// A Subject is one resource evaluated against many programs, each with a
// policy() object of its own (an assignment's parameters): its type is
// looked up, and the scratch state prepared, once for all of them.
// Subject.Evaluate(p, in.Policy) is p.Evaluate(in). A Subject is used by
// one goroutine at a time; Close gives its state back.
type Subject struct {
	in Input
	rt resType
	s  *state
}

// NewSubject prepares the evaluation of in.Resource (in.Policy is not
// used: each Evaluate gives its own).
func NewSubject(in *Input) *Subject {
	return &Subject{in: *in, rt: resourceTypeOf(in.Resource)}
}

// Evaluate evaluates the resource against p with policy() returning
// policyIn.
func (sub *Subject) Evaluate(p *Program, policyIn value.Value) Result {
	return sub.evaluate(p, policyIn, true)
}

// evaluate is Evaluate; checkType is false when the caller knows the
// resource's type is among p's types.
func (sub *Subject) evaluate(p *Program, policyIn value.Value, checkType bool) Result {
	if res, done := p.reject(&sub.rt, checkType); done {
		return res
	}
	if sub.s == nil {
		sub.s = statePool.Get().(*state)
		sub.s.begin(&sub.in, &sub.rt)
	}
	sub.s.a.Policy = policyIn
	res, ok := p.evaluate(sub.s)
	if !ok {
		sub.s = nil // a state that saw a panic is not reused
	}
	return res
}

// Close gives the scratch state back to the pool.
func (sub *Subject) Close() {
	if sub.s != nil {
		sub.s.end()
		statePool.Put(sub.s)
		sub.s = nil
	}
}

// Programs returns the indexed programs.
func (ix *Index) Programs() []*Program { return ix.progs }

// Describe names a program for output: display name, else name, else
// id, else "(unnamed)" (a bare rule; the caller knows its file).
func (p *Program) Describe() string {
	d := p.Definition
	switch {
	case d.DisplayName != "":
		return d.DisplayName
	case d.Name != "":
		return d.Name
	case d.ID != "":
		return d.ID
	}
	return "(unnamed)"
}
