package alias

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// maxDecompressed bounds what a gzipped input may expand to.
const maxDecompressed = 1 << 30

// LoadFile reads a catalog file. The format is detected from the content, not
// the name: gzip is undone first (gzip magic), then JSON (an array of
// providers, {"value": [providers]} or one provider object) or CSV
// (name,defaultPath). On problems it returns an ErrorList together with a
// catalog of everything that did load.
func LoadFile(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{{Code: CodeRead, File: path, Msg: err.Error()}}
	}
	return Parse(data, path)
}

// Parse reads a catalog from bytes; name is used in error messages. Format
// detection is the same as LoadFile's. The returned catalog is never nil
// when err is an ErrorList of content problems: it holds the entries that
// loaded.
func Parse(data []byte, name string) (*Catalog, error) {
	e := &errs{file: name}
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			e.at("", CodeRead, "gzip: "+err.Error())
			return NewCatalog(), e.err()
		}
		out, err := io.ReadAll(io.LimitReader(zr, maxDecompressed+1))
		if err != nil {
			e.at("", CodeRead, "gzip: "+err.Error())
			return NewCatalog(), e.err()
		}
		if len(out) > maxDecompressed {
			e.at("", CodeRead, fmt.Sprintf("gzip: content larger than %d bytes", maxDecompressed))
			return NewCatalog(), e.err()
		}
		data = out
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		e.at("", CodeEmpty, "no content")
		return NewCatalog(), e.err()
	}
	b := newBuilder()
	switch trimmed[0] {
	case '[', '{':
		parseJSON(data, b, e)
	default:
		if !looksLikeCSV(trimmed) {
			e.at("", CodeUnknownFormat, "not an ARM providers JSON document nor a name,defaultPath CSV")
			return NewCatalog(), e.err()
		}
		parseCSV(data, b, e)
	}
	return b.build(), e.err()
}

// looksLikeCSV reports whether the first line has a comma: both CSV layouts
// (with or without header) have one.
func looksLikeCSV(data []byte) bool {
	line := data
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		line = data[:i]
	}
	return bytes.IndexByte(line, ',') > 0
}

// parseAliasPath parses an alias path, turning value.ParsePath's error into
// a message that names the path.
func parseAliasPath(s string) (value.Path, string) {
	if strings.TrimSpace(s) == "" {
		return nil, "empty path"
	}
	p, err := value.ParsePath(s)
	if err != nil {
		msg := err.Error()
		if rest, ok := strings.CutPrefix(msg, fmt.Sprintf("path %q: ", s)); ok {
			msg = rest
		}
		return nil, fmt.Sprintf("invalid path %q: %s", s, msg)
	}
	return p, ""
}

// SplitName splits an alias name into its resource type and property part:
// <Namespace>/<type>[/<childType>...]/<property>. The type ends at the last
// '/' before the property syntax starts (the first '.' or '[' after the
// namespace), so a property may itself contain '/' (inside brackets, say).
// Names with a single '/' before the property (namespace-level aliases such
// as Microsoft.Compute/imagePublisher) yield the bare namespace and
// ok=false; names with no '/' yield ok=false and an empty type.
func SplitName(name string) (resourceType, property string, ok bool) {
	ns := strings.IndexByte(name, '/')
	if ns <= 0 {
		return "", name, false
	}
	cut := len(name)
	if i := strings.IndexAny(name[ns+1:], ".["); i >= 0 {
		cut = ns + 1 + i
	}
	last := strings.LastIndexByte(name[:cut], '/')
	if last == ns {
		return name[:ns], name[ns+1:], false
	}
	return name[:last], name[last+1:], true
}
