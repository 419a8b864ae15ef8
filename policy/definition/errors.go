package definition

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Stable error codes. They are part of mlgov's interface (CLI output, API
// error bodies): never rename one.
const (
	CodeInvalidJSON          = "InvalidJSON"
	CodeInvalidShape         = "InvalidDefinitionShape"
	CodeMissingProperty      = "MissingProperty"
	CodeInvalidType          = "InvalidPropertyType"
	CodeUnknownProperty      = "UnknownProperty"
	CodeDuplicateKey         = "DuplicateKey"
	CodeInvalidParameter     = "InvalidParameterDefinition"
	CodeInvalidMode          = "InvalidMode"
	CodeInvalidCondition     = "InvalidCondition"
	CodeUnknownOperator      = "UnknownOperator"
	CodeInvalidOperand       = "InvalidOperand"
	CodeInvalidField         = "InvalidField"
	CodeUnknownAlias         = "UnknownAlias"
	CodeInvalidExpression    = "InvalidExpression"
	CodeUnknownFunction      = "UnknownFunction"
	CodeUnknownParameter     = "UnknownParameter"
	CodeInvalidEffect        = "InvalidEffect"
	CodeInvalidDetails       = "InvalidEffectDetails"
	CodeNotModifiable        = "AliasNotModifiable"
	CodeLimitExceeded        = "LimitExceeded"
	CodeInvalidCount         = "InvalidCount"
	CodeParameterValue       = "InvalidParameterValue"
	CodeMissingParameter     = "MissingParameterValue"
	CodeParameterNotAllowed  = "PolicyParameterValueNotAllowed"
	CodeInvalidSetDefinition = "InvalidPolicySetDefinition"
	CodeUnresolvedReference  = "UnresolvedDefinitionReference"
)

// Error is one problem in a definition, located by a JSON pointer (RFC
// 6901) into the document as given (e.g. /properties/policyRule/if/allOf/2).
type Error struct {
	Pointer string
	Code    string
	Message string
}

func (e *Error) Error() string {
	p := e.Pointer
	if p == "" {
		p = "/"
	}
	return fmt.Sprintf("%s: %s: %s", p, e.Code, e.Message)
}

// ErrorList collects errors; its order is the order found, Sort orders by
// pointer.
type ErrorList []*Error

// maxErrors caps how many errors one document reports.
const maxErrors = 50

// Add appends an error (up to the cap).
func (l *ErrorList) Add(ptr, code, format string, args ...any) {
	if len(*l) >= maxErrors {
		return
	}
	*l = append(*l, &Error{Pointer: ptr, Code: code, Message: fmt.Sprintf(format, args...)})
}

// Sort orders the list by pointer, stably.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Pointer < l[j].Pointer })
}

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (and %d more errors)", l[0].Error(), len(l)-1)
	return b.String()
}

// Err returns nil for an empty list, else the list as an error.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Pointer builds JSON pointers.
type Pointer string

// Key appends an object key, escaping '~' and '/'.
func (p Pointer) Key(k string) Pointer {
	k = strings.ReplaceAll(k, "~", "~0")
	k = strings.ReplaceAll(k, "/", "~1")
	return p + "/" + Pointer(k)
}

// Index appends an array index.
func (p Pointer) Index(i int) Pointer { return p + "/" + Pointer(strconv.Itoa(i)) }

// String returns the pointer text.
func (p Pointer) String() string { return string(p) }
