package expr

import (
	"testing"
	"time"

	"github.com/mlgov/mlgov/policy/value"
)

// FuzzParseAndEval parses arbitrary expression text, compiles it without a
// binder (compilation folds constant calls, so most functions run here) and
// evaluates it. Nothing may panic or run away: the functions bound the
// sizes of the values they build.
func FuzzParseAndEval(f *testing.F) {
	for _, seed := range []string{
		"concat('a', 'b')",
		"padLeft('x', 131073, '0')",
		"replace(padLeft('', 1000, 'a'), 'a', padLeft('', 1000, 'b'))",
		"range(0, 10000)",
		"concat(range(0, 10000), range(0, 10000))",
		"string(createArray(range(0, 10000), range(0, 10000)))",
		"split(padLeft('', 131072, ','), ',')",
		"format('{0,1000000}', 'x')",
		"format('{0:N99}', 1.5)",
		"union(json('{\"a\":{\"b\":1}}'), json('{\"a\":{\"c\":2}}'))",
		"intersection(createArray(1, 2, 3), createArray(2, 3))",
		"substring('abc', 1, 5)",
		"ipRangeContains('10.0.0.0/8', '10.1.2.3')",
		"cidrSubnet('fdad::/16', 128, 9223372036854775807)",
		"dateTimeAdd('2020-01-01', 'P1Y')",
		"addDays('2024-02-28T00:00:00Z', 1)",
		"utcNow('yyyy')",
		"guid('a', 'b')",
		"uniqueString('a')",
		"base64ToJson(base64('[1,2]'))[1]",
		"items(json('{\"b\":1,\"a\":2}'))[0].key",
		"if(equals(1, 1), 'x', substring('', 5))",
		"and(true(), or(false(), not(false())))",
		"json('[[[[[[[[[[1]]]]]]]]]]')",
		"uri('http://a/b/c', '../../../../x')",
		"mul(9223372036854775807, 2)",
		"div(-9223372036854775808, -1)",
		"tryGet(json('{\"a\":[1]}'), 'A', 0)",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse(src)
		if err != nil {
			return
		}
		e, err := Compile(n, nil)
		if err != nil {
			return
		}
		v, err := e.Eval(&Activation{Now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err == nil && v.Kind() == value.String && utf16Len(v.Str()) > maxStringLength {
			t.Fatalf("%s built a string of %d characters, past the limit", src, utf16Len(v.Str()))
		}
		if err == nil && v.Kind() == value.Array && v.Len() > maxArrayLength {
			t.Fatalf("%s built an array of %d elements, past the limit", src, v.Len())
		}
	})
}
