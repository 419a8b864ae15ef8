package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
)

// PolicyDefinitions serves built-ins loaded at start, read-only, as ARM
// resources under their real ids: the policy definitions
// (GET /providers/Microsoft.Authorization/policyDefinitions[/{name}]) or,
// made with NewPolicySetDefinitions, the initiatives
// (.../policySetDefinitions[/{name}]).
type PolicyDefinitions struct {
	byName   map[string]json.RawMessage
	names    []string
	notFound string // the error code of a missing name
	what     string // "policy definition" or "policy set definition"
}

// NewPolicyDefinitions indexes definitions (full resource JSON, with
// "name") by name.
func NewPolicyDefinitions(defs map[string]json.RawMessage) *PolicyDefinitions {
	return newBuiltIns(defs, "PolicyDefinitionNotFound", "policy definition")
}

// NewPolicySetDefinitions indexes initiatives (full resource JSON, with
// "name") by name.
func NewPolicySetDefinitions(sets map[string]json.RawMessage) *PolicyDefinitions {
	return newBuiltIns(sets, "PolicySetDefinitionNotFound", "policy set definition")
}

func newBuiltIns(defs map[string]json.RawMessage, notFound, what string) *PolicyDefinitions {
	p := &PolicyDefinitions{byName: map[string]json.RawMessage{}, notFound: notFound, what: what}
	for n, d := range defs {
		p.byName[strings.ToLower(n)] = d
		p.names = append(p.names, strings.ToLower(n))
	}
	sort.Strings(p.names)
	return p
}

// Len is the number of definitions.
func (p *PolicyDefinitions) Len() int { return len(p.names) }

// policyDefinitionsPage bounds a page of the list (ARM pages by nextLink).
const (
	policyDefinitionsPage      = 100
	policyDefinitionsPageBytes = 4 << 20
)

func (p *PolicyDefinitions) serve(w http.ResponseWriter, req *http.Request, id *arm.ID, publicURL string) {
	q, ok := readOnlyGET(w, req, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on built-in %ss: they are read-only.", req.Method, p.what))
	if !ok {
		return
	}
	if id.Trailing == "" {
		d, ok := p.byName[strings.ToLower(id.Name())]
		if !ok {
			writeError(w, 404, arm.Errorf(p.notFound, "The %s '%s' could not be found.", p.what, arm.Clip(id.Name(), 260)))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(d)
		return
	}
	// The list: pages of at most $top (≤ 100) definitions and 4 MiB plus
	// one definition, written one by one.
	limit, err := resources.ParseTop(q.Get("$top"), q.Has("$top"), policyDefinitionsPage)
	if err != nil {
		var ae *arm.Error
		errors.As(err, &ae)
		writeError(w, 400, ae)
		return
	}
	start := 0
	if t := q.Get("$skipToken"); t != "" {
		after, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil {
			writeError(w, 400, arm.Errorf("InvalidSkipToken", "The $skipToken '%s' is not valid.", arm.Clip(t, 64)))
			return
		}
		start = sort.SearchStrings(p.names, string(after))
		if start < len(p.names) && p.names[start] == string(after) {
			start++
		}
	}
	end, size := start, 0
	for end < len(p.names) && end-start < limit && (size < policyDefinitionsPageBytes || end == start) {
		size += len(p.byName[p.names[end]])
		end++
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	io.WriteString(w, `{"value":[`)
	for i, n := range p.names[start:end] {
		if i > 0 {
			io.WriteString(w, ",")
		}
		w.Write(p.byName[n])
	}
	io.WriteString(w, "]")
	if end < len(p.names) {
		qv := url.Values{}
		for k, v := range q {
			if k != "$skipToken" {
				qv[k] = v
			}
		}
		qv.Set("$skipToken", base64.RawURLEncoding.EncodeToString([]byte(p.names[end-1])))
		next, _ := json.Marshal(publicURL + strings.TrimSuffix(req.URL.Path, "/") + "?" + qv.Encode())
		io.WriteString(w, `,"nextLink":`)
		w.Write(next)
	}
	io.WriteString(w, "}")
}

// builtInsPath matches the tenant-level built-ins: "policyDefinitions"
// or "policySetDefinitions" (their list or one of them), else "".
func builtInsPath(id *arm.ID) string {
	if id.SubscriptionID != "" {
		return ""
	}
	var ns, typ string
	switch {
	case len(id.Parts) == 0:
		ns, typ = id.TrailingNamespace, id.Trailing
	case len(id.Parts) == 1 && id.Trailing == "":
		ns, typ = id.Parts[0].Namespace, id.Parts[0].Type
	default:
		return ""
	}
	if !strings.EqualFold(ns, "Microsoft.Authorization") {
		return ""
	}
	switch {
	case strings.EqualFold(typ, "policyDefinitions"):
		return "policyDefinitions"
	case strings.EqualFold(typ, "policySetDefinitions"):
		return "policySetDefinitions"
	}
	return ""
}
