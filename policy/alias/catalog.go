package alias

import (
	"slices"
	"strings"
)

// Catalog is a set of aliases and the resource types they belong to. A
// Catalog is immutable once constructed and safe for concurrent reads; the
// *Alias values it hands out are shared and must not be modified. The methods
// accept a nil *Catalog and treat it as empty.
type Catalog struct {
	byName    map[string]*Alias     // ASCII-lower-cased alias name → alias
	types     map[string]*typeEntry // ASCII-lower-cased type name → entry
	typeNames []string              // sorted
}

type typeEntry struct {
	rt      ResourceType
	byName  map[string]*Alias // ASCII-lower-cased alias name → alias declared on this type
	aliases []*Alias          // sorted by name
}

// NewCatalog returns a catalog holding the given aliases (none: an empty
// catalog). Later aliases win on duplicate names. The resource types are
// taken from the aliases' ResourceType with unknown capabilities. Catalogs
// are normally obtained from LoadFile, Parse, Builtin and Merge.
func NewCatalog(aliases ...*Alias) *Catalog {
	b := newBuilder()
	for _, a := range aliases {
		if a != nil {
			b.add(a)
		}
	}
	return b.build()
}

// Lookup finds an alias by its full name, ASCII case-insensitively. When the
// same name is declared on several types (namespace-level aliases such as
// Microsoft.Compute/imagePublisher) it returns the one that came last; use
// LookupIn for the type-specific entry. Lookup does not allocate.
func (c *Catalog) Lookup(name string) (*Alias, bool) {
	if c == nil {
		return nil, false
	}
	return lookupFold(c.byName, name)
}

// LookupIn finds the alias named name as declared on resourceType (both
// ASCII case-insensitive). It does not allocate.
func (c *Catalog) LookupIn(resourceType, name string) (*Alias, bool) {
	if c == nil {
		return nil, false
	}
	te, ok := lookupFold(c.types, resourceType)
	if !ok {
		return nil, false
	}
	return lookupFold(te.byName, name)
}

// Type describes a resource type (ASCII case-insensitive). The result is
// shared and must be treated as read-only. Type does not allocate.
func (c *Catalog) Type(resourceType string) (*ResourceType, bool) {
	if c == nil {
		return nil, false
	}
	te, ok := lookupFold(c.types, resourceType)
	if !ok {
		return nil, false
	}
	return &te.rt, true
}

// AliasesOf lists the aliases declared on a resource type (ASCII
// case-insensitive), sorted by name. The slice is the caller's.
func (c *Catalog) AliasesOf(resourceType string) []*Alias {
	if c == nil {
		return nil
	}
	te, ok := lookupFold(c.types, resourceType)
	if !ok {
		return nil
	}
	return slices.Clone(te.aliases)
}

// Types lists the resource types, sorted. The slice is the caller's.
func (c *Catalog) Types() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.typeNames)
}

// Len is the number of distinct alias names.
func (c *Catalog) Len() int {
	if c == nil {
		return 0
	}
	return len(c.byName)
}

// Merge combines catalogs into a new one. Later catalogs win on duplicate
// alias names (per type and for Lookup); a type's capabilities come from the
// last catalog that knows them. Nil catalogs are skipped.
func Merge(cats ...*Catalog) *Catalog {
	b := newBuilder()
	for _, c := range cats {
		if c == nil {
			continue
		}
		for _, tn := range c.typeNames {
			te := c.types[asciiLower(tn)]
			b.addType(te.rt)
			for _, a := range te.aliases {
				b.addTyped(a)
			}
		}
		for _, a := range c.byName {
			b.setGlobal(a)
		}
	}
	return b.build()
}

// builder accumulates a catalog; build freezes it.
type builder struct {
	byName map[string]*Alias
	types  map[string]*typeEntry
}

func newBuilder() *builder {
	return &builder{byName: map[string]*Alias{}, types: map[string]*typeEntry{}}
}

// addType registers a type or updates its capabilities when rt knows them.
func (b *builder) addType(rt ResourceType) *typeEntry {
	key := asciiLower(rt.Name)
	te := b.types[key]
	if te == nil {
		te = &typeEntry{rt: rt, byName: map[string]*Alias{}}
		b.types[key] = te
		return te
	}
	if rt.CapabilitiesKnown {
		name := te.rt.Name
		te.rt = rt
		te.rt.Name = name
	}
	return te
}

// add records a in its type and as the global entry for its name.
func (b *builder) add(a *Alias) {
	b.addTyped(a)
	b.setGlobal(a)
}

func (b *builder) addTyped(a *Alias) {
	if !strings.Contains(a.ResourceType, "/") {
		return // namespace-level alias: no type of its own
	}
	te := b.types[asciiLower(a.ResourceType)]
	if te == nil {
		te = b.addType(ResourceType{Name: a.ResourceType})
	}
	te.byName[asciiLower(a.Name)] = a
}

func (b *builder) setGlobal(a *Alias) {
	key := asciiLower(a.Name)
	if old := b.byName[key]; old != nil && !strings.Contains(a.ResourceType, "/") && !strings.Contains(old.ResourceType, "/") {
		// A namespace-level name listed several times (CSV catalogs carry
		// no types): keep the first path and remember the others.
		if old.DefaultPath.String() != a.DefaultPath.String() {
			old.Alternatives = append(old.Alternatives, a.DefaultPath)
		}
		return
	}
	b.byName[key] = a
}

func (b *builder) build() *Catalog {
	c := &Catalog{byName: b.byName, types: b.types}
	c.typeNames = make([]string, 0, len(b.types))
	for _, te := range b.types {
		c.typeNames = append(c.typeNames, te.rt.Name)
		te.aliases = make([]*Alias, 0, len(te.byName))
		for _, a := range te.byName {
			te.aliases = append(te.aliases, a)
		}
		slices.SortFunc(te.aliases, func(x, y *Alias) int { return compareFold(x.Name, y.Name) })
	}
	slices.SortFunc(c.typeNames, compareFold)
	return c
}

// compareFold orders ASCII case-insensitively, then by exact spelling.
func compareFold(x, y string) int {
	n := min(len(x), len(y))
	for i := 0; i < n; i++ {
		a, b := lowerByte(x[i]), lowerByte(y[i])
		if a != b {
			if a < b {
				return -1
			}
			return 1
		}
	}
	if len(x) != len(y) {
		if len(x) < len(y) {
			return -1
		}
		return 1
	}
	return strings.Compare(x, y)
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// asciiLower folds ASCII letters only: alias and type names compare ASCII
// case-insensitively, whatever other characters they hold.
func asciiLower(s string) string {
	if !hasUpper(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerByte(c)
	}
	return string(b)
}

// lookupFold looks s up in a map keyed by ASCII-lower-cased strings without
// allocating for keys up to 512 bytes (the longest alias name in Azure's full
// catalog has 362).
func lookupFold[V any](m map[string]V, s string) (V, bool) {
	if !hasUpper(s) {
		v, ok := m[s]
		return v, ok
	}
	if len(s) <= 512 {
		var buf [512]byte
		k := buf[:len(s)]
		for i := 0; i < len(s); i++ {
			k[i] = lowerByte(s[i])
		}
		v, ok := m[string(k)] // the compiler does not allocate for this conversion
		return v, ok
	}
	v, ok := m[asciiLower(s)]
	return v, ok
}
