// Package value is the JSON value model of the policy engine: a compact,
// immutable Value (undefined, null, bool, int, float, string, array,
// object), a decoder that reuses its memory between documents, case-folded
// member lookups, path selection with [*] wildcards, and JSON encoding.
//
// Invariants: Values are immutable and safe to share; object members keep
// their order and are looked up with full Unicode case folding (ASCII fast
// path, no allocation); a Value from Decoder.Decode is valid until the next
// Decode on that Decoder (Parse gives values that live forever), and one
// from Decoder.DecodeInPlace also shares the caller's input, which must not
// change meanwhile; decoding never panics and reports errors with line,
// column and offset. Numbers round-trip exactly: a decoded float keeps its
// literal, which the encoder writes back; numbers beyond float64's range
// are errors, not infinities. ParseStrict (for request bodies) also
// refuses duplicate keys (compared as Get compares them) and gives the
// JSON pointer of the offending member.
//
// It imports only the standard library and golang.org/x/text/cases; never
// other mlgov packages.
package value
