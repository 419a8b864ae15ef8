package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
)

// mlgov runner: a real executor of command jobs on the machine it runs
// on, for one compute (docs/runner.md). It claims the compute's queued
// jobs through the job API, runs each as a subprocess in a working
// directory of its own, and reports through the job's token: logs (the
// subprocess's output, every second), metrics (output lines
// "##mlgov[metric] name=value"), outputs (the files under the working
// directory's outputs/, when the job ends), and the end (Completed, or
// Failed with the exit code). It asks every second whether the job was canceled,
// and then stops the subprocess.

type runnerConfig struct {
	compute string
	workDir string
	poll    time.Duration
	once    bool
	isolate string // --isolate: auto, always, never (runner_egress.go)
}

func newRunnerCmd(e *env) *cobra.Command {
	var cfg runnerConfig
	conn := new(connOptions)
	c := &cobra.Command{
		Use:   "runner --compute ID",
		Short: "Run a compute's command jobs on this machine: claim them, run them, report their logs, metrics and end",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			id, err := arm.ParseID(cfg.compute)
			var check error
			if err != nil || len(id.Parts) != 2 || !strings.EqualFold(id.Type(), "Microsoft.MachineLearningServices/workspaces/computes") || id.ResourceGroup == "" {
				check = fmt.Errorf("--compute %q: give the compute's resource id (/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}/computes/{name})", cfg.compute)
			}
			if cfg.isolate != isolateAuto && cfg.isolate != isolateAlways && cfg.isolate != isolateNever {
				check = errors.Join(check, fmt.Errorf("--isolate %q: auto, always or never", cfg.isolate))
			}
			if cfg.poll < 100*time.Millisecond {
				check = errors.Join(check, fmt.Errorf("--poll %s: at least 100ms", cfg.poll))
			}
			cl, err := conn.open(cmd.Context(), check)
			if err != nil {
				return err
			}
			r := &runner{e: e, cl: cl, conn: conn, cfg: cfg, api: strings.TrimRight(cl.bs.Endpoint, "/") + "/jobs/" + id.SubscriptionID + "/" + id.ResourceGroup + "/" + id.Parts[0].Name,
				compute: id.Parts[1].Name}
			return r.run(cmd.Context())
		}),
	}
	conn.registerConn(c.Flags())
	c.Flags().StringVar(&cfg.compute, "compute", "", "resource id of the compute whose jobs this runner runs")
	c.Flags().StringVar(&cfg.workDir, "work-dir", "mlgov-runs", "directory of the jobs' working directories (one per job)")
	c.Flags().DurationVar(&cfg.poll, "poll", 2*time.Second, "how often to look for a queued job")
	c.Flags().BoolVar(&cfg.once, "once", false, "run at most one job, then exit (0 when none is queued)")
	c.Flags().StringVar(&cfg.isolate, "isolate", isolateAuto, "a network namespace per job whose only way out is the egress proxy: auto (when root on Linux and the workspace's isolationMode is not Disabled; required for AllowOnlyApprovedOutbound), always (else the job fails), never (the proxy variables only)")
	return c
}

type runner struct {
	e       *env
	cl      *armClient
	conn    *connOptions
	cfg     runnerConfig
	api     string // {endpoint}/jobs/{sub}/{rg}/{ws}
	compute string
}

// claimed is the job API's answer to a claim.
type claimed struct {
	Job struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		Properties struct {
			Command              string            `json:"command"`
			EnvironmentVariables map[string]string `json:"environmentVariables"`
		} `json:"properties"`
	} `json:"job"`
	Token string `json:"token"`
	// Egress is the job's way out (nil: the server says nothing of it).
	Egress *egressInfo `json:"egress"`
}

func (r *runner) run(ctx context.Context) error {
	if n := cleanStaleNetns(); n > 0 {
		fmt.Fprintf(r.e.stderr, "runner: deleted %d network namespaces of runners that are gone\n", n)
	}
	for {
		job, err := r.claim(ctx)
		if err != nil {
			return err
		}
		if job == nil {
			if r.cfg.once {
				fmt.Fprintln(r.e.stderr, "runner: no job queued")
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.cfg.poll):
			}
			continue
		}
		if err := r.execute(ctx, job); err != nil {
			fmt.Fprintf(r.e.stderr, "runner: job %s: %v\n", job.Job.Name, err)
		}
		if r.cfg.once {
			return nil
		}
	}
}

// claim asks for the next job (nil when none is queued); an expired
// ARM token is renewed once.
func (r *runner) claim(ctx context.Context) (*claimed, error) {
	body := []byte(`{"compute":` + strconv.Quote(r.compute) + `}`)
	for attempt := 0; ; attempt++ {
		st, b, err := r.cl.do(ctx, "POST", r.api+"/claim", body)
		switch {
		case err != nil:
			return nil, err
		case st == 204:
			return nil, nil
		case st == 401 && attempt == 0:
			if r.cl, err = r.conn.open(ctx); err != nil {
				return nil, err
			}
			continue
		case st != 200:
			return nil, asARMError("POST", r.api+"/claim", st, b)
		}
		var c claimed
		if err := json.Unmarshal(b, &c); err != nil || c.Token == "" {
			return nil, fmt.Errorf("the claim's answer is not a job: %.200s", b)
		}
		return &c, nil
	}
}

// call sends a request of the job API with the job's token.
func (r *runner) call(ctx context.Context, token, method, url string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := r.cl.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

var metricLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^##mlgov\[metric\]\s+([A-Za-z0-9_.\-/]{1,100})=(\S+)\s*$`)
}) // compiled on first use: the CLI starts faster

// execute runs one job to its end.
func (r *runner) execute(ctx context.Context, c *claimed) error {
	jobAPI := r.api + "/" + c.Job.Name
	report := func(what string, body []byte) {
		if st, b, err := r.call(context.WithoutCancel(ctx), c.Token, "POST", jobAPI+"/"+what, body); err != nil || st != 200 {
			fmt.Fprintf(r.e.stderr, "runner: job %s: reporting %s: %d %v %.200s\n", c.Job.Name, what, st, err, b)
		}
	}
	dir := filepath.Join(r.cfg.workDir, c.Job.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		report("status", []byte(`{"status":"Failed","error":"the runner could not make the job's working directory"}`))
		return err
	}
	// The job's outputs directory ("outputs" of its working directory,
	// as Azure ML's ./outputs): uploaded when the job ends.
	outDir, err := filepath.Abs(filepath.Join(dir, "outputs"))
	if err == nil {
		err = os.MkdirAll(outDir, 0o700)
	}
	if err != nil {
		report("status", []byte(`{"status":"Failed","error":"the runner could not make the job's outputs directory"}`))
		return err
	}
	fmt.Fprintf(r.e.stderr, "runner: job %s: running in %s\n", c.Job.Name, dir)
	// Its way out: the egress proxy, and a network namespace
	// (runner_egress.go).
	jn, err := r.jobNetwork(ctx, c)
	if err != nil {
		report("status", []byte(`{"status":"Failed","error":`+strconv.Quote(err.Error())+`}`))
		return err
	}
	defer jn.close()
	cmd := exec.Command("sh", "-c", c.Job.Properties.Command)
	if len(jn.prefix) > 0 {
		cmd = exec.Command(jn.prefix[0], append(jn.prefix[1:], "sh", "-c", c.Job.Properties.Command)...)
	}
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range c.Job.Properties.EnvironmentVariables {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "MLGOV_ENDPOINT="+r.cl.bs.Endpoint, "MLGOV_JOB_ID="+c.Job.ID, "MLGOV_JOB_API="+jobAPI,
		"MLGOV_JOB_TOKEN="+c.Token, "MLGOV_CA_FILE="+r.cl.bs.CACertFile, "AZUREML_RUN_ID="+c.Job.Name,
		"MLGOV_OUTPUTS_DIR="+outDir)
	cmd.Env = append(cmd.Env, jn.env...)
	// The compute's managed identity, at a local endpoint in the shapes
	// Azure's SDKs take (App Service's IDENTITY_ENDPOINT, IMDS).
	mi, err := r.identityEndpoint(ctx, jobAPI, c.Token, jn.listen)
	if err != nil {
		return err
	}
	defer mi.close()
	cmd.Env = append(cmd.Env, mi.env...)
	setProcessGroup(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout // one stream, as the job's log
	if err := cmd.Start(); err != nil {
		report("status", []byte(`{"status":"Failed","error":`+strconv.Quote("the command could not start: "+err.Error())+`}`))
		return err
	}
	var mu sync.Mutex
	var pending bytes.Buffer
	flush := func() {
		mu.Lock()
		b := bytes.Clone(pending.Bytes())
		pending.Reset()
		mu.Unlock()
		if len(b) > 0 {
			report("logs", b)
		}
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := metricLine().FindStringSubmatch(line); m != nil {
				if v, err := strconv.ParseFloat(m[2], 64); err == nil {
					b, _ := json.Marshal(map[string]any{"metrics": map[string]float64{m[1]: v}})
					report("metrics", b)
				}
			}
			mu.Lock()
			pending.WriteString(line + "\n")
			mu.Unlock()
		}
	}()
	done := make(chan error, 1)
	go func() { <-read; done <- cmd.Wait() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	canceled := false
	for {
		select {
		case err := <-done:
			flush()
			if canceled {
				report("status", []byte(`{"status":"Canceled"}`))
				return nil
			}
			if notes := r.uploadOutputs(ctx, jobAPI, c.Token, outDir); len(notes) > 0 {
				report("logs", []byte(strings.Join(notes, "\n")+"\n"))
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				code = -1
			}
			status := "Completed"
			if code != 0 {
				status = "Failed"
			}
			report("status", []byte(`{"status":"`+status+`","exitCode":`+strconv.Itoa(code)+`}`))
			fmt.Fprintf(r.e.stderr, "runner: job %s: %s (exit code %d)\n", c.Job.Name, status, code)
			return nil
		case <-tick.C:
			flush()
			st, b, err := r.call(ctx, c.Token, "GET", jobAPI+"/status", nil)
			var s struct {
				Status          string `json:"status"`
				CancelRequested bool   `json:"cancelRequested"`
			}
			if err == nil && st == 200 && json.Unmarshal(b, &s) == nil && !canceled && (s.CancelRequested || strings.EqualFold(s.Status, "Canceled")) {
				canceled = true
				fmt.Fprintf(r.e.stderr, "runner: job %s: canceled; stopping it\n", c.Job.Name)
				stopProcessGroup(cmd)
			}
		case <-ctx.Done():
			stopProcessGroup(cmd)
			<-done
			report("status", []byte(`{"status":"Failed","error":"the runner stopped"}`))
			return ctx.Err()
		}
	}
}

// uploadOutputs uploads the regular files under the job's outputs
// directory (one PUT each, with the job's token), and returns what it
// could not upload, for the job's log. Symbolic links and other special
// files are not followed: a job cannot make the runner read what it
// could not have uploaded itself.
func (r *runner) uploadOutputs(ctx context.Context, jobAPI, token, outDir string) []string {
	var notes []string
	note := func(format string, args ...any) {
		if len(notes) < 100 {
			notes = append(notes, fmt.Sprintf("runner: outputs: "+format, args...))
		}
	}
	filepath.WalkDir(outDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			note("%s: %v", p, err)
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, rerr := filepath.Rel(outDir, p)
		if rerr != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			note("%s is not uploaded: not a regular file (%s)", rel, d.Type())
			return nil
		}
		data, err := readRegular(p, d, resources.MaxJobOutputFile)
		if err != nil {
			note("%s is not uploaded: %v", rel, err)
			return nil
		}
		st, b, err := r.call(context.WithoutCancel(ctx), token, "PUT", jobAPI+"/outputs?path="+url.QueryEscape(rel), data)
		switch {
		case err != nil:
			note("%s is not uploaded: %v", rel, err)
		case st != 200:
			note("%s is not uploaded: %d %s", rel, st, bytes.TrimSpace(b))
		}
		return nil
	})
	return notes
}

// readRegular reads the regular file p that the directory walk found
// (d), at most max bytes: if p is no longer that file (replaced, by a
// link say), it is not read.
func readRegular(p string, d os.DirEntry, max int64) ([]byte, error) {
	want, err := d.Info()
	if err != nil {
		return nil, err
	}
	if want.Size() > max {
		return nil, fmt.Errorf("%d bytes, more than the %d a file of a job's outputs may have", want.Size(), max)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	got, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(want, got) || !got.Mode().IsRegular() {
		return nil, errors.New("the file changed while it was read")
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("more than the %d bytes a file of a job's outputs may have", max)
	}
	return data, nil
}

// identityServer is a job's local managed-identity endpoint.
type identityServer struct {
	srv *http.Server
	env []string
}

func (m *identityServer) close() { m.srv.Close() }

// identityEndpoint serves the job's managed identity on 127.0.0.1: GET
// /msi/token?resource=R with X-IDENTITY-HEADER (App Service's shape,
// IDENTITY_ENDPOINT and IDENTITY_HEADER; MSI_ENDPOINT and MSI_SECRET for
// older SDKs) and GET /metadata/identity/oauth2/token?resource=R with
// Metadata: true (IMDS's shape, MLGOV_IMDS_ENDPOINT), each with the
// optional choice of a user-assigned identity (client_id, object_id or
// principal_id, msi_res_id or mi_res_id). Each asks the job API with the
// job's token.
func (r *runner) identityEndpoint(ctx context.Context, jobAPI, token string, listen func() (net.Listener, error)) (*identityServer, error) {
	ln, err := listen()
	if err != nil {
		return nil, err
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	relay := func(w http.ResponseWriter, req *http.Request) {
		resource := req.URL.Query().Get("resource")
		if resource == "" {
			http.Error(w, `{"error":"invalid_request","error_description":"the resource parameter is required"}`, 400)
			return
		}
		// Which identity: Azure's parameters, passed on as they are
		// (the server chooses, and refuses an identity the compute
		// lacks).
		q := url.Values{"resource": {resource}}
		for _, k := range []string{"client_id", "object_id", "principal_id", "msi_res_id", "mi_res_id"} {
			if v := req.URL.Query().Get(k); v != "" {
				q.Set(k, v)
			}
		}
		st, body, err := r.call(req.Context(), token, "GET", jobAPI+"/identity?"+q.Encode(), nil)
		if err != nil {
			http.Error(w, `{"error":"unavailable","error_description":"the server could not be reached"}`, 502)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		w.Write(body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /msi/token", func(w http.ResponseWriter, req *http.Request) {
		if subtle.ConstantTimeCompare([]byte(req.Header.Get("X-IDENTITY-HEADER")), []byte(secret)) != 1 && subtle.ConstantTimeCompare([]byte(req.Header.Get("secret")), []byte(secret)) != 1 {
			http.Error(w, `{"error":"unauthorized","error_description":"the X-IDENTITY-HEADER header is missing or wrong"}`, 401)
			return
		}
		relay(w, req)
	})
	mux.HandleFunc("GET /metadata/identity/oauth2/token", func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Metadata") != "true" {
			http.Error(w, `{"error":"invalid_request","error_description":"the Metadata: true header is required"}`, 400)
			return
		}
		relay(w, req)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	return &identityServer{srv: srv, env: []string{"IDENTITY_ENDPOINT=" + base + "/msi/token", "IDENTITY_HEADER=" + secret,
		"MSI_ENDPOINT=" + base + "/msi/token", "MSI_SECRET=" + secret, "MLGOV_IMDS_ENDPOINT=" + base}}, nil
}
