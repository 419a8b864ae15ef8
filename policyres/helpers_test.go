package policyres

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/value"
)

const (
	sub      = "00000000-0000-0000-0000-000000000001"
	otherSub = "00000000-0000-0000-0000-000000000002"
	subScope = "/subscriptions/" + sub
	rgScope  = subScope + "/resourceGroups/rg1"
	auth     = "/providers/Microsoft.Authorization"
)

// sharedDir is the reference data beside the checkout (../shared from the
// repository root).
var sharedDir = filepath.Join("..", "..", "shared")

var ctx = context.Background()

var testOpts = Options{Aliases: alias.Builtin(), Caller: "11111111-2222-3333-4444-555555555555", Now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}

func mustID(t *testing.T, s string) *arm.ID {
	t.Helper()
	id, err := arm.ParseID(s)
	if err != nil {
		t.Fatalf("ParseID(%q): %v", s, err)
	}
	return id
}

func mustParse(t *testing.T, s string) value.Value {
	t.Helper()
	v, err := value.ParseStrict([]byte(s))
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return v
}

// wantErr checks that err is an *arm.Error with the code and target (the
// first problem).
func wantErr(t *testing.T, err error, code, target string) {
	t.Helper()
	var ae *arm.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got %v (%T), want *arm.Error %s at %s", err, err, code, target)
	}
	if ae.Code != code || ae.Target != target {
		t.Fatalf("got %s at %q (%s), want %s at %q", ae.Code, ae.Target, ae.Message, code, target)
	}
}

func wantOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		var ae *arm.Error
		if errors.As(err, &ae) {
			for _, d := range ae.Details {
				t.Logf("detail: %s at %s: %s", d.Code, d.Target, d.Message)
			}
		}
		t.Fatalf("unexpected error: %v", err)
	}
}

// seedDefinitions returns the custom definitions of the seed document
// (the ```json blocks with a policyRule).
func seedDefinitions(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(sharedDir, "seeds", "000_*.txt"))
	if len(files) == 0 {
		t.Skip("SKIP: ../shared/seeds/000_*.txt is absent; the seed definitions are not checked")
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		if strings.Contains(m[1], "policyRule") {
			v := mustParse(t, m[1])
			out[v.Field("properties").Field("displayName").Str()] = m[1]
		}
	}
	if len(out) != 2 {
		t.Fatalf("found %d seed definitions, want 2", len(out))
	}
	return out
}

// corpusFiles lists the built-in files under corpus/azure-policy/dir, or
// skips visibly.
func corpusFiles(t *testing.T, dir string) []string {
	t.Helper()
	root := filepath.Join(sharedDir, "corpus", "azure-policy", dir)
	if _, err := os.Stat(root); err != nil {
		t.Skipf("SKIP: %s is absent; the real built-ins are not checked", root)
	}
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatalf("no built-ins under %s", root)
	}
	return out
}

func readJSON(t *testing.T, path string) value.Value {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := value.Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}
