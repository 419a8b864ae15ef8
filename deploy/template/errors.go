package template

import (
	"errors"
	"strings"

	"github.com/mlgov/mlgov/policy/expr"
)

// Error codes (ARM's, as deployment validation reports them).
const (
	CodeInvalidTemplate   = "InvalidTemplate"
	CodeInvalidParameter  = "InvalidTemplateParameter"
	CodeCircularReference = "CircularDependency"
	CodeNotSupported      = "NotSupported"
)

// Error is one problem of a template, at a JSON pointer into it
// ("/resources/2/properties/x", "/parameters/p/allowedValues").
type Error struct {
	Code    string
	Pointer string
	Func    string // the template function that failed, if any
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pointer)
	if b.Len() == 0 {
		b.WriteString("/")
	}
	b.WriteString(": ")
	if e.Func != "" {
		b.WriteString("template function '")
		b.WriteString(e.Func)
		b.WriteString("': ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList collects the errors of one template.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Err returns nil for an empty list, else the list.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// exprError turns an expression failure into an *Error at ptr.
func exprError(ptr string, err error) *Error {
	var te *Error
	if errors.As(err, &te) {
		if te.Pointer == "" {
			te.Pointer = ptr
		}
		return te
	}
	e := &Error{Code: CodeInvalidTemplate, Pointer: ptr, Message: err.Error()}
	var ee *expr.EvalError
	if errors.As(err, &ee) {
		e.Func, e.Message = ee.Func, ee.Msg
	}
	var se *expr.SyntaxError
	if errors.As(err, &se) {
		e.Message = se.Error()
	}
	return e
}

// ptrJoin appends an escaped JSON-pointer segment.
func ptrJoin(ptr, seg string) string {
	seg = strings.ReplaceAll(seg, "~", "~0")
	seg = strings.ReplaceAll(seg, "/", "~1")
	return ptr + "/" + seg
}
