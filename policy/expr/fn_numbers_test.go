package expr

import "testing"

// TestStringOfDecodedFloats: string() writes the floats of decoded
// values from their value ("1.50" as 1.5), as before the decoder kept
// number literals for exact round trips.
func TestStringOfDecodedFloats(t *testing.T) {
	runFnCases(t, []fnCase{
		{fn: "string", args: `[[1.50,1e3,0.10,2]]`, want: `"[1.5,1000,0.1,2]"`},
		{fn: "string", args: `[{"a":2.50}]`, want: `"{\"a\":2.5}"`},
		{fn: "string", args: `[1.50]`, want: `"1.5"`},
	})
}
