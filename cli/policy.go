package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mlgov/mlgov/policy"
	"github.com/mlgov/mlgov/policy/alias"
	"github.com/mlgov/mlgov/policy/definition"
	"github.com/mlgov/mlgov/policy/suggest"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/policytest"
	"github.com/mlgov/mlgov/resources"
)

func newPolicyCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "policy", Short: "Evaluate, test and compile Azure Policy definitions locally; manage a server's policy resources"}
	c.AddCommand(newEvalCmd(e), newTestCmd(e), newCompileCmd(e),
		newDefinitionCmd(e, kindDefinition), newDefinitionCmd(e, kindSetDefinition), newAssignmentCmd(e), newExemptionCmd(e),
		newStateCmd(e), newScanCmd(e), newBuiltinsCmd(e), newWhatIfCmd(e))
	return c
}

// loadCatalog merges mlgov's own aliases with the given catalog files.
func loadCatalog(paths []string) (*alias.Catalog, error) {
	cats := []*alias.Catalog{alias.Builtin()}
	for _, p := range paths {
		c, err := alias.LoadFile(p)
		if err != nil {
			return nil, err
		}
		cats = append(cats, c)
	}
	return alias.Merge(cats...), nil
}

// program is a compiled definition or initiative member, named for output.
type program struct {
	name string
	file string
	prog *policy.Program
}

// compileAll loads and compiles definitions and initiatives. It returns
// the programs and, per file, the errors. The programs' warnings are
// printed with printWarnings.
func compileAll(paths []string, opts policy.Options, params *paramFile, lenientParams bool) ([]program, []fileError, int, error) {
	files, err := definition.LoadPaths(paths)
	if err != nil {
		return nil, nil, 0, err
	}
	byKey := map[string]*definition.Definition{}
	for _, f := range files {
		if f.Err == nil && f.Doc.Kind != definition.KindPolicySet {
			for _, k := range f.Doc.Policy.Keys() {
				byKey[k] = f.Doc.Policy
			}
		}
	}
	resolve := func(id string) (*definition.Definition, bool) {
		l := strings.ToLower(id)
		if d, ok := byKey[l]; ok {
			return d, true
		}
		d, ok := byKey[l[strings.LastIndexByte(l, '/')+1:]]
		return d, ok
	}
	var progs []program
	var ferrs []fileError
	compiled := 0
	cache := policy.NewCache()
	if err := params.checkDeclared(files); err != nil {
		return nil, nil, 0, err
	}
	for _, f := range files {
		if f.Err != nil {
			ferrs = append(ferrs, fileError{f.Path, f.Err})
			continue
		}
		o := opts
		if f.Doc.Kind == definition.KindPolicySet {
			o.Parameters = onlyDeclared(params.forDoc(f.Path, f.Doc.Set.ID, f.Doc.Set.Name), f.Doc.Set.Parameters, lenientParams)
			members, err := policy.CompileSet(f.Doc.Set, resolve, o, cache)
			if err != nil {
				ferrs = append(ferrs, fileError{f.Path, err})
				continue
			}
			compiled++
			name := f.Doc.Set.DisplayName
			if name == "" {
				name = f.Doc.Set.Name
			}
			for _, m := range members {
				progs = append(progs, program{name: name + " / " + m.ReferenceID, file: f.Path, prog: m.Program})
			}
			continue
		}
		o.Parameters = onlyDeclared(params.forDoc(f.Path, f.Doc.Policy.ID, f.Doc.Policy.Name), f.Doc.Policy.Parameters, lenientParams)
		p, err := policy.Compile(f.Doc.Policy, o)
		if err != nil {
			ferrs = append(ferrs, fileError{f.Path, err})
			continue
		}
		compiled++
		progs = append(progs, program{name: p.Describe(), file: f.Path, prog: p})
	}
	return progs, ferrs, compiled, nil
}

// printWarnings prints each warning of the programs once, as
// "file: warning: message".
func printWarnings(w io.Writer, progs []program) {
	seen := map[string]bool{}
	for _, p := range progs {
		for _, msg := range p.prog.Warnings() {
			line := p.file + ": warning: " + msg
			if !seen[line] {
				seen[line] = true
				fmt.Fprintln(w, line)
			}
		}
	}
}

// checkDeclared refuses a parameter value that no loaded definition or
// initiative declares (a misspelt name would otherwise be ignored), and a
// per-definition value that its definition does not declare.
func (pf *paramFile) checkDeclared(files []*definition.File) error {
	if pf == nil {
		return nil
	}
	declared := map[string]bool{}
	declares := func(f *definition.File) []*definition.Parameter {
		if f.Doc.Kind == definition.KindPolicySet {
			return f.Doc.Set.Parameters
		}
		return f.Doc.Policy.Parameters
	}
	for _, f := range files {
		if f.Err != nil {
			continue
		}
		for _, p := range declares(f) {
			declared[strings.ToLower(p.Name)] = true
		}
	}
	var unknown []string
	for k := range pf.shared {
		if !declared[strings.ToLower(k)] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		var names []string
		for k := range declared {
			names = append(names, k)
		}
		slices.Sort(names)
		msg := fmt.Sprintf("parameters %s: declared by none of the definitions", strings.Join(quoteAll(unknown), ", "))
		if len(unknown) == 1 {
			msg = fmt.Sprintf("parameter %q is declared by none of the definitions", unknown[0])
			if near := suggest.Nearest(unknown[0], names, 3, 3); len(near) > 0 {
				msg += "; did you mean " + strings.Join(quoteAll(near), " or ") + "?"
			}
		}
		return errors.New(msg)
	}
	return nil
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// onlyDeclared keeps the parameter values a definition declares when
// several definitions share one parameters file.
func onlyDeclared(all map[string]value.Value, decl []*definition.Parameter, lenient bool) map[string]value.Value {
	if !lenient || all == nil {
		return all
	}
	out := map[string]value.Value{}
	for k, v := range all {
		for _, p := range decl {
			if strings.EqualFold(p.Name, k) {
				out[k] = v
			}
		}
	}
	return out
}

type fileError struct {
	path string
	err  error
}

// printFileError prints every error of a file, one per line, with code.
func printFileError(w io.Writer, fe fileError) {
	if el, ok := fe.err.(definition.ErrorList); ok {
		for _, e := range el {
			p := e.Pointer
			if p == "" {
				p = "/"
			}
			fmt.Fprintf(w, "%s: %s: %s: %s\n", fe.path, p, e.Code, e.Message)
		}
		return
	}
	fmt.Fprintf(w, "%s: %v\n", fe.path, fe.err)
}

// paramFile holds the values of a parameters file: values shared by every
// definition, and per-definition values that override them (for parameters
// that several definitions declare with different allowed values, such as
// "effect").
type paramFile struct {
	shared map[string]value.Value
	// per maps a definition's file base name (without .json), name or id,
	// lower-cased, to its own values.
	per map[string]map[string]value.Value
}

// perDefinitionKey is the reserved member of a parameters file that holds
// per-definition values: {"$definitions": {"<file base name, name or id>":
// {"<parameter>": {"value": x}}}}. A '$' cannot start a parameter name.
const perDefinitionKey = "$definitions"

// forDoc returns the values for the definition or initiative loaded from
// path with the given id and name: the shared values with its own on top.
// The result is nil when the file gave no values at all.
func (pf *paramFile) forDoc(path string, keys ...string) map[string]value.Value {
	if pf == nil {
		return nil
	}
	var own map[string]value.Value
	base := filepath.Base(path)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	for _, k := range append([]string{base}, keys...) {
		if k == "" {
			continue
		}
		if m, ok := pf.per[strings.ToLower(k)]; ok {
			own = m
			break
		}
	}
	if own == nil {
		return pf.shared
	}
	out := make(map[string]value.Value, len(pf.shared)+len(own))
	for k, v := range pf.shared {
		out[k] = v
	}
	for k, v := range own {
		for k2 := range out {
			if strings.EqualFold(k, k2) {
				delete(out, k2)
			}
		}
		out[k] = v
	}
	return out
}

// readParameters reads a parameters file: {"name": {"value": x}}, plain
// {"name": x}, or an ARM parameters file {"parameters": {...}}, with
// optional per-definition values under "$definitions".
func readParameters(path string) (*paramFile, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := value.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if v.Kind() != value.Object {
		return nil, fmt.Errorf("%s: parameters must be a JSON object", path)
	}
	pf := &paramFile{per: map[string]map[string]value.Value{}}
	if per, ok := v.GetExact(perDefinitionKey); ok {
		if per.Kind() != value.Object {
			return nil, fmt.Errorf("%s: %s must be an object of definition names to parameter values", path, perDefinitionKey)
		}
		for i := 0; i < per.Len(); i++ {
			k, m := per.MemberAt(i)
			if m.Kind() != value.Object {
				return nil, fmt.Errorf("%s: %s[%q] must be an object of parameter values", path, perDefinitionKey, k)
			}
			pf.per[strings.ToLower(k)] = parameterValues(m)
		}
		v = v.Without(perDefinitionKey)
	}
	if p, ok := v.Get("parameters"); ok && p.Kind() == value.Object {
		if _, schema := v.Get("$schema"); schema || v.Len() <= 3 {
			v = p
		}
	}
	if v.Kind() != value.Object {
		return nil, fmt.Errorf("%s: parameters must be a JSON object", path)
	}
	pf.shared = parameterValues(v)
	return pf, nil
}

// parameterValues unwraps {"name": {"value": x}} members to name → x.
func parameterValues(v value.Value) map[string]value.Value {
	out := map[string]value.Value{}
	for i := 0; i < v.Len(); i++ {
		k, e := v.MemberAt(i)
		if e.Kind() == value.Object && e.Len() == 1 {
			if inner, ok := e.Get("value"); ok {
				out[k] = inner
				continue
			}
		}
		out[k] = e
	}
	return out
}

// lenientFlags adds --lenient: unknown aliases are errors (with the
// nearest known ones suggested) unless it is given. --strict, the former
// opt-in, is still accepted.
func lenientFlags(f *pflag.FlagSet, lenient *bool) {
	f.BoolVar(lenient, "lenient", false, "treat unknown aliases as inapplicable conditions instead of errors (the server always refuses them)")
	f.Bool("strict", true, "unknown aliases are errors (the default)")
	f.MarkHidden("strict")
}

func newCompileCmd(e *env) *cobra.Command {
	var aliasPaths []string
	var lenient bool
	var paramsPath string
	c := &cobra.Command{
		Use:   "compile PATH...",
		Short: "Load and compile every definition and initiative under the paths",
		Long: "Loads every *.json file under the given files or folders, compiles policy definitions and\n" +
			"initiatives (members resolved among the loaded definitions) and reports errors per file with\n" +
			"stable codes. The last line is 'N compiled, M failed'.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := loadCatalog(aliasPaths)
			if err != nil {
				return err
			}
			params, err := readParameters(paramsPath)
			if err != nil {
				return err
			}
			start := time.Now()
			progs, ferrs, n, err := compileAll(args, policy.Options{Aliases: cat, Strict: !lenient, AllowExtraParameters: true, AllowMissingParameters: true}, params, true)
			if err != nil {
				return err
			}
			printWarnings(e.stderr, progs)
			for _, fe := range ferrs {
				printFileError(e.stdout, fe)
			}
			fmt.Fprintf(e.stderr, "compile time: %s\n", time.Since(start).Round(10*time.Microsecond))
			fmt.Fprintf(e.stdout, "%d compiled, %d failed\n", n, len(ferrs))
			if len(ferrs) > 0 {
				return &exitError{1}
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&aliasPaths, "aliases", nil, "alias catalog file (providers-API JSON, az provider show JSON, or name,defaultPath CSV; .gz ok); repeatable")
	lenientFlags(c.Flags(), &lenient)
	c.Flags().StringVar(&paramsPath, "parameters", "", "parameter values (JSON) used where definitions have no defaults")
	return c
}

func newTestCmd(e *env) *cobra.Command {
	var aliasPaths []string
	var verbose, disputed bool
	c := &cobra.Command{
		Use:   "test PATH...",
		Short: "Run policy test files (mlgov, regorus and azure-policy-evaluator formats)",
		Long: "Runs every test file under the paths: mlgov's own YAML format (kind: mlgov.policytest/v1),\n" +
			"regorus YAML policy cases and template-function cases, and azure-policy-evaluator folders\n" +
			"(azurepolicy.json + tests/<name>-<effect>.json). Prints one line per failure with the\n" +
			"difference, one line per skip with its reason, and ends with 'N passed, M failed, K skipped'.\n" +
			"Exit status 1 on any failure.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var cat *alias.Catalog
			if len(aliasPaths) > 0 {
				c, err := loadCatalog(aliasPaths)
				if err != nil {
					return err
				}
				cat = c
			}
			r := &policytest.Runner{Aliases: cat, Disputed: disputed}
			sum, err := r.Run(args)
			if err != nil {
				return err
			}
			for _, o := range sum.Outcomes {
				label := o.File
				if o.Case != "" {
					label += ": " + o.Case
				}
				switch {
				case o.Status == policytest.Fail:
					fmt.Fprintf(e.stdout, "FAIL %s: %s\n", label, o.Detail)
				case o.Status == policytest.Disputed:
					fmt.Fprintf(e.stdout, "DISPUTED %s: %s\n", label, o.Detail)
				case o.Status == policytest.Skip:
					fmt.Fprintf(e.stdout, "SKIP %s: %s\n", label, o.Detail)
				case verbose:
					fmt.Fprintf(e.stdout, "PASS %s\n", label)
				}
			}
			if sum.Disputed > 0 {
				fmt.Fprintf(e.stdout, "%d passed, %d failed, %d skipped, %d disputed\n", sum.Passed, sum.Failed, sum.Skipped, sum.Disputed)
			} else {
				fmt.Fprintf(e.stdout, "%d passed, %d failed, %d skipped\n", sum.Passed, sum.Failed, sum.Skipped)
			}
			if sum.Failed > 0 {
				return &exitError{1}
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&aliasPaths, "aliases", nil, "alias catalog for files that name none (repeatable)")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "also list passing cases")
	c.Flags().BoolVar(&disputed, "disputed", false, "report the peer cases mlgov disputes (policytest.DisputedCases, each with its reason) as DISPUTED rather than as failures")
	return c
}

func newEvalCmd(e *env) *cobra.Command {
	var defPaths, aliasPaths []string
	var resPath, paramsPath, apiVersion, output, relatedPath string
	var summary, lenient bool
	var cpuProfile string
	c := &cobra.Command{
		Use:   "eval --definition PATH... --resource PATH",
		Short: "Evaluate definitions against resources and explain every decision",
		Long: "Evaluates every definition (and initiative member) against every resource. PATH may be a file\n" +
			"or a folder; resources may be one JSON object, a JSON array or JSON Lines. Prints, for each\n" +
			"resource and definition, the effect (or none) and the evaluated conditions; ends with a summary\n" +
			"(evaluations, counts per effect, time, evaluations per second) on stderr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(defPaths) == 0 || resPath == "" {
				return fmt.Errorf("--definition and --resource are required")
			}
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json, got %q", output)
			}
			start := time.Now()
			cat, err := loadCatalog(aliasPaths)
			if err != nil {
				return err
			}
			params, err := readParameters(paramsPath)
			if err != nil {
				return err
			}
			progs, ferrs, _, err := compileAll(defPaths, policy.Options{Aliases: cat, Strict: !lenient}, params, true)
			if err != nil {
				return err
			}
			printWarnings(e.stderr, progs)
			for _, fe := range ferrs {
				printFileError(e.stderr, fe)
			}
			if len(ferrs) > 0 {
				return &exitError{1}
			}
			var lookup policy.Lookup
			scopes := newScopeContexts(nil)
			if relatedPath != "" {
				pool, err := readAll(relatedPath)
				if err != nil {
					return err
				}
				lookup = policytest.PoolLookup(pool)
				scopes = newScopeContexts(pool)
			}
			ev := &evaluator{e: e, progs: progs, summary: summary, json: output == "json", apiVersion: apiVersion, lookup: lookup, scopes: scopes}
			ev.ix = policy.NewIndex(ev.programs())
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			if err := ev.run(resPath); err != nil {
				return err
			}
			ev.printSummary(time.Since(start))
			if ev.errors > 0 {
				return &exitError{1}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringArrayVarP(&defPaths, "definition", "d", nil, "definition or initiative file or folder (repeatable)")
	f.StringVarP(&resPath, "resource", "r", "", "resources: a JSON object, a JSON array or JSON Lines ('-' = stdin)")
	f.StringVarP(&paramsPath, "parameters", "p", "", "assignment parameter values (JSON); each definition gets the ones it declares, and \"$definitions\": {\"<file name, name or id>\": {...}} gives one definition its own")
	f.StringVar(&apiVersion, "api-version", "", "api-version of the request (selects alias paths, requestContext().apiVersion); default: the newest mlgov serves for the resource's type")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	f.BoolVar(&summary, "summary", false, "print only the summary")
	f.StringArrayVar(&aliasPaths, "aliases", nil, "alias catalog file (repeatable)")
	lenientFlags(f, &lenient)
	f.StringVar(&relatedPath, "related", "", "resources that exist (JSON/JSON Lines) for AuditIfNotExists/DeployIfNotExists checks")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the evaluation to this file (go tool pprof)")
	f.MarkHidden("cpuprofile")
	return c
}

// defaultAPIVersion is the api-version of a request for a resource of typ
// when --api-version is not given: the newest stable one mlgov serves for
// the type (the newest preview if it serves no stable one), "" for a type
// it does not serve. The first use per type is said on stderr.
func (ev *evaluator) defaultAPIVersion(typ string) string {
	key := strings.ToLower(typ)
	if v, ok := ev.versions[key]; ok {
		return v
	}
	if ev.versions == nil {
		ev.versions = map[string]string{}
	}
	v := ""
	if spec, ok := servedTypes().Lookup(typ); ok {
		for _, a := range spec.APIVersions {
			preview := strings.Contains(a, "-preview")
			best := v == "" || strings.Contains(v, "-preview") && !preview || preview == strings.Contains(v, "-preview") && a > v
			if best {
				v = a
			}
		}
	}
	ev.versions[key] = v
	if v != "" && typ != "" {
		fmt.Fprintf(ev.e.stderr, "api-version %s for %s (the newest mlgov serves; --api-version to choose)\n", v, typ)
	}
	return v
}

// servedTypes is the registry of the types mlgov serves, built once.
var servedTypes = sync.OnceValue(resources.NewRegistry)

// maxFirstErrors is how many evaluation errors --summary shows.
const maxFirstErrors = 3

type evaluator struct {
	e          *env
	progs      []program
	ix         *policy.Index
	summary    bool
	json       bool
	apiVersion string
	lookup     policy.Lookup
	scopes     *scopeContexts

	resources, evaluations, errors int
	firstErrors                    []string          // with --summary, the first maxFirstErrors
	versions                       map[string]string // defaultAPIVersion per lower-cased type
	counts                         [32]int
	tw                             *bufio.Writer
	jw                             *bufio.Writer
	first                          bool
}

func (ev *evaluator) programs() []*policy.Program {
	out := make([]*policy.Program, len(ev.progs))
	for i, p := range ev.progs {
		out[i] = p.prog
	}
	return out
}

// readAll reads every resource of a file into memory (for --related).
func readAll(path string) ([]value.Value, error) {
	var out []value.Value
	err := forEachResource(path, nil, func(v value.Value) error {
		// Values from the streaming decoder are only valid until the next
		// one: keep a copy.
		c, err := value.Parse([]byte(v.JSON()))
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// forEachResource streams resources from a JSON object, array or JSON
// Lines file. The value passed to fn is valid only during the call.
func forEachResource(path string, stdin io.Reader, fn func(value.Value) error) error {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 1<<20)
	// Peek at the first non-space byte.
	var first byte
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == 0xef || b == 0xbb || b == 0xbf {
			continue
		}
		first = b
		br.UnreadByte()
		break
	}
	var dec value.Decoder
	if first == '[' {
		data, err := io.ReadAll(br)
		if err != nil {
			return err
		}
		v, err := dec.DecodeInPlace(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, e := range v.Elems() {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	}
	// JSON Lines (a single object is one line, or a pretty-printed object:
	// then the whole input is one document).
	var pending []byte
	line := 0
	for {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			pending = append(pending, b...)
			continue
		}
		if len(pending) > 0 {
			b = append(pending, b...)
			pending = pending[:0]
		}
		if len(bytes.TrimSpace(b)) > 0 {
			line++
			// b is only valid until the next read, which comes after fn.
			v, derr := dec.DecodeInPlace(b)
			if derr != nil {
				if se, ok := derr.(*value.SyntaxError); ok && line == 1 && strings.Contains(se.Msg, "end of input") {
					// A multi-line document: read it whole.
					rest, rerr := io.ReadAll(br)
					if rerr != nil {
						return rerr
					}
					all := append(append([]byte(nil), b...), rest...)
					v, derr = dec.DecodeInPlace(all)
					if derr != nil {
						return fmt.Errorf("%s: %w", path, derr)
					}
					return fn(v)
				}
				return fmt.Errorf("%s: line %d: %w", path, line, derr)
			}
			if ferr := fn(v); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (ev *evaluator) run(path string) error {
	ev.first = true
	if !ev.summary {
		if ev.json {
			ev.jw = bufio.NewWriterSize(ev.e.stdout, 1<<16)
			ev.jw.WriteString("[")
		} else {
			ev.tw = bufio.NewWriterSize(ev.e.stdout, 1<<16)
		}
	}
	var buf [256]byte
	// One evaluation time for the whole run; the summary needs no details.
	in := policy.Input{APIVersion: ev.apiVersion, Lookup: ev.lookup, Explain: !ev.summary, SkipDetails: ev.summary, Now: time.Now().UTC()}
	if ev.apiVersion != "" {
		in.RequestContext = value.ObjectValue(value.Member{Key: "apiVersion", Value: value.StringValue(ev.apiVersion)})
	}
	progs := ev.ix.Programs()
	needScopes := false
	for _, p := range progs {
		needScopes = needScopes || p.UsesScopeContext()
	}
	var cur value.Value
	countResult := func(i int, res policy.Result) {
		ev.count(&res)
		if res.Err != nil && len(ev.firstErrors) < maxFirstErrors {
			ev.firstErrors = append(ev.firstErrors, fmt.Sprintf("%s × %s: %v", resourceLabel(cur), ev.progs[i].name, res.Err))
		}
	}
	err := forEachResource(path, ev.e.stdin, func(r value.Value) error {
		cur = r
		ev.resources++
		if ev.apiVersion == "" {
			v := ev.defaultAPIVersion(r.Field("type").Str())
			in.APIVersion, in.RequestContext = v, value.Value{}
			if v != "" {
				in.RequestContext = value.ObjectValue(value.Member{Key: "apiVersion", Value: value.StringValue(v)})
			}
		}
		ev.evaluations += len(progs)
		in.Resource = r
		if needScopes {
			in.ResourceGroup, in.Subscription = ev.scopes.of(r)
		}
		if ev.summary {
			ev.ix.EvaluateEach(&in, countResult)
			return nil
		}
		cands := ev.ix.Candidates(r.Field("type").Str(), buf[:0])
		ci := 0
		for i, p := range progs {
			var res policy.Result
			if ci < len(cands) && cands[ci] == i {
				res = p.Evaluate(&in)
				ci++
			} else {
				res = policy.Result{Reason: "type"}
			}
			ev.count(&res)
			ev.print(r, ev.progs[i], &res)
		}
		return nil
	})
	if !ev.summary {
		if ev.json {
			ev.jw.WriteString("\n]\n")
			ev.jw.Flush()
		} else {
			ev.tw.Flush()
		}
	}
	return err
}

// scopeContexts supplies resourceGroup() and subscription() for the
// resources evaluated: the resource group and subscription from --related
// when they are there (with their location, tags and the rest), else what
// the resource id tells ({id, name, type} and {id, subscriptionId}); what
// neither gives (the group's location, its tags) reads as undefined, like
// any missing property, rather than a made-up value. Contexts are built
// once per scope id.
type scopeContexts struct {
	known map[string]value.Value // lower-cased id → resource group or subscription from --related
	made  map[string]value.Value // scope id as written → context
}

func newScopeContexts(pool []value.Value) *scopeContexts {
	c := &scopeContexts{known: map[string]value.Value{}, made: map[string]value.Value{}}
	for _, r := range pool {
		t := r.Field("type").Str()
		if value.EqualFold(t, "Microsoft.Resources/resourceGroups") || value.EqualFold(t, "Microsoft.Resources/subscriptions/resourceGroups") ||
			value.EqualFold(t, "Microsoft.Resources/subscriptions") {
			if id := r.Field("id").Str(); id != "" {
				c.known[strings.ToLower(id)] = r
			}
		}
	}
	return c
}

// of returns the resource group and subscription contexts of r (Undefined
// when its id names none).
func (c *scopeContexts) of(r value.Value) (rg, sub value.Value) {
	subID, _, rgID, _ := scopeIDs(r.Field("id").Str())
	if subID != "" {
		sub = c.context(subID)
	}
	if rgID != "" {
		rg = c.context(rgID)
	}
	return rg, sub
}

// context returns the context of a subscription or resource group id.
func (c *scopeContexts) context(id string) value.Value {
	if v, ok := c.made[id]; ok {
		return v
	}
	id = strings.Clone(id) // id points into a buffer the decoder reuses
	v, ok := c.known[strings.ToLower(id)]
	if !ok {
		_, sub, _, rg := scopeIDs(id)
		if rg == "" {
			v = value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(id)},
				value.Member{Key: "subscriptionId", Value: value.StringValue(sub)})
		} else {
			v = value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(id)},
				value.Member{Key: "name", Value: value.StringValue(rg)},
				value.Member{Key: "type", Value: value.StringValue("Microsoft.Resources/resourceGroups")})
		}
	}
	c.made[id] = v
	return v
}

// segment is the length of s up to its first '/'.
func segment(s string) int {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return i
	}
	return len(s)
}

// scopeIDs splits "/subscriptions/{s}/resourceGroups/{rg}/..." into the
// subscription id and name and the resource group id and name (empty when
// absent). The ids are substrings of id.
func scopeIDs(id string) (subID, sub, rgID, rg string) {
	const subs, rgs = "/subscriptions/", "/resourcegroups/"
	if len(id) <= len(subs) || !strings.EqualFold(id[:len(subs)], subs) {
		return
	}
	end := len(subs) + segment(id[len(subs):])
	subID, sub = id[:end], id[len(subs):end]
	if sub == "" {
		return "", "", "", ""
	}
	rest := id[end:]
	if len(rest) <= len(rgs) || !strings.EqualFold(rest[:len(rgs)], rgs) {
		return
	}
	rgEnd := len(rgs) + segment(rest[len(rgs):])
	if rgEnd == len(rgs) {
		return
	}
	return subID, sub, id[:end+rgEnd], rest[len(rgs):rgEnd]
}

func (ev *evaluator) count(res *policy.Result) {
	if res.Err != nil {
		ev.errors++
		return
	}
	ev.counts[res.Effect]++
}

func resourceLabel(r value.Value) string {
	if id := r.Field("id").Str(); id != "" {
		return id
	}
	n := r.Field("name").Str()
	if t := r.Field("type").Str(); t != "" {
		return t + "/" + n
	}
	return n
}

func reasonOf(res *policy.Result) string {
	switch {
	case res.Err != nil:
		return "evaluation error: " + res.Err.Error()
	case res.Reason == "type":
		return "not applicable: resource type not targeted"
	case res.Reason == "mode":
		return "not applicable: outside the definition's mode"
	case res.Reason == "disabled":
		return "effect is Disabled"
	case res.Reason != "":
		return "not applicable: " + res.Reason
	case res.Effect == policy.None && res.Matched && res.Existence != nil:
		return fmt.Sprintf("related resource exists: %s", res.Existence.Matched)
	case res.Effect == policy.None:
		return "if-condition is false"
	case res.Existence != nil:
		return fmt.Sprintf("if-condition is true; no related %s matched (%d examined)", res.Existence.Query.Type, res.Existence.TotalResources)
	}
	return "if-condition is true"
}

func (ev *evaluator) print(r value.Value, p program, res *policy.Result) {
	eff := "none"
	if res.Effect != policy.None {
		eff = res.EffectName
	}
	if ev.json {
		type out struct {
			Resource    string                    `json:"resource"`
			Policy      string                    `json:"policy"`
			File        string                    `json:"file"`
			Effect      string                    `json:"effect"`
			Reason      string                    `json:"reason"`
			Details     *value.Value              `json:"details,omitempty"`
			Existence   *policy.Existence         `json:"ifNotExistsDetails,omitempty"`
			Expressions []policy.ExpressionResult `json:"evaluatedExpressions,omitempty"`
			Conditions  *policy.ConditionNode     `json:"conditionTree,omitempty"`
			ExistTrees  []*policy.ConditionNode   `json:"existenceConditionTrees,omitempty"`
		}
		o := out{Resource: resourceLabel(r), Policy: p.name, File: p.file, Effect: eff, Reason: reasonOf(res), Existence: res.Existence,
			Expressions: res.Expressions, Conditions: res.Conditions, ExistTrees: res.ExistenceConditions}
		if !res.Details.IsUndefined() {
			d := res.Details
			o.Details = &d
		}
		b, _ := json.Marshal(o)
		if !ev.first {
			ev.jw.WriteString(",")
		}
		ev.first = false
		ev.jw.WriteString("\n")
		ev.jw.Write(b)
		return
	}
	// One line per evaluation, then the if-condition as evaluated: its
	// groups and conditions indented as they nest, each with its result;
	// then the existence condition's, as evaluated against each related
	// resource examined.
	w := ev.tw
	fmt.Fprintf(w, "%s × %s → %s: %s\n", resourceLabel(r), p.name, eff, reasonOf(res))
	printExpr := func(indent string, x *policy.ExpressionResult) {
		v := "(missing)"
		if !x.Value.IsUndefined() {
			v = x.Value.JSON()
		}
		path := ""
		if x.Path != "" && x.Path != x.Expression {
			path = " [" + x.Path + "]"
		}
		fmt.Fprintf(w, "%s%-5v %s %s%s = %s %s %s\n", indent, x.Result, x.Kind, x.Expression, path, v, x.Operator, x.Target.JSON())
	}
	shown := 0
	var walk func(n *policy.ConditionNode, indent string)
	walk = func(n *policy.ConditionNode, indent string) {
		if n.Expression >= 0 && n.Expression < len(res.Expressions) {
			printExpr(indent, &res.Expressions[n.Expression])
			shown = max(shown, n.Expression+1)
			return
		}
		fmt.Fprintf(w, "%s%-5v %s\n", indent, n.Result, n.Kind)
		for _, c := range n.Children {
			walk(c, indent+"  ")
		}
	}
	if res.Conditions != nil {
		walk(res.Conditions, "    ")
	}
	for _, t := range res.ExistenceConditions {
		fmt.Fprintf(w, "    %-5v existence condition on %s\n", t.Result, t.ResourceID)
		for _, c := range t.Children {
			walk(c, "      ")
		}
	}
	if shown < len(res.Expressions) {
		if res.Conditions != nil {
			fmt.Fprintln(w, "    existence condition:")
		}
		for i := shown; i < len(res.Expressions); i++ {
			printExpr("      ", &res.Expressions[i])
		}
	}
	if !res.Details.IsUndefined() && res.Effect != policy.None {
		fmt.Fprintf(w, "    details: %s\n", res.Details.JSON())
	}
}

func (ev *evaluator) printSummary(d time.Duration) {
	var parts []string
	for i, n := range ev.counts {
		if n > 0 && policy.Effect(i) != policy.None {
			parts = append(parts, fmt.Sprintf("%s=%d", policy.Effect(i), n))
		}
	}
	sort.Strings(parts)
	none := ev.evaluations - ev.errors
	for i, n := range ev.counts {
		if policy.Effect(i) != policy.None {
			none -= n
		}
	}
	secs := d.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	for _, e := range ev.firstErrors {
		fmt.Fprintln(ev.e.stderr, "error:", e)
	}
	if more := ev.errors - len(ev.firstErrors); more > 0 && len(ev.firstErrors) > 0 {
		fmt.Fprintf(ev.e.stderr, "(%d more errors; without --summary every one is shown)\n", more)
	}
	parts = append(parts, fmt.Sprintf("none=%d", none))
	fmt.Fprintf(ev.e.stderr, "summary: %d resources, %d definitions, %d evaluations; effects: %s errors=%d; time %s; %.0f evaluations/s, %.0f resources/s\n",
		ev.resources, len(ev.progs), ev.evaluations, strings.Join(parts, " "), ev.errors, d.Round(time.Millisecond), float64(ev.evaluations)/secs, float64(ev.resources)/secs)
}
