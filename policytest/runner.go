package policytest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/value"
)

// Status of one case.
type Status int

// Statuses.
const (
	Pass Status = iota
	Fail
	Skip
	// Disputed: a failure of a case listed in DisputedCases (with
	// Runner.Disputed).
	Disputed
)

func (s Status) String() string {
	return [...]string{"PASS", "FAIL", "SKIP", "DISPUTED"}[s]
}

// Outcome is the result of one case.
type Outcome struct {
	File   string
	Case   string
	Status Status
	// Detail: for failures a diff/explanation, for skips the reason.
	Detail string
}

// Summary counts outcomes.
type Summary struct {
	Passed, Failed, Skipped, Disputed int
	Outcomes                          []Outcome
	// disputed: report Disputed failures as such (Runner.Disputed).
	disputed bool
}

func (s *Summary) add(o Outcome) {
	if o.Status == Fail && s.disputed {
		if why, ok := DisputedReason(o); ok {
			o.Status, o.Detail = Disputed, why+" (the case fails: "+o.Detail+")"
		}
	}
	switch o.Status {
	case Disputed:
		s.Disputed++
	case Pass:
		s.Passed++
	case Fail:
		s.Failed++
	case Skip:
		s.Skipped++
	}
	s.Outcomes = append(s.Outcomes, o)
}

// Runner runs test files.
type Runner struct {
	// Aliases are catalogs given on the command line (--aliases); they are
	// used by files that name no catalog of their own.
	Aliases *alias.Catalog
	// Disputed reports the failures of the cases in DisputedCases as Disputed
	// instead of Fail.
	Disputed bool

	mu       sync.Mutex
	catalogs map[string]*alias.Catalog
}

// Run runs every test file under the given paths (files or folders).
func (r *Runner) Run(paths []string) (*Summary, error) {
	sum := &Summary{disputed: r.Disputed}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			r.runFile(p, sum)
			continue
		}
		var files []string
		var evalDirs []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if _, err := os.Stat(filepath.Join(path, "azurepolicy.json")); err == nil {
					if _, err := os.Stat(filepath.Join(path, "tests")); err == nil {
						evalDirs = append(evalDirs, path)
						return filepath.SkipDir
					}
				}
				return nil
			}
			ext := strings.ToLower(filepath.Ext(path))
			if ext == ".yaml" || ext == ".yml" {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			r.runFile(f, sum)
		}
		for _, d := range evalDirs {
			r.runEvaluatorDir(d, sum)
		}
	}
	return sum, nil
}

func (r *Runner) runFile(path string, sum *Summary) {
	data, err := os.ReadFile(path)
	if err != nil {
		sum.add(Outcome{File: path, Status: Fail, Detail: err.Error()})
		return
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		sum.add(Outcome{File: path, Status: Fail, Detail: "invalid YAML: " + err.Error()})
		return
	}
	switch {
	case doc["kind"] == "mlgov.policytest/v1":
		if errs := checkOwnKeys(data); len(errs) > 0 {
			for _, e := range errs {
				sum.add(Outcome{File: path, Status: Fail, Detail: e})
			}
			return
		}
		r.runOwn(path, doc, sum)
	case doc["kind"] == nil && doc["definition"] != nil:
		sum.add(Outcome{File: path, Status: Fail, Detail: "no 'kind: mlgov.policytest/v1': the file has mlgov's 'definition' key; add the kind line"})
	case doc["builtin"] != nil:
		r.runFunctionCases(path, doc, sum)
	case doc["cases"] != nil && (doc["data_manifest_json"] != nil || hasCaseKey(doc, "expected_normalized") || hasCaseKey(doc, "expected_envelope")):
		sum.add(Outcome{File: path, Status: Skip, Detail: "alias-normalization case file (regorus's internal resource normalizer, not a policy evaluation): not a policy test"})
	case doc["cases"] != nil && (doc["policy_rule"] != nil || doc["policy_definition"] != nil || hasCaseKey(doc, "policy_rule") || hasCaseKey(doc, "policy_definition")):
		r.runRegorus(path, doc, sum)
	case doc["cases"] != nil:
		sum.add(Outcome{File: path, Status: Skip, Detail: "not an Azure Policy test file: its cases have no policy_rule or policy_definition"})
	case doc["kind"] != nil:
		sum.add(Outcome{File: path, Status: Fail, Detail: fmt.Sprintf("unknown kind %v: mlgov's test files have 'kind: mlgov.policytest/v1'", doc["kind"])})
	default:
		sum.add(Outcome{File: path, Status: Fail, Detail: "not a policy test file of a known format: mlgov's own have 'kind: mlgov.policytest/v1', regorus's have 'cases' (with 'policy_rule' or 'policy_definition') or 'builtin'"})
	}
}

func hasCaseKey(doc map[string]any, key string) bool {
	cases, _ := doc["cases"].([]any)
	for _, c := range cases {
		if m, ok := c.(map[string]any); ok {
			if _, ok := m[key]; ok {
				return true
			}
		}
	}
	return false
}

// catalog loads (and caches) an alias catalog file.
func (r *Runner) catalog(path string) (*alias.Catalog, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.catalogs[path]; ok {
		return c, nil
	}
	c, err := alias.LoadFile(path)
	if err != nil {
		return nil, err
	}
	if r.catalogs == nil {
		r.catalogs = map[string]*alias.Catalog{}
	}
	r.catalogs[path] = c
	return c, nil
}

// toValue converts a decoded YAML value into a policy value.
func toValue(x any) (value.Value, error) {
	return value.FromGo(x)
}

func caseName(m map[string]any, i int) string {
	for _, k := range []string{"note", "name"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return fmt.Sprintf("case %d", i)
}

// subset reports whether got contains want: objects key by key
// (case-insensitive keys), arrays element-wise with equal lengths, scalars
// by equality (strings exactly, numbers numerically). It returns a message
// naming the first difference.
func subset(want, got value.Value, path string) (bool, string) {
	if path == "" {
		path = "details"
	}
	switch want.Kind() {
	case value.Object:
		if got.Kind() != value.Object {
			return false, fmt.Sprintf("%s: want an object, got %s", path, got.JSON())
		}
		for i := 0; i < want.Len(); i++ {
			k, wv := want.MemberAt(i)
			gv, ok := got.Get(k)
			if !ok {
				return false, fmt.Sprintf("%s.%s: missing (want %s)", path, k, wv.JSON())
			}
			if ok, msg := subset(wv, gv, path+"."+k); !ok {
				return false, msg
			}
		}
		return true, ""
	case value.Array:
		if got.Kind() != value.Array || got.Len() != want.Len() {
			return false, fmt.Sprintf("%s: want %s, got %s", path, want.JSON(), got.JSON())
		}
		for i, wv := range want.Elems() {
			if ok, msg := subset(wv, got.Index(i), fmt.Sprintf("%s[%d]", path, i)); !ok {
				return false, msg
			}
		}
		return true, ""
	}
	if want.Kind() == value.Null && got.IsNullish() {
		return true, ""
	}
	if !value.Equal(want, got) {
		return false, fmt.Sprintf("%s: want %s, got %s", path, want.JSON(), got.JSON())
	}
	return true, ""
}

// readJSONOrYAML reads a resource file.
func readJSONFile(path string) (value.Value, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return value.Value{}, err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	v, err := value.Parse(data)
	if err != nil {
		return value.Value{}, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

var errSkip = errors.New("skip")
