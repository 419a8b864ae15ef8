package e2e

// TestReadme runs the README's examples as written, so that a command the
// README shows cannot stop working unnoticed.
//
// Each fenced code block may be preceded by a marker line, an HTML comment
// (invisible on the rendered page):
//
//	<!-- readme-test: run -->           run this shell block
//	<!-- readme-test: skip: REASON -->  do not run it, for the reason given
//	<!-- readme-test: file NAME -->     write the block to NAME (rule.json, a script)
//
// Every shell block (sh, bash, shell, console, or no language at all) must
// carry run or skip: a new command block cannot escape the test silently.
//
// The blocks are taken in README order. The setting is the one the README
// describes: a copy of this checkout (its tracked and untracked, not ignored
// files) with `../shared` beside it as a link to the real one (read in place,
// never copied), `mlgov serve --data ./mlgov-data` running there (on a free
// port instead of the quick start's 8443: the README reads the endpoint from
// bootstrap.json), and e2e/sdk's node_modules linked into the copy in place of
// the README's `npm install`. Each run block is a fresh
// `bash -e -u -o pipefail` in that folder: the folder's files (./mlgov,
// mlgov-data, rule.json) carry over from block to block, shell variables do
// not, so every block sets what it uses. The environment is the caller's minus
// the settings that would point the clients elsewhere (AZURE_*, MLGOV_*,
// NODE_EXTRA_CA_CERTS): what the README tells the user to set, each block sets.
//
// Each run block is a subtest named README.md:LINE after its opening fence;
// run the whole test, as each block builds on the ones before it. A failure
// names the README line of the failing command. The README's `go build` runs
// too, in the copy (about 15 s: the copy's packages are compiled afresh).
//
// It needs bash, curl, jq, node and npm (as `make test` does); without one it
// skips, unless MLGOV_E2E_REQUIRE=1.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeSDKScript is the README block its note on endpoints_resolution_error
// is about: run without NODE_EXTRA_CA_CERTS, it must fail with that error.
const readmeSDKScript = "workspace.mjs"

func TestReadme(t *testing.T) {
	root := RepoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseReadme(string(raw))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}

	tools := map[string]string{}
	for _, name := range []string{"bash", "curl", "jq", "node", "npm"} {
		p, err := exec.LookPath(name)
		if err != nil {
			requireOrSkip(t, "%s is not installed (the README's examples use it): %v", name, err)
		}
		tools[name] = p
	}
	shared := filepath.Join(filepath.Dir(root), "shared")
	if _, err := os.Stat(shared); err != nil {
		requireOrSkip(t, "the reference data folder %s is missing; the README's commands read it: %v", shared, err)
	}
	checkNodeVersion(t, tools["node"])
	sdkDir := filepath.Join(root, "e2e", "sdk")
	installNodeModules(t, tools["npm"], sdkDir)

	// The copy sits in a folder of its own so that ../shared resolves beside it as it does beside the checkout.
	dir := filepath.Join(t.TempDir(), filepath.Base(root))
	copyCheckout(t, root, dir)
	for link, target := range map[string]string{
		filepath.Join(filepath.Dir(dir), "shared"): shared,
		filepath.Join(dir, "node_modules"):         filepath.Join(sdkDir, "node_modules"),
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}

	srv := StartServer(t, ServerOptions{DataDir: filepath.Join(dir, "mlgov-data"), Args: builtinArgs(t)})
	env := readmeEnv(dir)
	scripts := t.TempDir() // the blocks' scripts stay out of the folder the README's commands see

	ran := 0
	for _, b := range blocks {
		where := fmt.Sprintf("README.md:%d", b.Line)
		switch b.Directive {
		case directiveSkip:
			t.Logf("%s: ```%s block not run: %s", where, b.Lang, b.Arg)
		case directiveFile:
			if err := os.WriteFile(filepath.Join(dir, b.Arg), []byte(b.Text), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: ```%s block written to %s", where, b.Lang, b.Arg)
		case directiveRun:
			ran++
			// Later blocks build on earlier ones (./mlgov, rg1): after a failure they would only fail again.
			if !t.Run(where, func(t *testing.T) { runReadmeBlock(t, tools["bash"], scripts, dir, env, b) }) {
				t.FailNow()
			}
		}
	}
	if ran == 0 {
		t.Fatal("README.md has no block marked <!-- readme-test: run -->")
	}

	t.Run("endpoints_resolution_error", func(t *testing.T) {
		if !strings.Contains(string(raw), "endpoints_resolution_error") {
			t.Fatal("README.md no longer explains endpoints_resolution_error (issue 11 asks for it)")
		}
		if _, err := os.Stat(filepath.Join(dir, readmeSDKScript)); err != nil {
			t.Fatalf("README.md has no block marked <!-- readme-test: file %s -->, the SDK example its endpoints_resolution_error note is about: %v", readmeSDKScript, err)
		}
		// As the note says: without NODE_EXTRA_CA_CERTS (readmeEnv drops it) the SDK fails with that error.
		ctx, cancel := context.WithTimeout(context.Background(), budget(t, 2*time.Minute))
		defer cancel()
		cmd := exec.CommandContext(ctx, tools["node"], readmeSDKScript)
		cmd.Dir, cmd.Env, cmd.WaitDelay = dir, env, 10*time.Second
		dieWithParent(cmd)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "endpoints_resolution_error") {
			t.Errorf("node %s without NODE_EXTRA_CA_CERTS: %v, want a failure naming endpoints_resolution_error as the README says; output:\n%s",
				readmeSDKScript, err, tailLines(string(out), 40))
		}
	})

	srv.Stop(t)
}

// runReadmeBlock runs one shell block in dir and fails the test if any of
// its commands fails, naming the README line of the command.
func runReadmeBlock(t *testing.T, bash, scripts, dir string, env []string, b readmeBlock) {
	// The block's first line is README line b.Line+1 and script line 2.
	header := fmt.Sprintf(`trap 'echo "README.md:$((LINENO + %d)): exit status $?" >&2' ERR`+"\n", b.Line-1)
	script := filepath.Join(scripts, fmt.Sprintf("readme-%d.sh", b.Line))
	if err := os.WriteFile(script, []byte(header+b.Text), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget(t, 5*time.Minute))
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "--noprofile", "--norc", "-e", "-u", "-o", "pipefail", script)
	cmd.Dir, cmd.Env, cmd.WaitDelay = dir, env, 10*time.Second
	dieWithParent(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if err != nil {
		t.Fatalf("the ```%s block at README.md:%d failed: %v\n--- the block:\n%s--- its output (last lines):\n%s",
			b.Lang, b.Line, err, b.Text, tailLines(out.String(), 80))
	}
	t.Logf("ran in %v; output (last lines):\n%s", time.Since(start).Round(time.Millisecond), tailLines(out.String(), 12))
}

// readmeEnv is clientEnv without, besides, mlgov's own settings and what
// changes how bash starts.
func readmeEnv(dir string) []string {
	env := clientEnv(func(k string) bool {
		switch k {
		case "NODE_OPTIONS", "BASH_ENV", "ENV", "CDPATH", "PWD", "OLDPWD":
			return true
		}
		return strings.HasPrefix(k, "MLGOV_")
	})
	return append(env, "PWD="+dir)
}

// copyCheckout copies the files git would commit (tracked, and untracked
// but not ignored) from root to dst: the README's commands see this checkout
// as its user does, and what they write (./mlgov, mlgov-data) stays out of it.
func copyCheckout(t *testing.T, root, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		t.Fatalf("git ls-files in %s (the test copies the checkout's files): %v", root, err)
	}
	n := 0
	for _, rel := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		src, to := filepath.Join(root, rel), filepath.Join(dst, rel)
		fi, err := os.Lstat(src)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err == nil {
				err = os.Symlink(target, to)
			}
			if err != nil {
				t.Fatal(err)
			}
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(to, data, fi.Mode().Perm()); err != nil {
				t.Fatal(err)
			}
		default:
			continue // a submodule or other non-file entry: nothing the README uses
		}
		n++
	}
	t.Logf("copied %d files of %s to %s", n, root, dst)
}

// Marker directives.
const (
	directiveRun  = "run"
	directiveSkip = "skip"
	directiveFile = "file"
)

// readmeBlock is one fenced code block of the README.
type readmeBlock struct {
	Line      int    // line of the opening fence (1-based)
	Lang      string // first word of the info string, lower case
	Text      string // the content, each line ending in "\n"
	Directive string // directiveRun, directiveSkip, directiveFile, or "" (no marker)
	Arg       string // the skip reason or the file name
}

var (
	markerRE = regexp.MustCompile(`^<!--\s*readme-test:\s*(.*?)\s*-->$`)
	fenceRE  = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})(.*)$")
)

// shellLangs are the info strings of blocks that hold commands; a block
// without a language is counted as one, as a reader would copy it into a shell.
var shellLangs = map[string]bool{"": true, "sh": true, "bash": true, "shell": true, "console": true, "zsh": true, "shell-session": true}

// parseReadme returns the fenced code blocks of a Markdown document with
// their markers. All problems are reported together: a shell block without
// run or skip, a malformed or unknown marker, a marker not directly before
// a block, a run marker on a block that is not shell, an unclosed block.
func parseReadme(src string) ([]readmeBlock, error) {
	var (
		blocks  []readmeBlock
		errs    []error
		pending *readmeBlock // the marker waiting for its block
		cur     *readmeBlock // the open block
		fence   string       // its opening fence
		body    strings.Builder
	)
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	for i, line := range lines {
		n := i + 1
		if cur != nil {
			if t := strings.TrimSpace(line); strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" && len(line)-len(strings.TrimLeft(line, " ")) <= 3 {
				cur.Text = body.String()
				blocks = append(blocks, *cur)
				cur = nil
				continue
			}
			body.WriteString(line + "\n")
			continue
		}
		trimmed := strings.TrimSpace(line)
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			b := readmeBlock{Line: n}
			if f := strings.Fields(m[2]); len(f) > 0 {
				b.Lang = strings.ToLower(f[0])
			}
			if pending != nil {
				b.Directive, b.Arg = pending.Directive, pending.Arg
				pending = nil
			}
			cur, fence = &b, m[1]
			body.Reset()
			continue
		}
		if pending != nil && trimmed != "" {
			errs = append(errs, fmt.Errorf("line %d: the readme-test marker is not directly before a code block (line %d comes first)", pending.Line, n))
			pending = nil
		}
		if !strings.Contains(line, "readme-test") {
			continue
		}
		m := markerRE.FindStringSubmatch(trimmed)
		if m == nil {
			errs = append(errs, fmt.Errorf("line %d: malformed readme-test marker %q: want <!-- readme-test: run|skip: REASON|file NAME -->", n, trimmed))
			continue
		}
		d, err := parseDirective(m[1])
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		d.Line = n
		pending = &d
	}
	if cur != nil {
		errs = append(errs, fmt.Errorf("line %d: the code block is never closed", cur.Line))
	}
	if pending != nil {
		errs = append(errs, fmt.Errorf("line %d: the readme-test marker is not followed by a code block", pending.Line))
	}
	for _, b := range blocks {
		switch {
		case b.Directive == "" && shellLangs[b.Lang]:
			errs = append(errs, fmt.Errorf("line %d: the ```%s block is neither run nor excluded: put <!-- readme-test: run --> or <!-- readme-test: skip: REASON --> on the line before it", b.Line, b.Lang))
		case b.Directive == directiveRun && !shellLangs[b.Lang]:
			errs = append(errs, fmt.Errorf("line %d: <!-- readme-test: run --> on a ```%s block: only shell blocks run (a file NAME marker writes other blocks to a file)", b.Line, b.Lang))
		}
	}
	return blocks, errors.Join(errs...)
}

// parseDirective parses the text of a marker after "readme-test:".
func parseDirective(s string) (readmeBlock, error) {
	word, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case s == directiveRun:
		return readmeBlock{Directive: directiveRun}, nil
	case word == directiveSkip+":" || s == directiveSkip || s == directiveSkip+":":
		if rest == "" {
			return readmeBlock{}, errors.New("a skip marker needs its reason: <!-- readme-test: skip: REASON -->")
		}
		return readmeBlock{Directive: directiveSkip, Arg: rest}, nil
	case word == directiveFile:
		if rest == "" || strings.ContainsAny(rest, " \t") || !filepath.IsLocal(rest) {
			return readmeBlock{}, fmt.Errorf("file marker %q: want one relative file name inside the folder, without ..", s)
		}
		return readmeBlock{Directive: directiveFile, Arg: rest}, nil
	}
	return readmeBlock{}, fmt.Errorf("unknown readme-test directive %q: want run, skip: REASON, or file NAME", s)
}

// TestReadmeMarkers checks the parser TestReadme relies on: an unmarked or
// mismarked block is an error naming its line, never silently not run.
func TestReadmeMarkers(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		want      []readmeBlock // when no error is expected
		errs      []string      // substrings of the error, in any order
	}{
		{name: "marked blocks",
			doc: "text\n<!-- readme-test: run -->\n```sh\necho hi\n```\n\n<!-- readme-test: skip: runs forever -->\n\n```bash\nmake serve\n```\n" +
				"<!-- readme-test: file a/b.json -->\n```json\n{}\n```\n```js\nconsole.log(1)\n```\n```yaml\nk: v\n```\n",
			want: []readmeBlock{
				{Line: 3, Lang: "sh", Text: "echo hi\n", Directive: "run"},
				{Line: 9, Lang: "bash", Text: "make serve\n", Directive: "skip", Arg: "runs forever"},
				{Line: 13, Lang: "json", Text: "{}\n", Directive: "file", Arg: "a/b.json"},
				{Line: 16, Lang: "js", Text: "console.log(1)\n"},
				{Line: 19, Lang: "yaml", Text: "k: v\n"},
			}},
		{name: "a longer fence holds a shorter one",
			doc:  "<!-- readme-test: run -->\n````sh\ncat <<'EOF'\n```sh\nEOF\n````\n",
			want: []readmeBlock{{Line: 2, Lang: "sh", Text: "cat <<'EOF'\n```sh\nEOF\n", Directive: "run"}}},
		{name: "markers inside a block are content",
			doc:  "```md\n<!-- readme-test: bogus -->\n```\n",
			want: []readmeBlock{{Line: 1, Lang: "md", Text: "<!-- readme-test: bogus -->\n"}}},
		{name: "an unmarked shell block", doc: "```sh\nls\n```\n", errs: []string{"line 1: the ```sh block is neither run nor excluded"}},
		{name: "an unmarked block without language", doc: "```\nls\n```\n", errs: []string{"line 1: the ``` block is neither run nor excluded"}},
		{name: "a tilde fence", doc: "~~~console\n$ ls\n~~~\n", errs: []string{"line 1: the ```console block is neither"}},
		{name: "skip without reason", doc: "<!-- readme-test: skip -->\n```sh\nls\n```\n",
			errs: []string{"line 1: a skip marker needs its reason", "line 2: the ```sh block is neither"}},
		{name: "unknown directive", doc: "<!-- readme-test: runn -->\n```sh\nls\n```\n", errs: []string{`line 1: unknown readme-test directive "runn"`}},
		{name: "malformed marker", doc: "<!-- readme-test run -->\n", errs: []string{"line 1: malformed readme-test marker"}},
		{name: "marker before prose", doc: "<!-- readme-test: run -->\nSome text.\n```sh\nls\n```\n",
			errs: []string{"line 1: the readme-test marker is not directly before a code block (line 2 comes first)", "line 3: the ```sh block is neither"}},
		{name: "marker at the end", doc: "<!-- readme-test: run -->\n", errs: []string{"line 1: the readme-test marker is not followed by a code block"}},
		{name: "run on a js block", doc: "<!-- readme-test: run -->\n```js\nx\n```\n", errs: []string{"line 2: <!-- readme-test: run --> on a ```js block"}},
		{name: "file outside the folder", doc: "<!-- readme-test: file ../x.json -->\n```json\n{}\n```\n", errs: []string{`file marker "file ../x.json"`}},
		{name: "unclosed block", doc: "<!-- readme-test: run -->\n```sh\nls\n", errs: []string{"line 2: the code block is never closed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseReadme(c.doc)
			if len(c.errs) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Errorf("blocks:\n got %+v\nwant %+v", got, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want %q", c.errs)
			}
			for _, e := range c.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error %q does not contain %q", err, e)
				}
			}
		})
	}
}
