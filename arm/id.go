package arm

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Part is one typed segment pair of a resource ID. Namespace is set on the
// first part after each "providers" segment.
type Part struct {
	Namespace string
	Type      string
	Name      string
}

// ID is a parsed ARM resource ID (or a collection or action path under
// one). Casing is kept as given; comparisons use Key.
type ID struct {
	SubscriptionID string
	ResourceGroup  string
	Parts          []Part
	// Trailing is a final segment without a name: a collection type
	// (".../workspaces/ws/computes") or an action (".../computes/c/start").
	Trailing string
	// TrailingNamespace is set when Trailing directly follows
	// providers/{namespace} (a top-level collection: ".../providers/NS/workspaces").
	TrailingNamespace string
}

// Error is a domain error with a stable ARM code; package api maps codes to
// HTTP statuses and builds the error envelope.
type Error struct {
	Code    string
	Message string
	Target  string
	Details []*Error
	// AdditionalInfo entries ({"type": ..., "info": ...}) as JSON objects.
	AdditionalInfo []map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParseID parses a path such as
// /subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{t}/{n}[/{t}/{n}...]
// [/providers/{ns}/{t}/{n}...][/{trailing}]. Segment keywords match
// case-insensitively. Errors are *Error with code InvalidResourceId.
func ParseID(path string) (*ID, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, invalidID(path, "it must start with '/'")
	}
	segs := strings.Split(strings.TrimSuffix(path[1:], "/"), "/")
	if len(segs) == 1 && segs[0] == "" {
		return nil, invalidID(path, "it is empty")
	}
	for _, s := range segs {
		switch s {
		case "":
			return nil, invalidID(path, "it has an empty segment")
		case ".", "..":
			// A client normalises "/a/.." to "/", so a resource named
			// ".." would later be deleted as its parent.
			return nil, invalidID(path, fmt.Sprintf("the segment %q is not allowed", s))
		}
	}
	id := &ID{}
	i := 0
	if strings.EqualFold(segs[0], "subscriptions") {
		if len(segs) < 2 {
			return nil, invalidID(path, "the subscription id is missing")
		}
		id.SubscriptionID = segs[1]
		i = 2
		if i < len(segs) && strings.EqualFold(segs[i], "resourceGroups") {
			if i+1 >= len(segs) {
				id.Trailing = segs[i]
				return id, nil
			}
			id.ResourceGroup = segs[i+1]
			i += 2
		}
	}
	for i < len(segs) {
		if !strings.EqualFold(segs[i], "providers") {
			if len(id.Parts) == 0 {
				if i == len(segs)-1 {
					id.Trailing = segs[i]
					return id, nil
				}
				return nil, invalidID(path, fmt.Sprintf("expected 'providers' at segment %d, found %q", i+1, segs[i]))
			}
			// type/name pairs continue the current provider's chain
			if i+1 >= len(segs) {
				id.Trailing = segs[i]
				return id, nil
			}
			id.Parts = append(id.Parts, Part{Type: segs[i], Name: segs[i+1]})
			i += 2
			continue
		}
		if i+1 >= len(segs) {
			return nil, invalidID(path, "a namespace must follow 'providers'")
		}
		ns := segs[i+1]
		i += 2
		if i >= len(segs) {
			return nil, invalidID(path, fmt.Sprintf("a resource type must follow namespace %q", ns))
		}
		if i+1 >= len(segs) {
			id.Trailing, id.TrailingNamespace = segs[i], ns
			return id, nil
		}
		id.Parts = append(id.Parts, Part{Namespace: ns, Type: segs[i], Name: segs[i+1]})
		i += 2
	}
	return id, nil
}

func invalidID(path, why string) *Error {
	path = Clip(path, 300)
	return &Error{Code: "InvalidResourceId", Message: fmt.Sprintf("The resource id '%s' is not valid: %s.", path, why)}
}

// String formats the ID (without Trailing) with its original casing.
func (id *ID) String() string {
	n := 0
	if id.SubscriptionID != "" {
		n += len("/subscriptions/") + len(id.SubscriptionID)
		if id.ResourceGroup != "" {
			n += len("/resourceGroups/") + len(id.ResourceGroup)
		}
	}
	for _, p := range id.Parts {
		if p.Namespace != "" {
			n += len("/providers/") + len(p.Namespace)
		}
		n += 2 + len(p.Type) + len(p.Name)
	}
	var b strings.Builder
	b.Grow(n)
	if id.SubscriptionID != "" {
		b.WriteString("/subscriptions/")
		b.WriteString(id.SubscriptionID)
		if id.ResourceGroup != "" {
			b.WriteString("/resourceGroups/")
			b.WriteString(id.ResourceGroup)
		}
	}
	for _, p := range id.Parts {
		if p.Namespace != "" {
			b.WriteString("/providers/")
			b.WriteString(p.Namespace)
		}
		b.WriteByte('/')
		b.WriteString(p.Type)
		b.WriteByte('/')
		b.WriteString(p.Name)
	}
	return b.String()
}

// Key is the storage key of the ID: KeyOf its string (lower case, but
// compared by ARM's ordinal ignore-case rule).
func (id *ID) Key() string { return KeyOf(id.String()) }

// IsSubscription, IsResourceGroup and IsResource tell the ID's level.
func (id *ID) IsSubscription() bool {
	return id.SubscriptionID != "" && id.ResourceGroup == "" && len(id.Parts) == 0
}

// IsResourceGroup reports whether the ID names a resource group.
func (id *ID) IsResourceGroup() bool { return id.ResourceGroup != "" && len(id.Parts) == 0 }

// IsResource reports whether the ID names a provider resource.
func (id *ID) IsResource() bool { return len(id.Parts) > 0 }

// group returns the index of the first part of the last provider group.
func (id *ID) group() int {
	for i := len(id.Parts) - 1; i >= 0; i-- {
		if id.Parts[i].Namespace != "" {
			return i
		}
	}
	return 0
}

// Type returns the full resource type of the named resource:
// Namespace/type1/type2 of the last provider group.
func (id *ID) Type() string {
	if !id.IsResource() {
		if id.IsResourceGroup() {
			return "Microsoft.Resources/resourceGroups"
		}
		if id.SubscriptionID != "" {
			return "Microsoft.Resources/subscriptions"
		}
		return ""
	}
	g := id.group()
	var b strings.Builder
	b.WriteString(id.Parts[g].Namespace)
	for _, p := range id.Parts[g:] {
		b.WriteByte('/')
		b.WriteString(p.Type)
	}
	return b.String()
}

// CollectionType returns the full type listed by a collection path (the
// Trailing segment under the last provider group or parent).
func (id *ID) CollectionType() string {
	if id.Trailing == "" {
		return ""
	}
	if id.TrailingNamespace != "" {
		return id.TrailingNamespace + "/" + id.Trailing
	}
	if !id.IsResource() {
		return ""
	}
	return id.Type() + "/" + id.Trailing
}

// Name returns the last name.
func (id *ID) Name() string {
	switch {
	case id.IsResource():
		return id.Parts[len(id.Parts)-1].Name
	case id.ResourceGroup != "":
		return id.ResourceGroup
	}
	return id.SubscriptionID
}

// FullName returns the names of the last provider group joined by '/'
// (ws1/ci1 for a compute).
func (id *ID) FullName() string {
	if !id.IsResource() {
		return id.Name()
	}
	g := id.group()
	names := make([]string, 0, len(id.Parts)-g)
	for _, p := range id.Parts[g:] {
		names = append(names, p.Name)
	}
	return strings.Join(names, "/")
}

// Parent returns the parent scope: the parent resource for a child, the
// resource an extension resource hangs off, the resource group for a
// top-level resource, the subscription for a resource group; nil for a
// subscription.
func (id *ID) Parent() *ID {
	switch {
	case id.IsResource():
		p := &ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[:len(id.Parts)-1]}
		return p
	case id.ResourceGroup != "":
		return &ID{SubscriptionID: id.SubscriptionID}
	}
	return nil
}

// IsExtension reports whether the named resource is an extension resource
// (a provider group below another resource).
func (id *ID) IsExtension() bool {
	return id.IsResource() && id.group() > 0
}

// Child returns the ID of a child of id.
func (id *ID) Child(typ, name string) *ID {
	c := &ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup}
	c.Parts = append(append([]Part(nil), id.Parts...), Part{Type: typ, Name: name})
	return c
}

// ValidateResourceGroupName checks ARM's rules: 1-90 characters, letters,
// digits, '-', '_', '(', ')', '.', not ending with '.'.
func ValidateResourceGroupName(n string) error {
	if len(n) == 0 || len([]rune(n)) > 90 {
		return Errorf("InvalidResourceGroupName", "Resource group name '%s' is invalid: it must be 1 to 90 characters long.", n)
	}
	if strings.HasSuffix(n, ".") {
		return Errorf("InvalidResourceGroupName", "Resource group name '%s' is invalid: it cannot end with a period.", n)
	}
	for _, r := range n {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_().", r)) {
			return Errorf("InvalidResourceGroupName", "Resource group name '%s' is invalid: the character %q is not allowed (letters, digits, '-', '_', '(', ')' and '.' are).", n, r)
		}
	}
	return nil
}

// ValidateResourceName checks the generic ARM name rules: 1-260
// characters, none of < > % & : \ ? / # or control characters, not
// ending with '.' or a space (so not "." or "..", which a client's path
// normalisation would turn into the parent).
func ValidateResourceName(n string) error {
	if len(n) == 0 || len([]rune(n)) > 260 {
		return Errorf("InvalidResourceName", "The resource name '%s' is invalid: it must be 1 to 260 characters long.", n)
	}
	if strings.HasSuffix(n, ".") || strings.HasSuffix(n, " ") {
		return Errorf("InvalidResourceName", "The resource name '%s' is invalid: it cannot end with a period or a space.", n)
	}
	for _, r := range n {
		if strings.ContainsRune(`<>%&:\?/#`, r) || unicode.IsControl(r) {
			return Errorf("InvalidResourceName", "The resource name '%s' is invalid: the character %q is not allowed.", n, r)
		}
	}
	return nil
}

// NormalizeLocation returns the canonical short form: lower case without
// spaces ("West US" → "westus").
func NormalizeLocation(l string) string {
	return strings.ToLower(strings.ReplaceAll(l, " ", ""))
}

// Clip shortens text a client sent to at most n bytes (cut at a rune
// boundary, "..." appended) for an error message or a log line.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
