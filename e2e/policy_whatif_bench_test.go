package e2e

// BenchmarkPolicyWhatIf: the whole process of `mlgov policy what-if`
// (start of the binary, its token, the checkPolicyRestrictions request,
// the report, exit) of one workspace against a server holding 200
// assignments at the workspace's resource group and subscription: Deny,
// Modify, Append, Audit, AuditIfNotExists and DeployIfNotExists (40 of
// each of five kinds), their existence checks reading the server's
// computes. Issue 13's bound is 50 ms on the 2-core machine:
//
//	go test ./e2e -run '^$' -bench BenchmarkPolicyWhatIf -benchtime 100x
//
// reports ms/median and ms/p90 of the runs (ns/op is their mean),
// ms-cpu/median (the process's processor time, user + system: what other
// load on the machine does not inflate as much) and ms/server-median
// (the request alone, on a warm connection).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func BenchmarkPolicyWhatIf(b *testing.B) {
	bin := MLGovBinary(b)
	RequireServe(b, bin)
	srv := StartServer(b, ServerOptions{Bin: bin})
	bs := srv.Bootstrap
	hc := srv.HTTPClient(b)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {bs.ClientID}, "client_secret": {bs.ClientSecret},
		"scope": {"https://management.azure.com/.default"}}
	resp, err := hc.Post(strings.TrimRight(bs.AuthorityHost, "/")+"/"+bs.TenantID+"/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	put := func(path, body string) {
		req, _ := http.NewRequest("PUT", bs.Endpoint+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			b.Fatalf("PUT %s: %d %s", path, resp.StatusCode, raw)
		}
	}
	sub := "/subscriptions/" + bs.SubscriptionID
	rg := sub + "/resourceGroups/rg-bench"
	put(rg+"?api-version=2021-04-01", `{"location":"eastus"}`)
	put(rg+"/providers/Microsoft.MachineLearningServices/workspaces/ws1?api-version=2024-04-01", `{"location":"eastus"}`)
	put(rg+"/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/cpu?api-version=2024-04-01",
		`{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2"}}}`)

	const pav = "?api-version=2025-03-01"
	isWS := `{"field":"type","equals":"Microsoft.MachineLearningServices/workspaces"}`
	role := `["/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"]`
	kinds := []struct{ name, rule, params, values string }{
		{"deny-locations", `{"if":{"allOf":[` + isWS + `,{"not":{"field":"location","in":"[parameters('allowed')]"}}]},"then":{"effect":"deny"}}`,
			`{"allowed":{"type":"Array"}}`, `"parameters":{"allowed":{"value":["eastus","westus2"]}},`},
		{"modify-tag", `{"if":` + isWS + `,"then":{"effect":"modify","details":{"roleDefinitionIds":` + role + `,"operations":[{"operation":"addOrReplace","field":"[concat('tags[', parameters('tag'), ']')]","value":"x"}]}}}`,
			`{"tag":{"type":"String"}}`, ""},
		{"audit-public", `{"if":{"allOf":[` + isWS + `,{"field":"Microsoft.MachineLearningServices/workspaces/publicNetworkAccess","notEquals":"Disabled"}]},"then":{"effect":"audit"}}`, `{}`, ""},
		{"aine-compute", `{"if":` + isWS + `,"then":{"effect":"auditIfNotExists","details":{"type":"Microsoft.MachineLearningServices/workspaces/computes"}}}`, `{}`, ""},
		{"dine-compute", `{"if":` + isWS + `,"then":{"effect":"deployIfNotExists","details":{"type":"Microsoft.MachineLearningServices/workspaces/computes","existenceCondition":{"field":"name","equals":"gpu"},"roleDefinitionIds":` + role +
			`,"deployment":{"properties":{"mode":"incremental","template":{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0","parameters":{"ws":{"type":"string"}},"resources":[]},"parameters":{"ws":{"value":"[field('name')]"}}}}}}}`, `{}`, ""},
	}
	n := 0
	for _, k := range kinds {
		def := sub + "/providers/Microsoft.Authorization/policyDefinitions/" + k.name
		put(def+pav, `{"properties":{"displayName":"`+k.name+`","mode":"Indexed","parameters":`+k.params+`,"policyRule":`+k.rule+`}}`)
		for i := range 40 {
			scope := rg
			if i%2 == 1 {
				scope = sub
			}
			values := k.values
			if k.name == "modify-tag" {
				values = fmt.Sprintf(`"parameters":{"tag":{"value":"t%d"}},`, i)
			}
			put(fmt.Sprintf("%s/providers/Microsoft.Authorization/policyAssignments/%s-%d%s", scope, k.name, i, pav),
				`{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{`+values+`"policyDefinitionId":"`+def+`"}}`)
			n++
		}
	}
	if n != 200 {
		b.Fatalf("%d assignments", n)
	}
	dir := b.TempDir()
	resource := filepath.Join(dir, "ws.json")
	os.WriteFile(resource, []byte(`{"type":"Microsoft.MachineLearningServices/workspaces","name":"ws1","location":"eastus","apiVersion":"2024-04-01","properties":{"publicNetworkAccess":"Enabled"}}`), 0o600)
	args := []string{"policy", "what-if", "--resource", resource, "--scope", rg, "--bootstrap", srv.BootstrapPath}
	var cpu []time.Duration // the process's own processor time (user + system)
	run := func() string {
		var out, errb bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			b.Fatalf("mlgov %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		cpu = append(cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		return out.String()
	}
	// Once untimed: the answer holds all 200 (and the page cache the binary).
	if out := run(); !strings.Contains(out, "200 policy evaluations") || !strings.Contains(out, "the write would be allowed (40 change(s)") {
		b.Fatalf("the what-if does not see the 200 assignments:\n%s", out)
	}
	// The server's part alone: the same request over a warm connection.
	whatIf := `{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"ws1","location":"eastus","properties":{"publicNetworkAccess":"Enabled"}},"apiVersion":"2024-04-01","scope":"` + rg + `"},"includeAuditEffect":true,"mlgov.whatIf":true}`
	var server []time.Duration
	for range 20 {
		req, _ := http.NewRequest("POST", bs.Endpoint+rg+"/providers/Microsoft.PolicyInsights/checkPolicyRestrictions?api-version=2024-10-01", strings.NewReader(whatIf))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		server = append(server, time.Since(start))
		if resp.StatusCode != 200 {
			b.Fatalf("checkPolicyRestrictions: %d", resp.StatusCode)
		}
	}
	sort.Slice(server, func(i, j int) bool { return server[i] < server[j] })
	cpu = cpu[:0]
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		run()
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms/median")
	b.ReportMetric(float64(times[len(times)*9/10].Microseconds())/1000, "ms/p90")
	b.ReportMetric(float64(server[len(server)/2].Microseconds())/1000, "ms/server-median")
	sort.Slice(cpu, func(i, j int) bool { return cpu[i] < cpu[j] })
	b.ReportMetric(float64(cpu[len(cpu)/2].Microseconds())/1000, "ms-cpu/median")
}
