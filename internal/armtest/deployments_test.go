package armtest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const dav = "?api-version=2026-06-01" // what @azure/arm-resourcesdeployments 2.x sends

const rgSchema = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"

// deployment is the path of a resource-group deployment.
func (s *Server) deployment(rg, name string) string {
	return s.RG(rg) + "/providers/Microsoft.Resources/deployments/" + name
}

// deploy PUTs a deployment and waits for its end; the record.
func (s *Server) deploy(t *testing.T, path string, body any) map[string]any {
	t.Helper()
	r := s.Do(t, "PUT", path+dav, body)
	if r.Status != 201 && r.Status != 200 {
		t.Fatalf("PUT %s: %d %s", path, r.Status, r.Body)
	}
	if st := r.JSON()["properties"].(map[string]any)["provisioningState"]; st != "Accepted" {
		t.Fatalf("a new deployment is %v, want Accepted", st)
	}
	return s.waitDeployment(t, path)
}

// waitDeployment polls a deployment until it ends.
func (s *Server) waitDeployment(t *testing.T, path string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := s.Do(t, "GET", path+dav, nil)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		m := r.JSON()
		if props(m) == nil {
			t.Fatalf("GET %s: %s", path, r.Body)
		}
		switch m["properties"].(map[string]any)["provisioningState"] {
		case "Succeeded", "Failed", "Canceled":
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("deployment %s did not end", path)
	return nil
}

func props(m map[string]any) map[string]any {
	p, _ := m["properties"].(map[string]any)
	return p
}

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad JSON in test: %v\n%s", err, s)
	}
	return m
}

// networkTemplate makes a storage account, a virtual network with a
// subnet, a private endpoint to the account in the subnet, a private DNS
// zone and the endpoint's zone group; its outputs read them back.
const networkTemplate = `{
 "$schema": "` + rgSchema + `", "contentVersion": "1.0.0.0",
 "parameters": {"prefix": {"type": "string", "minLength": 3}, "location": {"type": "string", "defaultValue": "[resourceGroup().location]"}},
 "variables": {"sa": "[concat(parameters('prefix'), 'sa')]", "vnet": "[concat(parameters('prefix'), '-vnet')]"},
 "resources": [
  {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[variables('sa')]", "location": "[parameters('location')]",
   "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "properties": {}},
  {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-09-01", "name": "[variables('vnet')]", "location": "[parameters('location')]",
   "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}]}},
  {"type": "Microsoft.Network/privateEndpoints", "apiVersion": "2023-09-01", "name": "[concat(parameters('prefix'), '-pe')]", "location": "[parameters('location')]",
   "dependsOn": ["[variables('sa')]", "[variables('vnet')]"],
   "properties": {"subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', variables('vnet'), 'default')]"},
    "privateLinkServiceConnections": [{"name": "blob", "properties": {"privateLinkServiceId": "[resourceId('Microsoft.Storage/storageAccounts', variables('sa'))]", "groupIds": ["blob"]}}]}},
  {"type": "Microsoft.Network/privateDnsZones", "apiVersion": "2020-06-01", "name": "privatelink.blob.core.windows.net", "location": "global", "properties": {}},
  {"type": "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "apiVersion": "2023-09-01", "name": "[concat(parameters('prefix'), '-pe/default')]",
   "dependsOn": ["[resourceId('Microsoft.Network/privateEndpoints', concat(parameters('prefix'), '-pe'))]", "privatelink.blob.core.windows.net"],
   "properties": {"privateDnsZoneConfigs": [{"name": "blob", "properties": {"privateDnsZoneId": "[resourceId('Microsoft.Network/privateDnsZones', 'privatelink.blob.core.windows.net')]"}}]}}
 ],
 "outputs": {
  "saLocation": {"type": "string", "value": "[reference(resourceId('Microsoft.Storage/storageAccounts', variables('sa')), '2023-01-01', 'Full').location]"},
  "subnet": {"type": "string", "value": "[reference(concat(parameters('prefix'), '-pe')).subnet.id]"}
 }
}`

func TestDeployments(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		s.put(t, s.RG("dep")+av, `{"location":"westeurope"}`, 201)
		dep := s.deployment("dep", "net")
		body := `{"properties":{"mode":"Incremental","template":` + networkTemplate + `,"parameters":{"prefix":{"value":"app"}}}}`
		rec := s.deploy(t, dep, body)
		p := props(rec)
		if p["provisioningState"] != "Succeeded" {
			t.Fatalf("deployment: %s", mustMarshal(rec))
		}
		outs := p["outputs"].(map[string]any)
		if v := outs["saLocation"].(map[string]any)["value"]; v != "westeurope" {
			t.Errorf("output saLocation = %v, want westeurope (the resource group's location by default)", v)
		}
		wantSubnet := s.RG("dep") + "/providers/Microsoft.Network/virtualNetworks/app-vnet/subnets/default"
		if v := outs["subnet"].(map[string]any)["value"]; !strings.EqualFold(v.(string), wantSubnet) {
			t.Errorf("output subnet = %v, want %s", v, wantSubnet)
		}
		if n := len(p["outputResources"].([]any)); n != 5 {
			t.Errorf("outputResources: %d, want 5", n)
		}
		if p["mode"] != "Incremental" || p["parameters"].(map[string]any)["prefix"].(map[string]any)["value"] != "app" {
			t.Errorf("record properties: %v", p)
		}
		if _, ok := p["template"]; ok {
			t.Error("a deployment's GET shows its template")
		}
		// The resources exist, made through the write path (their own
		// provisioning, validation and events).
		for _, r := range []string{"/providers/Microsoft.Storage/storageAccounts/appsa", "/providers/Microsoft.Network/virtualNetworks/app-vnet",
			"/providers/Microsoft.Network/privateEndpoints/app-pe/privateDnsZoneGroups/default", "/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"} {
			if g := s.Do(t, "GET", s.RG("dep")+r+av, nil); g.Status != 200 {
				t.Errorf("GET %s: %d %s", r, g.Status, g.Body)
			}
		}
		if evs := s.Events(t, "resourceId eq '"+s.RG("dep")+"/providers/Microsoft.Network/privateEndpoints/app-pe'", 0); len(evs) == 0 {
			t.Error("no activity-log event for the private endpoint the deployment made")
		}
		// Operations: one per resource, each succeeded, with its target.
		ops := s.listAll(t, dep+"/operations"+dav)
		if len(ops) != 5 {
			t.Fatalf("operations: %d, want 5: %v", len(ops), ops)
		}
		for _, op := range ops {
			op := props(op)
			if op["provisioningState"] != "Succeeded" || op["provisioningOperation"] != "Create" || op["targetResource"].(map[string]any)["id"] == "" {
				t.Errorf("operation %v", op)
			}
		}
		one := ops[0]["operationId"].(string)
		if g := s.Do(t, "GET", dep+"/operations/"+one+dav, nil); g.Status != 200 {
			t.Errorf("GET operation: %d %s", g.Status, g.Body)
		}
		if g := s.Do(t, "PUT", dep+"/operations/x"+dav, `{}`); g.Status < 400 {
			t.Errorf("PUT of an operation: %d, want a refusal", g.Status)
		}
		// Export, list, checkExistence.
		ex := s.Do(t, "POST", dep+"/exportTemplate"+dav, nil)
		if ex.Status != 200 || ex.JSON()["template"].(map[string]any)["variables"].(map[string]any)["sa"] == nil {
			t.Errorf("exportTemplate: %d %s", ex.Status, ex.Body)
		}
		if l := s.listAll(t, s.RG("dep")+"/providers/Microsoft.Resources/deployments"+dav); len(l) != 1 {
			t.Errorf("list: %d deployments, want 1", len(l))
		}
		if l := s.listAll(t, s.sub()+"/providers/Microsoft.Resources/deployments"+dav); len(l) != 0 {
			t.Errorf("the subscription's list shows %d resource-group deployments, want 0", len(l))
		}
		if h := s.Do(t, "HEAD", dep+dav, nil); h.Status != 204 {
			t.Errorf("HEAD: %d", h.Status)
		}
		// Cancel of a finished deployment is refused.
		if c := s.Do(t, "POST", dep+"/cancel"+dav, nil); c.Status != 409 {
			t.Errorf("cancel of a finished deployment: %d %s, want 409", c.Status, c.Body)
		}
		// Deploying again is idempotent (Incremental).
		if rec := s.deploy(t, dep, body); props(rec)["provisioningState"] != "Succeeded" {
			t.Errorf("second deployment: %s", mustMarshal(rec))
		}
	})
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// tmpl wraps resources (and outputs, parameters) into a template.
func tmpl(parts string) string {
	return `{"$schema": "` + rgSchema + `", "contentVersion": "1.0.0.0", ` + parts + `}`
}

func depBody(mode, template, params string) string {
	if params == "" {
		params = "{}"
	}
	return `{"properties":{"mode":"` + mode + `","template":` + template + `,"parameters":` + params + `}}`
}

func sa(name, extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return `{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "` + name + `", "location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"` + extra + `}`
}

// errorOf returns error (or properties.error) of a body.
func errorOf(m map[string]any) map[string]any {
	if e, ok := m["error"].(map[string]any); ok {
		return e
	}
	if p := props(m); p != nil {
		e, _ := p["error"].(map[string]any)
		return e
	}
	return nil
}

func detailCodes(e map[string]any) []string {
	var out []string
	ds, _ := e["details"].([]any)
	for _, d := range ds {
		out = append(out, d.(map[string]any)["code"].(string))
	}
	return out
}

// TestDeploymentPolicy: a Deny assignment refuses a deployment whose
// resource it denies before anything is written (preflight,
// InvalidTemplateDeployment with RequestDisallowedByPolicy in details),
// and fails a running deployment whose resource is denied when written
// (DeploymentFailed, the policy error in details and in the failed
// operation); validate answers the same.
func TestDeploymentPolicy(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		s.put(t, s.RG("pol")+av, `{"location":"westeurope"}`, 201)
		def := s.define(t, "no-blocked-storage", "Indexed", `{"if":{"allOf":[{"field":"type","equals":"Microsoft.Storage/storageAccounts"},{"field":"tags.env","equals":"blocked"}]},"then":{"effect":"deny"}}`, "")
		s.assign(t, s.RG("pol"), "no-blocked", def, "")
		// Preflight: the denied resource is known before the deployment.
		bad := depBody("Incremental", tmpl(`"resources": [`+sa("okay1", `"tags": {"env": "ok"}`)+`, `+sa("blocked1", `"tags": {"env": "blocked"}`)+`]`), "")
		dep := s.deployment("pol", "pre")
		r := s.Do(t, "PUT", dep+dav, bad)
		if r.Status != 400 || r.ErrorCode() != "InvalidTemplateDeployment" {
			t.Fatalf("denied deployment: %d %s, want 400 InvalidTemplateDeployment", r.Status, r.Body)
		}
		e := errorOf(r.JSON())
		if codes := detailCodes(e); len(codes) != 1 || codes[0] != "RequestDisallowedByPolicy" {
			t.Fatalf("details %v, want [RequestDisallowedByPolicy]: %s", codes, r.Body)
		}
		if !strings.Contains(mustMarshal(e), "no-blocked") {
			t.Errorf("the policy error does not name the assignment: %s", r.Body)
		}
		if g := s.Do(t, "GET", dep+dav, nil); g.Status != 404 {
			t.Errorf("a refused deployment is stored: GET %d", g.Status)
		}
		if g := s.Do(t, "GET", s.RG("pol")+"/providers/Microsoft.Storage/storageAccounts/okay1"+av, nil); g.Status != 404 {
			t.Errorf("a refused deployment wrote a resource: GET %d", g.Status)
		}
		v := s.Do(t, "POST", s.deployment("pol", "v")+"/validate"+dav, bad)
		if v.Status != 400 || v.ErrorCode() != "InvalidTemplateDeployment" {
			t.Errorf("validate of the denied deployment: %d %s", v.Status, v.Body)
		}
		// Runtime: the denied body reads another resource, so it is known
		// only when written.
		run := depBody("Incremental", tmpl(`"resources": [`+sa("src", `"tags": {"env": "ok", "next": "blocked"}`)+`, `+
			sa("late", `"tags": {"env": "[reference('src', '2023-01-01', 'Full').tags.next]"}`)+`, `+sa("other", `"tags": {"env": "ok"}`)+`]`), "")
		rec := s.deploy(t, s.deployment("pol", "run"), run)
		p := props(rec)
		if p["provisioningState"] != "Failed" {
			t.Fatalf("deployment with a denied resource: %s", mustMarshal(rec))
		}
		e = errorOf(rec)
		if e["code"] != "DeploymentFailed" || strings.Join(detailCodes(e), ",") != "RequestDisallowedByPolicy" {
			t.Errorf("error %s, want DeploymentFailed with [RequestDisallowedByPolicy]", mustMarshal(e))
		}
		failed := 0
		for _, op := range s.listAll(t, s.deployment("pol", "run")+"/operations"+dav) {
			op := props(op)
			if op["provisioningState"] == "Failed" {
				failed++
				if op["statusCode"] != "Forbidden" || !strings.Contains(mustMarshal(op["statusMessage"]), "RequestDisallowedByPolicy") {
					t.Errorf("failed operation %v", op)
				}
			}
		}
		if failed != 1 {
			t.Errorf("%d failed operations, want 1", failed)
		}
		if g := s.Do(t, "GET", s.RG("pol")+"/providers/Microsoft.Storage/storageAccounts/other"+av, nil); g.Status != 200 {
			t.Errorf("an independent resource was not written: %d", g.Status)
		}
	})
}

// TestDeploymentValidateAndErrors: validate answers the record it would
// make; bad requests and templates are refused with the pointer of
// what is wrong; a caller without deployments/write is refused.
func TestDeploymentValidateAndErrors(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		s.put(t, s.RG("val")+av, `{"location":"westeurope"}`, 201)
		dep := s.deployment("val", "v")
		ok := depBody("Incremental", tmpl(`"parameters": {"n": {"type": "string", "allowedValues": ["a", "b"]}}, "resources": [`+sa("[concat('v', parameters('n'))]", "")+`]`), `{"n":{"value":"a"}}`)
		v := s.Do(t, "POST", dep+"/validate"+dav, ok)
		if v.Status != 200 || props(v.JSON())["provisioningState"] != "Succeeded" || len(props(v.JSON())["validatedResources"].([]any)) != 1 {
			t.Fatalf("validate: %d %s", v.Status, v.Body)
		}
		if g := s.Do(t, "GET", dep+dav, nil); g.Status != 404 {
			t.Errorf("validate stored a deployment: %d", g.Status)
		}
		cases := []struct {
			name, body, code, target string
		}{
			{"not allowed value", depBody("Incremental", tmpl(`"parameters": {"n": {"type": "string", "allowedValues": ["a", "b"]}}, "resources": []`), `{"n":{"value":"c"}}`), "InvalidTemplate", "/properties/parameters/n/allowedValues"},
			{"cycle", depBody("Incremental", tmpl(`"resources": [`+sa("c1", `"dependsOn": ["c2"]`)+`, `+sa("c2", `"dependsOn": ["c1"]`)+`]`), ""), "InvalidTemplate", "/properties/template/resources/0/dependsOn"},
			{"unknown function", depBody("Incremental", tmpl(`"resources": [`+sa("[nosuch('x')]", "")+`]`), ""), "InvalidTemplate", "/properties/template/resources/0/name"},
			{"no mode", `{"properties":{"template":` + tmpl(`"resources": []`) + `}}`, "InvalidRequestContent", "properties.mode"},
			{"template link", `{"properties":{"mode":"Incremental","templateLink":{"uri":"https://example.com/t.json"}}}`, "InvalidRequestContent", "properties.templateLink"},
			{"subscription schema", depBody("Incremental", `{"$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#", "contentVersion": "1.0.0.0", "resources": []}`, ""), "InvalidTemplate", "properties.template.$schema"},
		}
		for _, c := range cases {
			for _, path := range []string{dep + dav, dep + "/validate" + dav} {
				method := "PUT"
				if strings.Contains(path, "/validate") {
					method = "POST"
				}
				r := s.Do(t, method, path, c.body)
				if r.Status != 400 || r.ErrorCode() != c.code {
					t.Errorf("%s (%s): %d %s, want 400 %s", c.name, method, r.Status, r.Body, c.code)
					continue
				}
				e := errorOf(r.JSON())
				got, _ := e["target"].(string)
				if ds, ok := e["details"].([]any); ok && len(ds) > 0 {
					got, _ = ds[0].(map[string]any)["target"].(string)
				}
				if got != c.target {
					t.Errorf("%s (%s): target %q, want %q: %s", c.name, method, got, c.target, r.Body)
				}
			}
		}
		// Without deployments/write.
		p := s.NewPrincipal(t, "reader")
		s.assignRole(t, s.RG("val"), roleIDByName(t, s, "Reader"), p.ObjectID, "ServicePrincipal")
		if r := s.DoAs(t, p.Token, "PUT", dep+dav, ok); r.Status != 403 || r.ErrorCode() != "AuthorizationFailed" {
			t.Errorf("Reader's deployment: %d %s", r.Status, r.Body)
		}
		if r := s.DoAs(t, p.Token, "POST", dep+"/validate"+dav, ok); r.Status != 403 {
			t.Errorf("Reader's validate: %d %s", r.Status, r.Body)
		}
	})
}

// TestDeploymentWhatIfAndComplete: whatIf says Create, Modify (with the
// property change), NoChange and, in Complete mode, Delete; a Complete
// deployment deletes what its template does not name and records the
// deletion as an operation.
func TestDeploymentWhatIfAndComplete(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		s.put(t, s.RG("wi")+av, `{"location":"westeurope"}`, 201)
		first := depBody("Incremental", tmpl(`"resources": [`+sa("keep", `"tags": {"env": "dev"}`)+`, `+sa("same", "")+`]`), "")
		if rec := s.deploy(t, s.deployment("wi", "one"), first); props(rec)["provisioningState"] != "Succeeded" {
			t.Fatalf("first deployment: %s", mustMarshal(rec))
		}
		s.put(t, s.RG("wi")+"/providers/Microsoft.Storage/storageAccounts/extra"+av, `{"location":"westeurope","sku":{"name":"Standard_LRS"},"kind":"StorageV2"}`, 201)
		next := depBody("Complete", tmpl(`"resources": [`+sa("keep", `"tags": {"env": "prod"}`)+`, `+sa("same", "")+`, `+sa("fresh", "")+`]`), "")
		w := s.Do(t, "POST", s.deployment("wi", "two")+"/whatIf"+dav, next)
		if w.Status != 200 || w.JSON()["status"] != "Succeeded" {
			t.Fatalf("whatIf: %d %s", w.Status, w.Body)
		}
		kinds := map[string]string{}
		var keepDelta []any
		for _, c := range props(w.JSON())["changes"].([]any) {
			c := c.(map[string]any)
			id := c["resourceId"].(string)
			name := id[strings.LastIndex(id, "/")+1:]
			kinds[name] = c["changeType"].(string)
			if name == "keep" {
				keepDelta, _ = c["delta"].([]any)
			}
		}
		want := map[string]string{"keep": "Modify", "same": "NoChange", "fresh": "Create", "extra": "Delete"}
		if mustMarshal(kinds) != mustMarshal(want) {
			t.Errorf("whatIf changes %v, want %v", kinds, want)
		}
		if len(keepDelta) != 1 || keepDelta[0].(map[string]any)["path"] != "tags.env" || keepDelta[0].(map[string]any)["after"] != "prod" {
			t.Errorf("delta of keep: %v, want tags.env dev -> prod", keepDelta)
		}
		if g := s.Do(t, "GET", s.RG("wi")+"/providers/Microsoft.Storage/storageAccounts/fresh"+av, nil); g.Status != 404 {
			t.Errorf("whatIf wrote a resource: %d", g.Status)
		}
		// The Complete deployment itself.
		rec := s.deploy(t, s.deployment("wi", "two"), next)
		if props(rec)["provisioningState"] != "Succeeded" {
			t.Fatalf("complete deployment: %s", mustMarshal(rec))
		}
		if g := s.Do(t, "GET", s.RG("wi")+"/providers/Microsoft.Storage/storageAccounts/extra"+av, nil); g.Status != 404 {
			t.Errorf("Complete mode left a resource the template does not name: %d", g.Status)
		}
		if g := s.Do(t, "GET", s.RG("wi")+"/providers/Microsoft.Storage/storageAccounts/keep"+av, nil); !strings.Contains(string(g.Body), `"prod"`) {
			t.Errorf("keep not updated: %s", g.Body)
		}
		deletes := 0
		for _, op := range s.listAll(t, s.deployment("wi", "two")+"/operations"+dav) {
			if props(op)["provisioningOperation"] == "Delete" {
				deletes++
			}
		}
		if deletes != 1 {
			t.Errorf("%d Delete operations, want 1", deletes)
		}
		// The deployment records are not deleted by Complete mode.
		if g := s.Do(t, "GET", s.deployment("wi", "one")+dav, nil); g.Status != 200 {
			t.Errorf("Complete mode deleted a deployment record: %d", g.Status)
		}
	})
}

// TestDeploymentNested: nested deployments with inner scope (their own
// parameters) and outer scope (the parent's parameters and variables)
// are deployments of their own; the parent reads their outputs.
func TestDeploymentNested(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		s.put(t, s.RG("nest")+av, `{"location":"westeurope"}`, 201)
		s.put(t, s.RG("nest2")+av, `{"location":"westeurope"}`, 201)
		inner := `{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner", "resourceGroup": "nest2",
		  "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"}, "parameters": {"n": {"value": "[concat(parameters('p'), 'in')]"}},
		   "template": {"$schema": "` + rgSchema + `", "contentVersion": "1.0.0.0", "parameters": {"n": {"type": "string"}, "p": {"type": "string", "defaultValue": "shadow"}},
		     "resources": [` + sa("[parameters('n')]", "") + `], "outputs": {"made": {"type": "string", "value": "[concat(parameters('n'), '@', resourceGroup().name)]"}}}}}`
		outer := `{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "outer",
		  "properties": {"mode": "Incremental",
		   "template": {"$schema": "` + rgSchema + `", "contentVersion": "1.0.0.0",
		     "resources": [` + sa("[concat(parameters('p'), variables('suffix'))]", "") + `]}}}`
		parent := tmpl(`"parameters": {"p": {"type": "string"}}, "variables": {"suffix": "out"}, "resources": [` + inner + `, ` + outer + `],
		  "outputs": {"fromInner": {"type": "string", "value": "[reference('inner').outputs.made.value]"}}`)
		rec := s.deploy(t, s.deployment("nest", "parent"), depBody("Incremental", parent, `{"p":{"value":"app"}}`))
		if props(rec)["provisioningState"] != "Succeeded" {
			t.Fatalf("parent: %s", mustMarshal(rec))
		}
		if v := props(rec)["outputs"].(map[string]any)["fromInner"].(map[string]any)["value"]; v != "appin@nest2" {
			t.Errorf("output from the inner deployment = %v, want appin@nest2", v)
		}
		for _, r := range []string{s.RG("nest2") + "/providers/Microsoft.Storage/storageAccounts/appin", s.RG("nest") + "/providers/Microsoft.Storage/storageAccounts/appout"} {
			if g := s.Do(t, "GET", r+av, nil); g.Status != 200 {
				t.Errorf("GET %s: %d", r, g.Status)
			}
		}
		for _, d := range []string{s.deployment("nest2", "inner"), s.deployment("nest", "outer")} {
			if g := s.Do(t, "GET", d+dav, nil); g.Status != 200 || props(g.JSON())["provisioningState"] != "Succeeded" {
				t.Errorf("nested record %s: %d %s", d, g.Status, g.Body)
			}
		}
	})
}

// TestDeploymentCancelAndActive: a running deployment is not replaced
// (DeploymentActive) and can be canceled: it stops before its next
// resources and ends Canceled.
func TestDeploymentCancelAndActive(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		s.put(t, s.RG("can")+av, `{"location":"westeurope"}`, 201)
		// Workspaces are long-running (50 ms here), one at a time.
		ws := `{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "[concat('wsp', copyIndex())]", "location": "eastus",
		  "copy": {"name": "ws", "count": 40, "mode": "serial", "batchSize": 1}, "properties": {}}`
		body := depBody("Incremental", tmpl(`"resources": [`+ws+`]`), "")
		dep := s.deployment("can", "slow")
		if r := s.Do(t, "PUT", dep+dav, body); r.Status != 201 {
			t.Fatalf("PUT: %d %s", r.Status, r.Body)
		}
		if r := s.Do(t, "PUT", dep+dav, body); r.Status != 409 || r.ErrorCode() != "DeploymentActive" {
			t.Errorf("replacing a running deployment: %d %s, want 409 DeploymentActive", r.Status, r.Body)
		}
		time.Sleep(150 * time.Millisecond)
		if r := s.Do(t, "POST", dep+"/cancel"+dav, nil); r.Status != 204 {
			t.Fatalf("cancel: %d %s", r.Status, r.Body)
		}
		rec := s.waitDeployment(t, dep)
		if props(rec)["provisioningState"] != "Canceled" {
			t.Fatalf("after cancel: %s", mustMarshal(rec))
		}
		time.Sleep(200 * time.Millisecond) // a runner that went on would write more
		n := len(s.listAll(t, s.RG("can")+"/providers/Microsoft.MachineLearningServices/workspaces"+av))
		if n == 0 || n >= 40 {
			t.Errorf("%d workspaces after the cancel, want some but not all 40", n)
		}
		if props(s.waitDeployment(t, dep))["provisioningState"] != "Canceled" {
			t.Error("a canceled deployment changed state")
		}
	})
}

// TestDeploymentSubscription: a subscription deployment makes a
// resource group and deploys into it through a nested deployment.
func TestDeploymentSubscription(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		dep := s.sub() + "/providers/Microsoft.Resources/deployments/landing"
		body := `{"location":"westeurope","properties":{"mode":"Incremental","template":{"$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#", "contentVersion": "1.0.0.0",
		  "resources": [{"type": "Microsoft.Resources/resourceGroups", "apiVersion": "2022-09-01", "name": "landing-rg", "location": "[deployment().location]"},
		   {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "into", "resourceGroup": "landing-rg", "dependsOn": ["landing-rg"],
		    "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"},
		     "template": {"$schema": "` + rgSchema + `", "contentVersion": "1.0.0.0", "resources": [` + sa("landingsa", "") + `]}}}]}}}`
		if r := s.Do(t, "PUT", dep+dav, strings.Replace(body, `"location":"westeurope",`, "", 1)); r.Status != 400 || r.ErrorCode() != "LocationRequired" {
			t.Errorf("subscription deployment without location: %d %s", r.Status, r.Body)
		}
		rec := s.deploy(t, dep, body)
		if props(rec)["provisioningState"] != "Succeeded" || rec["location"] != "westeurope" {
			t.Fatalf("subscription deployment: %s", mustMarshal(rec))
		}
		if g := s.Do(t, "GET", s.RG("landing-rg")+"/providers/Microsoft.Storage/storageAccounts/landingsa"+av, nil); g.Status != 200 {
			t.Errorf("the nested deployment's resource: %d", g.Status)
		}
		if l := s.listAll(t, s.sub()+"/providers/Microsoft.Resources/deployments"+dav); len(l) != 1 {
			t.Errorf("subscription list: %d, want 1 (the resource group's nested deployment is not the subscription's)", len(l))
		}
	})
}
