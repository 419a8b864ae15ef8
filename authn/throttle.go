package authn

import (
	"net"
	"strings"
	"sync"
	"time"
)

// Throttle bounds failed client-credential attempts. Counting is in
// memory, per replica (each replica of a shared store allows the
// numbers below on its own); a lockout of an existing client is kept in
// its store record, so every replica honours it and a restart does not
// lift it.
//
// A failure is an attempt refused for its credentials: an unknown
// client, a missing, wrong, expired or not yet valid secret. Once a
// client id, or a client address, has ClientFailures (AddressFailures)
// failures in the current Window, its further attempts are refused with
// ErrThrottled (429, Retry-After: the end of the window) without their
// secret being looked at. Failures and throttled attempts of a client id
// both count towards LockoutFailures: past it the client is locked out
// for LockoutDuration (ErrLockedOut, 429), even with the right secret.
// A successful sign-in clears the client's counts (not its address's).
//
// A lockout locks the client out for everyone who knows its id: anyone
// can lock out a client whose id they know by sending wrong secrets.
// Secrets have 240 random bits, so guessing is hopeless in any case; the
// lockout bounds the cost of floods (every attempt is logged). `mlgov
// directory sp credential reset` lifts it.
type Throttle struct {
	// Window is the throttling window (default 1m).
	Window time.Duration
	// ClientFailures is how many failures of one client id a window
	// allows (default 10).
	ClientFailures int
	// AddressFailures is how many failures from one client address (an
	// IPv6 address counts by its /64) a window allows (default 50).
	AddressFailures int
	// LockoutFailures is how many failed or throttled attempts of one
	// client id within LockoutWindow lock it out (default 100 in 1h).
	LockoutFailures int
	LockoutWindow   time.Duration
	// LockoutDuration is how long a lockout lasts (default 15m).
	LockoutDuration time.Duration
}

func (t Throttle) withDefaults() Throttle {
	if t.Window <= 0 {
		t.Window = time.Minute
	}
	if t.ClientFailures <= 0 {
		t.ClientFailures = 10
	}
	if t.AddressFailures <= 0 {
		t.AddressFailures = 50
	}
	if t.LockoutFailures <= 0 {
		t.LockoutFailures = 100
	}
	if t.LockoutWindow <= 0 {
		t.LockoutWindow = time.Hour
	}
	if t.LockoutDuration <= 0 {
		t.LockoutDuration = 15 * time.Minute
	}
	return t
}

// maxTracked bounds each table of counters. When a table is full of
// active counters, attempts of a key it cannot track are throttled
// (failing closed under a flood from very many addresses).
const maxTracked = 1 << 16

// counter counts the failures of one client id or address.
type counter struct {
	start time.Time // of the current window
	n     int       // failures in it
	// Client ids only: attempts towards a lockout, and a lockout of an
	// id that has no store record to keep it in.
	lockStart   time.Time
	lockN       int
	lockedUntil time.Time
}

type attempts struct {
	cfg     Throttle
	mu      sync.Mutex
	clients map[string]*counter
	addrs   map[string]*counter
}

func newAttempts(cfg Throttle) *attempts {
	return &attempts{cfg: cfg, clients: map[string]*counter{}, addrs: map[string]*counter{}}
}

// clientKey names a client id of a tenant in the counters (clipped:
// attackers choose it).
func clientKey(tenantID, clientID string) string {
	if len(clientID) > 64 {
		clientID = clientID[:64]
	}
	return tenantID + "/" + strings.ToLower(clientID)
}

// addressKey names a client address in the counters: the IPv4 address,
// or the /64 of an IPv6 one (a host usually has a whole /64); "" (not
// counted) when addr is not an IP address.
func addressKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil {
		return ""
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// get returns the counter of key, its window rolled to now; nil when
// the table is full of active counters.
func (a *attempts) get(m map[string]*counter, key string, now time.Time) *counter {
	c := m[key]
	if c == nil {
		if len(m) >= maxTracked {
			for k, o := range m {
				if a.idle(o, now) {
					delete(m, k)
				}
			}
			if len(m) >= maxTracked {
				return nil
			}
		}
		c = &counter{start: now, lockStart: now}
		m[key] = c
	}
	if now.Before(c.start) || now.Sub(c.start) >= a.cfg.Window {
		c.start, c.n = now, 0
	}
	if now.Before(c.lockStart) || now.Sub(c.lockStart) >= a.cfg.LockoutWindow {
		c.lockStart, c.lockN = now, 0
	}
	return c
}

func (a *attempts) idle(c *counter, now time.Time) bool {
	return now.Sub(c.start) >= a.cfg.Window && now.Sub(c.lockStart) >= a.cfg.LockoutWindow && !now.Before(c.lockedUntil)
}

// retryAfter is how long until the window of c ends (at least 1s).
func (a *attempts) retryAfter(c *counter, now time.Time) time.Duration {
	return max(c.start.Add(a.cfg.Window).Sub(now), time.Second)
}

// admit decides whether an attempt of client from addr may have its
// secret checked. If the client or the address has used up its failures
// in the window, it returns how long until that window ends and which
// ("client" or "address") and counts the attempt towards the client's
// lockout (lock: the caller locks it out now). Otherwise it counts the
// attempt as a failure in both windows at once (so that attempts arriving
// together cannot pass the limit between check and count); succeed
// takes it back.
func (a *attempts) admit(client, addr string, now time.Time) (retry time.Duration, which string, lock bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.get(a.clients, client, now)
	if c == nil {
		return a.cfg.Window, "client", false
	}
	var ac *counter
	if addr != "" {
		if ac = a.get(a.addrs, addr, now); ac == nil {
			return a.cfg.Window, "address", false
		}
	}
	if c.n >= a.cfg.ClientFailures {
		retry, which = a.retryAfter(c, now), "client"
	}
	if ac != nil && ac.n >= a.cfg.AddressFailures {
		if r := a.retryAfter(ac, now); r > retry {
			retry, which = r, "address"
		}
	}
	if retry > 0 {
		return retry, which, a.countLockout(c, now)
	}
	c.n++
	if ac != nil {
		ac.n++
	}
	return 0, "", false
}

// countLockout counts an attempt towards c's lockout and reports whether
// it reaches LockoutFailures; the count then starts again.
func (a *attempts) countLockout(c *counter, now time.Time) bool {
	c.lockN++
	if c.lockN < a.cfg.LockoutFailures {
		return false
	}
	c.lockStart, c.lockN = now, 0
	return true
}

// lockedUntil returns the in-memory lockout of a client id (one without
// a store record).
func (a *attempts) lockedUntil(client string) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.clients[client]; c != nil {
		return c.lockedUntil
	}
	return time.Time{}
}

// fail counts an admitted attempt that failed towards the client's
// lockout and reports whether it is reached (the caller locks the client
// out: lockMemory, or its store record).
func (a *attempts) fail(client string, now time.Time) (lock bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.get(a.clients, client, now)
	return c != nil && a.countLockout(c, now)
}

// lockMemory locks out a client id that has no store record.
func (a *attempts) lockMemory(client string, until time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.clients[client]; c != nil {
		c.lockedUntil = until
	}
}

// succeed clears the counts of a client that signed in from addr, and
// takes back the failure admit counted for the address.
func (a *attempts) succeed(client, addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.clients, client)
	if ac := a.addrs[addr]; ac != nil && ac.n > 0 {
		ac.n--
	}
}
