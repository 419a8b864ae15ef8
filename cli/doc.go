// Package cli is mlgov's command tree (cobra). Commands print through the
// writers they are given; Main returns the process exit code. It must not
// import concrete stores or drivers; cmd/mlgov wires those.
package cli
