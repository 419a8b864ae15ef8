package alias

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const policyDir = sharedDir + "/corpus/azure-policy/policyDefinitions"

func TestBuiltinBuilds(t *testing.T) {
	c, err := buildBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	if Builtin() != Builtin() {
		t.Error("Builtin() is not shared")
	}
	if c.Len() != Builtin().Len() {
		t.Errorf("Len differs: %d vs %d", c.Len(), Builtin().Len())
	}
	if got := len(c.Types()); got != len(servedTypes) {
		t.Errorf("%d types, want %d", got, len(servedTypes))
	}
	for _, typ := range c.Types() {
		for _, a := range c.AliasesOf(typ) {
			if a.ResourceType != typ || !strings.HasPrefix(a.Name, parentOf(typ)) || len(a.DefaultPath) == 0 {
				t.Errorf("inconsistent alias %+v of %s", a, typ)
			}
		}
	}
	t.Logf("Builtin: %d aliases, %d types", c.Len(), len(c.Types()))
}

func parentOf(typ string) string {
	return typ[:strings.LastIndexByte(typ, '/')+1]
}

func TestBuiltinTypes(t *testing.T) {
	tests := []struct {
		typ            string
		tags, location bool
	}{
		{"Microsoft.MachineLearningServices/workspaces", true, true},
		{"microsoft.machinelearningservices/workspaces/computes", true, true},
		{"Microsoft.MachineLearningServices/workspaces/jobs", false, false},
		{"Microsoft.MachineLearningServices/workspaces/onlineEndpoints", true, true},
		{"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments", true, true},
		{"Microsoft.MachineLearningServices/workspaces/batchEndpoints", true, true},
		{"Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments", true, true},
		{"Microsoft.MachineLearningServices/workspaces/datastores", false, false},
		{"Microsoft.MachineLearningServices/workspaces/connections", false, false},
		{"Microsoft.MachineLearningServices/workspaces/outboundRules", false, false},
		{"Microsoft.MachineLearningServices/workspaces/privateEndpointConnections", false, false},
		{"Microsoft.MachineLearningServices/registries", true, true},
		{"Microsoft.MachineLearningServices.Data/workspaces", false, false},
		{"Microsoft.MachineLearningServices.v2.Data/workspaces/deployments", false, false},
		{"Microsoft.Storage/storageAccounts", true, true},
		{"Microsoft.KeyVault/vaults", true, true},
		{"Microsoft.ContainerRegistry/registries", true, true},
		{"Microsoft.Insights/components", true, true},
		{"Microsoft.Insights/diagnosticSettings", false, false},
		{"Microsoft.Network/privateEndpoints", true, true},
		{"Microsoft.Network/privateEndpoints/privateDnsZoneGroups", false, false},
		{"Microsoft.Network/privateDnsZones", true, true},
		{"Microsoft.Network/privateDnsZones/virtualNetworkLinks", true, true},
		{"Microsoft.Network/virtualNetworks", true, true},
		{"Microsoft.Network/virtualNetworks/subnets", false, false},
		{"Microsoft.ManagedIdentity/userAssignedIdentities", true, true},
		{"Microsoft.Security/assessments", false, false},
	}
	c := Builtin()
	for _, tt := range tests {
		rt, ok := c.Type(tt.typ)
		if !ok {
			t.Errorf("type %s is not served", tt.typ)
			continue
		}
		if !rt.CapabilitiesKnown || rt.SupportsTags != tt.tags || rt.SupportsLocation != tt.location {
			t.Errorf("%s: %+v, want tags=%v location=%v", tt.typ, *rt, tt.tags, tt.location)
		}
		if len(c.AliasesOf(tt.typ)) == 0 {
			t.Errorf("%s has no aliases", tt.typ)
		}
	}
	if len(tests) != len(c.Types()) {
		t.Errorf("table covers %d types, Builtin has %d", len(tests), len(c.Types()))
	}
}

func TestBuiltinAliases(t *testing.T) {
	tests := []struct {
		name, path string
		modifiable bool
	}{
		{"Microsoft.MachineLearningServices/workspaces/computes/enableNodePublicIP", "properties.properties.enableNodePublicIp", true},
		{"Microsoft.MachineLearningServices/workspaces/computes/disableLocalAuth", "properties.disableLocalAuth", true},
		{"Microsoft.MachineLearningServices/workspaces/computes/computeType", "properties.computeType", false},
		{"Microsoft.MachineLearningServices/workspaces/computes/SynapseSpark.nodeCount", "properties.properties.nodeCount", false},
		{"Microsoft.MachineLearningServices/workspaces/publicNetworkAccess", "properties.publicNetworkAccess", true},
		{"Microsoft.MachineLearningServices/workspaces/provisioningState", "properties.provisioningState", false},
		{"Microsoft.MachineLearningServices/workspaces/privateEndpointConnections[*].privateLinkServiceConnectionState.status",
			"properties.privateEndpointConnections[*].properties.privateLinkServiceConnectionState.status", false},
		{"Microsoft.MachineLearningServices/workspaces/linkedWorkspaces.linkedWorkspaceResourceId", "properties.linkedWorkspaceResourceId", false},
		{"Microsoft.MachineLearningServices/workspaces/jobs/jobType", "properties.jobType", false},
		{"Microsoft.MachineLearningServices/workspaces/jobs/Sweep.limits.Sweep.maxTotalTrials", "properties.limits.maxTotalTrials", false},
		{"Microsoft.MachineLearningServices.Data/workspaces/computeName", "computeName", false},
		{"Microsoft.MachineLearningServices.Data/workspaces/tags[*]", "tags[*]", false},
		{"Microsoft.MachineLearningServices.v2.Data/workspaces/deployments/model.assetId", "model.assetId", false},
		{"Microsoft.Insights/diagnosticSettings/logs.enabled", "properties.logs[*].enabled", false},
		{"Microsoft.Storage/storageAccounts/allowBlobPublicAccess", "properties.allowBlobPublicAccess", true},
		{"Microsoft.Network/privateEndpoints/privateDnsZoneGroups.privateDnsZoneConfigs[*].privateDnsZoneId",
			"properties.privateDnsZoneConfigs[*].properties.privateDnsZoneId", false},
	}
	c := Builtin()
	for _, tt := range tests {
		a, ok := c.Lookup(tt.name)
		if !ok {
			t.Errorf("%s is missing", tt.name)
			continue
		}
		if a.DefaultPath.String() != tt.path || a.Modifiable != tt.modifiable {
			t.Errorf("%s = %s (modifiable %v), want %s (%v)", tt.name, a.DefaultPath, a.Modifiable, tt.path, tt.modifiable)
		}
	}
	for _, typ := range []string{mlData + "workspaces", mlV2 + "workspaces/deployments"} {
		for _, a := range c.AliasesOf(typ) {
			if a.Modifiable {
				t.Errorf("data-plane alias %s is Modifiable", a.Name)
			}
		}
	}
}

// policyRefs extracts the aliases a set of policy definitions references:
// every "field" member (conditions, count.field, modify operations) whose
// value names an alias, and every field('...') inside expressions. modify
// lists the fields of modify operations.
func policyRefs(t *testing.T, files []string) (refs map[string][]string, modify []string) {
	t.Helper()
	fieldFn := regexp.MustCompile(`(?i)field\('([^']+)'\)`)
	refs = map[string][]string{}
	add := func(name, file string) {
		if strings.Contains(name, "/") && !strings.HasPrefix(name, "[") && !slices.Contains(refs[name], file) {
			refs[name] = append(refs[name], file)
		}
	}
	var walk func(v any, file string, inOps bool)
	walk = func(v any, file string, inOps bool) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if strings.EqualFold(k, "field") {
					if s, ok := x.(string); ok {
						add(s, file)
						if inOps && strings.Contains(s, "/") {
							modify = append(modify, s)
						}
					}
				}
				walk(x, file, inOps || strings.EqualFold(k, "operations"))
			}
		case []any:
			for _, x := range v {
				walk(x, file, inOps)
			}
		case string:
			for _, m := range fieldFn.FindAllStringSubmatch(v, -1) {
				add(m[1], file)
			}
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(doc, filepath.Base(f), false)
	}
	return refs, modify
}

// TestBuiltinMatchesCorpus: every alias the 26 Machine Learning built-ins
// and the 9 Monitoring DS_* definitions use resolves in Builtin to the path
// Azure publishes: ../shared/corpus/aliases for the ML types, the full CSV
// dump for the others, and the table below for the data-plane component
// types, which no public catalog has.
func TestBuiltinMatchesCorpus(t *testing.T) {
	needShared(t)
	ml, _ := filepath.Glob(policyDir + "/Machine Learning/*.json")
	ds, _ := filepath.Glob(policyDir + "/Monitoring/DS_*.json")
	if len(ml) != 26 || len(ds) != 9 {
		t.Fatalf("found %d ML and %d DS_* definitions, want 26 and 9", len(ml), len(ds))
	}
	refs, modify := policyRefs(t, append(ml, ds...))
	corpus := mustLoad(t, mlCorpusFile)
	csv := mustLoad(t, csvFile)
	dataPlane := map[string]string{
		"microsoft.machinelearningservices.data/workspaces/computename":                       "computeName",
		"microsoft.machinelearningservices.data/workspaces/computetype":                       "computeType",
		"microsoft.machinelearningservices.data/workspaces/isisolatednetwork":                 "isIsolatedNetwork",
		"microsoft.machinelearningservices.data/workspaces/tags[*]":                           "tags[*]",
		"microsoft.machinelearningservices.v2.data/workspaces/deployments/model.assetid":      "model.assetId",
		"microsoft.machinelearningservices.v2.data/workspaces/deployments/model.publisher":    "model.publisher",
		"microsoft.machinelearningservices.v2.data/workspaces/deployments/model.registryname": "model.registryName",
	}
	b := Builtin()
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	bySource := map[string]int{}
	for _, name := range names {
		got, ok := b.Lookup(name)
		if !ok {
			t.Errorf("%s (used by %s) is not in Builtin", name, strings.Join(refs[name], ", "))
			continue
		}
		typ, _, _ := SplitName(name)
		var want string
		switch {
		case strings.EqualFold(typ, "Microsoft.MachineLearningServices") || strings.HasPrefix(strings.ToLower(typ), "microsoft.machinelearningservices/"):
			ref, ok := corpus.Lookup(name)
			if !ok {
				t.Errorf("%s is not in the corpus catalog", name)
				continue
			}
			want = ref.DefaultPath.String()
			bySource["corpus"]++
		case dataPlane[strings.ToLower(name)] != "":
			want = dataPlane[strings.ToLower(name)]
			bySource["data-plane table"]++
		default:
			ref, ok := csv.Lookup(name)
			if !ok {
				t.Errorf("%s is not in the CSV catalog", name)
				continue
			}
			want = ref.DefaultPath.String()
			bySource["csv"]++
		}
		if got.DefaultPath.String() != want {
			t.Errorf("%s: Builtin path %s, Azure %s", name, got.DefaultPath, want)
		}
	}
	t.Logf("%d distinct alias references checked: %v", len(names), bySource)
	if len(names) < 30 {
		t.Errorf("only %d alias references extracted; the extraction is broken", len(names))
	}
	if len(modify) < 2 {
		t.Errorf("found %d modify operations, want at least 2", len(modify))
	}
	for _, f := range modify {
		if a, ok := b.Lookup(f); !ok || !a.Modifiable {
			t.Errorf("modify built-in sets %s, which is not Modifiable in Builtin", f)
		}
	}
}

// TestBuiltinReproducesCorpus compares Builtin with the published catalogs
// for every served type: every Builtin alias that exists there must have the
// same path, and Builtin must reproduce all of the ML corpus.
func TestBuiltinReproducesCorpus(t *testing.T) {
	needShared(t)
	corpus := mustLoad(t, mlCorpusFile)
	csv := mustLoad(t, csvFile)
	b := Builtin()
	var totalRef, totalSame int
	for _, typ := range b.Types() {
		isML := strings.HasPrefix(typ, ml)
		ref := csv
		if isML {
			ref = corpus
		} else if strings.Contains(typ, ".Data/") {
			continue // no public catalog
		}
		same, extra := 0, 0
		for _, a := range b.AliasesOf(typ) {
			r, ok := ref.LookupIn(typ, a.Name)
			if !ok {
				extra++
				t.Errorf("%s is not in the reference catalog (misspelt shape member?)", a.Name)
				continue
			}
			// ML: exact spelling. CSV: ARM paths match case-insensitively and
			// the 2024 dump mixes spellings (VirtualNetworkPeerings).
			if a.DefaultPath.String() == r.DefaultPath.String() ||
				!isML && strings.EqualFold(a.DefaultPath.String(), r.DefaultPath.String()) {
				same++
			} else {
				t.Errorf("%s: Builtin path %s, reference %s", a.Name, a.DefaultPath, r.DefaultPath)
			}
		}
		refN := len(ref.AliasesOf(typ))
		t.Logf("%-75s builtin %4d  reference %4d  same path %4d (%5.1f%% of reference)",
			typ, len(b.AliasesOf(typ)), refN, same, 100*float64(same)/float64(max(refN, 1)))
		if isML {
			totalRef += refN
			totalSame += same
			if same != refN {
				t.Errorf("%s: Builtin reproduces %d of the corpus's %d aliases", typ, same, refN)
			}
		}
	}
	t.Logf("served ML types: Builtin reproduces %d of %d corpus aliases exactly", totalSame, totalRef)
}

// TestImports enforces the package's dependency rule (doc.go).
func TestImports(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(p, "/")
			if strings.Contains(first, ".") && p != "github.com/mlgov/mlgov/policy/value" {
				t.Errorf("%s imports %s: only the standard library and policy/value are allowed", f, p)
			}
		}
	}
}

var lookupNames = []string{
	"Microsoft.MachineLearningServices/workspaces/computes/disableLocalAuth",
	"microsoft.machinelearningservices/workspaces/publicnetworkaccess",
	"Microsoft.MachineLearningServices/workspaces/privateEndpointConnections[*].privateLinkServiceConnectionState.status",
	"Microsoft.Insights/diagnosticSettings/logs[*].enabled",
	"Microsoft.Unknown/things/nothing",
}

func TestLookupsDoNotAllocate(t *testing.T) {
	c := Builtin()
	for _, name := range lookupNames {
		if n := testing.AllocsPerRun(100, func() { c.Lookup(name) }); n != 0 {
			t.Errorf("Lookup(%q) allocates %v times", name, n)
		}
		if n := testing.AllocsPerRun(100, func() { c.LookupIn("Microsoft.MachineLearningServices/workspaces", name) }); n != 0 {
			t.Errorf("LookupIn(%q) allocates %v times", name, n)
		}
		typ, _, _ := SplitName(name)
		if n := testing.AllocsPerRun(100, func() { c.Type(typ) }); n != 0 {
			t.Errorf("Type(%q) allocates %v times", typ, n)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	c := Builtin()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Lookup(lookupNames[i%len(lookupNames)])
		i++
	}
}
