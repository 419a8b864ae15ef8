// Package e2e holds end-to-end tests that treat mlgov as a black box: they
// build the mlgov binary, start `mlgov serve` on a fresh data directory and a
// free loopback port, and talk to it only over the wire, as real clients do.
//
// The SDK compatibility suite (sdk_test.go) runs the Node tests in e2e/sdk,
// which use the unmodified Azure JavaScript SDK packages; e2e/SDK-CONTRACT.md
// records what those packages require of the server. The browser tests
// (dashboard_browser_test.go) run the Node tests in e2e/ui, which drive
// Debian's chromium with playwright-core. serve_test.go holds the
// shared helpers (build, free port, start, wait for bootstrap.json, stop with
// SIGTERM) for this and later end-to-end tests (crash, race).
//
// Invariants: the tests import no mlgov package (only the standard library);
// every server they start listens on 127.0.0.1 and is stopped by the test
// that started it; a missing toolchain (node, npm, chromium) or a binary without the
// serve command skips, unless MLGOV_E2E_REQUIRE=1 turns such skips into
// failures.
package e2e
