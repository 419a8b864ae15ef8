package policy

import (
	"strings"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/suggest"
	"github.com/mlgov/mlgov/policy/value"
)

// fieldKind says how a field reads its value.
type fieldKind uint8

const (
	fkPath     fieldKind = iota // a JSON path (alias or raw path)
	fkName                      // resource name
	fkFullName                  // name with parent names
	fkType
	fkLocation
	fkID
	fkKind
	fkAPIVersion
	fkUnknown // an alias the catalog does not know (non-strict mode)
)

// fieldRef is a field resolved at compile time.
type fieldRef struct {
	text      string // as written
	kind      fieldKind
	path      value.Path
	versioned []alias.VersionedPath
	alias     *alias.Alias
	cat       *alias.Catalog
	// frame >= 0: the path is relative to count frame number frame (the
	// field is the counted array or below it); -1: from the root.
	frame int
	// member: the field is exactly the counted array member (field() of it
	// returns a one-element array).
	member bool
}

// pathFor returns the path to use for the api-version of the activation
// and the type of the resource read: an alias name declared by several
// resource types (Microsoft.Compute/imageId) has a path per type.
func (f *fieldRef) pathFor(apiVersion string, target value.Value) value.Path {
	if f.alias == nil {
		return f.path
	}
	typ := ""
	if f.frame < 0 && f.cat != nil {
		typ = target.Field("type").Str()
	}
	return f.aliasPath(apiVersion, target, typ)
}

// aliasPath is pathFor for an alias field, given the type of target (read
// only when f.frame < 0 and f.cat != nil).
func (f *fieldRef) aliasPath(apiVersion string, target value.Value, typ string) value.Path {
	a := f.alias
	if f.frame < 0 && f.cat != nil {
		if t := typ; t != "" && !value.EqualFold(t, a.ResourceType) {
			if a2, ok := f.cat.LookupIn(t, a.Name); ok {
				if apiVersion != "" && len(a2.Paths) > 0 {
					return a2.PathFor(apiVersion)
				}
				return a2.DefaultPath
			}
		}
	}
	if f.frame < 0 && len(a.Alternatives) > 0 && !present(target.At(f.path)) {
		for _, alt := range a.Alternatives {
			if present(target.At(alt)) {
				return alt
			}
		}
	}
	if apiVersion != "" && len(f.versioned) > 0 {
		return a.PathFor(apiVersion)
	}
	return f.path
}

// pathText is the resolved path as shown in evaluation details.
func (f *fieldRef) pathText() string {
	switch f.kind {
	case fkPath:
		return f.path.String()
	case fkName:
		return "name"
	case fkFullName:
		return "fullName"
	case fkType:
		return "type"
	case fkLocation:
		return "location"
	case fkID:
		return "id"
	case fkKind:
		return "kind"
	case fkAPIVersion:
		return "apiVersion"
	}
	return ""
}

var specialFields = map[string]fieldKind{
	"name": fkName, "fullname": fkFullName, "type": fkType, "location": fkLocation,
	"id": fkID, "kind": fkKind, "apiversion": fkAPIVersion,
}

// resolver resolves field strings to fieldRefs.
type resolver struct {
	aliases *alias.Catalog
	raw     bool // no catalog: non-special fields are JSON paths
	strict  bool
}

// errUnknownAlias marks a field the catalog does not know.
type fieldError struct {
	code, msg string
}

func (e *fieldError) Error() string { return e.msg }

// resolve turns a field string into a fieldRef (frame not yet assigned).
func (r *resolver) resolve(text string) (*fieldRef, error) {
	f := &fieldRef{text: text, frame: -1}
	lower := strings.ToLower(text)
	if k, ok := specialFields[lower]; ok {
		f.kind = k
		return f, nil
	}
	if tagPath, ok := tagField(text); ok {
		f.path = tagPath
		return f, nil
	}
	if strings.HasPrefix(lower, "identity.") || lower == "identity" {
		p, err := value.ParsePath(text)
		if err != nil {
			return nil, &fieldError{"InvalidField", "invalid field " + quote(text) + ": " + err.Error()}
		}
		f.path = p
		return f, nil
	}
	if r.aliases != nil {
		if a, ok := r.aliases.Lookup(text); ok {
			f.alias = a
			f.cat = r.aliases
			f.path = a.DefaultPath
			f.versioned = a.Paths
			return f, nil
		}
		// X without an alias of its own, where X[*] has one, is the array.
		if a, ok := r.aliases.Lookup(text + "[*]"); ok && len(a.DefaultPath) > 0 && a.DefaultPath[len(a.DefaultPath)-1].Any {
			f.path = a.DefaultPath[:len(a.DefaultPath)-1]
			return f, nil
		}
	}
	if strings.Contains(text, "/") && !r.raw {
		if r.strict {
			return nil, &fieldError{"UnknownAlias", "unknown alias " + quote(text) + r.nearest(text)}
		}
		f.kind = fkUnknown
		return f, nil
	}
	p, err := value.ParsePath(text)
	if err != nil {
		return nil, &fieldError{"InvalidField", "invalid field " + quote(text) + ": " + err.Error()}
	}
	if !r.raw && r.strict {
		return nil, &fieldError{"UnknownAlias", "field " + quote(text) + " is neither an alias nor a special field (name, fullName, type, kind, location, id, identity.*, tags)"}
	}
	f.path = p
	return f, nil
}

// nearest says which aliases of the catalog text may have meant: those
// of its resource type (the longest prefix of text before a '/' that
// the catalog knows) within a few edits of it.
func (r *resolver) nearest(text string) string {
	for i := strings.LastIndexByte(text, '/'); i > 0; i = strings.LastIndexByte(text[:i], '/') {
		if _, ok := r.aliases.Type(text[:i]); !ok {
			continue
		}
		var names []string
		for _, a := range r.aliases.AliasesOf(text[:i]) {
			names = append(names, a.Name)
		}
		near := suggest.Nearest(text, names, 3, max(3, (len(text)-i)/3))
		if len(near) == 0 {
			return ": the catalog knows no alias of " + text[:i] + " like it"
		}
		for k := range near {
			near[k] = quote(near[k])
		}
		return ": did you mean " + strings.Join(near, " or ") + "?"
	}
	return ": it is not in the loaded alias catalogs (load one with --aliases)"
}

func quote(s string) string { return "'" + s + "'" }

// tagField recognises tags, tags.name, tags['name'], tags[name] (tags[] is
// the tag of empty name, which a resource never has: what a definition
// names when its tag-name parameter is left empty).
func tagField(text string) (value.Path, bool) {
	if len(text) < 4 || !strings.EqualFold(text[:4], "tags") {
		return nil, false
	}
	rest := text[4:]
	switch {
	case rest == "":
		return value.Path{{Key: "tags"}}, true
	case rest[0] == '.':
		if len(rest) == 1 {
			return nil, false
		}
		return value.Path{{Key: "tags"}, {Key: rest[1:]}}, true
	case strings.HasPrefix(rest, "['") && strings.HasSuffix(rest, "']") && len(rest) >= 4:
		return value.Path{{Key: "tags"}, {Key: strings.ReplaceAll(rest[2:len(rest)-2], "''", "'")}}, true
	case rest == "[*]":
		return value.Path{{Key: "tags"}, {Any: true}}, true
	case rest[0] == '[' && rest[len(rest)-1] == ']' && len(rest) >= 2:
		return value.Path{{Key: "tags"}, {Key: rest[1 : len(rest)-1]}}, true
	}
	return nil, false
}

// hasPrefix reports whether path p starts with prefix (steps compared
// case-insensitively).
func hasPrefix(p, prefix value.Path) bool {
	if len(p) < len(prefix) {
		return false
	}
	for i, s := range prefix {
		t := p[i]
		if s.Any != t.Any || (!s.Any && !value.EqualFold(s.Key, t.Key)) {
			return false
		}
	}
	return true
}

// readSpecial returns the value of a special field of resource r.
func readSpecial(k fieldKind, r value.Value) value.Value {
	switch k {
	case fkName:
		return r.Field("name")
	case fkType:
		return r.Field("type")
	case fkKind:
		return r.Field("kind")
	case fkID:
		return r.Field("id")
	case fkAPIVersion:
		return r.Field("apiVersion")
	case fkLocation:
		l := r.Field("location")
		if l.Kind() == value.String && needsLocationNormalizing(l.Str()) {
			return value.StringValue(normalizeLocation(l.Str()))
		}
		return l
	case fkFullName:
		if fn, ok := r.Get("fullName"); ok {
			return fn
		}
		if id := r.Field("id"); id.Kind() == value.String {
			if fn, ok := fullNameFromID(id.Str()); ok {
				return value.StringValue(fn)
			}
		}
		return r.Field("name")
	}
	return value.Value{}
}

func needsLocationNormalizing(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ' ' || ('A' <= c && c <= 'Z') {
			return true
		}
	}
	return false
}

// normalizeLocation lower-cases and removes spaces: "East US 2" → "eastus2".
func normalizeLocation(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, " ", ""))
}

// fullNameFromID returns the names after the provider namespace of an ARM
// resource ID joined by '/': .../providers/NS/t1/n1/t2/n2 → n1/n2.
func fullNameFromID(id string) (string, bool) {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	last := -1
	for i := 0; i+1 < len(segs); i++ {
		if strings.EqualFold(segs[i], "providers") {
			last = i
		}
	}
	if last < 0 || last+3 >= len(segs)+1 {
		return "", false
	}
	rest := segs[last+2:]
	if len(rest) < 2 {
		return "", false
	}
	var names []string
	for i := 1; i < len(rest); i += 2 {
		names = append(names, rest[i])
	}
	return strings.Join(names, "/"), true
}

// selectValues calls fn for every value a (wildcard) path selects from v.
// A missing member selects Undefined. At a [*] step, an array expands to
// its elements; anything else (missing, null, a scalar or an object) is,
// when virtual is set (conditions), one null member — so a condition on
// the members of a missing array sees one missing value — and otherwise
// (field(), count) nothing.
func selectValues(v value.Value, p value.Path, virtual bool, fn func(value.Value) bool) bool {
	for i, s := range p {
		if s.Any {
			rest := p[i+1:]
			if v.Kind() != value.Array {
				if !virtual {
					return true
				}
				if len(rest) == 0 {
					return fn(value.NullValue())
				}
				return fn(value.Value{})
			}
			for _, e := range v.Elems() {
				if !selectValues(e, rest, virtual, fn) {
					return false
				}
			}
			return true
		}
		next, ok := v.Step(s)
		if !ok {
			for _, t := range p[i+1:] {
				if t.Any {
					// A missing collection: one null member for
					// conditions, nothing otherwise.
					if virtual {
						return selectValues(value.Value{}, p[i+1:], virtual, fn)
					}
					return true
				}
			}
			return fn(value.Value{})
		}
		v = next
	}
	return fn(v)
}
