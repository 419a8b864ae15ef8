// Package alias holds Azure Policy alias catalogs: the mapping from an alias
// name such as Microsoft.MachineLearningServices/workspaces/publicNetworkAccess
// to the JSON path it selects in a resource payload
// (properties.publicNetworkAccess), per resource type and, when the catalog
// has them, per api-version.
//
// Catalogs come from two places:
//
//   - files the user gives (LoadFile, Parse): the ARM providers JSON of
//     `az provider list --expand resourceTypes/aliases` (an array of
//     providers), its REST envelope {"value": [...]}, a single provider as
//     `az provider show --expand resourceTypes/aliases` prints it, and the
//     name,defaultPath CSV (with or without header). The format is detected
//     from the content; gzip is undone transparently. Errors are collected
//     (up to 100) into an ErrorList; each names the file and the place (a
//     JSON pointer, or a line and column) and carries a stable Code.
//   - Builtin: the project's own aliases for the resource types mlgov
//     serves (the Machine Learning workspace and its children, registries,
//     the associated storage, key vault, container registry, monitoring,
//     networking and identity types, and the resource-provider-mode
//     component types Microsoft.MachineLearningServices.Data/workspaces and
//     Microsoft.MachineLearningServices.v2.Data/workspaces/deployments). They
//     are derived by a rule from compact descriptions of the payload shapes
//     (shape.go: "properties" flattening, [*] for arrays, discriminated
//     variants), plus an explicit table of exceptions (builtin.go). Tests
//     check them against Azure's published catalogs in ../shared.
//
// # Modifiable aliases in Builtin
//
// An alias of Builtin is Modifiable (usable by the modify effect) when its
// shape marks it with '!'. The rule for marking: a scalar (or a small
// object/array of settings) that a client may set on create and change on
// update, that is not server-computed (provisioning state, timestamps,
// ids, endpoints) and not a secret. That includes every alias the modify
// built-ins rely on (workspaces/computes/disableLocalAuth,
// workspaces/publicNetworkAccess, and for the associated types the fields
// Azure's modify built-ins set, e.g. storageAccounts/allowBlobPublicAccess,
// networkAcls.defaultAction, vaults/networkAcls.defaultAction,
// registries/publicNetworkAccess, components/publicNetworkAccessForIngestion,
// virtualNetworks/enableDdosProtection). Aliases of the data-plane component
// types are never Modifiable.
//
// # Invariants
//
//   - A Catalog is immutable once constructed and safe for concurrent
//     reads. The *Alias values it returns are shared: callers must not modify
//     them.
//   - Alias and resource type names compare ASCII case-insensitively.
//     Lookup, LookupIn and Type do not allocate.
//   - Every Alias has a non-empty DefaultPath parsed by value.ParsePath.
//   - Parse and LoadFile never panic on bad input; they return the
//     entries that loaded together with the ErrorList.
//   - When one alias name is declared on several types (namespace-level
//     aliases such as Microsoft.Compute/imagePublisher), Lookup returns the
//     last one seen and LookupIn the type-specific one.
//
// # Imports
//
// This package imports only the standard library and
// github.com/mlgov/mlgov/policy/value. It must not import any other mlgov
// package (the policy engine imports it, not the other way round), nor any
// third-party module.
package alias
