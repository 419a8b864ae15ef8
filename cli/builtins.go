package cli

// mlgov policy builtins pull: Azure's built-in policy definitions and
// initiatives, downloaded from the public Azure/azure-policy repository at
// a pinned ref into the data directory (mlgov ships no copies of them),
// where mlgov serve finds them.

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/policy/definition"
)

const (
	// builtinsDefaultRef is the commit of Azure/azure-policy pulled by
	// default: pinned, so that the same command gives the same files.
	builtinsDefaultRef = "f7319d6eb87769be8ba87d4d6f7b37eafd992cb0"
	// builtinsDefaultSource is GitHub's tarball of a ref; its entries are
	// under one top folder, azure-policy-<ref>/.
	builtinsDefaultSource = "https://codeload.github.com/Azure/azure-policy/tar.gz/{ref}"
	// builtinsDir is the folder of the data directory holding pulled refs,
	// one folder each, and the file current naming the one in use.
	builtinsDir     = "builtins"
	builtinsCurrent = "current"
	// builtinsRepoFolder is the repository folder whose definition and
	// initiative folders are extracted.
	builtinsRepoFolder = "built-in-policies"
)

// builtinsFolders are the repository folders extracted, under
// built-in-policies/, and their names under DIR/builtins/<ref>/.
var builtinsFolders = []string{"policyDefinitions", "policySetDefinitions"}

// Limits of a pull (variables so that tests can lower them).
var (
	pullMaxFileBytes   int64       = 8 << 20   // one extracted file
	pullMaxTotalBytes  int64       = 512 << 20 // every extracted file together
	pullMaxStreamBytes int64       = 4 << 30   // the whole decompressed archive, skipped entries included
	pullMaxFiles                   = 100_000
	pullTimeout                    = 5 * time.Minute  // the download, from the request to the last byte
	pullConnectTimeout             = 30 * time.Second // TCP connection and TLS handshake each
	pullTLSConfig      *tls.Config                    // nil: the system's roots (tests: an httptest server's)
)

// refPattern is what --ref accepts: a commit, tag or branch name without
// '/', usable as a folder name.
var refPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`) }) // compiled on first use: the CLI starts faster

func checkRef(ref string) error {
	if !refPattern().MatchString(ref) || strings.Contains(ref, "..") {
		return fmt.Errorf("--ref %q: want a commit, tag or branch name of letters, digits, '.', '_' and '-' (no '/')", ref)
	}
	return nil
}

func newBuiltinsCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "builtins",
		Short: "Azure's built-in policy definitions for mlgov serve (downloaded, never shipped)",
	}
	c.AddCommand(newBuiltinsPullCmd(e))
	return c
}

func newBuiltinsPullCmd(e *env) *cobra.Command {
	var o pullOptions
	var output string
	c := &cobra.Command{
		Use:   "pull",
		Short: "Download Azure's built-in definitions and initiatives into the data directory",
		Long: "Downloads the built-in policy definitions and initiatives from the public Azure/azure-policy\n" +
			"GitHub repository (mlgov ships no copies of them) and extracts built-in-policies/policyDefinitions\n" +
			"and built-in-policies/policySetDefinitions into DIR/builtins/<ref>, then names that ref in\n" +
			"DIR/builtins/current. mlgov serve --data DIR loads DIR/builtins/<current> when\n" +
			"--policy-definitions is not given.\n\n" +
			"The default ref is the commit " + builtinsDefaultRef + " of the repository:\n" +
			"pinned, so that the same command gives the same files. A second pull of a ref replaces its\n" +
			"folder at once; nothing is left in place when a pull fails. Without network access, download\n" +
			"the repository elsewhere and pass its built-in-policies folder to serve --policy-definitions.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output %q: want table or json", output)
			}
			if err := checkRef(o.ref); err != nil {
				return err
			}
			u, err := pullURL(o.source, o.ref)
			if err != nil {
				return err
			}
			o.url = u
			fmt.Fprintf(e.stderr, "downloading %s\n", u.Redacted())
			res, err := pullBuiltins(cmd.Context(), o)
			if err != nil {
				fmt.Fprintln(e.stderr, "error:", err)
				return &exitError{1}
			}
			if output == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			printPullResult(e, res, o.dataDir)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.ref, "ref", builtinsDefaultRef, "commit, tag or branch of Azure/azure-policy (the default commit is pinned: the same command gives the same files)")
	f.StringVar(&o.dataDir, "data", "./mlgov-data", "data directory of mlgov serve")
	f.StringVar(&o.source, "source", builtinsDefaultSource, "tarball URL ({ref} is replaced by --ref), for mirrors: https, or http from a loopback address")
	f.StringVarP(&output, "output", "o", "table", "table or json")
	return c
}

type pullOptions struct {
	ref, dataDir, source string
	url                  *url.URL
}

// pullResult is what a pull did (-o json prints it).
type pullResult struct {
	Ref         string   `json:"ref"`
	Source      string   `json:"source"`
	Path        string   `json:"path"`
	Files       int      `json:"files"`
	Bytes       int64    `json:"bytes"`
	Definitions int      `json:"definitions"`
	Initiatives int      `json:"initiatives"`
	NotParsed   []string `json:"notParsed"` // "path: error", one per file that does not parse
}

func printPullResult(e *env, r *pullResult, dataDir string) {
	const show = 20
	for i, s := range r.NotParsed {
		if i == show {
			fmt.Fprintf(e.stderr, "warning: %d more files do not parse (-o json lists them)\n", len(r.NotParsed)-show)
			break
		}
		fmt.Fprintln(e.stderr, "warning: does not parse:", s)
	}
	fmt.Fprintf(e.stdout, "pulled Azure/azure-policy %s\n", r.Ref)
	fmt.Fprintf(e.stdout, "  into %s (%d files, %.1f MB)\n", r.Path, r.Files, float64(r.Bytes)/1e6)
	fmt.Fprintf(e.stdout, "  %d definitions, %d initiatives, %d files that do not parse\n", r.Definitions, r.Initiatives, len(r.NotParsed))
	fmt.Fprintf(e.stdout, "mlgov serve --data %s loads them when --policy-definitions is not given\n", dataDir)
}

// pullURL is the download URL of a ref: source with {ref} replaced.
// Only https is accepted, or plain http from a loopback address.
func pullURL(source, ref string) (*url.URL, error) {
	u, err := url.Parse(strings.ReplaceAll(source, "{ref}", url.PathEscape(ref)))
	if err != nil {
		return nil, fmt.Errorf("--source: %w", redactURLError(err))
	}
	switch {
	case u.Host == "":
		return nil, fmt.Errorf("--source %s: want an https:// URL", u.Redacted())
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("--source %s: plain http is accepted only from a loopback address; use https", u.Redacted())
	default:
		return nil, fmt.Errorf("--source %s: want an https:// URL", u.Redacted())
	}
	return u, nil
}

// pullBuiltins downloads o.url and extracts its built-in folders into
// DIR/builtins/<ref>, through a temporary folder renamed into place once
// the files are all written and at least one definition parses; then it
// writes DIR/builtins/current.
func pullBuiltins(ctx context.Context, o pullOptions) (*pullResult, error) {
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	if fi, err := os.Stat(o.dataDir); err != nil {
		return nil, err
	} else if fi.Mode()&fs.ModeSticky != 0 {
		return nil, fmt.Errorf("--data %s is a shared folder (sticky bit set, like /tmp): give mlgov a folder of its own", o.dataDir)
	}
	base := filepath.Join(o.dataDir, builtinsDir)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", base, err)
	}
	if fi, err := os.Lstat(base); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", base)
	} else if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(base, 0o700); err != nil {
			return nil, err
		}
	}
	removeStalePulls(base, time.Now())
	tmp, err := os.MkdirTemp(base, ".tmp-pull-*") // 0700
	if err != nil {
		return nil, err
	}
	// After the exchange below tmp holds the replaced folder; after a
	// first pull it no longer exists. Either way it goes.
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	body, err := pullDownload(ctx, o.url)
	if err != nil {
		return nil, err
	}
	files, n, err := extractBuiltins(body, tmp)
	body.Close()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("downloading from %s: %w (the limit is %s); download the repository elsewhere and pass its built-in-policies folder to --policy-definitions", o.url.Host, err, pullTimeout)
		}
		return nil, err
	}
	target := filepath.Join(base, o.ref)
	res := &pullResult{Ref: o.ref, Source: o.url.Redacted(), Path: target, Files: files, Bytes: n, NotParsed: []string{}}
	loaded, err := definition.LoadPaths([]string{tmp})
	if err != nil {
		return nil, fmt.Errorf("reading the extracted files: %w", err)
	}
	for _, f := range loaded {
		switch {
		case f.Err != nil:
			rel, _ := filepath.Rel(tmp, f.Path)
			res.NotParsed = append(res.NotParsed, filepath.Join(target, rel)+": "+firstLine(f.Err.Error()))
		case f.Doc.Kind == definition.KindPolicySet:
			res.Initiatives++
		case f.Doc.Kind == definition.KindPolicy:
			res.Definitions++
		}
	}
	if res.Definitions == 0 {
		return nil, fmt.Errorf("the archive from %s has no policy definition under %s/policyDefinitions (%d files extracted, %d that do not parse): is it the Azure/azure-policy repository? Nothing was changed",
			o.url.Host, builtinsRepoFolder, files, len(res.NotParsed))
	}
	if err := replaceDir(tmp, target); err != nil {
		return nil, fmt.Errorf("moving the files into %s: %w", target, err)
	}
	if err := writeFileAtomic(filepath.Join(base, builtinsCurrent), []byte(o.ref+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", filepath.Join(base, builtinsCurrent), err)
	}
	return res, nil
}

// removeStalePulls removes the temporary folders of pulls that ended
// without cleaning up (killed), once they are older than any pull lasts.
func removeStalePulls(base string, now time.Time) {
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".tmp-pull-") { // and .tmp-pull-*.old of renameAside
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > 2*pullTimeout {
			os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
}

// replaceDir puts the folder src at dst. When dst exists the two are
// exchanged (atomically where the system can, see exchangeDirs) and src
// then holds the old folder, for the caller to remove.
func replaceDir(src, dst string) error {
	if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(src, dst)
	}
	return exchangeDirs(src, dst)
}

// pullDownload GETs u and returns the body of a 200 answer.
func pullDownload(ctx context.Context, u *url.URL) (io.ReadCloser, error) {
	dialer := &net.Dialer{Timeout: pullConnectTimeout, KeepAlive: 30 * time.Second}
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   pullConnectTimeout,
			ResponseHeaderTimeout: 2 * time.Minute, // codeload builds the tarball before answering
			TLSClientConfig:       pullTLSConfig,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("more than 10 redirects")
			}
			if req.URL.Scheme != "https" && !(req.URL.Scheme == "http" && isLoopback(req.URL.Hostname())) {
				return fmt.Errorf("redirected to %s: only https is followed", req.URL.Redacted())
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "mlgov/"+Version)
	const elsewhere = "download the repository elsewhere and pass its built-in-policies folder to --policy-definitions"
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cannot reach %s: %v; %s", u.Host, err, elsewhere)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		hint := ""
		if resp.StatusCode == http.StatusNotFound {
			hint = " (is --ref a commit, tag or branch of the repository?)"
		}
		return nil, fmt.Errorf("%s answered %s for %s%s; %s", u.Host, resp.Status, u.Redacted(), hint, elsewhere)
	}
	return resp.Body, nil
}

// capReader fails once more than left bytes are read.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("the archive is larger than %s uncompressed: refused", sizeText(pullMaxStreamBytes))
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// extractBuiltins reads a tarball (gzip-compressed or not) whose entries
// are under one top folder and writes its
// built-in-policies/{policyDefinitions,policySetDefinitions}/**.json files
// under dst (folders 0700, files 0600). It refuses the whole archive for
// an entry with an absolute path or a ".." anywhere, and for a link or
// special file, a file too large or too many files among the ones it
// extracts; other entries are skipped. It returns the number of files
// and bytes written.
func extractBuiltins(r io.Reader, dst string) (files int, total int64, err error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, 0, fmt.Errorf("reading the archive: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	tr := tar.NewReader(&capReader{r: src, left: pullMaxStreamBytes})
	top := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return files, total, fmt.Errorf("reading the archive: %w", err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader { // pax_global_header: GitHub's commit comment
			continue
		}
		refuse := func(why string) error {
			return fmt.Errorf("archive entry %q: %s: the archive is refused", h.Name, why)
		}
		if why := unsafeEntryName(h.Name); why != "" {
			return files, total, refuse(why)
		}
		first, rel, _ := strings.Cut(h.Name, "/")
		if top == "" {
			top = first
		} else if first != top {
			return files, total, refuse(fmt.Sprintf("not under the archive's top folder %q", top))
		}
		sub, ok := builtinsEntry(rel)
		if !ok {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg, '\x00':
		case tar.TypeSymlink, tar.TypeLink:
			return files, total, refuse("a link (to " + strings.ReplaceAll(h.Linkname, "\n", " ") + ")")
		default:
			return files, total, refuse(fmt.Sprintf("not a regular file (type %q)", h.Typeflag))
		}
		if !strings.EqualFold(path.Ext(sub), ".json") {
			continue
		}
		if path.Clean(rel) != rel {
			return files, total, refuse("not a clean path")
		}
		if h.Size > pullMaxFileBytes {
			return files, total, refuse(fmt.Sprintf("%d bytes, more than the %s a definition may have", h.Size, sizeText(pullMaxFileBytes)))
		}
		if total+h.Size > pullMaxTotalBytes {
			return files, total, refuse(fmt.Sprintf("the extracted files would be more than %s together", sizeText(pullMaxTotalBytes)))
		}
		if files+1 > pullMaxFiles {
			return files, total, refuse(fmt.Sprintf("more than %d files", pullMaxFiles))
		}
		p := filepath.Join(dst, filepath.FromSlash(sub))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return files, total, err
		}
		if err := writeEntry(p, tr, h.Size); err != nil {
			return files, total, refuse(err.Error())
		}
		files++
		total += h.Size
	}
	if top == "" {
		return files, total, errors.New("the archive is empty")
	}
	return files, total, nil
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// builtinsEntry maps a path inside the top folder to its place under
// DIR/builtins/<ref>: built-in-policies/policyDefinitions/... gives
// policyDefinitions/..., and the same for policySetDefinitions.
func builtinsEntry(rel string) (string, bool) {
	sub, ok := strings.CutPrefix(rel, builtinsRepoFolder+"/")
	if !ok {
		return "", false
	}
	for _, f := range builtinsFolders {
		if rest, ok := strings.CutPrefix(sub, f+"/"); ok && strings.Trim(rest, "/") != "" {
			return sub, true
		}
	}
	return "", false
}

// unsafeEntryName says why an archive entry's name is refused, or "".
func unsafeEntryName(name string) string {
	switch {
	case name == "":
		return "an empty name"
	case strings.ContainsAny(name, "\x00\\"):
		return "a NUL or backslash in the name"
	case strings.HasPrefix(name, "/") || filepath.IsAbs(name) || filepath.VolumeName(name) != "":
		return "an absolute path"
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return `".." in the path`
		}
	}
	return ""
}

// writeEntry writes size bytes of r to a new file p (0600; an existing
// file is an error: the archive names it twice).
func writeEntry(p string, r io.Reader, size int64) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errors.New("the archive holds this file twice")
		}
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// pulledBuiltins is the folder DIR/builtins/<ref> that DIR/builtins/current
// names, when both exist.
func pulledBuiltins(dataDir string) (dir, ref string, ok bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, builtinsDir, builtinsCurrent))
	if err != nil {
		return "", "", false
	}
	ref = strings.TrimSpace(string(b))
	if checkRef(ref) != nil {
		return "", "", false
	}
	dir = filepath.Join(dataDir, builtinsDir, ref)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", "", false
	}
	return dir, ref, true
}

// defaultPolicyPathsFor is serve's built-in path when --policy-definitions
// is not given: the pulled ref of the data directory, else the
// development default beside the checkout, when present; and where it
// comes from, for the log.
func defaultPolicyPathsFor(dataDir string) ([]string, string) {
	if dir, ref, ok := pulledBuiltins(dataDir); ok {
		return []string{dir}, "Azure/azure-policy " + ref + " (mlgov policy builtins pull)"
	}
	if p := existing(defaultPolicyPaths); len(p) > 0 {
		return p, "development default"
	}
	return nil, ""
}
