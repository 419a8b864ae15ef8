package alias

import (
	"strings"

	"github.com/mlgov/mlgov/policy/value"
)

// Alias maps a policy alias name to the JSON path it selects in a resource
// payload. Aliases held by a Catalog are shared and must be treated as
// read-only.
type Alias struct {
	// Name as spelled in the catalog, e.g.
	// Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value.
	Name string
	// ResourceType is the type the alias was declared on, e.g.
	// Microsoft.Storage/storageAccounts (namespace + "/" + resourceType), in
	// its original spelling. For the few namespace-level aliases of the CSV
	// format (Microsoft.Compute/imagePublisher) it is the bare namespace.
	ResourceType string
	// DefaultPath is the path used when no api-version specific path applies.
	DefaultPath value.Path
	// Paths are the per-api-version paths, when the catalog has them.
	Paths []VersionedPath
	// Modifiable reports whether defaultMetadata.attributes contains
	// "Modifiable": the alias may be used by the modify effect.
	Modifiable bool
	// Alternatives are further paths of a namespace-level name that a
	// catalog without types lists several times (e.g. the CSV format's
	// Microsoft.Compute/imagePublisher for virtual machines, scale sets
	// and images). The policy engine reads the first path present in the
	// resource.
	Alternatives []value.Path
	// MetadataKnown reports whether the catalog gave defaultMetadata for
	// the alias, so that Modifiable is meaningful (catalogs reduced to
	// name and path cannot tell).
	MetadataKnown bool
	// Type is defaultMetadata.type ("String", "Boolean", "Array", ...); "" when
	// the catalog does not say.
	Type string
}

// VersionedPath is the path of an alias for a set of api-versions.
type VersionedPath struct {
	Path        value.Path
	APIVersions []string
	// Modifiable is the path's metadata.attributes when the path carries
	// metadata, otherwise the alias's default.
	Modifiable bool
}

// PathFor returns the path of the versioned entry whose APIVersions contains
// apiVersion (ASCII case-insensitively), else DefaultPath. An empty
// apiVersion selects DefaultPath.
func (a *Alias) PathFor(apiVersion string) value.Path {
	if vp := a.versioned(apiVersion); vp != nil {
		return vp.Path
	}
	return a.DefaultPath
}

// ModifiableFor reports whether the alias is modifiable for the given
// api-version: the metadata of the matching versioned path, else the
// default metadata.
func (a *Alias) ModifiableFor(apiVersion string) bool {
	if vp := a.versioned(apiVersion); vp != nil {
		return vp.Modifiable
	}
	return a.Modifiable
}

func (a *Alias) versioned(apiVersion string) *VersionedPath {
	if apiVersion == "" {
		return nil
	}
	for i := range a.Paths {
		for _, v := range a.Paths[i].APIVersions {
			if strings.EqualFold(v, apiVersion) {
				return &a.Paths[i]
			}
		}
	}
	return nil
}

// IsArray reports whether the default path selects a collection (contains
// [*]), which is how the engine must treat the alias even when its name has
// no [*] (e.g. Microsoft.Insights/diagnosticSettings/logs.enabled).
func (a *Alias) IsArray() bool { return a.DefaultPath.HasWildcard() }

// ResourceType describes a resource type known to a catalog.
type ResourceType struct {
	// Name is the full type, namespace + "/" + type, in the spelling first
	// seen.
	Name string
	// SupportsTags and SupportsLocation come from the provider's
	// capabilities. They are meaningful only when CapabilitiesKnown is set.
	SupportsTags, SupportsLocation bool
	// CapabilitiesKnown is false when the source did not describe the
	// capabilities (CSV catalogs, JSON without a capabilities member).
	CapabilitiesKnown bool
}

// parseCapabilities reads ARM's comma-separated capabilities string, e.g.
// "CrossResourceGroupResourceMove, SupportsTags, SupportsLocation".
func parseCapabilities(s string) (tags, location bool) {
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case strings.EqualFold(f, "SupportsTags"):
			tags = true
		case strings.EqualFold(f, "SupportsLocation"):
			location = true
		}
	}
	return tags, location
}

// hasAttribute reports whether a comma-separated ARM attributes string (e.g.
// "Modifiable") contains attr.
func hasAttribute(s, attr string) bool {
	for _, f := range strings.Split(s, ",") {
		if strings.EqualFold(strings.TrimSpace(f), attr) {
			return true
		}
	}
	return false
}
