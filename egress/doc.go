// Package egress is the outbound side of a workspace's managed network
// (docs/egress.md): its rules compiled (rules.go: Compile, Policy.Decide:
// FQDN names and wildcards, ServiceTag address prefixes and ports,
// PrivateEndpoint targets' host names, the isolation modes), the forward
// proxy the runner starts jobs behind (proxy.go: HTTP CONNECT and plain
// HTTP, authenticated with the job's token, every connection decided
// before it is made and recorded when it ends) and the egress log
// (log.go: records written in batches off the proxy's path, as store
// events of the key LogKey, and List).
//
// Invariants: a decision never reads the store on its path once the
// workspace's rules and the job's credentials are cached (Forget drops a
// workspace's on a change); the addresses a decision saw are the ones
// dialled; AllowOnlyApprovedOutbound allows nothing no Active rule
// allows, and a rule mlgov cannot honour allows nothing (Policy.Skipped).
//
// It must not import api, resources, cli or a concrete store: the
// control plane is reached through Config's functions and the store
// interfaces.
package egress
