package alias

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// parseCSV reads name,defaultPath records (more columns are ignored). A first
// record whose name has no '/' is a header and is skipped.
//
// The resource type of each alias is derived from its name in two passes:
//
//  1. SplitName: the type is the longest '/'-separated prefix before the
//     property syntax starts. The set of such prefixes is the catalog's
//     set of types. Namespace-level names (Microsoft.Compute/imagePublisher,
//     a single '/') keep the bare namespace as their ResourceType.
//  2. Dotted child-type names: Azure spells some aliases of a child type
//     with a '.' after the parent type, e.g.
//     Microsoft.ContainerRegistry/registries/scopeMaps.description →
//     properties.description, declared on registries/scopeMaps. When the
//     first property segment X is followed by '.', <type>/X is a known type
//     and the path has no key X, the alias moves to <type>/X (repeatedly).
func parseCSV(data []byte, b *builder, e *errs) {
	type entry struct {
		a    *Alias
		prop string
	}
	var entries []entry
	types := map[string]string{} // lower → first spelling
	defer func() {
		for _, en := range entries {
			a, prop := en.a, en.prop
			for {
				x, rest, ok := childSegment(prop)
				if !ok {
					break
				}
				t, known := types[asciiLower(a.ResourceType+"/"+x)]
				if !known || pathHasKey(a.DefaultPath, x) {
					break
				}
				a.ResourceType, prop = t, rest
			}
			b.add(a)
		}
	}()
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	first := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				e.add(&Error{Code: CodeCSV, Line: pe.Line, Column: pe.Column, Msg: pe.Err.Error()})
			} else {
				e.add(&Error{Code: CodeCSV, Msg: err.Error()})
			}
			return // the reader cannot resynchronise reliably
		}
		line, _ := r.FieldPos(0) // valid only after a successful Read
		name := strings.TrimSpace(rec[0])
		if first {
			first = false
			if !strings.Contains(name, "/") {
				continue // header
			}
		}
		if len(rec) < 2 {
			e.add(&Error{Code: CodeCSV, Line: line, Msg: fmt.Sprintf("record has %d field(s), want name,defaultPath", len(rec))})
			continue
		}
		typ, prop, ok := SplitName(name)
		if typ == "" || prop == "" {
			e.add(&Error{Code: CodeName, Line: line, Msg: fmt.Sprintf("alias name %q is not <Namespace>/<type>/<property>", name)})
			continue
		}
		p, msg := parseAliasPath(strings.TrimSpace(rec[1]))
		if msg != "" {
			e.add(&Error{Code: CodePath, Line: line, Msg: msg})
			continue
		}
		if ok { // namespace-level aliases (ok=false) are legitimate but name no type
			if _, seen := types[asciiLower(typ)]; !seen {
				types[asciiLower(typ)] = typ
			}
		}
		entries = append(entries, entry{&Alias{Name: name, ResourceType: typ, DefaultPath: p}, prop})
	}
}

// childSegment splits "x.rest" into x and rest; it fails when the first
// segment is an array ("x[*]...") or the whole property.
func childSegment(prop string) (x, rest string, ok bool) {
	i := strings.IndexAny(prop, ".[")
	if i <= 0 || prop[i] != '.' || i == len(prop)-1 {
		return "", "", false
	}
	return prop[:i], prop[i+1:], true
}

func pathHasKey(p value.Path, key string) bool {
	for _, s := range p {
		if !s.Any && strings.EqualFold(s.Key, key) {
			return true
		}
	}
	return false
}
