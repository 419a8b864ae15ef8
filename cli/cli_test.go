package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const shared = "../../shared"

func needShared(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("reference data %s not found (../shared must sit beside the repository)", shared)
	}
}

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestCompileAllBuiltins: every built-in definition and initiative compiles
// with the alias catalogs in ../shared, with --lenient: the built-ins are
// newer than the catalogs, and without it the only errors are the aliases
// the catalogs do not have yet.
func TestCompileAllBuiltins(t *testing.T) {
	needShared(t)
	dir := filepath.Join(shared, "peer-cases/azure-policy-builtins/built-in-policies")
	defs, _ := filepath.Glob(filepath.Join(dir, "policyDefinitions", "*", "*.json"))
	args := []string{"policy", "compile",
		"--aliases", filepath.Join(shared, "peer-cases/azure-policy-evaluator/src/AzurePolicyEvaluator/Resources/policy-aliases.gz"),
		"--aliases", filepath.Join(shared, "peer-cases/regorus/tests/azure_policy/aliases/test_aliases.json"),
		"--aliases", filepath.Join(shared, "corpus/aliases/Microsoft.MachineLearningServices.json"),
		dir}
	strictOut, _, code := run(t, args...)
	if code != 1 {
		t.Errorf("strict compile of the built-ins: exit %d, want 1 (aliases newer than the catalogs)", code)
	}
	for _, line := range strings.Split(strings.TrimSpace(strictOut), "\n") {
		if !strings.Contains(line, ": UnknownAlias: ") && !strings.HasSuffix(line, " failed") {
			t.Errorf("strict compile: an error other than an unknown alias: %s", line)
		}
	}
	out, errOut, code := run(t, append(args, "--lenient")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var nDefs, nSets int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			if strings.Contains(p, "policySetDefinitions") {
				nSets++
			} else {
				nDefs++
			}
		}
		return nil
	})
	want := (nDefs + nSets)
	if got := lastLine(out); got != strconvItoa(want)+" compiled, 0 failed" {
		t.Errorf("last line = %q, want %d compiled, 0 failed", got, want)
	}
	t.Logf("%d definitions and %d initiatives compiled (%d top-level category folders)", nDefs, nSets, len(defs))
}

func strconvItoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + itoa(n)) }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestCompileReportsErrorsPerFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "good.json"), []byte(`{"properties":{"mode":"All","policyRule":{"if":{"field":"type","equals":"x"},"then":{"effect":"audit"}}}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"properties":{"mode":"All","policyRule":{"if":{"field":"type","equalz":"x"},"then":{"effect":"audit"}}}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"properties":`), 0o644)
	out, _, code := run(t, "policy", "compile", dir)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	for _, want := range []string{
		"bad.json: /properties/policyRule/if/equalz: UnknownOperator: unknown operator \"equalz\"",
		"broken.json: /: InvalidJSON: invalid JSON at line 1, column 15",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := lastLine(out); got != "1 compiled, 2 failed" {
		t.Errorf("last line = %q", got)
	}
}

func TestTestCommandFormat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "def.json"), []byte(`{"properties":{"mode":"All","parameters":{"effect":{"type":"String","defaultValue":"Audit"}},"policyRule":{"if":{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},{"field":"Microsoft.MachineLearningServices/workspaces/publicNetworkAccess","notEquals":"Disabled"}]},"then":{"effect":"[parameters('effect')]"}}}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "t.yaml"), []byte(`kind: mlgov.policytest/v1
definition: def.json
cases:
  - name: open
    resource: {type: Microsoft.MachineLearningServices/workspaces, properties: {publicNetworkAccess: Enabled}}
    want: {effect: Audit}
  - name: closed-but-wrong-expectation
    resource: {type: Microsoft.MachineLearningServices/workspaces, properties: {publicNetworkAccess: Disabled}}
    want: {effect: Audit}
  - name: skipped
    skip: needs a related-resource fixture
    resource: {}
    want: {effect: none}
`), 0o644)
	out, _, code := run(t, "policy", "test", dir)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if !strings.Contains(out, "FAIL "+filepath.Join(dir, "t.yaml")+": closed-but-wrong-expectation: want Audit, got no effect") {
		t.Errorf("missing failure line:\n%s", out)
	}
	if !strings.Contains(out, "SKIP "+filepath.Join(dir, "t.yaml")+": skipped: needs a related-resource fixture") {
		t.Errorf("missing skip line:\n%s", out)
	}
	if got := lastLine(out); got != "1 passed, 1 failed, 1 skipped" {
		t.Errorf("last line = %q", got)
	}
}

func TestEvalExplainsAndSummarizes(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "def.json")
	os.WriteFile(def, []byte(`{"properties":{"displayName":"No public ML","mode":"All","policyRule":{"if":{"allOf":[{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"},{"field":"Microsoft.MachineLearningServices/workspaces/publicNetworkAccess","notEquals":"Disabled"}]},"then":{"effect":"deny"}}}}`), 0o644)
	res := filepath.Join(dir, "r.jsonl")
	os.WriteFile(res, []byte(`{"name":"w1","type":"Microsoft.MachineLearningServices/workspaces","properties":{"publicNetworkAccess":"Enabled"}}
{"name":"w2","type":"Microsoft.MachineLearningServices/workspaces","properties":{"publicNetworkAccess":"Disabled"}}
{"name":"s1","type":"Microsoft.Storage/storageAccounts"}
`), 0o644)
	out, errOut, code := run(t, "policy", "eval", "-d", def, "-r", res)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Microsoft.MachineLearningServices/workspaces/w1 × No public ML → deny: if-condition is true",
		"    true  Field Microsoft.MachineLearningServices/workspaces/publicNetworkAccess [properties.publicNetworkAccess] = \"Enabled\" NotEquals \"Disabled\"",
		"if-condition is false",
		"not applicable: resource type not targeted",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "3 resources, 1 definitions, 3 evaluations; effects: Deny=1 none=2 errors=0") {
		t.Errorf("summary = %q", errOut)
	}
	out, errOut, code = run(t, "policy", "eval", "-d", def, "-r", res, "-o", "json")
	if code != 0 || !strings.Contains(out, `"effect":"deny"`) || !strings.Contains(out, `"evaluatedExpressions"`) {
		t.Errorf("json output (exit %d): %s %s", code, out, errOut)
	}
	_, errOut, code = run(t, "policy", "eval", "-d", def, "-r", filepath.Join(dir, "missing.jsonl"))
	if code == 0 || !strings.Contains(errOut, "missing.jsonl") {
		t.Errorf("missing resource file: exit %d, %q", code, errOut)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"type\":\"x\"}\n{\"type\": }\n"), 0o644)
	_, errOut, code = run(t, "policy", "eval", "-d", def, "-r", bad)
	if code == 0 || !strings.Contains(errOut, "line 2") {
		t.Errorf("malformed JSON Lines: exit %d, %q", code, errOut)
	}
}

func TestDemoQuickStart(t *testing.T) {
	needShared(t)
	if _, err := os.Stat("../examples/ml-parameters.json"); err != nil {
		t.Skip("examples/ml-parameters.json not present")
	}
	out, errOut, code := run(t, "policy", "eval",
		"-d", filepath.Join(shared, "corpus/azure-policy/policyDefinitions/Machine Learning"),
		"-p", "../examples/ml-parameters.json", "-r", "../examples/ml-resources.json", "--related", "../examples/ml-related.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "26 definitions") {
		t.Errorf("summary = %q", errOut)
	}
	for _, want := range []string{"ws-open", "AuditIfNotExists", "Modify", "Deny"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

func TestAliasCommands(t *testing.T) {
	out, _, code := run(t, "alias", "show", "Microsoft.MachineLearningServices/workspaces/computes/disableLocalAuth")
	if code != 0 || !strings.Contains(out, "defaultPath:  properties.disableLocalAuth") || !strings.Contains(out, "modifiable:   true") {
		t.Errorf("alias show (exit %d):\n%s", code, out)
	}
	_, errOut, code := run(t, "alias", "show", "Microsoft.Nope/x/y")
	if code == 0 || !strings.Contains(errOut, "unknown alias") {
		t.Errorf("unknown alias: exit %d %q", code, errOut)
	}
	out, _, code = run(t, "alias", "list", "--type", "Microsoft.MachineLearningServices/workspaces/computes")
	if code != 0 || !strings.Contains(out, "\ncomputeType ") {
		t.Errorf("alias list (exit %d): no computeType row", code)
	}
	out, _, code = run(t, "alias", "list")
	if code != 0 || !strings.Contains(out, "\nMicrosoft.MachineLearningServices/workspaces/computes\n  ALIAS ") || !strings.Contains(out, "\n  computeType ") {
		t.Errorf("alias list of every type (exit %d): no table of the computes' aliases with computeType", code)
	}
	// Each type's table is as wide as its own aliases need (one table for
	// all would pad every row to the longest full alias name).
	// Columns are capped (56 and 64 characters): a row is wider than 140
	// characters only when one of its own cells is longer than its cap.
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(l) > 140 && (len(f) != 3 || len(f[0]) <= 56 && len(f[1]) <= 64) {
			t.Errorf("a line of %d characters: %q", len(l), l)
			break
		}
	}
}
