package expr

// funcTable holds the ARM template functions usable in Azure Policy rules,
// keyed by lower-cased name. It is immutable after initialization.
//
// Not here: the special forms if/and/or/coalesce (compiled lazily by
// eval.go), the policy functions the policy compiler binds (field,
// current, parameters, requestContext, resourceGroup, subscription,
// policy), and the functions Azure Policy disallows (see disallowed).
var funcTable = map[string]*Func{
	// Arrays and objects.
	"array":           {Name: "array", Min: 1, Max: 1, Call: fnArray},
	"concat":          {Name: "concat", Min: 0, Max: -1, Call: fnConcat},
	"contains":        {Name: "contains", Min: 2, Max: 2, Call: fnContains},
	"createarray":     {Name: "createArray", Min: 0, Max: -1, Call: fnCreateArray},
	"createobject":    {Name: "createObject", Min: 0, Max: -1, Call: fnCreateObject},
	"empty":           {Name: "empty", Min: 1, Max: 1, Call: fnEmpty},
	"first":           {Name: "first", Min: 1, Max: 1, Call: fnFirst},
	"flatten":         {Name: "flatten", Min: 1, Max: 1, Call: fnFlatten},
	"indexfromend":    {Name: "indexFromEnd", Min: 2, Max: 2, Call: fnIndexFromEnd},
	"indexof":         {Name: "indexOf", Min: 2, Max: 2, Call: fnIndexOf},
	"intersection":    {Name: "intersection", Min: 2, Max: -1, Call: fnIntersection},
	"items":           {Name: "items", Min: 1, Max: 1, Call: fnItems},
	"json":            {Name: "json", Min: 1, Max: 1, Call: fnJSON},
	"last":            {Name: "last", Min: 1, Max: 1, Call: fnLast},
	"lastindexof":     {Name: "lastIndexOf", Min: 2, Max: 2, Call: fnLastIndexOf},
	"length":          {Name: "length", Min: 1, Max: 1, Call: fnLength},
	"null":            {Name: "null", Min: 0, Max: 0, Call: fnNull},
	"objectkeys":      {Name: "objectKeys", Min: 1, Max: 1, Call: fnObjectKeys},
	"range":           {Name: "range", Min: 2, Max: 2, Call: fnRange},
	"shallowmerge":    {Name: "shallowMerge", Min: 1, Max: 1, Call: fnShallowMerge},
	"skip":            {Name: "skip", Min: 2, Max: 2, Call: fnSkip},
	"take":            {Name: "take", Min: 2, Max: 2, Call: fnTake},
	"tryget":          {Name: "tryGet", Min: 2, Max: -1, Call: fnTryGet},
	"tryindexfromend": {Name: "tryIndexFromEnd", Min: 2, Max: 2, Call: fnTryIndexFromEnd},
	"union":           {Name: "union", Min: 2, Max: -1, Call: fnUnion},

	// Comparison and logic (if/and/or/coalesce are special forms).
	"bool":            {Name: "bool", Min: 1, Max: 1, Call: fnBool},
	"equals":          {Name: "equals", Min: 2, Max: 2, Call: fnEquals},
	"false":           {Name: "false", Min: 0, Max: 0, Call: fnFalse},
	"greater":         {Name: "greater", Min: 2, Max: 2, Call: fnGreater},
	"greaterorequals": {Name: "greaterOrEquals", Min: 2, Max: 2, Call: fnGreaterOrEquals},
	"less":            {Name: "less", Min: 2, Max: 2, Call: fnLess},
	"lessorequals":    {Name: "lessOrEquals", Min: 2, Max: 2, Call: fnLessOrEquals},
	"not":             {Name: "not", Min: 1, Max: 1, Call: fnNot},
	"true":            {Name: "true", Min: 0, Max: 0, Call: fnTrue},

	// Numbers.
	"add":   {Name: "add", Min: 2, Max: 2, Call: fnAdd},
	"div":   {Name: "div", Min: 2, Max: 2, Call: fnDiv},
	"float": {Name: "float", Min: 1, Max: 1, Call: fnFloat},
	"int":   {Name: "int", Min: 1, Max: 1, Call: fnInt},
	"max":   {Name: "max", Min: 1, Max: -1, Call: fnMax},
	"min":   {Name: "min", Min: 1, Max: -1, Call: fnMin},
	"mod":   {Name: "mod", Min: 2, Max: 2, Call: fnMod},
	"mul":   {Name: "mul", Min: 2, Max: 2, Call: fnMul},
	"sub":   {Name: "sub", Min: 2, Max: 2, Call: fnSub},

	// Strings.
	"base64":               {Name: "base64", Min: 1, Max: 1, Call: fnBase64},
	"base64tojson":         {Name: "base64ToJson", Min: 1, Max: 1, Call: fnBase64ToJSON},
	"base64tostring":       {Name: "base64ToString", Min: 1, Max: 1, Call: fnBase64ToString},
	"datauri":              {Name: "dataUri", Min: 1, Max: 1, Call: fnDataURI},
	"datauritostring":      {Name: "dataUriToString", Min: 1, Max: 1, Call: fnDataURIToString},
	"endswith":             {Name: "endsWith", Min: 2, Max: 2, Call: fnEndsWith},
	"format":               {Name: "format", Min: 1, Max: -1, Call: fnFormat},
	"guid":                 {Name: "guid", Min: 1, Max: -1, Call: fnGUID},
	"join":                 {Name: "join", Min: 2, Max: 2, Call: fnJoin},
	"padleft":              {Name: "padLeft", Min: 2, Max: 3, Call: fnPadLeft},
	"replace":              {Name: "replace", Min: 3, Max: 3, Call: fnReplace},
	"split":                {Name: "split", Min: 2, Max: 2, Call: fnSplit},
	"startswith":           {Name: "startsWith", Min: 2, Max: 2, Call: fnStartsWith},
	"string":               {Name: "string", Min: 1, Max: 1, Call: fnString},
	"substring":            {Name: "substring", Min: 1, Max: 3, Call: fnSubstring},
	"tolower":              {Name: "toLower", Min: 1, Max: 1, Call: fnToLower},
	"toupper":              {Name: "toUpper", Min: 1, Max: 1, Call: fnToUpper},
	"trim":                 {Name: "trim", Min: 1, Max: 1, Call: fnTrim},
	"uniquestring":         {Name: "uniqueString", Min: 1, Max: -1, Call: fnUniqueString},
	"uri":                  {Name: "uri", Min: 2, Max: 2, Call: fnURI},
	"uricomponent":         {Name: "uriComponent", Min: 1, Max: 1, Call: fnURIComponent},
	"uricomponenttostring": {Name: "uriComponentToString", Min: 1, Max: 1, Call: fnURIComponentToString},

	// Dates.
	"adddays": {Name: "addDays", Min: 2, Max: 2, Call: fnAddDays},
	"utcnow":  {Name: "utcNow", Min: 0, Max: 1, Impure: true, CallA: fnUtcNow},

	// IP addresses.
	"cidrhost":        {Name: "cidrHost", Min: 2, Max: 2, Call: fnCidrHost},
	"cidrsubnet":      {Name: "cidrSubnet", Min: 3, Max: 3, Call: fnCidrSubnet},
	"iprangecontains": {Name: "ipRangeContains", Min: 2, Max: 2, Call: fnIPRangeContains},
	"parsecidr":       {Name: "parseCidr", Min: 1, Max: 1, Call: fnParseCidr},
}

// extraTable holds ARM template functions that Azure Policy does NOT allow
// in policy rules (policy-language.md §9.3: dateTimeAdd, dateTimeFromEpoch,
// dateTimeToEpoch) but that the template-function test cases exercise.
// CallFunction consults it; the compiler (eval.go) accepts them only with a
// warning, since Azure would reject a definition that uses them.
var extraTable = map[string]*Func{
	"datetimeadd":       {Name: "dateTimeAdd", Min: 2, Max: 3, Call: fnDateTimeAdd},
	"datetimefromepoch": {Name: "dateTimeFromEpoch", Min: 1, Max: 1, Call: fnDateTimeFromEpoch},
	"datetimetoepoch":   {Name: "dateTimeToEpoch", Min: 1, Max: 1, Call: fnDateTimeToEpoch},
}
