//go:build race

package policy

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation budgets cannot be asserted.
const raceEnabled = true
