package authn

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TOTP, the second factor of users (RFC 6238 with RFC 4226's dynamic
// truncation): HMAC-SHA1, six digits, 30-second steps, the parameters
// every authenticator app reads from an otpauth:// URI. A code is
// accepted for the step before, the current one and the step after
// (clock drift), and only once: a user's last accepted step is stored
// and no code of that step or an earlier one is accepted again, so a
// code seen over a shoulder or in a log cannot be replayed.
//
// A user enrols during an interactive sign-in that needs multifactor
// authentication (a conditional access policy requires it and the user
// has no method yet): after the password, the sign-in shows the secret
// and waits for a first code, as Entra's "more information required"
// registration does. The secret is stored sealed under the
// key-encryption key when one is configured (as the signing keys are).

const (
	totpStep   = 30 * time.Second
	totpDigits = 6
	// totpSecretLen is the secret's length in bytes (160 bits, RFC 4226's
	// recommendation).
	totpSecretLen = 20
)

var totpEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpCode is the code of a secret at a step.
func totpCode(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", totpDigits, v%1_000_000)
}

// totpStepAt is the step of a time.
func totpStepAt(t time.Time) int64 { return t.Unix() / int64(totpStep/time.Second) }

// totpMatch returns the step (of the one before, now's and the one
// after) whose code is code and which is later than last, or 0.
func totpMatch(secret []byte, code string, now time.Time, last int64) int64 {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != totpDigits {
		return 0
	}
	if _, err := strconv.Atoi(code); err != nil {
		return 0
	}
	cur := totpStepAt(now)
	for _, st := range []int64{cur - 1, cur, cur + 1} {
		if st > last && subtle.ConstantTimeCompare([]byte(totpCode(secret, st)), []byte(code)) == 1 {
			return st
		}
	}
	return 0
}

// newTOTPSecret returns a random secret.
func newTOTPSecret(r io.Reader) ([]byte, error) {
	b := make([]byte, totpSecretLen)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("authn: random: %w", err)
	}
	return b, nil
}

// totpURI is the otpauth:// URI of a secret (the key URI format of
// Google Authenticator, which the others read too).
func totpURI(secret []byte, issuer, account string) string {
	q := url.Values{"secret": {totpEncoding.EncodeToString(secret)}, "issuer": {issuer},
		"algorithm": {"SHA1"}, "digits": {strconv.Itoa(totpDigits)}, "period": {strconv.Itoa(int(totpStep / time.Second))}}
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + q.Encode()
}

// TOTPCode returns the current code of a base32 secret (as an
// authenticator app shows it), for tests and tools that sign in as a
// user.
func TOTPCode(secretBase32 string, now time.Time) (string, error) {
	secret, err := totpEncoding.DecodeString(strings.ToUpper(strings.TrimRight(secretBase32, "=")))
	if err != nil {
		return "", fmt.Errorf("authn: the TOTP secret is not base32: %w", err)
	}
	return totpCode(secret, totpStepAt(now)), nil
}
