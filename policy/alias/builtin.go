package alias

import (
	"fmt"
	"maps"
	"sync"

	"github.com/mlgov/mlgov/policy/value"
)

// servedType is one resource type mlgov serves, with its capabilities and
// payload shape.
type servedType struct {
	name           string
	tags, location bool
	shape          string
}

const (
	ml     = "Microsoft.MachineLearningServices/"
	mlData = "Microsoft.MachineLearningServices.Data/"
	mlV2   = "Microsoft.MachineLearningServices.v2.Data/"
)

// servedTypes lists the types of Builtin. Tracked resources (tags and
// location) versus proxy resources follow ARM.
var servedTypes = []servedType{
	{ml + "workspaces", true, true, shapeWorkspace},
	{ml + "workspaces/computes", true, true, shapeCompute},
	{ml + "workspaces/jobs", false, false, shapeJob},
	{ml + "workspaces/onlineEndpoints", true, true, shapeOnlineEndpoint},
	{ml + "workspaces/onlineEndpoints/deployments", true, true, shapeOnlineDeployment},
	{ml + "workspaces/batchEndpoints", true, true, shapeBatchEndpoint},
	{ml + "workspaces/batchEndpoints/deployments", true, true, shapeBatchDeployment},
	{ml + "workspaces/datastores", false, false, shapeDatastore},
	{ml + "workspaces/connections", false, false, shapeConnection},
	{ml + "workspaces/outboundRules", false, false, shapeOutboundRule},
	{ml + "workspaces/privateEndpointConnections", false, false, shapePrivateEndpointConnection},
	{ml + "registries", true, true, shapeRegistry},

	// Resource-provider-mode component types (mode Microsoft.MachineLearningServices.Data
	// and Microsoft.MachineLearningServices.v2.Data).
	{mlData + "workspaces", false, false, shapeDataWorkspace},
	{mlV2 + "workspaces/deployments", false, false, shapeV2DataDeployment},

	{"Microsoft.Storage/storageAccounts", true, true, shapeStorageAccount},
	{"Microsoft.KeyVault/vaults", true, true, shapeKeyVault},
	{"Microsoft.ContainerRegistry/registries", true, true, shapeContainerRegistry},
	{"Microsoft.Insights/components", true, true, shapeAppInsights},
	{"Microsoft.Insights/diagnosticSettings", false, false, shapeDiagnosticSetting},
	{"Microsoft.Network/privateEndpoints", true, true, shapePrivateEndpoint},
	{"Microsoft.Network/privateEndpoints/privateDnsZoneGroups", false, false, shapePrivateDNSZoneGroup},
	{"Microsoft.Network/privateDnsZones", true, true, shapePrivateDNSZone},
	{"Microsoft.Network/privateDnsZones/virtualNetworkLinks", true, true, shapeVirtualNetworkLink},
	{"Microsoft.Network/virtualNetworks", true, true, shapeVirtualNetwork},
	{"Microsoft.Network/virtualNetworks/subnets", false, false, shapeSubnet},
	{"Microsoft.ManagedIdentity/userAssignedIdentities", true, true, shapeUserAssignedIdentity},
	{"Microsoft.Security/assessments", false, false, shapeSecurityAssessment},
}

// exception is an alias whose name and path are not related by the shape
// rule. Exceptions are applied after the generated aliases and win over
// them.
type exception struct {
	typ, prop, path string
	modifiable      bool
}

var exceptions = []exception{
	// Workspace hub links: the alias nests under linkedWorkspaces, the payload does not.
	{ml + "workspaces", "linkedWorkspaces.linkedWorkspaceResourceId", "properties.linkedWorkspaceResourceId", false},
	{ml + "workspaces", "linkedWorkspaces.userAssignedIdentityResourceId", "properties.userAssignedIdentityResourceId", false},

	// Legacy aliases without [*] whose path selects every element.
	{"Microsoft.Insights/diagnosticSettings", "logs.enabled", "properties.logs[*].enabled", false},
	{"Microsoft.Insights/diagnosticSettings", "metrics.enabled", "properties.metrics[*].enabled", false},

	// Storage: encryption switches named after the service.
	{"Microsoft.Storage/storageAccounts", "enableBlobEncryption", "properties.encryption.services.blob.enabled", false},
	{"Microsoft.Storage/storageAccounts", "enableFileEncryption", "properties.encryption.services.file.enabled", false},

	// The zone group's aliases spelled with a '.' after the parent type.
	{"Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "../privateDnsZoneGroups.privateDnsZoneConfigs", "properties.privateDnsZoneConfigs", false},
	{"Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "../privateDnsZoneGroups.privateDnsZoneConfigs[*]", "properties.privateDnsZoneConfigs[*]", false},
	{"Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "../privateDnsZoneGroups.privateDnsZoneConfigs[*].name", "properties.privateDnsZoneConfigs[*].name", false},
	{"Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "../privateDnsZoneGroups.privateDnsZoneConfigs[*].privateDnsZoneId", "properties.privateDnsZoneConfigs[*].properties.privateDnsZoneId", false},
}

// aliasName joins a type and a property into an alias name; a property
// starting with "../" is spelled relative to the parent type with a '.'
// (the old child-type spelling).
func aliasName(typ, prop string) string {
	if len(prop) > 3 && prop[:3] == "../" {
		i := len(typ) - 1
		for i >= 0 && typ[i] != '/' {
			i--
		}
		return typ[:i] + "/" + prop[3:]
	}
	return typ + "/" + prop
}

var builtin = sync.OnceValue(func() *Catalog {
	c, err := buildBuiltin()
	if err != nil {
		// The shapes are constants of this package; TestBuiltin keeps them valid.
		panic("alias: invalid built-in shapes: " + err.Error())
	}
	return c
})

// Builtin returns the project's own aliases for the resource types mlgov
// serves, derived from the shapes in builtin_ml.go and builtin_assoc.go by
// the rule in shape.go plus the exceptions table. The catalog is built once
// and shared.
func Builtin() *Catalog { return builtin() }

func buildBuiltin() (*Catalog, error) {
	macros := maps.Clone(mlMacros)
	for k, v := range assocMacros {
		if _, dup := macros[k]; dup {
			return nil, fmt.Errorf("macro %q defined twice", k)
		}
		macros[k] = v
	}
	b := newBuilder()
	for _, st := range servedTypes {
		b.addType(ResourceType{Name: st.name, SupportsTags: st.tags, SupportsLocation: st.location, CapabilitiesKnown: true})
		nodes, err := parseShape(st.shape, macros, st.name)
		if err != nil {
			return nil, err
		}
		seen := map[string]string{}
		var dup error
		genShape(nodes, func(prop string, p value.Path, modifiable bool) {
			key := asciiLower(prop)
			if prev, ok := seen[key]; ok && dup == nil {
				dup = fmt.Errorf("shape %s: alias %q generated twice (%s and %s)", st.name, prop, prev, p)
			}
			seen[key] = p.String()
			b.add(&Alias{Name: st.name + "/" + prop, ResourceType: st.name, DefaultPath: p, Modifiable: modifiable, MetadataKnown: true})
		})
		if dup != nil {
			return nil, dup
		}
	}
	for _, ex := range exceptions {
		p, msg := parseAliasPath(ex.path)
		if msg != "" {
			return nil, fmt.Errorf("exception %s: %s", ex.prop, msg)
		}
		if _, ok := b.types[asciiLower(ex.typ)]; !ok {
			return nil, fmt.Errorf("exception %s: type %s is not served", ex.prop, ex.typ)
		}
		b.add(&Alias{Name: aliasName(ex.typ, ex.prop), ResourceType: ex.typ, DefaultPath: p, Modifiable: ex.modifiable, MetadataKnown: true})
	}
	return b.build(), nil
}
