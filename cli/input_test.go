package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestEvalInputShapes: every input shape gives the expected number of
// resources (or an error naming the line), and the same results read from
// a file and from standard input.
func TestEvalInputShapes(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "def.json")
	if err := os.WriteFile(def, []byte(`{"properties":{"mode":"All","policyRule":{"if":{"field":"location","equals":"eastus"},"then":{"effect":"audit"}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res := func(name, loc string) string {
		return `{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/` + name + `","name":"` + name + `","type":"Microsoft.Storage/storageAccounts","location":"` + loc + `","tags":{"note":"a\"b\u00e9\\n"}}`
	}
	cases := []struct {
		name, input string
		resources   int // -1: an error naming line 3
	}{
		{"object", res("a", "eastus"), 1},
		{"object with BOM and blank lines", "\ufeff\n\n  " + res("a", "eastus") + "\n\n", 1},
		{"array", "[" + res("a", "eastus") + ",\n" + res("b", "westus") + "]", 2},
		{"JSON Lines", res("a", "eastus") + "\n" + res("b", "westus") + "\r\n\n" + res("c", "eastus"), 3},
		{"JSON Lines with a final newline", res("a", "eastus") + "\n" + res("b", "westus") + "\n", 2},
		{"pretty-printed object", strings.ReplaceAll(res("a", "eastus"), ",", ",\n  "), 1},
		{"empty", "", 0},
		{"whitespace only", " \n\t\n", 0},
		{"malformed third line", res("a", "eastus") + "\n" + res("b", "westus") + "\n{\"id\": oops}\n", -1},
	}
	count := regexp.MustCompile(`summary: (\d+) resources`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "in.json")
			if err := os.WriteFile(path, []byte(c.input), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"policy", "eval", "-d", def, "-o", "json"}
			var fout, ferr, sout, serr bytes.Buffer
			fcode := Main(append(args, "-r", path), strings.NewReader(""), &fout, &ferr)
			scode := Main(append(args, "-r", "-"), strings.NewReader(c.input), &sout, &serr)
			if c.resources < 0 {
				if fcode == 0 || scode == 0 || !strings.Contains(ferr.String(), "line 3") || !strings.Contains(serr.String(), "line 3") {
					t.Fatalf("want an error naming line 3; file: %d %s; stdin: %d %s", fcode, ferr.String(), scode, serr.String())
				}
				return
			}
			if fcode != 0 || scode != 0 {
				t.Fatalf("exit codes file %d, stdin %d\n%s\n%s", fcode, scode, ferr.String(), serr.String())
			}
			if fout.String() != sout.String() {
				t.Errorf("file and stdin differ:\nfile:  %s\nstdin: %s", fout.String(), sout.String())
			}
			for what, e := range map[string]string{"file": ferr.String(), "stdin": serr.String()} {
				m := count.FindStringSubmatch(e)
				if m == nil || m[1] != strconv.Itoa(c.resources) {
					t.Errorf("%s: %q, want %d resources", what, e, c.resources)
				}
			}
		})
	}
}

// TestEvalScopeContexts: resourceGroup() and subscription() come from the
// resource id, or whole from --related when the resource group or
// subscription is there; a property that neither gives is undefined (a
// value condition on it is false), not a guess.
func TestEvalScopeContexts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rule := func(name, cond string) string {
		return write(name+".json", `{"name":"`+name+`","properties":{"mode":"All","policyRule":{"if":`+cond+`,"then":{"effect":"audit"}}}}`)
	}
	byName := rule("by-name", `{"allOf":[{"value":"[resourceGroup().name]","equals":"RG1"},{"value":"[resourceGroup().id]","equals":"/subscriptions/s1/resourceGroups/RG1"},{"value":"[subscription().subscriptionId]","equals":"s1"}]}`)
	byLocation := rule("by-location", `{"field":"location","notEquals":"[resourceGroup().location]"}`)
	byTag := rule("by-tag", `{"value":"[resourceGroup().tags['env']]","equals":"prod"}`)
	res := write("res.jsonl", `{"id":"/subscriptions/s1/resourceGroups/RG1/providers/Microsoft.Storage/storageAccounts/a","name":"a","type":"Microsoft.Storage/storageAccounts","location":"eastus"}`+"\n"+
		`{"id":"/subscriptions/s1/resourceGroups/RG1/providers/Microsoft.Storage/storageAccounts/b","name":"b","type":"Microsoft.Storage/storageAccounts","location":"westus"}`+"\n")
	related := write("related.json", `[{"id":"/subscriptions/s1/resourceGroups/rg1","name":"rg1","type":"Microsoft.Resources/resourceGroups","location":"westus","tags":{"env":"prod"}}]`)

	effects := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"policy", "eval", "-o", "json", "-r", res}, args...), strings.NewReader(""), &out, &errb)
		var got []string
		var rows []struct {
			Resource, Policy, Effect string
			Error                    string
		}
		if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
			t.Fatalf("%v\n%s\n%s", err, out.String(), errb.String())
		}
		for _, r := range rows {
			e := r.Effect
			if r.Error != "" {
				e = "error"
			}
			got = append(got, r.Policy+"/"+r.Resource[strings.LastIndexByte(r.Resource, '/')+1:]+"="+e)
		}
		return strings.Join(got, " "), code
	}
	if got, _ := effects("-d", byName); got != "by-name/a=audit by-name/b=audit" {
		t.Errorf("from the id: %s", got)
	}
	if got, _ := effects("-d", byLocation, "-d", byTag, "--related", related); got != "by-location/a=audit by-tag/a=audit by-location/b=none by-tag/b=audit" {
		t.Errorf("from --related: %s", got)
	}
	rgLocation := rule("rg-location", `{"value":"[resourceGroup().location]","equals":"westus"}`)
	if got, _ := effects("-d", rgLocation); got != "rg-location/a=none rg-location/b=none" {
		t.Errorf("location not given: %s", got)
	}
	if got, _ := effects("-d", rgLocation, "--related", related); got != "rg-location/a=audit rg-location/b=audit" {
		t.Errorf("location from --related: %s", got)
	}
}
