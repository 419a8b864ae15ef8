package alias

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Reference data outside the repository (see docs/design.md: tests read it
// in place).
const (
	sharedDir     = "../../../shared"
	mlCorpusFile  = sharedDir + "/corpus/aliases/Microsoft.MachineLearningServices.json"
	csvFile       = sharedDir + "/peer-cases/azure-policy-evaluator/src/AzurePolicyEvaluator/Resources/policy-aliases.gz"
	regorusDir    = sharedDir + "/peer-cases/regorus/tests/azure_policy/aliases"
	testAliases   = regorusDir + "/test_aliases.json"
	versionedFile = regorusDir + "/versioned_aliases.json"
)

func needShared(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(sharedDir); err != nil {
		t.Skipf("reference data %s is not available (%v); these tests read ../shared in place", sharedDir, err)
	}
}

func mustLoad(t testing.TB, path string) *Catalog {
	t.Helper()
	c, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile(%s): %v", path, err)
	}
	return c
}

// TestLoadShared loads every format from the reference data and checks the
// counts.
func TestLoadShared(t *testing.T) {
	needShared(t)
	tests := []struct {
		file         string
		aliases      int
		types        int
		lookup, path string // one alias and its default path
		typ          string // its resource type
	}{
		// Provider object (az provider show), paths null, extra members.
		{mlCorpusFile, 3328, 34,
			"Microsoft.MachineLearningServices/workspaces/computes/enableNodePublicIp",
			"properties.properties.enableNodePublicIp", "Microsoft.MachineLearningServices/workspaces/computes"},
		// Gzipped CSV without header: 65,399 records (65,398 newlines, the
		// last record has none), 16 names occur twice.
		{csvFile, 65383, 1206,
			"Microsoft.Insights/diagnosticSettings/logs.enabled",
			"properties.logs[*].enabled", "Microsoft.Insights/diagnosticSettings"},
		// Array of providers with capabilities, paths and metadata. 355
		// entries, 13 of them repeat a name (case-insensitively).
		{testAliases, 342, 44,
			"Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value",
			"properties.networkAcls.ipRules[*].value", "Microsoft.Storage/storageAccounts"},
		{versionedFile, 28, 2,
			"Microsoft.Test/versionedResources/tier", "sku.tier", "Microsoft.Test/versionedResources"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			c := mustLoad(t, tt.file)
			if got := c.Len(); got != tt.aliases {
				t.Errorf("Len() = %d, want %d", got, tt.aliases)
			}
			if got := len(c.Types()); got != tt.types {
				t.Errorf("len(Types()) = %d, want %d", got, tt.types)
			}
			a, ok := c.Lookup(tt.lookup)
			if !ok {
				t.Fatalf("Lookup(%q) failed", tt.lookup)
			}
			if got := a.DefaultPath.String(); got != tt.path {
				t.Errorf("DefaultPath = %q, want %q", got, tt.path)
			}
			if a.ResourceType != tt.typ {
				t.Errorf("ResourceType = %q, want %q", a.ResourceType, tt.typ)
			}
			total := 0
			for _, typ := range c.Types() {
				as := c.AliasesOf(typ)
				if !slices.IsSortedFunc(as, func(x, y *Alias) int { return compareFold(x.Name, y.Name) }) {
					t.Errorf("AliasesOf(%s) is not sorted", typ)
				}
				total += len(as)
			}
			if total < c.Len()-20 { // namespace-level aliases have no type of their own
				t.Errorf("AliasesOf covers %d aliases, Len() = %d", total, c.Len())
			}
			if !slices.IsSortedFunc(c.Types(), compareFold) {
				t.Errorf("Types() is not sorted")
			}
		})
	}
}

// TestCSVTypeDerivation checks how the CSV's aliases get their resource
// types: by the '/' prefix, the dotted child-type spelling, and the
// namespace-level aliases that name no type.
func TestCSVTypeDerivation(t *testing.T) {
	needShared(t)
	c := mustLoad(t, csvFile)
	tests := []struct{ name, typ string }{
		{"Microsoft.Network/loadBalancers/inboundNatRules", "Microsoft.Network/loadBalancers"},
		{"Microsoft.Web/sites/config/web.numberOfWorkers", "Microsoft.Web/sites/config"},
		{"Microsoft.ContainerRegistry/registries/scopeMaps.description", "Microsoft.ContainerRegistry/registries/scopeMaps"},
		{"Microsoft.Network/privateEndpoints/privateDnsZoneGroups.privateDnsZoneConfigs[*].privateDnsZoneId", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"},
		{"Microsoft.Network/virtualNetworks/subnets[*].name", "Microsoft.Network/virtualNetworks"},
		{"Microsoft.ServiceBus/namespaces/migrationConfigurations/$default.provisioningState", "Microsoft.ServiceBus/namespaces/migrationConfigurations"},
		{"Microsoft.Compute/imagePublisher", "Microsoft.Compute"},
		{"Microsoft.Sql/auditingSettings.state", "Microsoft.Sql"},
	}
	for _, tt := range tests {
		a, ok := c.Lookup(tt.name)
		if !ok {
			t.Errorf("Lookup(%q) failed", tt.name)
			continue
		}
		if !strings.EqualFold(a.ResourceType, tt.typ) {
			t.Errorf("%s: ResourceType = %q, want %q", tt.name, a.ResourceType, tt.typ)
		}
	}
	nsLevel, dotted := 0, 0
	for _, typ := range c.Types() {
		for _, a := range c.AliasesOf(typ) {
			if st, _, _ := SplitName(a.Name); !strings.EqualFold(st, a.ResourceType) {
				dotted++
			}
		}
	}
	for _, a := range c.byName {
		if !strings.Contains(a.ResourceType, "/") {
			nsLevel++
		}
	}
	// Counted in the 2024 dump: 843 aliases spelled <parent>/<child>.<property>,
	// 14 distinct namespace-level names (30 records) that name no type.
	if dotted != 843 || nsLevel != 14 {
		t.Errorf("dotted child-type aliases = %d (want 843), namespace-level = %d (want 14)", dotted, nsLevel)
	}
}

// TestLoadFixtures covers the formats with the project's own fixtures.
func TestLoadFixtures(t *testing.T) {
	envelope, err := os.ReadFile("testdata/envelope.json")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(envelope)
	zw.Close()

	type check struct{ name, path, typ string }
	tests := []struct {
		name    string
		load    func() (*Catalog, error)
		aliases int
		types   []string
		checks  []check
	}{
		{
			name:    "REST envelope",
			load:    func() (*Catalog, error) { return LoadFile("testdata/envelope.json") },
			aliases: 4,
			types:   []string{"Contoso.Widgets/gadgets", "Contoso.Widgets/gadgets/parts", "Contoso.Widgets/operations"},
			checks: []check{
				{"contoso.widgets/GADGETS/color", "properties.color", "Contoso.Widgets/gadgets"},
				{"Contoso.Widgets/gadgets/ports[*].number", "properties.ports[*].number", "Contoso.Widgets/gadgets"},
				// No defaultPath: the newest api-version's path.
				{"Contoso.Widgets/gadgets/latestOnly", "properties.new", "Contoso.Widgets/gadgets"},
			},
		},
		{
			name:    "gzip detected by magic, not name",
			load:    func() (*Catalog, error) { return Parse(gz.Bytes(), "catalog.json") },
			aliases: 4,
			types:   []string{"Contoso.Widgets/gadgets", "Contoso.Widgets/gadgets/parts", "Contoso.Widgets/operations"},
			checks:  []check{{"Contoso.Widgets/gadgets/parts/weight", "properties.weight", "Contoso.Widgets/gadgets/parts"}},
		},
		{
			name:    "single provider",
			load:    func() (*Catalog, error) { return LoadFile("testdata/provider.json") },
			aliases: 2,
			types:   []string{"Contoso.Widgets/gadgets"},
			checks:  []check{{"Contoso.Widgets/gadgets/labels['env.name']", "tags['env.name']", "Contoso.Widgets/gadgets"}},
		},
		{
			name:    "CSV with header, CRLF, quotes, blank line, extra column, duplicate",
			load:    func() (*Catalog, error) { return LoadFile("testdata/header.csv") },
			aliases: 5,
			types:   []string{"Contoso.Widgets/gadgets", "Contoso.Widgets/gadgets/parts"},
			checks: []check{
				{"Contoso.Widgets/gadgets/size", "properties.size2", "Contoso.Widgets/gadgets"}, // later wins
				{"Contoso.Widgets/gadgets/ports[*].number", "properties.ports[*].number", "Contoso.Widgets/gadgets"},
				{"Contoso.Widgets/gadgets/parts/weight", "properties.weight", "Contoso.Widgets/gadgets/parts"},
				{"Contoso.Widgets/gadgets/parts.color", "properties.color", "Contoso.Widgets/gadgets/parts"},
				{"Contoso.Widgets/shared", "properties.shared", "Contoso.Widgets"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.load()
			if err != nil {
				t.Fatal(err)
			}
			if c.Len() != tt.aliases {
				t.Errorf("Len() = %d, want %d", c.Len(), tt.aliases)
			}
			if got := c.Types(); !slices.Equal(got, tt.types) {
				t.Errorf("Types() = %q, want %q", got, tt.types)
			}
			for _, ck := range tt.checks {
				a, ok := c.Lookup(ck.name)
				if !ok {
					t.Errorf("Lookup(%q) failed", ck.name)
					continue
				}
				if got := a.DefaultPath.String(); got != ck.path {
					t.Errorf("%s: DefaultPath = %q, want %q", ck.name, got, ck.path)
				}
				if a.ResourceType != ck.typ {
					t.Errorf("%s: ResourceType = %q, want %q", ck.name, a.ResourceType, ck.typ)
				}
			}
		})
	}
}

func TestCapabilitiesAndMetadata(t *testing.T) {
	c := mustLoad(t, "testdata/envelope.json")
	tests := []struct {
		typ                   string
		known, tags, location bool
	}{
		{"Contoso.Widgets/gadgets", true, true, true},
		{"contoso.widgets/gadgets/PARTS", true, false, false},
		{"Contoso.Widgets/operations", false, false, false},
	}
	for _, tt := range tests {
		rt, ok := c.Type(tt.typ)
		if !ok {
			t.Errorf("Type(%q) failed", tt.typ)
			continue
		}
		if rt.CapabilitiesKnown != tt.known || rt.SupportsTags != tt.tags || rt.SupportsLocation != tt.location {
			t.Errorf("Type(%q) = %+v, want known=%v tags=%v location=%v", tt.typ, *rt, tt.known, tt.tags, tt.location)
		}
	}
	if _, ok := c.Type("Contoso.Widgets/unknown"); ok {
		t.Errorf("Type(unknown) succeeded")
	}

	color, _ := c.Lookup("Contoso.Widgets/gadgets/color")
	ports, _ := c.Lookup("Contoso.Widgets/gadgets/ports[*].number")
	if color.Modifiable || color.Type != "String" {
		t.Errorf("color: Modifiable=%v Type=%q, want false, String", color.Modifiable, color.Type)
	}
	if !color.ModifiableFor("2021-01-01") || color.ModifiableFor("2019-01-01") || color.ModifiableFor("") {
		t.Errorf("color: ModifiableFor wrong: path metadata must win for its api-versions")
	}
	if !ports.Modifiable || !ports.IsArray() {
		t.Errorf("ports: Modifiable=%v IsArray=%v, want true, true", ports.Modifiable, ports.IsArray())
	}
}

// TestPathFor uses the api-version specific paths of versioned_aliases.json
// and of the project's own fixture.
func TestPathFor(t *testing.T) {
	tests := []struct {
		file, alias, apiVersion, want string
	}{
		{"testdata/envelope.json", "Contoso.Widgets/gadgets/color", "2019-01-01", "properties.colour"},
		{"testdata/envelope.json", "Contoso.Widgets/gadgets/color", "2019-06-01-preview", "properties.colour"}, // case-insensitive
		{"testdata/envelope.json", "Contoso.Widgets/gadgets/color", "2021-01-01", "properties.color"},
		{"testdata/envelope.json", "Contoso.Widgets/gadgets/color", "2030-01-01", "properties.color"},
		{"testdata/envelope.json", "Contoso.Widgets/gadgets/color", "", "properties.color"},
		{versionedFile, "Microsoft.Test/versionedResources/accountType", "2015-06-15", "properties.accountType"},
		{versionedFile, "Microsoft.Test/versionedResources/accountType", "2020-01-01", "sku.name"},
		{versionedFile, "Microsoft.Test/versionedResources/accountType", "2019-06-01", "sku.name"},
		{versionedFile, "Microsoft.Test/versionedResources/accountType", "2018-01-01", "properties.accountType"},
		{versionedFile, "Microsoft.Test/versionedResources/accountType", "", "properties.accountType"},
		{versionedFile, "microsoft.test/versionedresources/CONFIG.THRESHOLD", "2015-01-01", "properties.config.properties.threshold"},
		{versionedFile, "Microsoft.Test/versionedResources/config.threshold", "2020-01-01", "properties.config.threshold"},
		{versionedFile, "Microsoft.Test/versionedResources/tier", "2015-06-15", "properties.pricingTier"},
		{versionedFile, "Microsoft.Test/versionedResources/tier", "2019-06-01", "sku.tier"},
		{versionedFile, "Microsoft.Test/versionedResources/operationMode", "2015-01-01", "properties.legacyMode"},
		{versionedFile, "Microsoft.Test/versionedResources/operationMode", "2017-06-01", "properties.settings.mode"},
		{versionedFile, "Microsoft.Test/versionedResources/operationMode", "2020-01-01", "properties.mode"},
		{versionedFile, "Microsoft.Test/versionedResources/operationMode", "2016-01-01", "properties.mode"},
		{versionedFile, "Microsoft.Test/versionedResources/simpleProp", "2015-01-01", "properties.simpleProp"},
		{versionedFile, "Microsoft.Test/complexResources/settings.encryption.enabled", "2015-01-01", "properties.encryptionEnabled"},
		{testAliases, "Microsoft.Storage/storageAccounts/accountType", "2018-03-01-preview", "sku.name"},
		{testAliases, "Microsoft.Storage/storageAccounts/accountType", "2015-05-01-PREVIEW", "properties.accountType"},
	}
	cats := map[string]*Catalog{}
	for _, tt := range tests {
		if strings.HasPrefix(tt.file, sharedDir) {
			if _, err := os.Stat(sharedDir); err != nil {
				continue
			}
		}
		c := cats[tt.file]
		if c == nil {
			c = mustLoad(t, tt.file)
			cats[tt.file] = c
		}
		a, ok := c.Lookup(tt.alias)
		if !ok {
			t.Errorf("Lookup(%q) failed", tt.alias)
			continue
		}
		if got := a.PathFor(tt.apiVersion).String(); got != tt.want {
			t.Errorf("%s PathFor(%q) = %q, want %q", tt.alias, tt.apiVersion, got, tt.want)
		}
	}
	if _, err := os.Stat(sharedDir); err == nil {
		c := cats[testAliases]
		a, _ := c.Lookup("Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly")
		if !a.Modifiable || a.ModifiableFor("2016-01-01") || !a.ModifiableFor("2019-04-01") {
			t.Errorf("supportsHttpsTrafficOnly: Modifiable=%v, ModifiableFor(2016-01-01)=%v, ModifiableFor(2019-04-01)=%v; want true false true",
				a.Modifiable, a.ModifiableFor("2016-01-01"), a.ModifiableFor("2019-04-01"))
		}
	}
}

func TestLookupCaseInsensitive(t *testing.T) {
	c := mustLoad(t, "testdata/envelope.json")
	long := "Contoso.Widgets/gadgets/" + strings.Repeat("X", 600)
	c = Merge(c, NewCatalog(
		&Alias{Name: long, ResourceType: "Contoso.Widgets/gadgets", DefaultPath: mustPath(t, "properties.x")},
		&Alias{Name: "Contoso.Widgets/gadgets/Kelvin", ResourceType: "Contoso.Widgets/gadgets", DefaultPath: mustPath(t, "properties.k")},
	))
	tests := []struct {
		name string
		ok   bool
	}{
		{"Contoso.Widgets/gadgets/color", true},
		{"contoso.widgets/gadgets/color", true},
		{"CONTOSO.WIDGETS/GADGETS/COLOR", true},
		{"Contoso.Widgets/gadgets/colour", false},
		{"Contoso.Widgets/gadgets/color ", false},
		{"", false},
		{strings.ToLower(long), true}, // longer than the stack buffer
		{long, true},
		{"Contoso.Widgets/gadgets/KELVIN", true},
		// ASCII folding only: the Kelvin sign U+212A is not a 'K'.
		{"Contoso.Widgets/gadgets/\u212aelvin", false},
	}
	for _, tt := range tests {
		if _, ok := c.Lookup(tt.name); ok != tt.ok {
			t.Errorf("Lookup(%q) ok = %v, want %v", tt.name, ok, tt.ok)
		}
	}
	if a, ok := c.LookupIn("CONTOSO.WIDGETS/GADGETS/PARTS", "contoso.widgets/gadgets/parts/WEIGHT"); !ok || a.DefaultPath.String() != "properties.weight" {
		t.Errorf("LookupIn failed: %v %v", a, ok)
	}
	if _, ok := c.LookupIn("Contoso.Widgets/gadgets", "Contoso.Widgets/gadgets/parts/weight"); ok {
		t.Errorf("LookupIn found an alias of another type")
	}
	var nilCat *Catalog
	if _, ok := nilCat.Lookup("x"); ok || nilCat.Len() != 0 || nilCat.Types() != nil || nilCat.AliasesOf("x") != nil {
		t.Errorf("nil catalog is not empty")
	}
}

func TestMerge(t *testing.T) {
	a := NewCatalog(
		&Alias{Name: "N.S/t/a", ResourceType: "N.S/t", DefaultPath: mustPath(t, "properties.a1")},
		&Alias{Name: "N.S/t/b", ResourceType: "N.S/t", DefaultPath: mustPath(t, "properties.b")},
	)
	b := NewCatalog(
		&Alias{Name: "n.s/T/A", ResourceType: "n.s/T", DefaultPath: mustPath(t, "properties.a2")},
		&Alias{Name: "N.S/u/c", ResourceType: "N.S/u", DefaultPath: mustPath(t, "properties.c")},
	)
	caps, err := Parse([]byte(`[{"namespace":"N.S","resourceTypes":[{"resourceType":"t","capabilities":"SupportsTags"}]}]`), "caps.json")
	if err != nil {
		t.Fatal(err)
	}
	m := Merge(a, caps, nil, b)
	if m.Len() != 3 {
		t.Errorf("Len() = %d, want 3", m.Len())
	}
	if got, _ := m.Lookup("N.S/t/a"); got.DefaultPath.String() != "properties.a2" {
		t.Errorf("later catalog did not win: %s", got.DefaultPath)
	}
	if got := m.Types(); !slices.Equal(got, []string{"N.S/t", "N.S/u"}) {
		t.Errorf("Types() = %q", got)
	}
	if rt, _ := m.Type("n.s/t"); !rt.CapabilitiesKnown || !rt.SupportsTags || rt.SupportsLocation {
		t.Errorf("capabilities lost in merge: %+v", *rt)
	}
	if got := len(m.AliasesOf("N.S/t")); got != 2 {
		t.Errorf("AliasesOf(N.S/t) has %d aliases, want 2", got)
	}
	// The inputs are unchanged.
	if got, _ := a.Lookup("N.S/t/a"); got.DefaultPath.String() != "properties.a1" {
		t.Errorf("Merge modified its input")
	}
	if Merge().Len() != 0 {
		t.Errorf("Merge() is not empty")
	}
}

func TestSplitName(t *testing.T) {
	tests := []struct {
		name, typ, prop string
		ok              bool
	}{
		{"Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value", "Microsoft.Storage/storageAccounts", "networkAcls.ipRules[*].value", true},
		{"Microsoft.Network/loadBalancers/inboundNatRules", "Microsoft.Network/loadBalancers", "inboundNatRules", true},
		{"Microsoft.MachineLearningServices.Data/workspaces/tags[*]", "Microsoft.MachineLearningServices.Data/workspaces", "tags[*]", true},
		{"Microsoft.Web/sites/config/web.numberOfWorkers", "Microsoft.Web/sites/config", "web.numberOfWorkers", true},
		{"Contoso.X/t/tags['a/b']", "Contoso.X/t", "tags['a/b']", true},
		{"Contoso.X/t/p.q/r", "Contoso.X/t", "p.q/r", true},
		{"Microsoft.Compute/imagePublisher", "Microsoft.Compute", "imagePublisher", false},
		{"noslash", "", "noslash", false},
		{"/x/y", "", "/x/y", false},
	}
	for _, tt := range tests {
		typ, prop, ok := SplitName(tt.name)
		if typ != tt.typ || prop != tt.prop || ok != tt.ok {
			t.Errorf("SplitName(%q) = %q, %q, %v; want %q, %q, %v", tt.name, typ, prop, ok, tt.typ, tt.prop, tt.ok)
		}
	}
}

// TestBadInput loads each testdata/bad file and compares the errors with
// its golden file (go test -update rewrites them).
func TestBadInput(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".golden") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(f)
			c, err := Parse(data, name)
			if err == nil {
				t.Fatalf("Parse succeeded, want errors")
			}
			if c == nil {
				t.Fatalf("Parse returned a nil catalog with its errors")
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T is not a non-empty ErrorList", err)
			}
			var got strings.Builder
			for _, e := range list {
				if e.File != name {
					t.Errorf("error does not name the file: %q", e)
				}
				got.WriteString(e.Code + "\t" + e.Error() + "\n")
			}
			golden := f + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got.String() != string(want) {
				t.Errorf("errors differ from %s:\ngot:\n%s\nwant:\n%s", golden, got.String(), want)
			}
		})
	}
	if n < 10 {
		t.Errorf("only %d bad inputs found", n)
	}
}

// TestBadInputKeepsGoodEntries: a document with errors still yields the
// entries that loaded.
func TestBadInputKeepsGoodEntries(t *testing.T) {
	for _, tt := range []struct{ file, alias string }{
		{"testdata/bad/shapes.json", "Contoso.B/gadgets/good"},
		{"testdata/bad/fields.csv", "Contoso.Widgets/gadgets/ok2"},
		{"testdata/bad/quote.csv", "Contoso.Widgets/gadgets/good"},
	} {
		c, err := LoadFile(tt.file)
		if err == nil {
			t.Errorf("%s: no error", tt.file)
		}
		if _, ok := c.Lookup(tt.alias); !ok {
			t.Errorf("%s: good alias %s was dropped", tt.file, tt.alias)
		}
	}
}

func TestReadErrors(t *testing.T) {
	_, err := LoadFile("testdata/does-not-exist.json")
	var list ErrorList
	if !errors.As(err, &list) || list[0].Code != CodeRead || !strings.Contains(err.Error(), "does-not-exist.json") {
		t.Errorf("missing file: %v", err)
	}
	_, err = Parse([]byte("\x1f\x8b\x08\x00garbage"), "broken.gz")
	if !errors.As(err, &list) || list[0].Code != CodeRead || !strings.HasPrefix(err.Error(), "broken.gz: gzip") {
		t.Errorf("corrupt gzip: %v", err)
	}
	// Too many errors: collection stops with a final marker.
	var b strings.Builder
	for range 150 {
		b.WriteString("a/b/c,x..y\n")
	}
	_, err = Parse([]byte(b.String()), "many.csv")
	if !errors.As(err, &list) || len(list) != maxErrors+1 || list[maxErrors].Code != CodeTooManyErrors {
		t.Errorf("error bound: got %d errors", len(list))
	}
}

func TestPointerEscaping(t *testing.T) {
	if got := ptrKey("/0", "a~b/c"); got != "/0/a~0b~1c" {
		t.Errorf("ptrKey = %q", got)
	}
	if got := ptrIndex(ptrKey("", "value"), 3); got != "/value/3" {
		t.Errorf("ptrIndex = %q", got)
	}
}

// FuzzParse: Parse never panics, and a successful parse yields a
// consistent catalog.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/envelope.json", "testdata/provider.json", "testdata/header.csv"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	if files, err := filepath.Glob("testdata/bad/*"); err == nil {
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil && !strings.HasSuffix(p, ".golden") {
				f.Add(data)
			}
		}
	}
	f.Add([]byte(`{"value":[{"namespace":"A","resourceTypes":[{"resourceType":"b","aliases":[{"name":"A/b/c","defaultPath":"x[*].y"}]}]}]}`))
	f.Add([]byte("a/b/c,d\n"))
	f.Add([]byte("\x1f\x8b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz")
		if c == nil {
			t.Fatal("nil catalog")
		}
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not an ErrorList", err)
			}
			_ = err.Error()
		}
		for _, typ := range c.Types() {
			if _, ok := c.Type(typ); !ok {
				t.Fatalf("Types() lists %q but Type fails", typ)
			}
			for _, a := range c.AliasesOf(typ) {
				if len(a.DefaultPath) == 0 {
					t.Fatalf("%s has an empty path", a.Name)
				}
				if _, ok := c.Lookup(a.Name); !ok {
					t.Fatalf("alias %q of AliasesOf is not found by Lookup", a.Name)
				}
			}
		}
	})
}
