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
