// Package authntest holds test helpers for authn and its consumers
// (api/oauth): MemStore, an in-memory store.Store that keeps objects and
// events (resources and operations return an error), with real
// commit-or-roll-back Write transactions.
//
// It is for tests; production code must not import it. It imports only
// the standard library and store.
package authntest
