package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/internal/resgen"
)

// TestParametersPerDefinition: values under "$definitions" go to the named
// definition only (by file name, name or id) and override shared values.
func TestParametersPerDefinition(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "params.json")
	os.WriteFile(p, []byte(`{"effect":{"value":"Audit"},"n":1,"$definitions":{"Only_Deny":{"effect":{"value":"Deny"}},"guid-1":{"EFFECT":"Disabled","extra":true}}}`), 0o644)
	pf, err := readParameters(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, id, name string
		want           string
	}{
		{"/x/Other.json", "", "", `effect="Audit" n=1`},
		{"/x/only_deny.json", "", "", `effect="Deny" n=1`},
		{"/x/a.json", "/providers/Microsoft.Authorization/policyDefinitions/guid-1", "guid-1", `EFFECT="Disabled" n=1 extra=true`},
	} {
		got := pf.forDoc(tc.path, tc.id, tc.name)
		var parts []string
		for _, k := range []string{"effect", "EFFECT", "n", "extra"} {
			if v, ok := got[k]; ok {
				parts = append(parts, k+"="+v.JSON())
			}
		}
		if s := strings.Join(parts, " "); s != tc.want {
			t.Errorf("%s: %s, want %s", tc.path, s, tc.want)
		}
	}
	os.WriteFile(p, []byte(`{"$definitions":[1]}`), 0o644)
	if _, err := readParameters(p); err == nil || !strings.Contains(err.Error(), "$definitions") {
		t.Errorf("a malformed $definitions gave %v", err)
	}
}

// TestEvalMLBuiltinsWithExampleParameters: examples/ml-parameters.json
// lets all 26 Machine Learning built-ins compile, and over generated ML
// resources every kind of effect fires without evaluation errors.
func TestEvalMLBuiltinsWithExampleParameters(t *testing.T) {
	needShared(t)
	dir := t.TempDir()
	res := filepath.Join(dir, "ml.jsonl")
	g := resgen.New(1)
	var b []byte
	for i := 0; i < 2000; i++ {
		b = append(g.Append(b), '\n')
	}
	os.WriteFile(res, b, 0o644)
	_, errOut, code := run(t, "policy", "eval",
		"-d", filepath.Join(shared, "corpus/azure-policy/policyDefinitions/Machine Learning"),
		"-p", "../examples/ml-parameters.json", "-r", res, "--summary")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "2000 resources, 26 definitions, 52000 evaluations") || !strings.Contains(errOut, "errors=0") {
		t.Errorf("summary = %q", errOut)
	}
	for _, eff := range []string{"Audit=", "AuditIfNotExists=", "Deny=", "DeployIfNotExists=", "EnforceSetting=", "Modify="} {
		if !strings.Contains(errOut, eff) {
			t.Errorf("no %s in %q", strings.TrimSuffix(eff, "="), errOut)
		}
	}
}
