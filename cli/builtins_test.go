package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The archives below are built here, in the shape of GitHub's tarball of
// Azure/azure-policy (one top folder, a pax global header, the
// built-in-policies folders among others); the definitions are made up.

const testRef = "0123456789abcdef0123456789abcdef01234567"

type tarEntry struct {
	name string
	typ  byte // 0: regular file
	body string
	link string
}

func testDefinition(name, category, resourceType string) string {
	return fmt.Sprintf(`{
  "properties": {
    "displayName": "%[3]s should disable public network access",
    "policyType": "BuiltIn",
    "mode": "Indexed",
    "description": "Disabling public network access improves security.",
    "metadata": {"version": "1.0.0", "category": "%[2]s"},
    "version": "1.0.0",
    "parameters": {
      "effect": {
        "type": "String",
        "metadata": {"displayName": "Effect", "description": "Enable or disable the execution of the policy"},
        "allowedValues": ["Audit", "Deny", "Disabled"],
        "defaultValue": "Audit"
      }
    },
    "policyRule": {
      "if": {"allOf": [
        {"field": "type", "equals": "%[3]s"},
        {"field": "%[3]s/publicNetworkAccess", "notEquals": "Disabled"}
      ]},
      "then": {"effect": "[parameters('effect')]"}
    }
  },
  "id": "/providers/Microsoft.Authorization/policyDefinitions/%[1]s",
  "name": "%[1]s",
  "type": "Microsoft.Authorization/policyDefinitions"
}
`, name, category, resourceType)
}

func testInitiative(name string, members ...string) string {
	var refs []string
	for i, m := range members {
		refs = append(refs, fmt.Sprintf(`{"policyDefinitionReferenceId": "member%d", "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/%s", "parameters": {}}`, i, m))
	}
	return fmt.Sprintf(`{
  "properties": {
    "displayName": "Public network access should be disabled",
    "policyType": "BuiltIn",
    "description": "Members that audit public network access.",
    "metadata": {"version": "1.0.0", "category": "Network"},
    "parameters": {},
    "policyDefinitions": [%s]
  },
  "id": "/providers/Microsoft.Authorization/policySetDefinitions/%[2]s",
  "name": "%[2]s",
  "type": "Microsoft.Authorization/policySetDefinitions"
}
`, strings.Join(refs, ", "), name)
}

const (
	defA = "5e1f0a3c-6c7e-4a52-9d3b-0c1d2e3f4a5b"
	defB = "6f2a1b4d-7d8f-4b63-8e4c-1d2e3f4a5b6c"
	setC = "7a3b2c5e-8e9a-4c74-9f5d-2e3f4a5b6c7d"
)

// goodEntries are an archive of two definitions, an initiative, a file
// that does not parse and files that are not extracted.
func goodEntries(top string) []tarEntry {
	bi := top + "/built-in-policies/"
	return []tarEntry{
		{name: top + "/", typ: tar.TypeDir},
		{name: top + "/README.md", body: "# Azure Policy\n"},
		{name: top + "/samples/Storage/deny/azurepolicy.json", body: testDefinition("sample", "Storage", "Microsoft.Storage/storageAccounts")},
		{name: bi, typ: tar.TypeDir},
		{name: bi + "README.md", body: "built-ins\n"},
		{name: bi + "policyDefinitions/", typ: tar.TypeDir},
		{name: bi + "policyDefinitions/Storage/", typ: tar.TypeDir},
		{name: bi + "policyDefinitions/Storage/StoragePublicNetworkAccess.json", body: testDefinition(defA, "Storage", "Microsoft.Storage/storageAccounts")},
		{name: bi + "policyDefinitions/Storage/notes.txt", body: "not a definition\n"},
		{name: bi + "policyDefinitions/Machine Learning/Workspace_PublicNetworkAccess.json", body: testDefinition(defB, "Machine Learning", "Microsoft.MachineLearningServices/workspaces")},
		{name: bi + "policyDefinitions/Machine Learning/Broken.json", body: `{"properties": {"policyRule": `},
		{name: bi + "policySetDefinitions/Network/PublicNetworkAccess.json", body: testInitiative(setC, defA, defB)},
		// Links elsewhere in the repository are skipped, not refused.
		{name: top + "/docs/link.json", typ: tar.TypeSymlink, link: "../README.md"},
	}
}

func makeTarball(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": testRef}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o664, Linkname: e.link, Format: tar.FormatPAX}
		switch e.typ {
		case 0:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		case tar.TypeDir:
			h.Mode = 0o775
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarballServer serves the current tarball at /tar.gz/{testRef}, 404
// elsewhere, and counts requests.
type tarballServer struct {
	mu       sync.Mutex
	tarball  []byte
	requests int
}

func (s *tarballServer) set(b []byte) {
	s.mu.Lock()
	s.tarball = b
	s.mu.Unlock()
}

func (s *tarballServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.URL.Path != "/tar.gz/"+testRef {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-gzip")
	w.Write(s.tarball)
}

func startTarballServer(t *testing.T, entries []tarEntry) (*tarballServer, string) {
	ts := &tarballServer{tarball: makeTarball(t, entries)}
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	return ts, srv.URL + "/tar.gz/{ref}"
}

func pull(t *testing.T, source, data string, more ...string) (string, string, int) {
	t.Helper()
	return run(t, append([]string{"policy", "builtins", "pull", "--ref", testRef, "--source", source, "--data", data}, more...)...)
}

// builtinsLeft lists what DIR/builtins holds (nothing when it is absent).
func builtinsLeft(t *testing.T, data string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(data, builtinsDir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestBuiltinsPull(t *testing.T) {
	top := "azure-policy-" + testRef
	ts, source := startTarballServer(t, goodEntries(top))
	data := filepath.Join(t.TempDir(), "data")
	out, errOut, code := pull(t, source, data)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	dir := filepath.Join(data, builtinsDir, testRef)
	for _, want := range []string{"pulled Azure/azure-policy " + testRef, dir, "4 files", "2 definitions, 1 initiatives, 1 files that do not parse"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "Broken.json") {
		t.Errorf("the file that does not parse is not named:\n%s", errOut)
	}
	var files []string
	err := filepath.WalkDir(filepath.Join(data, builtinsDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{
		"policyDefinitions/Machine Learning/Broken.json",
		"policyDefinitions/Machine Learning/Workspace_PublicNetworkAccess.json",
		"policyDefinitions/Storage/StoragePublicNetworkAccess.json",
		"policySetDefinitions/Network/PublicNetworkAccess.json",
		"../current",
	}
	if strings.Join(files, "\n") != strings.Join(wantFiles, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(files, "\n"), strings.Join(wantFiles, "\n"))
	}
	if b, _ := os.ReadFile(filepath.Join(data, builtinsDir, builtinsCurrent)); string(b) != testRef+"\n" {
		t.Errorf("current = %q", b)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "policyDefinitions/Storage/StoragePublicNetworkAccess.json"))
	if string(got) != testDefinition(defA, "Storage", "Microsoft.Storage/storageAccounts") {
		t.Errorf("extracted content differs:\n%s", got)
	}
	if paths, from := defaultPolicyPathsFor(data); len(paths) != 1 || paths[0] != dir || !strings.Contains(from, testRef) {
		t.Errorf("serve's default = %v (%s), want %s", paths, from, dir)
	}
	// mlgov serve loads what was pulled.
	pl, err := loadPolicies([]string{dir}, nil)
	if err != nil || pl.defs.Len() != 2 || pl.sets.Len() != 1 {
		t.Errorf("loadPolicies: %v, %d definitions, %d initiatives", err, pl.defs.Len(), pl.sets.Len())
	}

	// A second pull of the ref replaces the folder: a removed file goes,
	// a new one comes, and nothing else is left beside it.
	second := goodEntries(top)
	second[7].name = top + "/built-in-policies/policyDefinitions/Storage/Renamed.json"
	ts.set(makeTarball(t, second))
	out, errOut, code = pull(t, source, data, "-o", "json")
	if code != 0 {
		t.Fatalf("second pull: exit %d\n%s%s", code, out, errOut)
	}
	var res pullResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if res.Ref != testRef || res.Path != dir || res.Definitions != 2 || res.Initiatives != 1 || len(res.NotParsed) != 1 || res.Files != 4 {
		t.Errorf("-o json: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "policyDefinitions/Storage/StoragePublicNetworkAccess.json")); !os.IsNotExist(err) {
		t.Errorf("the first pull's file is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "policyDefinitions/Storage/Renamed.json")); err != nil {
		t.Errorf("the second pull's file: %v", err)
	}
	if left := builtinsLeft(t, data); strings.Join(left, " ") != testRef+" current" {
		t.Errorf("DIR/builtins holds %v, want the ref and current", left)
	}
	if ts.requests != 2 {
		t.Errorf("%d requests, want 2", ts.requests)
	}
}

// The default source is https: a TLS server is trusted through its CA.
func TestBuiltinsPullTLS(t *testing.T) {
	ts := &tarballServer{tarball: makeTarball(t, goodEntries("azure-policy-"+testRef))}
	srv := httptest.NewTLSServer(ts)
	defer srv.Close()
	data := t.TempDir()
	out, errOut, code := pull(t, srv.URL+"/tar.gz/{ref}", data)
	if code != 1 || !strings.Contains(errOut, "cannot reach 127.0.0.1") || !strings.Contains(errOut, "--policy-definitions") {
		t.Errorf("untrusted certificate: exit %d\n%s%s", code, out, errOut)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	pullTLSConfig = &tls.Config{RootCAs: pool}
	defer func() { pullTLSConfig = nil }()
	out, errOut, code = pull(t, srv.URL+"/tar.gz/{ref}", data)
	if code != 0 || !strings.Contains(out, "2 definitions, 1 initiatives") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestBuiltinsPullHostile(t *testing.T) {
	top := "azure-policy-" + testRef
	pd := top + "/built-in-policies/policyDefinitions/"
	big := strings.Repeat(" ", int(pullMaxFileBytes)+1)
	cases := []struct {
		name  string
		extra []tarEntry
		want  string
	}{
		{"dotdot", []tarEntry{{name: pd + "../../../../evil.json", body: "{}"}}, `"` + pd + `../../../../evil.json": ".." in the path`},
		{"dotdot outside", []tarEntry{{name: top + "/../evil.json", body: "{}"}}, `"` + top + `/../evil.json": ".." in the path`},
		{"absolute", []tarEntry{{name: "/tmp/evil.json", body: "{}"}}, `"/tmp/evil.json": an absolute path`},
		{"symlink", []tarEntry{{name: pd + "Storage/passwd.json", typ: tar.TypeSymlink, link: "/etc/passwd"}}, `"` + pd + `Storage/passwd.json": a link (to /etc/passwd)`},
		{"hardlink", []tarEntry{{name: pd + "Storage/hard.json", typ: tar.TypeLink, link: "/etc/passwd"}}, `"` + pd + `Storage/hard.json": a link`},
		{"fifo", []tarEntry{{name: pd + "Storage/fifo.json", typ: tar.TypeFifo}}, `"` + pd + `Storage/fifo.json": not a regular file`},
		{"oversized", []tarEntry{{name: pd + "Storage/Big.json", body: big}}, `"` + pd + `Storage/Big.json": 8388609 bytes, more than the 8 MiB`},
		{"twice", []tarEntry{{name: pd + "Storage/StoragePublicNetworkAccess.json", body: "{}"}}, "holds this file twice"},
		{"two tops", []tarEntry{{name: "other/built-in-policies/policyDefinitions/x.json", body: "{}"}}, "not under the archive's top folder"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, source := startTarballServer(t, append(goodEntries(top), tc.extra...))
			data := t.TempDir()
			out, errOut, code := pull(t, source, data)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want 1 and an error with %q\n%s%s", code, tc.want, out, errOut)
			}
			if left := builtinsLeft(t, data); len(left) != 0 {
				t.Errorf("left behind in DIR/builtins: %v", left)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(data), "evil.json")); err == nil {
				t.Error("a file was written outside the data directory")
			}
		})
	}

	// Over the total size: the cap counts every extracted file.
	t.Run("total", func(t *testing.T) {
		old := pullMaxTotalBytes
		pullMaxTotalBytes = 2000
		defer func() { pullMaxTotalBytes = old }()
		_, source := startTarballServer(t, goodEntries(top))
		data := t.TempDir()
		if _, errOut, code := pull(t, source, data); code != 1 || !strings.Contains(errOut, "more than 2000 bytes together") {
			t.Errorf("exit %d\n%s", code, errOut)
		}
		if left := builtinsLeft(t, data); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	// A refused pull leaves the previous pull of the ref as it was.
	t.Run("keeps the previous", func(t *testing.T) {
		ts, source := startTarballServer(t, goodEntries(top))
		data := t.TempDir()
		if out, errOut, code := pull(t, source, data); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		ts.set(makeTarball(t, append(goodEntries(top), tarEntry{name: pd + "Storage/passwd.json", typ: tar.TypeSymlink, link: "/etc/passwd"})))
		if _, errOut, code := pull(t, source, data); code != 1 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		if left := builtinsLeft(t, data); strings.Join(left, " ") != testRef+" current" {
			t.Errorf("DIR/builtins holds %v", left)
		}
		if _, err := os.Stat(filepath.Join(data, builtinsDir, testRef, "policyDefinitions/Storage/StoragePublicNetworkAccess.json")); err != nil {
			t.Errorf("the previous pull's file: %v", err)
		}
	})
}

func TestBuiltinsPullFails(t *testing.T) {
	top := "azure-policy-" + testRef
	_, source := startTarballServer(t, goodEntries(top))

	// A ref the source does not have: 404.
	data := t.TempDir()
	_, errOut, code := run(t, "policy", "builtins", "pull", "--ref", "no-such-ref", "--source", source, "--data", data)
	if code != 1 || !strings.Contains(errOut, "404 Not Found") || !strings.Contains(errOut, "--policy-definitions") {
		t.Errorf("404: exit %d\n%s", code, errOut)
	}
	if left := builtinsLeft(t, data); len(left) != 0 {
		t.Errorf("404: left behind: %v", left)
	}

	// Nobody listening.
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL + "/tar.gz/{ref}"
	srv.Close()
	if _, errOut, code := pull(t, dead, data); code != 1 || !strings.Contains(errOut, "cannot reach 127.0.0.1:") || !strings.Contains(errOut, "download the repository elsewhere") {
		t.Errorf("unreachable: exit %d\n%s", code, errOut)
	}

	// An archive without definitions: initiatives and other files only.
	var noDefs []tarEntry
	for _, e := range goodEntries(top) {
		if !strings.Contains(e.name, "policyDefinitions/") || strings.HasSuffix(e.name, "Broken.json") {
			noDefs = append(noDefs, e)
		}
	}
	_, source = startTarballServer(t, noDefs)
	if _, errOut, code := pull(t, source, data); code != 1 || !strings.Contains(errOut, "no policy definition under built-in-policies/policyDefinitions") {
		t.Errorf("no definitions: exit %d\n%s", code, errOut)
	}
	if left := builtinsLeft(t, data); len(left) != 0 {
		t.Errorf("no definitions: left behind: %v", left)
	}

	// Not a tarball at all.
	notTar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>rate limited</html>")) }))
	defer notTar.Close()
	if _, errOut, code := pull(t, notTar.URL+"/{ref}", data); code != 1 || !strings.Contains(errOut, "reading the archive") {
		t.Errorf("not a tarball: exit %d\n%s", code, errOut)
	}
	if left := builtinsLeft(t, data); len(left) != 0 {
		t.Errorf("not a tarball: left behind: %v", left)
	}
}

func TestBuiltinsPullFlags(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--source", "http://example.com/{ref}"}, "plain http is accepted only from a loopback address"},
		{[]string{"--source", "ftp://example.com/{ref}"}, "want an https:// URL"},
		{[]string{"--source", "/tmp/x.tar.gz"}, "want an https:// URL"},
		{[]string{"--ref", "../etc"}, "--ref"},
		{[]string{"--ref", "feature/x"}, "--ref"},
		{[]string{"-o", "yaml"}, "--output"},
	} {
		_, errOut, code := run(t, append([]string{"policy", "builtins", "pull", "--data", data}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want 2 and %q\n%s", tc.args, code, tc.want, errOut)
		}
	}
	if left := builtinsLeft(t, data); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	out, _, code := run(t, "policy", "builtins", "pull", "--help")
	if code != 0 || !strings.Contains(out, builtinsDefaultRef) || !strings.Contains(out, "pinned") {
		t.Errorf("help does not name the pinned ref:\n%s", out)
	}
}

// serve's built-in path without --policy-definitions: DIR/builtins/<current>
// when that folder exists, else the development default.
func TestDefaultPolicyPathsFor(t *testing.T) {
	dev := t.TempDir()
	old := defaultPolicyPaths
	defaultPolicyPaths = []string{dev, filepath.Join(dev, "absent")}
	defer func() { defaultPolicyPaths = old }()

	data := t.TempDir()
	base := filepath.Join(data, builtinsDir)
	check := func(what string, want []string) {
		t.Helper()
		got, from := defaultPolicyPathsFor(data)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: %v (%s), want %v", what, got, from, want)
		}
	}
	check("nothing pulled", []string{dev})
	os.MkdirAll(filepath.Join(base, "v1"), 0o700)
	check("no current", []string{dev})
	os.WriteFile(filepath.Join(base, builtinsCurrent), []byte("v2\n"), 0o600)
	check("current names an absent folder", []string{dev})
	os.WriteFile(filepath.Join(base, builtinsCurrent), []byte("../../etc\n"), 0o600)
	check("current is not a ref", []string{dev})
	os.WriteFile(filepath.Join(base, builtinsCurrent), []byte("v1\n"), 0o600)
	check("pulled", []string{filepath.Join(base, "v1")})
	if _, from := defaultPolicyPathsFor(data); !strings.Contains(from, "mlgov policy builtins pull") {
		t.Errorf("from = %q", from)
	}
	defaultPolicyPaths = nil
	if got, from := defaultPolicyPathsFor(t.TempDir()); got != nil || from != "" {
		t.Errorf("nothing at all: %v %q", got, from)
	}
}
