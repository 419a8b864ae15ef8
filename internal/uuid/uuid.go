// Package uuid makes random (version 4) UUIDs and formats UUIDs, for the
// request, resource and bootstrap identifiers of the control plane.
package uuid

import (
	"crypto/rand"
	"encoding/hex"
	"io"
)

// New returns a random version 4 UUID in canonical form.
func New() string {
	s, _ := NewFrom(rand.Reader) // crypto/rand does not fail
	return s
}

// NewFrom returns a version 4 UUID made from 16 bytes of r (a source
// tests can inject), in canonical lower-case form.
func NewFrom(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return Format(&b), nil
}

// Valid reports whether s has the 8-4-4-4-12 hexadecimal form of a UUID
// (either case).
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// Format writes b in the canonical 8-4-4-4-12 hex form.
func Format(b *[16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:16])
	return string(out[:])
}
