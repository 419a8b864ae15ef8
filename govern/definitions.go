package govern

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// The list of policy definitions (or set definitions) at a subscription,
// as Azure gives it: the built-ins, then the subscription's own
// (`az policy definition list` shows both), with the $filter forms of the
// REST API: atExactScope() (the subscription's own only),
// policyType eq '{BuiltIn|Custom|Static|NotSpecified}' and
// category eq '{category}'.

// definitionsListPage is the default page size of the list.
const definitionsListPage = 100

// isDefinitionsList reports whether id is the list of policy definitions
// or set definitions of a subscription.
func isDefinitionsList(id *arm.ID) (set, ok bool) {
	if id.SubscriptionID == "" || id.ResourceGroup != "" || len(id.Parts) != 0 || !arm.EqualName(id.TrailingNamespace, "Microsoft.Authorization") {
		return false, false
	}
	switch strings.ToLower(id.Trailing) {
	case "policydefinitions":
		return false, true
	case "policysetdefinitions":
		return true, true
	}
	return false, false
}

// definitionsFilter is a parsed $filter of the list.
type definitionsFilter struct {
	exactScope           bool
	policyType, category string // lower-cased; "" does not filter
}

var definitionsFilterForms = regexp.MustCompile(`^(?i:\s*(?:(atexactscope)\(\s*\)|(policytype|category)\s+eq\s+'([^']*)')\s*)$`)

func parseDefinitionsFilter(s string) (definitionsFilter, error) {
	var f definitionsFilter
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	m := definitionsFilterForms.FindStringSubmatch(s)
	if m == nil {
		return f, arm.Errorf("InvalidFilterInQueryString", "The $filter '%s' is not supported: use atExactScope(), policyType eq '{value}' or category eq '{value}'.", arm.Clip(s, 200))
	}
	switch strings.ToLower(m[2]) {
	case "policytype":
		f.policyType = strings.ToLower(m[3])
		switch f.policyType {
		case "builtin", "custom", "static", "notspecified":
		default:
			return f, arm.Errorf("InvalidFilterInQueryString", "The policyType '%s' in $filter is not valid: use BuiltIn, Custom, Static or NotSpecified.", arm.Clip(m[3], 64))
		}
	case "category":
		f.category = strings.ToLower(m[3])
	default:
		f.exactScope = true
	}
	return f, nil
}

// filterFields are what the filter reads of a definition: its
// policyType and metadata.category, lower-cased.
type filterFields struct{ policyType, category string }

func filterFieldsOf(body []byte) filterFields {
	v, err := value.Parse(body)
	if err != nil {
		return filterFields{}
	}
	props := v.Field("properties")
	return filterFields{strings.ToLower(props.Field("policyType").Str()), strings.ToLower(props.Field("metadata").Field("category").Str())}
}

// keeps reports whether a definition's fields pass f (fields is called
// only when f filters on them).
func (f definitionsFilter) keeps(fields func() filterFields) bool {
	if f.policyType == "" && f.category == "" {
		return true
	}
	ff := fields()
	return (f.policyType == "" || ff.policyType == f.policyType) && (f.category == "" || ff.category == f.category)
}

// builtinFields returns the filter fields of the built-in definitions
// (set: initiatives) by name, read once.
func (b *Builtins) builtinFields(set bool) map[string]filterFields {
	b.fieldsOnce.Do(func() {
		b.fields = [2]map[string]filterFields{{}, {}}
		for i, raw := range []map[string]json.RawMessage{b.defs, b.sets} {
			for n, d := range raw {
				b.fields[i][n] = filterFieldsOf(d)
			}
		}
	})
	if set {
		return b.fields[1]
	}
	return b.fields[0]
}

// listDefinitions answers the list: pages of $top (default 100) items,
// the built-ins by name first, then the subscription's own by key; the
// $skipToken says which part and where ("b" or "c", then the last name or
// key).
func (g *Governor) listDefinitions(ctx context.Context, r *resources.Request, set bool) (*resources.Response, error) {
	if r.Method != "GET" {
		return nil, arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on a list of %s.", r.Method, r.ID.Trailing)
	}
	f, err := parseDefinitionsFilter(r.Query.Get("$filter"))
	if err != nil {
		return nil, err
	}
	limit, err := resources.ParseTop(r.Query.Get("$top"), r.Query.Has("$top"), definitionsListPage)
	if err != nil {
		return nil, err
	}
	phase, after := byte('b'), ""
	if t := r.Query.Get("$skipToken"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil || len(b) < 1 || (b[0] != 'b' && b[0] != 'c') {
			return nil, arm.Errorf("InvalidSkipToken", "The $skipToken '%s' is not valid: use the nextLink of the previous page as it is.", arm.Clip(t, 64))
		}
		phase, after = b[0], string(b[1:])
	}
	page := &resources.Response{List: true}
	last := ""
	if phase == 'b' && !f.exactScope && f.policyType != "custom" {
		raw := g.builtins.defs
		if set {
			raw = g.builtins.sets
		}
		fields := func(n string) func() filterFields {
			return func() filterFields { return g.builtins.builtinFields(set)[n] }
		}
		names := make([]string, 0, len(raw))
		for n := range raw {
			if n > after {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			if len(page.Items) == limit {
				page.Next = encodeToken('b', last)
				return page, nil
			}
			if f.keeps(fields(n)) {
				page.Items = append(page.Items, raw[n])
				last = n
			}
		}
		after = ""
	}
	// The subscription's own, after the key of the token ("": from the
	// first).
	last = after
	typ := TypeDefinition
	if set {
		typ = TypeSetDefinition
	}
	prefix := arm.KeyOf("/subscriptions/"+r.ID.SubscriptionID+"/providers/"+typ) + "/"
	q := store.ListQuery{KeyPrefix: prefix, TypeKey: arm.KeyOf(typ), After: after, Limit: limit + 1}
	for res, err := range store.ListAll(ctx, g.st, q) {
		if err != nil {
			return nil, err
		}
		if len(page.Items) == limit {
			page.Next = encodeToken('c', last)
			break
		}
		if f.keeps(func() filterFields { return filterFieldsOf(res.Body) }) {
			page.Items = append(page.Items, res.Body)
			last = res.Key
		}
	}
	return page, nil
}

func encodeToken(phase byte, after string) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{phase}, after...))
}
