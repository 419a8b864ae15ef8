package api

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/resources"
)

// Providers answers ARM's resource-provider reads — what `az provider
// show --namespace NS --expand "resourceTypes/aliases"` and
// @azure/arm-resources' providers.get and providers.list call:
//
//	GET /subscriptions/{s}/providers[/{namespace}]   GET /providers[/{namespace}]
//
// from the types mlgov serves (resources.Registry: registrationState
// Registered, their api-versions and locations) and the alias catalogs
// loaded at start (namespaces known only to a catalog are NotRegistered:
// their aliases can be discovered, their resources are not served).
// Aliases are listed with $expand=resourceTypes/aliases only, as in ARM.
type Providers struct {
	Registry  *resources.Registry
	Catalog   *alias.Catalog
	Locations []string
}

// providersPath recognises a provider read: /subscriptions/{s}/providers,
// /subscriptions/{s}/providers/{ns}, /providers and /providers/{ns}.
func providersPath(p string) (sub, ns string, ok bool) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if len(segs) >= 2 && strings.EqualFold(segs[0], "subscriptions") {
		sub, segs = segs[1], segs[2:]
	}
	switch {
	case len(segs) == 1 && strings.EqualFold(segs[0], "providers"):
		return sub, "", true
	case len(segs) == 2 && strings.EqualFold(segs[0], "providers") && segs[1] != "":
		return sub, segs[1], true
	}
	return "", "", false
}

// provider is the ARM Provider shape.
type provider struct {
	ID                 string         `json:"id,omitempty"`
	Namespace          string         `json:"namespace"`
	RegistrationState  string         `json:"registrationState"`
	RegistrationPolicy string         `json:"registrationPolicy"`
	ResourceTypes      []providerType `json:"resourceTypes"`
}

type providerType struct {
	ResourceType string          `json:"resourceType"`
	Locations    []string        `json:"locations"`
	APIVersions  []string        `json:"apiVersions"`
	Capabilities string          `json:"capabilities,omitempty"`
	Aliases      []providerAlias `json:"aliases,omitempty"`
}

type providerAlias struct {
	Name            string              `json:"name"`
	Paths           []providerAliasPath `json:"paths"`
	Type            string              `json:"type"`
	DefaultPath     string              `json:"defaultPath"`
	DefaultMetadata *aliasMetadata      `json:"defaultMetadata,omitempty"`
}

type providerAliasPath struct {
	Path        string         `json:"path"`
	APIVersions []string       `json:"apiVersions"`
	Metadata    *aliasMetadata `json:"metadata,omitempty"`
}

type aliasMetadata struct {
	Type       string `json:"type"`
	Attributes string `json:"attributes"`
}

func (p *Providers) serve(w http.ResponseWriter, req *http.Request, sub, ns string) {
	q, ok := readOnlyGET(w, req, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on resource providers; mlgov serves their reads only.", req.Method))
	if !ok {
		return
	}
	withAliases := false
	if e := q.Get("$expand"); e != "" {
		if !strings.EqualFold(e, "resourceTypes/aliases") {
			writeError(w, 400, arm.Errorf("InvalidQueryParameter", "The value '%s' of query parameter '$expand' is not supported; use 'resourceTypes/aliases'.", arm.Clip(e, 100)))
			return
		}
		withAliases = true
	}
	if ns == "" {
		var out []provider
		for _, n := range p.namespaces() {
			out = append(out, p.provider(sub, n, withAliases))
		}
		writeJSON(w, 200, map[string]any{"value": out})
		return
	}
	for _, n := range p.namespaces() {
		if strings.EqualFold(n, ns) {
			writeJSON(w, 200, p.provider(sub, n, withAliases))
			return
		}
	}
	writeError(w, 404, arm.Errorf("InvalidResourceNamespace", "The resource namespace '%s' is invalid: mlgov neither serves it nor has aliases for it.", arm.Clip(ns, 100)))
}

// namespaces are those served and those of the catalog, sorted.
func (p *Providers) namespaces() []string {
	var out []string
	add := func(n string) {
		if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, n) }) {
			out = append(out, n)
		}
	}
	if p.Registry != nil {
		for _, n := range p.Registry.Namespaces() {
			add(n)
		}
	}
	for _, t := range p.Catalog.Types() {
		if ns, _, ok := strings.Cut(t, "/"); ok {
			add(ns)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return out
}

func (p *Providers) provider(sub, ns string, withAliases bool) provider {
	served := p.Registry != nil && p.Registry.ServesNamespace(ns)
	pr := provider{Namespace: ns, RegistrationState: "NotRegistered", RegistrationPolicy: "RegistrationRequired", ResourceTypes: []providerType{}}
	if served {
		pr.RegistrationState = "Registered"
	}
	if sub != "" {
		pr.ID = "/subscriptions/" + sub + "/providers/" + ns
	}
	types := map[string]*providerType{} // by lower-cased type below the namespace
	var order []string
	typ := func(full string) *providerType {
		_, rest, _ := strings.Cut(full, "/")
		k := strings.ToLower(rest)
		if t, ok := types[k]; ok {
			return t
		}
		t := &providerType{ResourceType: rest, Locations: []string{}, APIVersions: []string{}}
		types[k] = t
		order = append(order, k)
		return t
	}
	if served {
		for _, full := range p.Registry.Types() {
			if n, _, _ := strings.Cut(full, "/"); !strings.EqualFold(n, ns) {
				continue
			}
			spec, _ := p.Registry.Lookup(full)
			t := typ(spec.Type)
			t.APIVersions = append(t.APIVersions, spec.APIVersions...)
			if spec.Tracked {
				t.Locations = append(t.Locations, p.Locations...)
				t.Capabilities = "SupportsTags, SupportsLocation"
			}
		}
	}
	for _, full := range p.Catalog.Types() {
		if n, _, _ := strings.Cut(full, "/"); !strings.EqualFold(n, ns) {
			continue
		}
		t := typ(full)
		if rt, ok := p.Catalog.Type(full); ok && rt.CapabilitiesKnown && t.Capabilities == "" {
			var caps []string
			if rt.SupportsTags {
				caps = append(caps, "SupportsTags")
			}
			if rt.SupportsLocation {
				caps = append(caps, "SupportsLocation")
			}
			t.Capabilities = strings.Join(caps, ", ")
		}
		if !withAliases {
			continue
		}
		for _, a := range p.Catalog.AliasesOf(full) {
			t.Aliases = append(t.Aliases, aliasOut(a))
		}
	}
	slices.Sort(order)
	for _, k := range order {
		pr.ResourceTypes = append(pr.ResourceTypes, *types[k])
	}
	return pr
}

func aliasOut(a *alias.Alias) providerAlias {
	out := providerAlias{Name: a.Name, Type: "NotSpecified", DefaultPath: a.DefaultPath.String(), Paths: []providerAliasPath{}}
	if a.MetadataKnown {
		out.DefaultMetadata = &aliasMetadata{Type: cmp.Or(a.Type, "NotSpecified"), Attributes: attributes(a.Modifiable)}
	}
	for _, vp := range a.Paths {
		pp := providerAliasPath{Path: vp.Path.String(), APIVersions: vp.APIVersions}
		if pp.APIVersions == nil {
			pp.APIVersions = []string{}
		}
		if a.MetadataKnown {
			pp.Metadata = &aliasMetadata{Type: cmp.Or(a.Type, "NotSpecified"), Attributes: attributes(vp.Modifiable)}
		}
		out.Paths = append(out.Paths, pp)
	}
	return out
}

func attributes(modifiable bool) string {
	if modifiable {
		return "Modifiable"
	}
	return "None"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, 500, &arm.Error{Code: "InternalServerError", Message: "The answer could not be encoded."})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// operationsPath recognises a provider's operations list:
// /providers/{namespace}/operations.
func operationsPath(p string) (ns string, ok bool) {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if len(segs) == 3 && strings.EqualFold(segs[0], "providers") && strings.EqualFold(segs[2], "operations") && segs[1] != "" {
		return segs[1], true
	}
	return "", false
}

// serveOperations answers GET /providers/{ns}/operations (the
// OperationListResult of every resource provider; @azure/arm-machinelearning's
// operations.list) from what mlgov serves of the namespace.
func (p *Providers) serveOperations(w http.ResponseWriter, req *http.Request, ns string) {
	if _, ok := readOnlyGET(w, req, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on a provider's operations list.", req.Method)); !ok {
		return
	}
	if p.Registry == nil || !p.Registry.ServesNamespace(ns) {
		writeError(w, 404, arm.Errorf("InvalidResourceNamespace", "The resource namespace '%s' is not one mlgov serves.", arm.Clip(ns, 100)))
		return
	}
	ops := p.Registry.Operations(ns)
	provider := "Microsoft " + splitCamel(strings.TrimPrefix(ops[0].Name[:strings.IndexByte(ops[0].Name, '/')], "Microsoft."), false)
	out := make([]map[string]any, 0, len(ops))
	for _, o := range ops {
		verb, _, _ := strings.Cut(o.Verb, "/")
		desc := map[string]string{"read": "Reads", "write": "Creates or updates", "delete": "Deletes"}[verb]
		if desc == "" {
			desc = "Runs the " + verb + " action on"
		}
		out = append(out, map[string]any{
			"name": o.Name, "isDataAction": false, "origin": "user,system",
			"display": map[string]string{"provider": provider, "resource": words(o.Resource), "operation": words(verb) + " " + words(o.Resource),
				"description": desc + " " + words(o.Resource) + "."},
		})
	}
	writeJSON(w, 200, map[string]any{"value": out})
}

// words turns a camel-cased type or verb into words: "onlineEndpoints/deployments"
// -> "online endpoints deployments".
func words(s string) string { return splitCamel(s, true) }

// splitCamel puts a space before each inner capital and for each '/',
// lower-casing the capitals if lower.
func splitCamel(s string, lower bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '/':
			b.WriteByte(' ')
		case r >= 'A' && r <= 'Z' && i > 0 && s[i-1] != '/':
			b.WriteByte(' ')
			if lower {
				r += 'a' - 'A'
			}
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// readOnlyGET is the guard of the read-only handlers (built-in
// definitions, providers, operations, role definitions): a method other
// than GET is refused with notAllowed (405), a request without an
// api-version with MissingApiVersionParameter; ok is false when it
// answered.
func readOnlyGET(w http.ResponseWriter, req *http.Request, notAllowed *arm.Error) (q url.Values, ok bool) {
	if req.Method != "GET" && req.Method != "HEAD" {
		writeError(w, 405, notAllowed)
		return nil, false
	}
	q = req.URL.Query()
	if q.Get("api-version") == "" {
		writeError(w, 400, arm.Errorf("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."))
		return nil, false
	}
	return q, true
}
