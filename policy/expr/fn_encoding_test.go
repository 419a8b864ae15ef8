package expr

import "testing"

var encodingCases = []fnCase{
	{fn: "base64", args: `["one, two, three"]`, want: `"b25lLCB0d28sIHRocmVl"`},
	{fn: "base64", args: `["ü"]`, want: `"w7w="`},
	{fn: "base64ToString", args: `["b25lLCB0d28sIHRocmVl"]`, want: `"one, two, three"`},
	{fn: "base64ToString", args: `["b25l\nLCB0d28s IHRocmVl"]`, want: `"one, two, three"`},
	{fn: "base64ToString", args: `["YQ"]`, err: "not valid base64"},
	{fn: "base64ToString", args: `["/w=="]`, want: `"\ufffd"`},
	{fn: "base64ToJson", args: `["eyJvbmUiOiAiYSIsICJ0d28iOiAiYiJ9"]`, want: `{"one": "a", "two": "b"}`},
	{fn: "base64ToJson", args: `["e30="]`, want: `{}`},
	{fn: "base64ToJson", args: `["bm90IGpzb24="]`, err: "not valid JSON"},

	{fn: "json", args: `["{\"a\": \"b\"}"]`, want: `{"a": "b"}`},
	{fn: "json", args: `["null"]`, want: `null`},
	{fn: "json", args: `[" [1, 2, 3] "]`, want: `[1, 2, 3]`},
	{fn: "json", args: `["3"]`, want: `3`},
	{fn: "json", args: `["1.5"]`, want: `1.5`},
	{fn: "json", args: `["{"]`, err: "not valid JSON"},
	{fn: "json", args: `[null]`, err: "argument 1 must be a string"},

	{fn: "dataUri", args: `["Hello"]`, want: `"data:text/plain;charset=utf8;base64,SGVsbG8="`},
	{fn: "dataUriToString", args: `["data:;base64,SGVsbG8sIFdvcmxkIQ=="]`, want: `"Hello, World!"`},
	{fn: "dataUriToString", args: `["data:text/plain;charset=utf8;base64,SGVsbG8="]`, want: `"Hello"`},
	{fn: "dataUriToString", args: `["data:text/plain,a%20b"]`, want: `"a b"`},
	{fn: "dataUriToString", args: `["data:text/plain;base64"]`, err: "no ','"},
	{fn: "dataUriToString", args: `["http://x"]`, err: "must start with 'data:'"},

	// uri: RFC 3986 §5 resolution, with the documented examples.
	{fn: "uri", args: `["http://contoso.org/firstpath", "myscript.sh"]`, want: `"http://contoso.org/myscript.sh"`},
	{fn: "uri", args: `["http://contoso.org/firstpath/", "myscript.sh"]`, want: `"http://contoso.org/firstpath/myscript.sh"`},
	{fn: "uri", args: `["http://contoso.org/firstpath/azuredeploy.json", "myscript.sh"]`, want: `"http://contoso.org/firstpath/myscript.sh"`},
	{fn: "uri", args: `["http://contoso.org/firstpath/azuredeploy.json/", "myscript.sh"]`, want: `"http://contoso.org/firstpath/azuredeploy.json/myscript.sh"`},
	{fn: "uri", args: `["http://contoso.com/resources/azuredeploy.json", "nested/azuredeploy.json"]`, want: `"http://contoso.com/resources/nested/azuredeploy.json"`},
	{fn: "uri", args: `["http://a/b/c/d", "../g"]`, want: `"http://a/b/g"`},
	{fn: "uri", args: `["relative/path", "x"]`, err: "not an absolute URI"},
	{fn: "uri", args: `["http://a/", "%zz"]`, err: "not a valid URI reference"},

	{fn: "uriComponent", args: `["http://contoso.com/resources/nested/azuredeploy.json"]`, want: `"http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json"`},
	{fn: "uriComponent", args: `["a~b_c.d-e"]`, want: `"a~b_c.d-e"`},
	{fn: "uriComponent", args: `["é"]`, want: `"%C3%A9"`},
	{fn: "uriComponentToString", args: `["http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json"]`, want: `"http://contoso.com/resources/nested/azuredeploy.json"`},
	{fn: "uriComponentToString", args: `["a+b%20c%zz%"]`, want: `"a+b c%zz%"`},
	{fn: "uriComponentToString", args: `["%C3%A9"]`, want: `"é"`},
}

func TestEncodingFunctions(t *testing.T) { runFnCases(t, encodingCases) }
