package alias

import (
	"strconv"
	"strings"
)

// Error codes. They are stable: callers and tests may match on them.
const (
	CodeRead          = "ReadError"     // the file could not be read or decompressed
	CodeEmpty         = "EmptyInput"    // no content
	CodeUnknownFormat = "UnknownFormat" // content is neither ARM JSON nor CSV
	CodeSyntax        = "InvalidJSON"   // malformed JSON (Line/Column set)
	CodeShape         = "InvalidShape"  // a JSON value of the wrong kind (object/array/string...)
	CodeMissing       = "MissingField"  // a required member is absent, null or empty
	CodePath          = "InvalidPath"   // an alias path that value.ParsePath rejects
	CodeName          = "InvalidName"   // an alias or resource type name that is not well formed
	CodeCSV           = "InvalidCSV"    // malformed CSV record (Line set)
	CodeTooManyErrors = "TooManyErrors" // error collection stopped
)

// maxErrors bounds the number of errors collected from one input.
const maxErrors = 100

// Error is one problem found while loading a catalog. It names the file and
// the place: a JSON pointer (RFC 6901) for JSON input, a line (and column for
// syntax errors) for CSV and malformed JSON.
type Error struct {
	Code    string
	File    string // the name given to Parse or LoadFile
	Pointer string // JSON pointer of the bad element; "" for CSV or syntax errors
	Line    int    // 1-based; 0 when unknown
	Column  int    // 1-based; 0 when unknown
	Msg     string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
			if e.Column > 0 {
				b.WriteByte(':')
				b.WriteString(strconv.Itoa(e.Column))
			}
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Pointer != "" {
		b.WriteString(e.Pointer)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is the error returned by Parse and LoadFile when the input has
// problems: every problem found (up to a bound), in input order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	b.WriteString(l[0].Error())
	b.WriteString(" (and ")
	b.WriteString(strconv.Itoa(len(l) - 1))
	b.WriteString(" more errors)")
	return b.String()
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// errs collects errors for one input.
type errs struct {
	file string
	list ErrorList
	full bool
}

func (c *errs) add(e *Error) {
	if c.full {
		return
	}
	e.File = c.file
	if len(c.list) == maxErrors {
		c.list = append(c.list, &Error{Code: CodeTooManyErrors, File: c.file, Msg: "too many errors; stopped collecting"})
		c.full = true
		return
	}
	c.list = append(c.list, e)
}

func (c *errs) at(ptr, code, msg string) {
	c.add(&Error{Code: code, Pointer: ptr, Msg: msg})
}

func (c *errs) err() error {
	if len(c.list) == 0 {
		return nil
	}
	return c.list
}

// pointer building (RFC 6901 escaping).

func ptrKey(base, key string) string {
	if strings.ContainsAny(key, "~/") {
		key = strings.ReplaceAll(key, "~", "~0")
		key = strings.ReplaceAll(key, "/", "~1")
	}
	return base + "/" + key
}

func ptrIndex(base string, i int) string {
	return base + "/" + strconv.Itoa(i)
}
