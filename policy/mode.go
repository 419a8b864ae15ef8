package policy

import (
	"strings"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// mode is a compiled definition mode.
type mode struct {
	kind modeKind
	// rp is the resource-provider mode namespace ("Microsoft.MachineLearningServices.v2.Data").
	rp string
	// catalog is the alias catalog the program was compiled with: it
	// says which types support tags and location (mode Indexed).
	catalog *alias.Catalog
}

type modeKind uint8

const (
	modeAll modeKind = iota
	modeIndexed
	modeRP
)

func parseMode(s string, ptr definition.Pointer, errs *definition.ErrorList) mode {
	switch strings.ToLower(s) {
	case "all":
		return mode{kind: modeAll}
	case "", "indexed":
		// A null mode is the same as indexed (Azure CLI behaviour); bare
		// rules get "All" from the loader.
		return mode{kind: modeIndexed}
	}
	if strings.HasSuffix(strings.ToLower(s), ".data") {
		return mode{kind: modeRP, rp: s}
	}
	errs.Add(ptr.String(), definition.CodeInvalidMode, "unknown mode %q (expected All, Indexed or a resource provider mode such as Microsoft.KeyVault.Data)", s)
	return mode{kind: modeAll}
}

// appliesTo reports whether a resource of the given type is in the mode's
// scope. Indexed mode excludes resource groups and subscriptions, and,
// for types the alias catalog describes with their capabilities, types
// that do not support both tags and location (Azure's rule:
// Microsoft.Network/routeTables yes, .../routeTables/routes no). Types the
// catalog does not describe stay in scope.
func (m mode) appliesTo(rt *resType) bool {
	switch m.kind {
	case modeIndexed:
		return rt.indexed && rt.indexedIn(m.catalog)
	case modeRP:
		typ := rt.s
		return len(typ) > len(m.rp) && typ[len(m.rp)] == '/' && value.EqualFold(typ[:len(m.rp)], m.rp)
	}
	return true
}

// indexedModeApplies reports whether a resource type is in the scope of
// mode Indexed: anything but subscriptions and resource groups.
func indexedModeApplies(typ string) bool {
	return !value.EqualFold(typ, "Microsoft.Resources/subscriptions") &&
		!value.EqualFold(typ, "Microsoft.Resources/subscriptions/resourceGroups") &&
		!value.EqualFold(typ, "Microsoft.Resources/resourceGroups")
}
