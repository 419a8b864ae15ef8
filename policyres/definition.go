package policyres

import (
	"context"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// BuildDefinition validates a policyDefinitions PUT body (the full ARM
// body: {"properties": {...}}; id, name and type in it are ignored) for
// the resource id and returns the properties to store:
//
//	displayName, policyType ("Custom", whatever the body says: the
//	property is read-only), mode (as given; "Indexed" when absent, as
//	Azure defaults it), description, metadata (with createdBy, createdOn,
//	updatedBy, updatedOn), version, parameters, policyRule.
//
// Other properties are dropped. The rule is compiled with opts.Aliases;
// every problem is reported (the first as the error, all as Details).
// existing is the stored body (Undefined on create); r is not used.
func BuildDefinition(ctx context.Context, id *arm.ID, body, existing value.Value, r Resolver, opts Options) (value.Value, error) {
	var e errs
	p, ok := properties(body, &e)
	if !ok {
		return value.Value{}, e.err()
	}
	displayName, _ := optString(p, "displayName", props, 128, &e)
	description, _ := optString(p, "description", props, 512, &e)
	version, _ := optString(p, "version", props, 0, &e)
	optString(p, "policyType", props, 0, &e)
	mode, hasMode := optString(p, "mode", props, 0, &e)
	if hasMode && !validMode(mode) {
		e.add(CodeInvalidPolicyDefinitionMode, props.Key("mode"), "The policy definition mode '%s' is not valid: expected 'All', 'Indexed' or a resource provider mode such as 'Microsoft.KeyVault.Data'.", arm.Clip(mode, 100))
	}
	if !hasMode {
		mode = "Indexed"
	}
	rule, hasRule := p.Get("policyRule")
	switch {
	case !hasRule || rule.Kind() == value.Null:
		e.add(CodeInvalidRequestContent, props.Key("policyRule"), "The request content was invalid and could not be deserialized: the policy definition has no 'policyRule'.")
	case rule.Kind() != value.Object:
		e.add(CodeInvalidPolicyRule, props.Key("policyRule"), "Failed to parse policy rule: the policy rule must be a JSON object {\"if\": ..., \"then\": ...}, got %s.", kindName(rule))
	}
	md := metadata(p, existing, &opts, &e)
	if len(e) > 0 {
		return value.Value{}, e.err()
	}
	doc, err := definition.FromValue(body)
	if err != nil {
		addDefinitionErrors(err, opts.Aliases, &e)
		return value.Value{}, e.err()
	}
	if doc.Kind != definition.KindPolicy {
		e.add(CodeInvalidRequestContent, props.Key("policyRule"), "The request content was invalid and could not be deserialized: the policy definition has no 'policyRule'.")
		return value.Value{}, e.err()
	}
	d := doc.Policy
	d.ID, d.Name, d.Mode = id.String(), id.Name(), mode
	if err := compileDefinition(d, opts.Aliases); err != nil {
		addDefinitionErrors(err, opts.Aliases, &e)
	}
	checkUnused(d.Parameters, rule, &e)
	if len(e) > 0 {
		return value.Value{}, e.err()
	}
	b := value.NewObjectBuilder(8)
	addString(&b, "displayName", displayName)
	b.Add("policyType", value.StringValue("Custom"))
	b.Add("mode", value.StringValue(mode))
	addString(&b, "description", description)
	b.Add("metadata", md)
	addString(&b, "version", version)
	if pv := p.Field("parameters"); pv.Kind() == value.Object {
		b.Add("parameters", pv)
	}
	b.Add("policyRule", rule)
	return b.Object(), nil
}

// validMode: All, Indexed (any case) or a resource provider mode.
func validMode(m string) bool {
	if _, ok := enum(m, "All", "Indexed"); ok {
		return true
	}
	l := strings.ToLower(m)
	return strings.HasPrefix(l, "microsoft.") && strings.HasSuffix(l, ".data") && len(l) > len("microsoft..data") && !strings.ContainsAny(m, " /")
}

// compileDefinition compiles d strictly (unknown aliases are errors) with
// missing parameter values allowed (an assignment supplies them).
func compileDefinition(d *definition.Definition, cat *alias.Catalog) error {
	_, err := policy.Compile(d, policy.Options{Aliases: cat, Strict: cat != nil, AllowMissingParameters: true})
	return err
}

// addDefinitionErrors maps the engine's errors to refusals, dropping
// unknown aliases of namespaces the catalog does not know.
func addDefinitionErrors(err error, cat *alias.Catalog, e *errs) {
	list, ok := err.(definition.ErrorList)
	if !ok {
		e.add(CodeInvalidPolicyRule, props.Key("policyRule"), "Failed to parse policy rule: %v", err)
		return
	}
	var nss map[string]bool
	for _, de := range list {
		if de.Code == definition.CodeUnknownAlias {
			if nss == nil {
				nss = namespaces(cat)
			}
			if name := quoted(de.Message); strings.Contains(name, "/") && !nss[strings.ToLower(name[:strings.IndexByte(name, '/')])] {
				continue
			}
			e.add(CodeInvalidPolicyAlias, definition.Pointer(de.Pointer), "The policy definition rule is invalid: %s.", strings.TrimSuffix(strings.Replace(de.Message, ": it is not in the loaded alias catalogs (load one with --aliases)", "", 1), "."))
			continue
		}
		e.add(mapCode(de), definition.Pointer(de.Pointer), "%s", de.Message)
	}
}

// mapCode maps an engine error to the service's code: specific codes
// directly, generic ones by where they are.
func mapCode(de *definition.Error) string {
	switch de.Code {
	case definition.CodeInvalidJSON, definition.CodeDuplicateKey:
		return CodeInvalidRequestContent
	case definition.CodeInvalidMode:
		return CodeInvalidPolicyDefinitionMode
	case definition.CodeUnknownAlias:
		return CodeInvalidPolicyAlias
	case definition.CodeInvalidParameter, definition.CodeUnknownParameter:
		return CodeInvalidPolicyParameters
	case definition.CodeParameterValue:
		return CodeInvalidPolicyParameterType
	case definition.CodeMissingParameter:
		return CodeMissingPolicyParameter
	case definition.CodeParameterNotAllowed:
		return CodePolicyParameterValueNotAllowed
	case definition.CodeUnresolvedReference:
		return CodePolicyDefinitionNotFound
	}
	switch {
	case strings.HasPrefix(de.Pointer, "/properties/policyRule"):
		return CodeInvalidPolicyRule
	case strings.HasPrefix(de.Pointer, "/properties/parameters"):
		return CodeInvalidPolicyParameters
	}
	return CodeInvalidRequestContent
}

// quoted returns the first '...' in s.
func quoted(s string) string {
	i := strings.IndexByte(s, '\'')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(s[i+1:], '\'')
	if j < 0 {
		return ""
	}
	return s[i+1 : i+1+j]
}

// namespaces lists the catalog's resource provider namespaces, lower-cased.
func namespaces(cat *alias.Catalog) map[string]bool {
	out := map[string]bool{}
	for _, t := range cat.Types() {
		if i := strings.IndexByte(t, '/'); i > 0 {
			out[strings.ToLower(t[:i])] = true
		}
	}
	return out
}
