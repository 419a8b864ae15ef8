package authn

import (
	"testing"
	"time"
)

// TestTOTPVectors: RFC 6238 Appendix B's SHA-1 vectors, truncated to
// six digits (the last six of the eight the RFC prints).
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}} {
		if got := totpCode(secret, totpStepAt(time.Unix(v.unix, 0))); got != v.code {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.code)
		}
	}
	b32 := totpEncoding.EncodeToString(secret)
	if c, err := TOTPCode(b32, time.Unix(59, 0)); err != nil || c != "287082" {
		t.Errorf("TOTPCode: %q %v", c, err)
	}
	if _, err := TOTPCode("not base32!", time.Now()); err == nil {
		t.Error("TOTPCode took a secret that is not base32")
	}
}

// TestTOTPMatch: a code of the step before, now's or the one after is
// taken once; older, newer, reused and malformed codes are not.
func TestTOTPMatch(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1_700_000_000, 0)
	cur := totpStepAt(now)
	for _, d := range []int64{-1, 0, 1} {
		if got := totpMatch(secret, totpCode(secret, cur+d), now, 0); got != cur+d {
			t.Errorf("step %+d: matched %d", d, got)
		}
	}
	for _, d := range []int64{-2, 2} {
		if got := totpMatch(secret, totpCode(secret, cur+d), now, 0); got != 0 {
			t.Errorf("step %+d taken", d)
		}
	}
	if got := totpMatch(secret, totpCode(secret, cur), now, cur); got != 0 {
		t.Error("a code of the last accepted step was taken again")
	}
	if got := totpMatch(secret, totpCode(secret, cur-1), now, cur); got != 0 {
		t.Error("a code older than the last accepted step was taken")
	}
	c := totpCode(secret, cur)
	if got := totpMatch(secret, c[:3]+" "+c[3:], now, 0); got != cur {
		t.Error("a code with a space (as apps show it) was refused")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", "-12345"} {
		if totpMatch(secret, bad, now, 0) != 0 {
			t.Errorf("%q taken", bad)
		}
	}
}
