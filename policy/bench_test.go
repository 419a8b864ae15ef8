package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/internal/resgen"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/value"
)

// shared is the reference data beside the repository, read in place
// (never copied in).
const shared = "../../shared"

const (
	mlBuiltinsDir   = "corpus/azure-policy/policyDefinitions/Machine Learning"
	allBuiltinsDir  = "peer-cases/azure-policy-builtins/built-in-policies/policyDefinitions"
	peerAliasesFile = "peer-cases/azure-policy-evaluator/src/AzurePolicyEvaluator/Resources/policy-aliases.gz"
)

func needShared(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(shared, rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("reference data %s not found (../shared must sit beside the repository): %v", p, err)
	}
	return p
}

// mlParameters are the assignment values the Machine Learning built-ins
// need (the same as examples/ml-parameters.json): values shared by every
// definition that declares them, and per-file ones.
func mlParameters(file string) map[string]value.Value {
	str := value.StringValue
	arr := func(s ...string) value.Value {
		l := make([]value.Value, len(s))
		for i, x := range s {
			l[i] = str(x)
		}
		return value.ArrayValue(l)
	}
	p := map[string]value.Value{
		"datastore":               str("LogsDatastore"),
		"signingKey":              str("-----BEGIN PGP PUBLIC KEY BLOCK-----\r\n\r\nmDMEZb1j8hY=\r\n-----END PGP PUBLIC KEY BLOCK-----"),
		"approvalEndpoint":        str("http://amlrunapproval/approve"),
		"logAnalytics":            str("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-monitor/providers/Microsoft.OperationalInsights/workspaces/law-central"),
		"privateDnsZoneId":        str("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms"),
		"secondPrivateDnsZoneId":  str("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.notebooks.azure.net"),
		"privateEndpointSubnetId": str("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-network/providers/Microsoft.Network/virtualNetworks/vnet-hub/subnets/snet-pe"),
		"isolationMode":           str("AllowOnlyApprovedOutbound"),
		"allowedRegistryName":     str("azureml"),
		"restrictedModels":        arr("azureml://registries/azureml/models/Phi-4/versions/3"),
		"allowedPublishers":       arr("Microsoft", "Meta"),
		"allowedAssetIds":         arr(),
	}
	if file == "OnlyDeployAllowedRegistryModels_Deny" {
		p["effect"] = str("Deny")
	}
	return p
}

// mlPrograms compiles the 26 Machine Learning built-ins, read in place.
func mlPrograms(tb testing.TB) []*Program {
	tb.Helper()
	dir := needShared(tb, mlBuiltinsDir)
	files, err := definition.LoadPaths([]string{dir})
	if err != nil {
		tb.Fatal(err)
	}
	var progs []*Program
	for _, f := range files {
		if f.Err != nil {
			tb.Fatalf("%s: %v", f.Path, f.Err)
		}
		d := f.Doc.Policy
		base := strings.TrimSuffix(filepath.Base(f.Path), ".json")
		params := map[string]value.Value{}
		for k, v := range mlParameters(base) {
			for _, pd := range d.Parameters {
				if strings.EqualFold(pd.Name, k) {
					params[k] = v
				}
			}
		}
		p, err := Compile(d, Options{Aliases: alias.Builtin(), Parameters: params})
		if err != nil {
			tb.Fatalf("%s: %v", f.Path, err)
		}
		progs = append(progs, p)
	}
	if len(progs) != 26 {
		tb.Fatalf("compiled %d Machine Learning built-ins, want 26", len(progs))
	}
	return progs
}

// mlLines returns n generated resources as JSON lines.
func mlLines(n int, seed uint64) [][]byte {
	g := resgen.New(seed)
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.Append(nil)
	}
	return out
}

// mlResources returns n generated resources, decoded.
func mlResources(tb testing.TB, n int, seed uint64) []value.Value {
	tb.Helper()
	out := make([]value.Value, n)
	for i, l := range mlLines(n, seed) {
		v, err := value.Parse(l)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = v
	}
	return out
}

var benchNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// BenchmarkEvaluateMLBuiltins evaluates the 26 Machine Learning built-ins
// against 1,000 generated ML resources, decoded once: "all" runs every
// program on every resource (the type and mode fast paths reject most),
// "indexed" only the Index candidates, and "summary" is Index.EvaluateEach
// without building effect details, as `mlgov policy eval --summary` does.
// One op is the whole set.
func BenchmarkEvaluateMLBuiltins(b *testing.B) {
	progs := mlPrograms(b)
	res := mlResources(b, 1000, 1)
	ix := NewIndex(progs)
	run := func(b *testing.B, indexed, skipDetails, each bool) {
		in := Input{Now: benchNow, SkipDetails: skipDetails}
		var buf [256]byte
		var fired int
		count := func(_ int, out Result) { fired += int(out.Effect) }
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range res {
				in.Resource = r
				if !indexed {
					for _, p := range progs {
						out := p.Evaluate(&in)
						fired += int(out.Effect)
					}
					continue
				}
				if each {
					ix.EvaluateEach(&in, count)
					continue
				}
				for _, i := range ix.Candidates(r.Field("type").Str(), buf[:0]) {
					out := progs[i].Evaluate(&in)
					fired += int(out.Effect)
				}
			}
		}
		reportPerResource(b, len(res))
	}
	b.Run("all", func(b *testing.B) { run(b, false, false, false) })
	b.Run("indexed", func(b *testing.B) { run(b, true, false, false) })
	b.Run("summary", func(b *testing.B) { run(b, true, true, true) })
}

// BenchmarkDecodeAndEvaluate decodes each of 1,000 generated ML resources
// (JSON lines) with a reused Decoder and evaluates the Machine Learning
// built-ins that may apply to it (Index.EvaluateEach, no details): the
// per-resource work of `mlgov policy eval --summary` without the file
// reading.
func BenchmarkDecodeAndEvaluate(b *testing.B) {
	progs := mlPrograms(b)
	lines := mlLines(1000, 1)
	ix := NewIndex(progs)
	var dec value.Decoder
	in := Input{Now: benchNow, SkipDetails: true}
	var bytes int
	for _, l := range lines {
		bytes += len(l)
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			r, err := dec.Decode(l)
			if err != nil {
				b.Fatal(err)
			}
			in.Resource = r
			ix.EvaluateEach(&in, func(int, Result) {})
		}
	}
	reportPerResource(b, len(lines))
}

// BenchmarkDecode is the decoding part of BenchmarkDecodeAndEvaluate.
func BenchmarkDecode(b *testing.B) {
	lines := mlLines(1000, 1)
	var dec value.Decoder
	var bytes int
	for _, l := range lines {
		bytes += len(l)
	}
	b.SetBytes(int64(bytes))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			if _, err := dec.Decode(l); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportPerResource(b, len(lines))
}

func reportPerResource(b *testing.B, n int) {
	if b.N == 0 || b.Elapsed() == 0 {
		return
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N*n)
	b.ReportMetric(per, "ns/resource")
	b.ReportMetric(1e9/per, "resources/s")
}

// BenchmarkCompileBuiltins compiles every built-in policy definition of the
// peer-case snapshot (5,009 definitions, read and parsed once, outside the
// timing) with mlgov's aliases merged with the snapshot's alias catalog, as
// `mlgov policy compile` does.
func BenchmarkCompileBuiltins(b *testing.B) {
	dir := needShared(b, allBuiltinsDir)
	aliasFile := needShared(b, peerAliasesFile)
	peer, err := alias.LoadFile(aliasFile)
	if err != nil {
		b.Fatal(err)
	}
	cat := alias.Merge(alias.Builtin(), peer)
	files, err := definition.LoadPaths([]string{dir})
	if err != nil {
		b.Fatal(err)
	}
	var defs []*definition.Definition
	for _, f := range files {
		if f.Err == nil && f.Doc.Kind != definition.KindPolicySet {
			defs = append(defs, f.Doc.Policy)
		}
	}
	if len(defs) < 5000 {
		b.Fatalf("loaded %d definitions, want the 5,009 built-ins", len(defs))
	}
	opts := Options{Aliases: cat, AllowExtraParameters: true, AllowMissingParameters: true}
	b.ReportAllocs()
	var failed int
	for b.Loop() {
		failed = 0
		for _, d := range defs {
			if _, err := Compile(d, opts); err != nil {
				failed++
			}
		}
	}
	if failed > 0 {
		b.Errorf("%d of %d definitions failed to compile", failed, len(defs))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(defs)), "ns/definition")
}
