package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAuthoringMistakes: a policy author's common mistakes are loud: each
// case's exact message (on stdout or stderr) and exit status (issue 11's
// table; the rest of its mistakes join as they are fixed).
func TestAuthoringMistakes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	typo := write("typo.json", `{"properties":{"mode":"All","policyRule":{"if":{"allOf":[
		{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces/computes"},
		{"field":"Microsoft.MachineLearningServices/workspaces/computes/scaleSetings.maxNodeCount","greater":4}]},
		"then":{"effect":"deny"}}}}`)
	nope := write("nope.json", `{"properties":{"mode":"All","policyRule":{"if":{"field":"Microsoft.Nope/things/x","equals":1},"then":{"effect":"audit"}}}}`)
	res := write("computes.json", `[{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c","type":"Microsoft.MachineLearningServices/workspaces/computes","name":"c","properties":{}}]`)
	badDefault := write("bad-default.json", `{"properties":{"mode":"All","parameters":{"max":{"type":"Integer","defaultValue":"four"}},
		"policyRule":{"if":{"field":"name","equals":"[string(parameters('max'))]"},"then":{"effect":"audit"}}}}`)
	effectParam := write("effect-param.json", `{"properties":{"mode":"All","parameters":{"effect":{"type":"String","allowedValues":["Audit","Deny","Disabled"],"defaultValue":"Audit"}},
		"policyRule":{"if":{"field":"name","equals":"x"},"then":{"effect":"[parameters('effect')]"}}}}`)
	divZero := write("div-zero.json", `{"properties":{"mode":"All","policyRule":{"if":{"value":"[div(1, 0)]","equals":"x"},"then":{"effect":"audit"}}}}`)
	misspelt := write("misspelt.json", `{"efect":{"value":"Deny"}}`)
	banana := write("banana.json", `{"effect":{"value":"Banana"}}`)
	bar := write("bar.json", `{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Foo/bars/x","name":"x","type":"Microsoft.Foo/bars"}`)
	write("audit-name.json", `{"properties":{"mode":"All","policyRule":{"if":{"field":"name","equals":"x"},"then":{"effect":"audit"}}}}`)
	testTypos := write("typos.yaml", "kind: mlgov.policytest/v1\ndefinition: audit-name.json\ncases:\n"+
		"  - name: named x\n    resouce: {name: x, type: Microsoft.Foo/bars}\n    want: {effekt: Audit}\n")
	noKind := write("no-kind.yaml", "definition: audit-name.json\ncases: []\n")
	unknown := write("unknown.yaml", "policy: audit-name.json\ntests: []\n")
	typoMsg := typo + ": /properties/policyRule/if/allOf/1/field: UnknownAlias: unknown alias " +
		"'Microsoft.MachineLearningServices/workspaces/computes/scaleSetings.maxNodeCount': did you mean " +
		"'Microsoft.MachineLearningServices/workspaces/computes/scaleSettings.maxNodeCount' or " +
		"'Microsoft.MachineLearningServices/workspaces/computes/scaleSettings.minNodeCount'?"
	// A bad effect value reports one error, not a second for the effect.
	if out, errOut, _ := run(t, "policy", "eval", "-d", effectParam, "-r", bar, "-p", banana); strings.Contains(out+errOut, "InvalidEffect") {
		t.Errorf("a refused effect parameter also reported as an invalid effect:\n%s%s", out, errOut)
	}
	for _, c := range []struct {
		name string
		args []string
		// want is a line of the output (stdout then stderr); code the
		// exit status.
		want string
		code int
	}{
		{"alias typo: compile", []string{"policy", "compile", typo}, typoMsg, 1},
		{"alias typo: eval", []string{"policy", "eval", "-d", typo, "-r", res}, typoMsg, 1},
		{"alias typo: --lenient keeps the old mode", []string{"policy", "compile", "--lenient", typo}, "1 compiled, 0 failed", 0},
		{"alias typo: --strict still accepted", []string{"policy", "compile", "--strict", typo}, "0 compiled, 1 failed", 1},
		{"alias of a type no catalog has", []string{"policy", "compile", nope},
			nope + ": /properties/policyRule/if/field: UnknownAlias: unknown alias 'Microsoft.Nope/things/x': it is not in the loaded alias catalogs (load one with --aliases)", 1},
		{"defaultValue of the wrong type", []string{"policy", "compile", badDefault},
			badDefault + `: warning: /properties/parameters/max/defaultValue: defaultValue of parameter "max" is string, but the parameter's type is Integer`, 0},
		{"a parameter no definition declares", []string{"policy", "eval", "-d", effectParam, "-r", bar, "-p", misspelt},
			`error: parameter "efect" is declared by none of the definitions; did you mean "effect"?`, 2},
		{"a bad effect value: one error", []string{"policy", "eval", "-d", effectParam, "-r", bar, "-p", banana},
			effectParam + `: /properties/parameters/effect: PolicyParameterValueNotAllowed: the value "Banana" is not allowed for parameter "effect"; the allowed values are 'Audit, Deny, Disabled'`, 1},
		{"evaluation errors under --summary", []string{"policy", "eval", "-d", divZero, "-r", bar, "--summary"},
			"error: /subscriptions/s/resourceGroups/g/providers/Microsoft.Foo/bars/x × (unnamed): template function 'div' failed: division by zero", 1},
		{"test file: a misspelt case key", []string{"policy", "test", testTypos},
			"FAIL " + testTypos + ": line 5: unknown key 'resouce' in case 1; did you mean 'resource'?", 1},
		{"test file: a misspelt want key", []string{"policy", "test", testTypos},
			"FAIL " + testTypos + ": line 6: unknown key 'effekt' in case 1's want; did you mean 'effect'?", 1},
		{"test file without its kind", []string{"policy", "test", noKind},
			"FAIL " + noKind + ": no 'kind: mlgov.policytest/v1': the file has mlgov's 'definition' key; add the kind line", 1},
		{"test file of no known format", []string{"policy", "test", unknown},
			"FAIL " + unknown + ": not a policy test file of a known format: mlgov's own have 'kind: mlgov.policytest/v1', regorus's have 'cases' (with 'policy_rule' or 'policy_definition') or 'builtin'", 1},
		{"alias list of a misspelt type", []string{"alias", "list", "--type", "Microsoft.MachineLearningServices/workspace/computes"},
			`error: no aliases for resource type "Microsoft.MachineLearningServices/workspace/computes"; did you mean "Microsoft.MachineLearningServices/workspaces/computes"?`, 2},
		{"mistyped subcommand", []string{"policy", "evaluate"}, `error: unknown command "evaluate" for "mlgov policy"; did you mean eval?`, 2},
		{"mistyped subcommand of alias", []string{"alias", "lst"}, `error: unknown command "lst" for "mlgov alias"; did you mean list?`, 2},
		{"mistyped nested subcommand", []string{"policy", "state", "summarise"}, `error: unknown command "summarise" for "mlgov policy state"; did you mean summarize?`, 2},
		{"subcommand like none", []string{"policy", "xyz"}, `error: unknown command "xyz" for "mlgov policy"; run 'mlgov policy --help' for its commands`, 2},
		{"mistyped top-level command", []string{"polcy"}, `error: unknown command "polcy" for "mlgov"`, 2},
	} {
		out, errOut, code := run(t, c.args...)
		lines := strings.Split(out+errOut, "\n")
		found := false
		for _, l := range lines {
			if l == c.want {
				found = true
			}
		}
		if !found || code != c.code {
			t.Errorf("%s: mlgov %s: exit %d, want %d; output:\n%s%s\nwant the line:\n%s", c.name, strings.Join(c.args, " "), code, c.code, out, errOut, c.want)
		}
	}
}

// TestDefaultAPIVersion: without --api-version a resource of a type mlgov
// serves is evaluated with the newest api-version it serves for it, said
// once per type, so that requestContext().apiVersion has a value (the
// Modify of workspaces' public network access needs one).
func TestDefaultAPIVersion(t *testing.T) {
	needShared(t)
	def := filepath.Join(shared, "corpus/azure-policy/policyDefinitions/Machine Learning/Workspace_PublicNetworkAccessDisabled_Modify.json")
	res := filepath.Join(t.TempDir(), "w.json")
	os.WriteFile(res, []byte(`{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w",
		"name":"w","type":"Microsoft.MachineLearningServices/workspaces","location":"eastus",
		"properties":{"publicNetworkAccess":"Enabled"}}`), 0o644)
	out, errOut, code := run(t, "policy", "eval", "-d", def, "-r", res, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if n := strings.Count(errOut, "for Microsoft.MachineLearningServices/workspaces (the newest mlgov serves; --api-version to choose)"); n != 1 ||
		!strings.HasPrefix(errOut, "api-version 20") {
		t.Errorf("stderr does not say once which api-version was used:\n%s", errOut)
	}
	if !strings.Contains(out, `"conditionResult":true`) || !strings.Contains(out, `"effect":"Modify"`) {
		t.Errorf("the Modify's condition on requestContext().apiVersion did not hold:\n%s", out)
	}
	out, _, _ = run(t, "policy", "eval", "-d", def, "-r", res, "-o", "json", "--api-version", "2021-01-01")
	if !strings.Contains(out, `"conditionResult":false`) {
		t.Errorf("--api-version 2021-01-01: the Modify's condition held:\n%s", out)
	}
}

// TestAliasListJSON: alias list -o json is a JSON array of the aliases
// with their full names, type and paths.
func TestAliasListJSON(t *testing.T) {
	out, errOut, code := run(t, "alias", "list", "--type", "microsoft.machinelearningservices/workspaces/computes", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []struct {
		Name, ResourceType, DefaultPath string
		Modifiable                      bool
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	found := false
	for _, a := range got {
		if a.Name == "Microsoft.MachineLearningServices/workspaces/computes/disableLocalAuth" {
			found = a.ResourceType == "Microsoft.MachineLearningServices/workspaces/computes" && a.DefaultPath == "properties.disableLocalAuth" && a.Modifiable
		}
	}
	if !found || len(got) < 10 {
		t.Errorf("%d aliases; disableLocalAuth found with its type, path and modifiable: %v", len(got), found)
	}
	// The table names the aliases after the type.
	table, _, _ := run(t, "alias", "list", "--type", "Microsoft.MachineLearningServices/workspaces/computes")
	row := false
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "disableLocalAuth" && f[1] == "properties.disableLocalAuth" && f[2] == "true" {
			row = true
		}
	}
	if !row {
		t.Errorf("no row 'disableLocalAuth properties.disableLocalAuth true' in:\n%s", table)
	}
}

// TestReadmePolicyTest: the README's policy test command, as written,
// passes: the disputed peer cases are reported with their reasons, and
// fail without --disputed.
func TestReadmePolicyTest(t *testing.T) {
	needShared(t)
	root := filepath.Join("..")
	args := []string{"policy", "test", "--disputed", filepath.Join(root, "policy/testdata/ml-builtins"), filepath.Join(shared, "peer-cases/regorus/tests/azure_policy/cases")}
	out, errOut, code := run(t, args...)
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), ", 0 failed, 0 skipped, 3 disputed") {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "DISPUTED "+filepath.Join(shared, "peer-cases/regorus/tests/azure_policy/cases/parse_errors.yaml")+": guid_compile_error: guid() is an allowed ARM function in Azure Policy") {
		t.Errorf("the guid() dispute is not reported with its reason:\n%s", out)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil || !strings.Contains(string(readme), "./mlgov policy test --disputed ./policy/testdata/ml-builtins ../shared/peer-cases/regorus/tests/azure_policy/cases") {
		t.Errorf("the README's command is not the one tested here (%v)", err)
	}
	if _, _, code := run(t, args[0], args[1], args[3], args[4]); code != 1 {
		t.Errorf("without --disputed: exit %d, want 1", code)
	}
}

// TestConditionTreeOutput: policy eval shows the if-condition as a tree,
// each group and condition with its result, indented as they nest (text),
// and as conditionTree (JSON).
func TestConditionTreeOutput(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "tree.json")
	os.WriteFile(def, []byte(`{"properties":{"mode":"All","policyRule":{"if":{"allOf":[{"field":"type","equals":"Microsoft.Foo/bars"},
		{"not":{"anyOf":[{"field":"name","equals":"a"},{"field":"location","equals":"eastus"}]}}]},"then":{"effect":"audit"}}}}`), 0o644)
	res := filepath.Join(dir, "b.json")
	os.WriteFile(res, []byte(`{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Foo/bars/b","type":"Microsoft.Foo/bars","name":"b","location":"eastus"}`), 0o644)
	out, errOut, code := run(t, "policy", "eval", "-d", def, "-r", res)
	want := `    false allOf
      true  Field type = "Microsoft.Foo/bars" Equals "Microsoft.Foo/bars"
      false not
        true  anyOf
          false Field name = "b" Equals "a"
          true  Field location = "eastus" Equals "eastus"
`
	if code != 0 || !strings.Contains(out, want) {
		t.Errorf("exit %d; output:\n%s%s\nwant:\n%s", code, out, errOut, want)
	}
	out, _, _ = run(t, "policy", "eval", "-d", def, "-r", res, "-o", "json")
	var got []struct {
		ConditionTree struct {
			Kind     string
			Result   bool
			Children []struct {
				Kind       string
				Expression int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("%v\n%s", err, out)
	}
	tr := got[0].ConditionTree
	if tr.Kind != "allOf" || tr.Result || len(tr.Children) != 2 || tr.Children[0].Kind != "condition" || tr.Children[0].Expression != 0 || tr.Children[1].Kind != "not" {
		t.Errorf("conditionTree = %+v", tr)
	}
}

// TestExistenceConditionTree: an AuditIfNotExists explains its existence
// condition as a tree per related resource examined, in order, up to the
// one that satisfies it (text and JSON).
func TestExistenceConditionTree(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "aine.json")
	os.WriteFile(def, []byte(`{"properties":{"mode":"All","policyRule":{"if":{"field":"type","equals":"Microsoft.Foo/bars"},
		"then":{"effect":"auditIfNotExists","details":{"type":"Microsoft.Insights/diagnosticSettings",
		"existenceCondition":{"anyOf":[{"field":"name","equals":"audit"},{"not":{"field":"location","exists":true}}]}}}}}}`), 0o644)
	res := filepath.Join(dir, "b.json")
	os.WriteFile(res, []byte(`{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Foo/bars/b","type":"Microsoft.Foo/bars","name":"b","location":"eastus"}`), 0o644)
	related := filepath.Join(dir, "related.json")
	os.WriteFile(related, []byte(`[
		{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Foo/bars/b/providers/Microsoft.Insights/diagnosticSettings/logs","type":"Microsoft.Insights/diagnosticSettings","name":"logs","location":"eastus"},
		{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Foo/bars/b/providers/Microsoft.Insights/diagnosticSettings/audit","type":"Microsoft.Insights/diagnosticSettings","name":"audit"}]`), 0o644)
	out, errOut, code := run(t, "policy", "eval", "-d", def, "-r", res, "--related", related)
	want := `    false existence condition on /subscriptions/s/resourceGroups/g/providers/Microsoft.Foo/bars/b/providers/Microsoft.Insights/diagnosticSettings/logs
      false anyOf
        false Field name = "logs" Equals "audit"
        false not
          true  Field location = "eastus" Exists true
    true  existence condition on /subscriptions/s/resourceGroups/g/providers/Microsoft.Foo/bars/b/providers/Microsoft.Insights/diagnosticSettings/audit
      true  anyOf
        true  Field name = "audit" Equals "audit"
`
	if code != 0 || !strings.Contains(out, want) {
		t.Errorf("exit %d; output:\n%s%s\nwant:\n%s", code, out, errOut, want)
	}
	out, _, _ = run(t, "policy", "eval", "-d", def, "-r", res, "--related", related, "-o", "json")
	var got []struct {
		ExistenceConditionTrees []struct {
			Kind       string
			Result     bool
			ResourceID string
			Children   []struct{ Kind string }
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
		t.Fatalf("%v\n%s", err, out)
	}
	trees := got[0].ExistenceConditionTrees
	if len(trees) != 2 || trees[0].Result || !trees[1].Result || trees[1].Kind != "existenceCondition" || !strings.HasSuffix(trees[1].ResourceID, "/audit") || trees[1].Children[0].Kind != "anyOf" {
		t.Errorf("existenceConditionTrees = %+v", trees)
	}
}

// TestCompileTimeShown: policy compile says how long compiling took in a
// unit that shows it (it once printed "compile time: 0s" for a
// definition compiled in microseconds).
func TestCompileTimeShown(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "d.json")
	os.WriteFile(def, []byte(`{"properties":{"mode":"All","policyRule":{"if":{"field":"name","equals":"x"},"then":{"effect":"audit"}}}}`), 0o644)
	_, errOut, code := run(t, "policy", "compile", def)
	m := regexp.MustCompile(`(?m)^compile time: ([0-9.]+)(µs|ms|s)$`).FindStringSubmatch(errOut)
	if code != 0 || m == nil || strings.Trim(m[1], "0.") == "" {
		t.Errorf("exit %d; no compile time other than zero in:\n%s", code, errOut)
	}
}
