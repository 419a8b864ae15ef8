// Package inbound decides whether a request to a workspace's data plane
// may come from its client's address: the workspace's
// publicNetworkAccess and ipAllowlist, the private address ranges its
// approved private endpoints reach (the prefixes of their subnets), and
// for a scoring call the online endpoint's publicNetworkAccess
// (docs/network.md).
//
// A Checker keeps one compiled view per workspace (prefixes parsed to
// netip.Prefix), built from the store on first use and dropped when a
// resource it is made of may have changed: a committed write of a
// workspace, one of its private endpoint connections or online
// endpoints, a private endpoint, a virtual network or subnet, a resource
// group or subscription (Committed on this replica, at once; the change
// feed for the others, Follow). A check on a current view reads no store
// and allocates nothing.
//
// Invariants: a view is only used while no relevant change has been
// seen since its reading started (a generation counter); a client
// address is compared unmapped (IPv4-mapped IPv6 as IPv4) and without a
// zone; loopback is neither private nor trusted by itself.
//
// It imports arm, store (interfaces and the feed), resources (its
// Committer) and activitylog; never net/http or a concrete store.
package inbound
