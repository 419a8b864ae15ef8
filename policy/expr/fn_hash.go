package expr

import (
	"crypto/sha1"
	"encoding/hex"
	"math/bits"

	"github.com/mlgov/mlgov/policy/value"
)

// guid and uniqueString are deterministic hashes of their string
// arguments joined with '-'. Microsoft does not document the algorithms;
// the ones below are the ones public re-implementations agree on and check
// against real deployments (see the package tests for their vectors):
//
//   - guid: an RFC 4122 version-5 (SHA-1, name-based) UUID whose name is
//     the UTF-8 bytes of the joined arguments, in the namespace
//     11fb06fb-712d-4ddd-98c7-e71bbd588830 (Azure.Deployments.Expression's
//     ARM namespace GUID).
//   - uniqueString: a 64-bit Murmur3-style hash (two interleaved 32-bit
//     lanes, Microsoft's constants) of the UTF-8 bytes of the joined
//     arguments, written as the first 13 characters of its base-32 form
//     (alphabet a-z2-7, most significant bits first).

// armGUIDNamespace is 11fb06fb-712d-4ddd-98c7-e71bbd588830 in RFC 4122
// (network) byte order.
var armGUIDNamespace = [16]byte{0x11, 0xfb, 0x06, 0xfb, 0x71, 0x2d, 0x4d, 0xdd, 0x98, 0xc7, 0xe7, 0x1b, 0xbd, 0x58, 0x88, 0x30}

// joinStringArgs joins the string arguments with '-'.
func joinStringArgs(fn string, args []value.Value) ([]byte, error) {
	n := len(args) - 1
	for i, a := range args {
		if a.Kind() != value.String {
			return nil, argTypeError(fn, i, "a string", a)
		}
		n += len(a.Str())
	}
	b := make([]byte, 0, n)
	for i, a := range args {
		if i > 0 {
			b = append(b, '-')
		}
		b = append(b, a.Str()...)
	}
	return b, nil
}

func fnGUID(args []value.Value) (value.Value, error) {
	name, err := joinStringArgs("guid", args)
	if err != nil {
		return value.Value{}, err
	}
	return value.StringValue(uuidV5(armGUIDNamespace, name)), nil
}

// uuidV5 computes an RFC 4122 name-based SHA-1 UUID.
func uuidV5(ns [16]byte, name []byte) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write(name)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}

func fnUniqueString(args []value.Value) (value.Value, error) {
	data, err := joinStringArgs("uniqueString", args)
	if err != nil {
		return value.Value{}, err
	}
	return value.StringValue(base32Head(murmur64(data))), nil
}

const (
	murC1 = 597399067
	murC2 = 2869860233
)

// murmur64 is the 64-bit hash behind uniqueString.
func murmur64(data []byte) uint64 {
	var h1, h2 uint32
	le := func(b []byte) uint32 {
		var v uint32
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint32(b[i])
		}
		return v
	}
	n := len(data)
	i := 0
	for ; i+8 <= n; i += 8 {
		k1 := le(data[i : i+4])
		k2 := le(data[i+4 : i+8])
		k1 = bits.RotateLeft32(k1*murC1, 15) * murC2
		h1 = (bits.RotateLeft32(h1^k1, 19)+h2)*5 + 1444728091
		k2 = bits.RotateLeft32(k2*murC2, 17) * murC1
		h2 = (bits.RotateLeft32(h2^k2, 13)+h1)*5 + 197830471
	}
	if rest := n - i; rest > 0 {
		tail := data[i:]
		k1 := le(tail[:min(rest, 4)])
		h1 ^= bits.RotateLeft32(k1*murC1, 15) * murC2
		if rest > 4 {
			k2 := le(tail[4:])
			h2 ^= bits.RotateLeft32(k2*murC2, 17) * murC1
		}
	}
	h1 ^= uint32(n)
	h2 ^= uint32(n)
	h1 += h2
	h2 += h1
	h1 = fmix32(h1)
	h2 = fmix32(h2)
	h1 += h2
	h2 += h1
	return uint64(h2)<<32 | uint64(h1)
}

func fmix32(h uint32) uint32 {
	h ^= h >> 16
	h *= 2246822507
	h ^= h >> 13
	h *= 3266489909
	h ^= h >> 16
	return h
}

// base32Head writes the top 65 bits (13 groups of 5) of h in base 32.
func base32Head(h uint64) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var out [13]byte
	for i := range out {
		out[i] = alphabet[h>>59]
		h <<= 5
	}
	return string(out[:])
}
