package expr

import (
	"encoding/base64"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/mlgov/mlgov/policy/value"
)

// Encoding functions: base64, data URIs, URIs and json().
// Source: template-functions-string.md, template-functions-object.md.

func fnBase64(args []value.Value) (value.Value, error) {
	s, err := strArg("base64", args, 0)
	if err != nil {
		return value.Value{}, err
	}
	r := base64.StdEncoding.EncodeToString([]byte(s))
	if err := checkString("base64", r); err != nil {
		return value.Value{}, err
	}
	return value.StringValue(r), nil
}

// decodeBase64 decodes standard base64 (padding required, white space
// ignored, like .NET Convert.FromBase64String) to text; invalid UTF-8 is
// replaced with U+FFFD as .NET's UTF-8 decoder does.
func decodeBase64(fn, s string) (string, error) {
	if strings.ContainsAny(s, " \t\r\n") {
		s = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", failf(fn, "the value is not valid base64: %v", err)
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	}
	return string(b), nil
}

func fnBase64ToString(args []value.Value) (value.Value, error) {
	const fn = "base64ToString"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	r, err := decodeBase64(fn, s)
	if err != nil {
		return value.Value{}, err
	}
	return value.StringValue(r), nil
}

func fnBase64ToJSON(args []value.Value) (value.Value, error) {
	const fn = "base64ToJson"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	r, err := decodeBase64(fn, s)
	if err != nil {
		return value.Value{}, err
	}
	return parseJSON(fn, r)
}

// json(arg1) parses a JSON string; json('null') is null.
func fnJSON(args []value.Value) (value.Value, error) {
	const fn = "json"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	return parseJSON(fn, s)
}

func parseJSON(fn, s string) (value.Value, error) {
	v, err := value.ParseString(s)
	if err != nil {
		return value.Value{}, failf(fn, "%s(): the value is not valid JSON: %v", fn, err)
	}
	return v, nil
}

const dataURIPrefix = "data:text/plain;charset=utf8;base64,"

// dataUri(stringToConvert): documented output
// "data:text/plain;charset=utf8;base64,<base64>".
func fnDataURI(args []value.Value) (value.Value, error) {
	s, err := strArg("dataUri", args, 0)
	if err != nil {
		return value.Value{}, err
	}
	r := dataURIPrefix + base64.StdEncoding.EncodeToString([]byte(s))
	if err := checkString("dataUri", r); err != nil {
		return value.Value{}, err
	}
	return value.StringValue(r), nil
}

// dataUriToString(dataUriToConvert) decodes "data:[<media type>][;base64],<data>".
func fnDataURIToString(args []value.Value) (value.Value, error) {
	const fn = "dataUriToString"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	if len(s) < 5 || !strings.EqualFold(s[:5], "data:") {
		return value.Value{}, failf(fn, "the value is not a data URI (it must start with 'data:')")
	}
	meta, data, ok := strings.Cut(s[5:], ",")
	if !ok {
		return value.Value{}, failf(fn, "the data URI has no ',' before its data")
	}
	if strings.HasSuffix(strings.ToLower(meta), ";base64") {
		r, err := decodeBase64(fn, data)
		if err != nil {
			return value.Value{}, err
		}
		return value.StringValue(r), nil
	}
	return value.StringValue(unescapeData(data)), nil
}

// uri(baseUri, relativeUri) resolves relativeUri against baseUri as RFC
// 3986 section 5 specifies (documented; the doc's trailing-slash examples
// are consequences of it). baseUri must be absolute.
func fnURI(args []value.Value) (value.Value, error) {
	const fn = "uri"
	base, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	rel, err := strArg(fn, args, 1)
	if err != nil {
		return value.Value{}, err
	}
	b, err := url.Parse(base)
	if err != nil || !b.IsAbs() || b.Host == "" && b.Opaque != "" {
		return value.Value{}, failf(fn, "baseUri '%s' is not an absolute URI", base)
	}
	r, err := url.Parse(rel)
	if err != nil {
		return value.Value{}, failf(fn, "relativeUri '%s' is not a valid URI reference", rel)
	}
	out := b.ResolveReference(r).String()
	if err := checkString(fn, out); err != nil {
		return value.Value{}, err
	}
	return value.StringValue(out), nil
}

// uriComponent(stringToEncode) percent-encodes everything except RFC 3986
// unreserved characters, with upper-case hex (.NET Uri.EscapeDataString).
func fnURIComponent(args []value.Value) (value.Value, error) {
	const fn = "uriComponent"
	s, err := strArg(fn, args, 0)
	if err != nil {
		return value.Value{}, err
	}
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return args[0], nil
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	r := string(b)
	if err := checkString(fn, r); err != nil {
		return value.Value{}, err
	}
	return value.StringValue(r), nil
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// uriComponentToString(uriEncodedString) decodes %XX escapes; invalid
// escapes are kept as they are and '+' is not a space (.NET
// Uri.UnescapeDataString).
func fnURIComponentToString(args []value.Value) (value.Value, error) {
	s, err := strArg("uriComponentToString", args, 0)
	if err != nil {
		return value.Value{}, err
	}
	if strings.IndexByte(s, '%') < 0 {
		return args[0], nil
	}
	return value.StringValue(unescapeData(s)), nil
}

func unescapeData(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
