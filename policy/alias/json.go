package alias

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// parseJSON reads the ARM providers formats:
//
//	[provider, ...]                   az provider list --expand resourceTypes/aliases
//	{"value": [provider, ...]}        the REST envelope
//	provider                          az provider show --expand resourceTypes/aliases
//
// provider = {"namespace", "resourceTypes": [{"resourceType", "capabilities",
// "aliases": [{"name", "defaultPath", "paths": [{"path", "apiVersions",
// "metadata"}], "defaultMetadata": {"type", "attributes"}}]}]}. Member names
// match case-insensitively; unknown members are ignored.
func parseJSON(data []byte, b *builder, e *errs) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		e.add(syntaxError(data, err))
		return
	}
	off := int(dec.InputOffset())
	if _, err := dec.Token(); err != io.EOF {
		for off < len(data) && (data[off] == ' ' || data[off] == '\t' || data[off] == '\r' || data[off] == '\n') {
			off++
		}
		line, col := position(data, off+1)
		e.add(&Error{Code: CodeSyntax, Line: line, Column: col, Msg: "unexpected data after the top-level JSON value"})
		return
	}
	switch v := doc.(type) {
	case []any:
		parseProviders(v, "", b, e)
	case map[string]any:
		if key, val, ok := member(v, "value"); ok {
			arr, ok := val.([]any)
			if !ok {
				e.at(ptrKey("", key), CodeShape, "expected an array of providers, found "+kind(val))
				return
			}
			parseProviders(arr, ptrKey("", key), b, e)
			return
		}
		if _, _, ok := member(v, "resourceTypes"); ok {
			parseProvider(v, "", b, e)
			return
		}
		if _, _, ok := member(v, "namespace"); ok {
			parseProvider(v, "", b, e)
			return
		}
		e.at("", CodeShape, `expected an array of providers, {"value": [providers]} or a provider object with "namespace" and "resourceTypes"`)
	default:
		e.at("", CodeShape, "expected an array or object, found "+kind(doc))
	}
}

func parseProviders(arr []any, ptr string, b *builder, e *errs) {
	for i, p := range arr {
		pp := ptrIndex(ptr, i)
		obj, ok := p.(map[string]any)
		if !ok {
			e.at(pp, CodeShape, "expected a provider object, found "+kind(p))
			continue
		}
		parseProvider(obj, pp, b, e)
	}
}

func parseProvider(obj map[string]any, ptr string, b *builder, e *errs) {
	ns, ok := stringMember(obj, ptr, "namespace", true, e)
	if !ok {
		return
	}
	if strings.Contains(ns, "/") {
		e.at(ptrKey(ptr, "namespace"), CodeName, fmt.Sprintf("namespace %q contains '/'", ns))
		return
	}
	key, rts, present := member(obj, "resourceTypes")
	if !present || rts == nil {
		return
	}
	arr, ok := rts.([]any)
	if !ok {
		e.at(ptrKey(ptr, key), CodeShape, "expected an array of resource types, found "+kind(rts))
		return
	}
	for i, rt := range arr {
		rp := ptrIndex(ptrKey(ptr, key), i)
		robj, ok := rt.(map[string]any)
		if !ok {
			e.at(rp, CodeShape, "expected a resource type object, found "+kind(rt))
			continue
		}
		parseResourceType(ns, robj, rp, b, e)
	}
}

func parseResourceType(ns string, obj map[string]any, ptr string, b *builder, e *errs) {
	name, ok := stringMember(obj, ptr, "resourceType", true, e)
	if !ok {
		return
	}
	rt := ResourceType{Name: ns + "/" + name}
	if key, caps, present := member(obj, "capabilities"); present && caps != nil {
		s, ok := caps.(string)
		if !ok {
			e.at(ptrKey(ptr, key), CodeShape, "expected a string, found "+kind(caps))
		} else {
			rt.CapabilitiesKnown = true
			rt.SupportsTags, rt.SupportsLocation = parseCapabilities(s)
		}
	}
	b.addType(rt)
	key, als, present := member(obj, "aliases")
	if !present || als == nil {
		return
	}
	arr, ok := als.([]any)
	if !ok {
		e.at(ptrKey(ptr, key), CodeShape, "expected an array of aliases, found "+kind(als))
		return
	}
	for i, a := range arr {
		ap := ptrIndex(ptrKey(ptr, key), i)
		aobj, ok := a.(map[string]any)
		if !ok {
			e.at(ap, CodeShape, "expected an alias object, found "+kind(a))
			continue
		}
		if al := parseAlias(rt.Name, aobj, ap, e); al != nil {
			b.add(al)
		}
	}
}

func parseAlias(rtName string, obj map[string]any, ptr string, e *errs) *Alias {
	name, ok := stringMember(obj, ptr, "name", true, e)
	if !ok {
		return nil
	}
	if i := strings.IndexByte(name, '/'); i <= 0 || i == len(name)-1 {
		e.at(ptrKey(ptr, "name"), CodeName, fmt.Sprintf("alias name %q is not <Namespace>/<type>/<property>", name))
		return nil
	}
	a := &Alias{Name: name, ResourceType: rtName}
	bad := false

	// defaultMetadata first: versioned paths inherit its Modifiable.
	if key, md, present := member(obj, "defaultMetadata"); present && md != nil {
		typ, attrs, ok := metadata(md, ptrKey(ptr, key), e)
		if !ok {
			bad = true
		}
		a.Type = typ
		a.Modifiable = hasAttribute(attrs, "Modifiable")
		a.MetadataKnown = true
	}

	if key, ps, present := member(obj, "paths"); present && ps != nil {
		arr, ok := ps.([]any)
		if !ok {
			e.at(ptrKey(ptr, key), CodeShape, "expected an array of paths, found "+kind(ps))
			bad = true
		} else {
			for i, p := range arr {
				vp, ok := parseVersionedPath(p, ptrIndex(ptrKey(ptr, key), i), a.Modifiable, e)
				if !ok {
					bad = true
					continue
				}
				a.Paths = append(a.Paths, vp)
			}
		}
	}

	key, dp, present := member(obj, "defaultPath")
	if !present {
		key = "defaultPath"
	}
	switch s := dp.(type) {
	case string:
		if s == "" && len(a.Paths) > 0 {
			a.DefaultPath = latest(a.Paths)
			break
		}
		p, msg := parseAliasPath(s)
		if msg != "" {
			e.at(ptrKey(ptr, key), CodePath, msg)
			return nil
		}
		a.DefaultPath = p
	case nil:
		// No default path: Azure then uses the path of the newest api-version.
		if len(a.Paths) == 0 {
			if !bad {
				e.at(ptrKey(ptr, key), CodeMissing, "alias has neither defaultPath nor paths")
			}
			return nil
		}
		a.DefaultPath = latest(a.Paths)
	default:
		e.at(ptrKey(ptr, key), CodeShape, "expected a string, found "+kind(dp))
		return nil
	}
	if bad {
		return nil
	}
	return a
}

func parseVersionedPath(p any, ptr string, defModifiable bool, e *errs) (VersionedPath, bool) {
	obj, ok := p.(map[string]any)
	if !ok {
		e.at(ptr, CodeShape, "expected a path object, found "+kind(p))
		return VersionedPath{}, false
	}
	s, ok := stringMember(obj, ptr, "path", true, e)
	if !ok {
		return VersionedPath{}, false
	}
	key, _, _ := member(obj, "path")
	path, msg := parseAliasPath(s)
	good := true
	if msg != "" {
		e.at(ptrKey(ptr, key), CodePath, msg)
		good = false
	}
	vp := VersionedPath{Path: path, Modifiable: defModifiable}
	if key, vs, present := member(obj, "apiVersions"); present && vs != nil {
		arr, ok := vs.([]any)
		if !ok {
			e.at(ptrKey(ptr, key), CodeShape, "expected an array of api-versions, found "+kind(vs))
			good = false
		} else {
			for i, v := range arr {
				s, ok := v.(string)
				if !ok {
					e.at(ptrIndex(ptrKey(ptr, key), i), CodeShape, "expected a string, found "+kind(v))
					good = false
					continue
				}
				vp.APIVersions = append(vp.APIVersions, s)
			}
		}
	}
	if key, md, present := member(obj, "metadata"); present && md != nil {
		_, attrs, ok := metadata(md, ptrKey(ptr, key), e)
		if !ok {
			good = false
		}
		vp.Modifiable = hasAttribute(attrs, "Modifiable")
	}
	return vp, good
}

// metadata reads {"type": "...", "attributes": "..."}.
func metadata(md any, ptr string, e *errs) (typ, attrs string, ok bool) {
	obj, isObj := md.(map[string]any)
	if !isObj {
		e.at(ptr, CodeShape, "expected a metadata object, found "+kind(md))
		return "", "", false
	}
	ok = true
	if key, v, present := member(obj, "type"); present && v != nil {
		s, isStr := v.(string)
		if !isStr {
			e.at(ptrKey(ptr, key), CodeShape, "expected a string, found "+kind(v))
			ok = false
		}
		typ = s
	}
	if key, v, present := member(obj, "attributes"); present && v != nil {
		s, isStr := v.(string)
		if !isStr {
			e.at(ptrKey(ptr, key), CodeShape, "expected a string, found "+kind(v))
			ok = false
		}
		attrs = s
	}
	return typ, attrs, ok
}

// latest picks the path of the newest api-version (ARM api-versions sort
// as strings: yyyy-mm-dd[-preview]).
func latest(ps []VersionedPath) value.Path {
	best, bestV := ps[len(ps)-1].Path, ""
	for _, p := range ps {
		for _, v := range p.APIVersions {
			if strings.ToLower(v) > bestV {
				best, bestV = p.Path, strings.ToLower(v)
			}
		}
	}
	return best
}

// member finds a member by name, exactly first, then ASCII
// case-insensitively. It returns the spelling used in the document.
func member(obj map[string]any, name string) (string, any, bool) {
	if v, ok := obj[name]; ok {
		return name, v, true
	}
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return "", nil, false
}

// stringMember reads a string member; required members must be non-empty.
func stringMember(obj map[string]any, ptr, name string, required bool, e *errs) (string, bool) {
	key, v, present := member(obj, name)
	if !present || v == nil {
		if required {
			e.at(ptrKey(ptr, name), CodeMissing, fmt.Sprintf("missing %q", name))
		}
		return "", !required
	}
	s, ok := v.(string)
	if !ok {
		e.at(ptrKey(ptr, key), CodeShape, "expected a string, found "+kind(v))
		return "", false
	}
	if required && strings.TrimSpace(s) == "" {
		e.at(ptrKey(ptr, key), CodeMissing, fmt.Sprintf("empty %q", name))
		return "", false
	}
	return s, true
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// syntaxError turns a decoder error into an Error with line and column.
func syntaxError(data []byte, err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, int(se.Offset))
		return &Error{Code: CodeSyntax, Line: line, Column: col, Msg: se.Error()}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		line, col := position(data, len(data))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			col++ // just past the last character
		}
		return &Error{Code: CodeSyntax, Line: line, Column: col, Msg: "unexpected end of JSON input"}
	}
	return &Error{Code: CodeSyntax, Msg: err.Error()}
}

// position converts a byte offset to a 1-based line and column (in bytes).
// A decoder offset points just past the offending byte; the column names
// that byte.
func position(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	col = off - start
	if col == 0 {
		col = 1
	}
	return line, col
}
