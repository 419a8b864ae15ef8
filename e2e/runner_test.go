package e2e

// mlgov runner, the real executor of command jobs, against a real
// `mlgov serve`: a job's command runs in a subprocess with the job's
// environment and token; its output, metrics and exit code come back
// through the job API with that token, which the job itself finds
// refused on another workspace's job; the compute's managed identities
// (system- and user-assigned) give the job tokens decided by their
// roles; the job's outputs come back for users; a cancel stops a
// running job.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// armSend sends an ARM request with a token and decodes the answer.
func armSend(t testing.TB, hc *http.Client, endpoint, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	st, raw := armSendRaw(t, hc, endpoint, token, method, path, body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return st, m
}

// armSendRaw sends an ARM request with a bearer token and returns the
// status and the body as sent.
func armSendRaw(t testing.TB, hc *http.Client, endpoint, token, method, path, body string) (int, []byte) {
	t.Helper()
	st, _, raw := armRequest(t, hc, endpoint, token, method, path, body)
	return st, raw
}

// armRequest sends one ARM request and returns its status, headers and
// body.
func armRequest(t testing.TB, hc *http.Client, endpoint, token, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, endpoint+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

func TestRunner(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("the job of this test calls back with curl, which is not installed")
	}
	srv, hc, token := serveWithToken(t)
	b := srv.Bootstrap
	send := func(method, path, body string, want ...int) map[string]any {
		t.Helper()
		st, m := armSend(t, hc, b.Endpoint, token, method, path+"?api-version=2024-04-01", body)
		ok := false
		for _, w := range want {
			ok = ok || st == w
		}
		if !ok {
			t.Fatalf("%s %s: %d %v, want %v", method, path, st, m, want)
		}
		return m
	}
	sub := "/subscriptions/" + b.SubscriptionID
	ml := "/providers/Microsoft.MachineLearningServices/workspaces/"
	for _, rg := range []string{"rg1", "rg2"} {
		if st, m := armSend(t, hc, b.Endpoint, token, "PUT", sub+"/resourceGroups/"+rg+"?api-version=2021-04-01", `{"location":"eastus"}`); st != 201 {
			t.Fatalf("rg: %d %v", st, m)
		}
	}
	ws1, ws2 := sub+"/resourceGroups/rg1"+ml+"ws1", sub+"/resourceGroups/rg2"+ml+"ws2"
	send("PUT", ws1, `{"location":"eastus"}`, 200, 201, 202)
	send("PUT", ws2, `{"location":"eastus"}`, 200, 201, 202)
	compute := ws1 + "/computes/c1"
	send("PUT", compute, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`, 200, 201, 202)
	send("PUT", ws2+"/jobs/j2", `{"properties":{"jobType":"Command","command":"true","environmentId":"e","computeId":"`+ws2+`/computes/c1"}}`, 201)

	// The job: its environment, a metric, its token tried on the other
	// workspace's job and on its own, and an exit code.
	script := strings.Join([]string{
		`echo "greeting=$GREETING"`,
		`echo "##mlgov[metric] loss=0.5"`,
		`curl -s -o /dev/null -w "other=%{http_code}\n" --cacert "$MLGOV_CA_FILE" -X POST -H "Authorization: Bearer $MLGOV_JOB_TOKEN" -d '{"status":"Running"}' "$MLGOV_ENDPOINT/jobs/` + b.SubscriptionID + `/rg2/ws2/j2/status"`,
		`curl -s -o /dev/null -w "own=%{http_code}\n" --cacert "$MLGOV_CA_FILE" -H "Authorization: Bearer $MLGOV_JOB_TOKEN" "$MLGOV_JOB_API/status"`,
		`exit 3`,
	}, "\n")
	cmdJSON, _ := json.Marshal(script)
	send("PUT", ws1+"/jobs/j1", `{"properties":{"jobType":"Command","command":`+string(cmdJSON)+`,"environmentId":"e","computeId":"`+compute+`","environmentVariables":{"GREETING":"hello"}}}`, 201)

	r := mlgovCLI(t, srv, "runner", "--compute", compute, "--once", "--work-dir", t.TempDir())
	if r.code != 0 || !strings.Contains(r.stderr, "runner: job j1: Failed (exit code 3)") {
		t.Fatalf("runner: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	job := send("GET", ws1+"/jobs/j1", "", 200)
	props := job["properties"].(map[string]any)
	if props["status"] != "Failed" || props["properties"].(map[string]any)["mlgov.exitCode"] != "3" {
		t.Errorf("the job after its run: %v", props)
	}
	jobAPI := b.Endpoint + "/jobs/" + b.SubscriptionID + "/rg1/ws1/j1/"
	get := func(what string) map[string]any {
		t.Helper()
		st, m := armSend(t, hc, jobAPI, token, "GET", what, "")
		if st != 200 {
			t.Fatalf("GET %s: %d %v", what, st, m)
		}
		return m
	}
	logs, _ := get("logs")["logs"].(string)
	for _, want := range []string{"greeting=hello", "other=401", "own=200"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the job's log lacks %q:\n%s", want, logs)
		}
	}
	if m := get("metrics"); !strings.Contains(mustJSON(m), `"loss":[0.5]`) {
		t.Errorf("the job's metrics: %v", m)
	}

	// The compute's managed identity, at the runner's local endpoint:
	// a token the job uses on ARM with the identity's role.
	cmi := ws1 + "/computes/cmi"
	m := send("PUT", cmi, `{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`, 200, 201, 202)
	pid := m["identity"].(map[string]any)["principalId"].(string)
	if r := mlgovCLI(t, srv, "role", "assignment", "create", "--role", "Reader", "--assignee", pid, "-g", "rg1"); r.code != 0 {
		t.Fatalf("a role for the compute's identity: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	miScript := strings.Join([]string{
		`tok=$(curl -s -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" "$IDENTITY_ENDPOINT?resource=https://management.azure.com/&api-version=2019-08-01" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')`,
		`curl -s -o /dev/null -w "mi-read=%{http_code}\n" --cacert "$MLGOV_CA_FILE" -H "Authorization: Bearer $tok" "$MLGOV_ENDPOINT` + ws1 + `?api-version=2024-04-01"`,
		`curl -s -o /dev/null -w "mi-write=%{http_code}\n" --cacert "$MLGOV_CA_FILE" -X PUT -H "Content-Type: application/json" -H "Authorization: Bearer $tok" -d '{"location":"eastus"}' "$MLGOV_ENDPOINT` + ws1 + `/computes/x?api-version=2024-04-01"`,
		`curl -s -o /dev/null -w "imds=%{http_code}\n" -H "Metadata: true" "$MLGOV_IMDS_ENDPOINT/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"`,
		`curl -s -o /dev/null -w "no-header=%{http_code}\n" "$IDENTITY_ENDPOINT?resource=https://management.azure.com/&api-version=2019-08-01"`,
	}, "\n")
	miJSON, _ := json.Marshal(miScript)
	send("PUT", ws1+"/jobs/jmi", `{"properties":{"jobType":"Command","command":`+string(miJSON)+`,"environmentId":"e","computeId":"`+cmi+`"}}`, 201)
	if r := mlgovCLI(t, srv, "runner", "--compute", cmi, "--once", "--work-dir", t.TempDir()); r.code != 0 || !strings.Contains(r.stderr, "runner: job jmi: Completed") {
		t.Fatalf("runner on cmi: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	jobAPI = b.Endpoint + "/jobs/" + b.SubscriptionID + "/rg1/ws1/jmi/"
	logs, _ = get("logs")["logs"].(string)
	for _, want := range []string{"mi-read=200", "mi-write=403", "imds=200", "no-header=401"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the identity job's log lacks %q:\n%s", want, logs)
		}
	}

	// A user-assigned identity of a compute: the job names it (client
	// id), reads with its role, and is refused one the compute lacks; the
	// job's outputs (a symbolic link is not followed) come back for users.
	uaiID := func(name string) string {
		return sub + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
	}
	var uaiPID, uaiCID string
	for _, n := range []string{"uai1", "uai2"} {
		st, m := armSend(t, hc, b.Endpoint, token, "PUT", uaiID(n)+"?api-version=2023-01-31", `{"location":"eastus"}`)
		if st != 201 {
			t.Fatalf("PUT %s: %d %v", n, st, m)
		}
		if n == "uai1" {
			props := m["properties"].(map[string]any)
			uaiPID, uaiCID = props["principalId"].(string), props["clientId"].(string)
		}
	}
	cuai := ws1 + "/computes/cuai"
	uaiCompute := func(identity string) {
		t.Helper()
		send("PUT", cuai, `{"location":"eastus","identity":`+identity+`,"properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":1}}}}`, 200, 201, 202)
	}
	uaiCompute(`{"type":"UserAssigned","userAssignedIdentities":{"` + uaiID("uai1") + `":{}}}`)
	if r := mlgovCLI(t, srv, "role", "assignment", "create", "--role", "Reader", "--assignee", uaiPID, "-g", "rg1"); r.code != 0 {
		t.Fatalf("a role for the user-assigned identity: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	uaiScript := strings.Join([]string{
		`tok=$(curl -s -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" "$IDENTITY_ENDPOINT?resource=https://management.azure.com/&api-version=2019-08-01&client_id=` + uaiCID + `" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')`,
		`printf %s "$tok" > mi-token`,
		`curl -s -o /dev/null -w "uai-read=%{http_code}\n" --cacert "$MLGOV_CA_FILE" -H "Authorization: Bearer $tok" "$MLGOV_ENDPOINT` + ws1 + `?api-version=2024-04-01"`,
		`curl -s -o /dev/null -w "uai-lacking=%{http_code}\n" -H "Metadata: true" "$MLGOV_IMDS_ENDPOINT/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/&msi_res_id=` + uaiID("uai2") + `"`,
		`mkdir -p outputs/sub && echo "accuracy=0.9" > outputs/result.txt && echo weights > "$MLGOV_OUTPUTS_DIR/sub/model.txt"`,
		`ln -s "$MLGOV_CA_FILE" outputs/leak`,
	}, "\n")
	uaiJSON, _ := json.Marshal(uaiScript)
	send("PUT", ws1+"/jobs/juai", `{"properties":{"jobType":"Command","command":`+string(uaiJSON)+`,"environmentId":"e","computeId":"`+cuai+`"}}`, 201)
	wd := t.TempDir()
	if r := mlgovCLI(t, srv, "runner", "--compute", cuai, "--once", "--work-dir", wd); r.code != 0 || !strings.Contains(r.stderr, "runner: job juai: Completed") {
		t.Fatalf("runner on cuai: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	jobAPI = b.Endpoint + "/jobs/" + b.SubscriptionID + "/rg1/ws1/juai/"
	logs, _ = get("logs")["logs"].(string)
	for _, want := range []string{"uai-read=200", "uai-lacking=400", "leak is not uploaded: not a regular file"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the user-assigned identity job's log lacks %q:\n%s", want, logs)
		}
	}
	if got := mustJSON(get("outputs")["value"]); !strings.Contains(got, `"path":"result.txt"`) || !strings.Contains(got, `"path":"sub/model.txt"`) || strings.Contains(got, "leak") {
		t.Errorf("the job's outputs: %s", got)
	}
	req, _ := http.NewRequest("GET", jobAPI+"outputs?path=result.txt", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := hc.Do(req); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "accuracy=0.9\n" {
			t.Errorf("downloading outputs/result.txt: %d %q", resp.StatusCode, body)
		}
	}
	// The identity's token, as the job kept it: refused once the
	// compute drops the identity, and once the identity is deleted.
	miTok, err := os.ReadFile(filepath.Join(wd, "juai", "mi-token"))
	if err != nil || len(miTok) == 0 {
		t.Fatalf("the job's identity token: %v", err)
	}
	readWS := func() int {
		st, _ := armSend(t, hc, b.Endpoint, string(miTok), "GET", ws1+"?api-version=2024-04-01", "")
		return st
	}
	if st := readWS(); st != 200 {
		t.Errorf("the identity's token reads the workspace: %d", st)
	}
	uaiCompute(`{"type":"SystemAssigned"}`)
	if st := readWS(); st != 401 {
		t.Errorf("the identity's token once the compute dropped it: %d", st)
	}
	uaiCompute(`{"type":"UserAssigned","userAssignedIdentities":{"` + uaiID("uai1") + `":{}}}`)
	if st := readWS(); st != 200 {
		t.Errorf("the identity's token once the compute has it again: %d", st)
	}
	if st, m := armSend(t, hc, b.Endpoint, token, "DELETE", uaiID("uai1")+"?api-version=2023-01-31", ""); st != 200 {
		t.Fatalf("DELETE uai1: %d %v", st, m)
	}
	if st := readWS(); st != 401 {
		t.Errorf("the identity's token once the identity is deleted: %d", st)
	}

	// A cancel stops a running job.
	send("PUT", ws1+"/jobs/j3", `{"properties":{"jobType":"Command","command":"sleep 60","environmentId":"e","computeId":"`+compute+`"}}`, 201)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := exec.CommandContext(ctx, srv.Bin, "runner", "--compute", compute, "--once", "--work-dir", t.TempDir(), "--bootstrap", srv.BootstrapPath)
	var stderr bytes.Buffer
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for send("GET", ws1+"/jobs/j3", "", 200)["properties"].(map[string]any)["status"] != "Running" {
		if time.Now().After(deadline) {
			t.Fatalf("the runner did not start j3 in 20 s\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	send("POST", ws1+"/jobs/j3/cancel", "", 200, 202)
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(stderr.String(), "runner: job j3: canceled; stopping it") {
			t.Errorf("the runner after the cancel: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the runner did not stop the canceled job in 20 s\n%s", stderr.String())
	}
	if st := send("GET", ws1+"/jobs/j3", "", 200)["properties"].(map[string]any)["status"]; st != "Canceled" {
		t.Errorf("j3 after the cancel: %v", st)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
