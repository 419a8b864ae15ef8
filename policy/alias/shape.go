package alias

import (
	"fmt"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// A shape is the project's compact description of a resource payload, from
// which Builtin derives alias names and paths by rule. Grammar:
//
//	members := { member }
//	member  := name ["=" key] {"[]"} ["!"] [body]   a property
//	         | "^" key [body]                       a flattened object
//	         | "@" name {"|" name} ["!"] [body]     polymorphic variants
//	         | "$" macro                            splice a macro's members
//	body    := "{" members "}"
//	name    := letters, digits, '_', '-', '#'
//	// comment to end of line
//
// Rule (alias name on the left, payload path on the right, both relative to
// the resource type and the enclosing member):
//
//   - a property p emits p → p; "=key" gives a payload key spelled
//     differently from the alias segment; each "[]" adds p[*] → p[*] (the
//     plain form is emitted as well); members of its body continue from the
//     innermost form;
//   - "^key" adds key to the path only and emits nothing itself: this is
//     ARM's x-ms-client-flatten of "properties" (and of compute's nested
//     "properties.properties");
//   - "@V" is a discriminator value of a polymorphic object: it adds V to the
//     name only, so V.x → x; it emits V → (the object) unless the object is
//     the root or a flattened object (Azure has no bare "Sweep" alias for
//     jobs' properties), also when reached through other variants;
//   - "!" marks the alias(es) Modifiable.
type shapeNode struct {
	kind       shapeKind
	name       string // alias segment (property or variant)
	key        string // payload key (property or flattened object)
	arrays     int
	modifiable bool
	kids       []*shapeNode
}

type shapeKind uint8

const (
	shapeProp shapeKind = iota
	shapeFlat
	shapeVariant
)

type shapeParser struct {
	src       string
	pos       int
	macros    map[string]string
	expanding map[string]bool
	where     string // for errors
}

// parseShape parses a shape; macros are member lists spliced with $name.
func parseShape(src string, macros map[string]string, where string) ([]*shapeNode, error) {
	p := &shapeParser{src: src, macros: macros, expanding: map[string]bool{}, where: where}
	nodes, err := p.members(false)
	if err != nil {
		return nil, err
	}
	return nodes, nil
}

func (p *shapeParser) errorf(format string, args ...any) error {
	line := 1 + strings.Count(p.src[:p.pos], "\n")
	return fmt.Errorf("shape %s, line %d: %s", p.where, line, fmt.Sprintf(format, args...))
}

func (p *shapeParser) skip() {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case strings.HasPrefix(p.src[p.pos:], "//"):
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '#'
}

func (p *shapeParser) ident() (string, error) {
	start := p.pos
	for p.pos < len(p.src) && isNameByte(p.src[p.pos]) {
		p.pos++
	}
	if start == p.pos {
		if p.pos == len(p.src) {
			return "", p.errorf("unexpected end, want a name")
		}
		return "", p.errorf("unexpected %q, want a name", p.src[p.pos])
	}
	return p.src[start:p.pos], nil
}

func (p *shapeParser) accept(tok string) bool {
	if strings.HasPrefix(p.src[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

// members parses until '}' (nested) or the end (top level).
func (p *shapeParser) members(nested bool) ([]*shapeNode, error) {
	var out []*shapeNode
	for {
		p.skip()
		if p.pos == len(p.src) {
			if nested {
				return nil, p.errorf("missing '}'")
			}
			return out, checkDuplicates(out, p)
		}
		if p.src[p.pos] == '}' {
			if !nested {
				return nil, p.errorf("unexpected '}'")
			}
			p.pos++
			return out, checkDuplicates(out, p)
		}
		nodes, err := p.member()
		if err != nil {
			return nil, err
		}
		out = append(out, nodes...)
	}
}

func (p *shapeParser) member() ([]*shapeNode, error) {
	switch p.src[p.pos] {
	case '$':
		p.pos++
		name, err := p.ident()
		if err != nil {
			return nil, err
		}
		src, ok := p.macros[name]
		if !ok {
			return nil, p.errorf("unknown macro $%s", name)
		}
		if p.expanding[name] {
			return nil, p.errorf("macro $%s expands itself", name)
		}
		p.expanding[name] = true
		sub := &shapeParser{src: src, macros: p.macros, expanding: p.expanding, where: p.where + " $" + name}
		nodes, err := sub.members(false)
		delete(p.expanding, name)
		return nodes, err
	case '^':
		p.pos++
		key, err := p.ident()
		if err != nil {
			return nil, err
		}
		n := &shapeNode{kind: shapeFlat, key: key}
		if n.kids, err = p.body(); err != nil {
			return nil, err
		}
		if len(n.kids) == 0 {
			return nil, p.errorf("^%s has no members", key)
		}
		return []*shapeNode{n}, nil
	case '@':
		p.pos++
		var names []string
		for {
			name, err := p.ident()
			if err != nil {
				return nil, err
			}
			names = append(names, name)
			if !p.accept("|") {
				break
			}
		}
		mod := p.accept("!")
		kids, err := p.body()
		if err != nil {
			return nil, err
		}
		out := make([]*shapeNode, len(names))
		for i, name := range names {
			out[i] = &shapeNode{kind: shapeVariant, name: name, modifiable: mod, kids: kids}
		}
		return out, nil
	}
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	n := &shapeNode{kind: shapeProp, name: name, key: name}
	if p.accept("=") {
		if n.key, err = p.ident(); err != nil {
			return nil, err
		}
	}
	for p.accept("[]") {
		n.arrays++
	}
	n.modifiable = p.accept("!")
	if n.kids, err = p.body(); err != nil {
		return nil, err
	}
	return []*shapeNode{n}, nil
}

// body parses an optional "{ members }".
func (p *shapeParser) body() ([]*shapeNode, error) {
	save := p.pos
	p.skip()
	if !p.accept("{") {
		p.pos = save
		return nil, nil
	}
	return p.members(true)
}

func checkDuplicates(nodes []*shapeNode, p *shapeParser) error {
	seen := map[string]bool{}
	for _, n := range nodes {
		var k string
		switch n.kind {
		case shapeFlat:
			k = "^" + strings.ToLower(n.key)
		case shapeVariant:
			k = "@" + strings.ToLower(n.name)
		default:
			k = strings.ToLower(n.name)
		}
		if seen[k] {
			return p.errorf("duplicate member %q", k)
		}
		seen[k] = true
	}
	return nil
}

// genShape derives the aliases of one resource type from its shape.
func genShape(nodes []*shapeNode, emit func(prop string, path value.Path, modifiable bool)) {
	genMembers(nodes, "", nil, true, emit)
}

func genMembers(nodes []*shapeNode, name string, path value.Path, flat bool, emit func(string, value.Path, bool)) {
	for _, n := range nodes {
		switch n.kind {
		case shapeFlat:
			genMembers(n.kids, name, extend(path, value.Step{Key: n.key}), true, emit)
		case shapeVariant:
			nm := joinName(name, n.name)
			if !flat {
				emit(nm, path, n.modifiable)
			}
			// A variant does not move in the payload: its members are still
			// directly in the (possibly flattened) parent object.
			genMembers(n.kids, nm, path, flat, emit)
		default:
			nm := joinName(name, n.name)
			p := extend(path, value.Step{Key: n.key})
			emit(nm, p, n.modifiable)
			for range n.arrays {
				nm += "[*]"
				p = extend(p, value.Step{Any: true})
				emit(nm, p, n.modifiable)
			}
			genMembers(n.kids, nm, p, false, emit)
		}
	}
}

func joinName(prefix, seg string) string {
	if prefix == "" {
		return seg
	}
	return prefix + "." + seg
}

// extend returns a new path: p followed by s (p is never modified).
func extend(p value.Path, s value.Step) value.Path {
	out := make(value.Path, len(p)+1)
	copy(out, p)
	out[len(p)] = s
	return out
}
