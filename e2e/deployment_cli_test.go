package e2e

// mlgov deployment group|sub create|validate|what-if, as the real binary
// against a real mlgov serve: a template file with a parameters file and
// NAME=VALUE overrides deploys, what-if shows the change a new value
// would make, validate refuses a bad parameter naming it, and a
// subscription deployment makes a resource group.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDeploymentCLI(t *testing.T) {
	srv, hc, token := serveWithToken(t)
	b := srv.Bootstrap
	sub := "/subscriptions/" + b.SubscriptionID
	if st, m := armSend(t, hc, b.Endpoint, token, "PUT", sub+"/resourceGroups/rg-cli?api-version=2021-04-01", `{"location":"westeurope"}`); st != 201 && st != 200 {
		t.Fatalf("resource group: %d %v", st, m)
	}
	tf, _ := filepath.Abs(filepath.Join("testdata", "deploy-storage.json"))
	pf, _ := filepath.Abs(filepath.Join("testdata", "deploy-storage.parameters.json"))
	group := func(verb string, args ...string) cliResult {
		return mlgovCLI(t, srv, append([]string{"deployment", "group", verb, "-g", "rg-cli", "-f", tf, "-p", pf}, args...)...)
	}
	r := group("validate", "-p", "count=3")
	if r.code != 0 || !strings.Contains(r.stdout, `"validatedResources"`) || strings.Count(r.stdout, "/storageAccounts/clisa") != 3 {
		t.Fatalf("validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = group("validate", "-p", "env=test")
	if r.code == 0 || !strings.Contains(r.stderr, "InvalidTemplate") || !strings.Contains(r.stderr, "/properties/parameters/env") {
		t.Errorf("validate with a value not allowed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = group("create", "-n", "stor")
	var rec struct {
		Properties struct {
			ProvisioningState string
			Outputs           map[string]struct{ Value string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || r.code != 0 || rec.Properties.ProvisioningState != "Succeeded" {
		t.Fatalf("create: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if !strings.HasSuffix(rec.Properties.Outputs["first"].Value, "/resourceGroups/rg-cli/providers/Microsoft.Storage/storageAccounts/clisa0") {
		t.Errorf("output first = %q", rec.Properties.Outputs["first"].Value)
	}
	if st, _ := armSend(t, hc, b.Endpoint, token, "GET", sub+"/resourceGroups/rg-cli/providers/Microsoft.Storage/storageAccounts/clisa1?api-version=2023-01-01", ""); st != 200 {
		t.Errorf("the second account: %d", st)
	}
	r = group("what-if", "-p", "env=prod")
	if r.code != 0 || !strings.Contains(r.stdout, "~ ") || !strings.Contains(r.stdout, `tags.env: "dev" => "prod"`) || !strings.Contains(r.stdout, "2 to modify") {
		t.Errorf("what-if: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = mlgovCLI(t, srv, "deployment", "sub", "create", "-l", "westeurope", "-n", "landing", "-f", writeTemp(t, `{
	  "$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#", "contentVersion": "1.0.0.0",
	  "parameters": {"rg": {"type": "string"}},
	  "resources": [{"type": "Microsoft.Resources/resourceGroups", "apiVersion": "2022-09-01", "name": "[parameters('rg')]", "location": "[deployment().location]"}]}`), "-p", "rg=rg-landing")
	if r.code != 0 || !strings.Contains(r.stdout, `"Succeeded"`) {
		t.Fatalf("sub create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if st, _ := armSend(t, hc, b.Endpoint, token, "GET", sub+"/resourceGroups/rg-landing?api-version=2021-04-01", ""); st != 200 {
		t.Errorf("the resource group the subscription deployment made: %d", st)
	}
	r = mlgovCLI(t, srv, "deployment", "sub", "create", "-f", tf)
	if r.code == 0 || !strings.Contains(r.stderr, "--location") {
		t.Errorf("sub create without --location: exit %d %s", r.code, r.stderr)
	}
}

// writeTemp writes content to a file of the test's and returns its path.
func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "template.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
