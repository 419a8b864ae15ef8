package expr

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mlgov/mlgov/policy/value"
)

// The regorus project's template-function cases (read in place from the
// shared peer-case directory; never copied into the repository).
const regorusCasesDir = "../../../shared/peer-cases/regorus/tests/azure_policy_builtins/cases"

// regorusDeviations lists the cases where we deliberately differ from
// regorus's expectation, with the reason. They are reported, not failed;
// a listed case that starts passing fails the test so the list stays true.
var regorusDeviations = map[string]string{
	"ip_range_contains/ip_invalid_range":      "Azure Policy docs: invalid or empty ranges are an evaluation failure; regorus returns false",
	"ip_range_contains/ip_invalid_target":     "Azure Policy docs: invalid or empty ranges are an evaluation failure; regorus returns false",
	"create_object/create_object_numeric_key": "ARM documents createObject keys as strings and JSON object keys are strings; regorus builds an object with numeric keys",
}

type regorusFile struct {
	Builtin string        `yaml:"builtin"`
	Cases   []regorusCase `yaml:"cases"`
}

type regorusCase struct {
	Note          string    `yaml:"note"`
	Args          yaml.Node `yaml:"args"`
	Want          yaml.Node `yaml:"want"`
	WantNull      bool      `yaml:"want_null"`
	WantUndefined bool      `yaml:"want_undefined"`
	WantError     *string   `yaml:"want_error"`
	Skip          bool      `yaml:"skip"`
}

// regorusFunction maps a regorus builtin name to an ARM function name.
func regorusFunction(builtin string) string {
	name := strings.TrimPrefix(builtin, "azure.policy.")
	name = strings.TrimPrefix(name, "fn.")
	switch name {
	case "int_mod":
		return "mod"
	case "int_div":
		return "div"
	case "logic_any":
		return "or"
	case "logic_all":
		return "and"
	}
	parts := strings.Split(name, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// yamlValue converts a YAML node keeping the int/float distinction of the
// YAML tags (42 → Int, 42.0 → Float).
func yamlValue(n *yaml.Node) (value.Value, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return value.NullValue(), nil
		}
		return yamlValue(n.Content[0])
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.SequenceNode:
		out := make([]value.Value, len(n.Content))
		for i, c := range n.Content {
			v, err := yamlValue(c)
			if err != nil {
				return value.Value{}, err
			}
			out[i] = v
		}
		return value.ArrayValue(out), nil
	case yaml.MappingNode:
		ms := make([]value.Member, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := yamlValue(n.Content[i+1])
			if err != nil {
				return value.Value{}, err
			}
			ms = append(ms, value.Member{Key: n.Content[i].Value, Value: v})
		}
		return value.ObjectValue(ms...), nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return value.NullValue(), nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return value.Value{}, err
			}
			return value.BoolValue(b), nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return value.Value{}, err
			}
			return value.IntValue(i), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return value.Value{}, err
			}
			return value.FloatValue(f), nil
		default:
			return value.StringValue(n.Value), nil
		}
	}
	return value.Value{}, fmt.Errorf("unsupported YAML node kind %v at line %d", n.Kind, n.Line)
}

// strictEqual is value.Equal that also tells integers from floats.
func strictEqual(a, b value.Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case value.Int:
		return a.Int() == b.Int()
	case value.Float:
		return a.Float() == b.Float() || (math.IsNaN(a.Float()) && math.IsNaN(b.Float()))
	case value.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Elems() {
			if !strictEqual(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case value.Object:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			k, av := a.MemberAt(i)
			bv, ok := b.Get(k)
			if !ok || !strictEqual(av, bv) {
				return false
			}
		}
		return true
	}
	return value.Equal(a, b)
}

// resolveField is regorus's azure.policy.resolve_field: the value at a
// dotted raw JSON path of a resource (keys case-insensitive).
func resolveField(args []value.Value) (value.Value, error) {
	if len(args) != 2 || args[1].Kind() != value.String {
		return value.Value{}, fmt.Errorf("resolve_field expects (resource, path string)")
	}
	p, err := value.ParsePath(args[1].Str())
	if err != nil {
		return value.Value{}, err
	}
	if p.HasWildcard() {
		return value.ArrayValue(args[0].Collect(p, nil)), nil
	}
	return args[0].At(p), nil
}

var regorusNow = time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)

func TestRegorusCases(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(regorusCasesDir, "*.yaml"))
	if len(files) == 0 {
		t.Skipf("no regorus cases at %s (the shared peer-case directory is not present)", regorusCasesDir)
	}
	sort.Strings(files)
	var pass, total, skipped int
	var failures, deviations []string
	seenDeviation := map[string]bool{}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f regorusFile
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		base := strings.TrimSuffix(filepath.Base(path), ".yaml")
		fn := regorusFunction(f.Builtin)
		for _, c := range f.Cases {
			id := base + "/" + c.Note
			if c.Skip {
				skipped++
				continue
			}
			total++
			args, err := yamlValue(&c.Args)
			if err != nil {
				t.Fatalf("%s: args: %v", id, err)
			}
			var got value.Value
			var callErr error
			if fn == "resolveField" {
				got, callErr = resolveField(args.Elems())
			} else {
				got, callErr = CallFunction(fn, args.Elems(), regorusNow)
			}
			problem := checkRegorusCase(c, got, callErr)
			if reason, ok := regorusDeviations[id]; ok {
				seenDeviation[id] = true
				if problem == "" {
					failures = append(failures, fmt.Sprintf("%s: listed as a deviation (%s) but now passes; remove it from regorusDeviations", id, reason))
				} else {
					deviations = append(deviations, fmt.Sprintf("%s: %s [%s]", id, problem, reason))
				}
				continue
			}
			if problem != "" {
				failures = append(failures, fmt.Sprintf("%s (%s): %s", id, fn, problem))
				continue
			}
			pass++
		}
	}
	for id := range regorusDeviations {
		if !seenDeviation[id] {
			failures = append(failures, fmt.Sprintf("%s: listed in regorusDeviations but no such case", id))
		}
	}
	t.Logf("regorus template-function cases: %d/%d pass, %d documented deviations, %d skipped by the case files", pass, total, len(deviations), skipped)
	for _, d := range deviations {
		t.Logf("deviation: %s", d)
	}
	for _, f := range failures {
		t.Errorf("FAIL %s", f)
	}
}

// checkRegorusCase returns "" when the result matches the expectation.
func checkRegorusCase(c regorusCase, got value.Value, err error) string {
	switch {
	case c.WantError != nil:
		if err == nil {
			return fmt.Sprintf("want an error containing %q, got %s", *c.WantError, got.JSON())
		}
		return ""
	case c.WantUndefined:
		if err == nil && !got.IsUndefined() {
			return fmt.Sprintf("want no value (error or undefined), got %s", got.JSON())
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("unexpected error: %v", err)
	}
	want := value.NullValue()
	if !c.WantNull {
		if c.Want.Kind == 0 {
			return "case has no want, want_null, want_undefined or want_error"
		}
		w, werr := yamlValue(&c.Want)
		if werr != nil {
			return "bad want: " + werr.Error()
		}
		want = w
	}
	if !strictEqual(got, want) {
		return fmt.Sprintf("got %s (%s), want %s (%s)", got.JSON(), got.Kind(), want.JSON(), want.Kind())
	}
	return ""
}

// TestRegorusFunctionNames checks the builtin-name mapping.
func TestRegorusFunctionNames(t *testing.T) {
	for in, want := range map[string]string{
		"azure.policy.fn.pad_left":                "padLeft",
		"azure.policy.fn.int_mod":                 "mod",
		"azure.policy.logic_any":                  "or",
		"azure.policy.if":                         "if",
		"azure.policy.fn.uri_component_to_string": "uriComponentToString",
		"azure.policy.fn.base64_to_json":          "base64ToJson",
		"azure.policy.resolve_field":              "resolveField",
	} {
		if got := regorusFunction(in); got != want {
			t.Errorf("regorusFunction(%q) = %q, want %q", in, got, want)
		}
	}
}
