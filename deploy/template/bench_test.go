package template

import (
	"context"
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

const bench200 = `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",
 "parameters": {"prefix": {"type": "string", "defaultValue": "sa"}, "n": {"type": "int", "defaultValue": 200, "maxValue": 800}},
 "variables": {"tags": {"owner": "mlgov"}},
 "resources": [
  {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-01-01", "name": "vnet", "location": "[resourceGroup().location]", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}},
  {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat(parameters('prefix'), uniqueString(resourceGroup().id), copyIndex())]",
   "location": "[resourceGroup().location]", "tags": "[variables('tags')]", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
   "copy": {"name": "accounts", "count": "[parameters('n')]", "mode": "serial", "batchSize": 50},
   "dependsOn": ["vnet"],
   "properties": {"index": "[copyIndex()]", "subnet": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', concat('s', copyIndex()))]", "minimumTlsVersion": "TLS1_2"}}]}`

// BenchmarkPlan200 plans a template with a copy loop of 200 resources
// (issue 13: a 200-resource template deploys in under 2 s end to end).
func BenchmarkPlan200(b *testing.B) {
	tmpl, err := Parse([]byte(bench200))
	if err != nil {
		b.Fatal(err)
	}
	dc := testContext()
	b.ReportAllocs()
	for b.Loop() {
		p, err := tmpl.Plan(context.Background(), value.Value{}, dc, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Resources) != 201 {
			b.Fatalf("%d resources", len(p.Resources))
		}
	}
}
