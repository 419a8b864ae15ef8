package template

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

func planJSON(t testing.TB, src string, params value.Value) *Plan {
	t.Helper()
	tmpl, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := tmpl.Plan(context.Background(), params, testContext(), testStore())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUniqueStringGUIDDeterminism: the same inputs give the same names in
// two plans, different deployment contexts give different ones.
func TestUniqueStringGUIDDeterminism(t *testing.T) {
	const src = `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",
	 "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat('sa', uniqueString(resourceGroup().id))]",
	  "properties": {"g": "[guid(resourceGroup().id, deployment().name)]"}}]}`
	a := planJSON(t, src, value.Value{}).Resources[0]
	b := planJSON(t, src, value.Value{}).Resources[0]
	if a.ID != b.ID || !value.Equal(a.Body, b.Body) {
		t.Fatalf("two plans differ: %s %s / %s %s", a.ID, a.Body.JSON(), b.ID, b.Body.JSON())
	}
	if !regexp.MustCompile(`/sa[a-z0-9]{13}$`).MatchString(a.ID) {
		t.Errorf("uniqueString name %q is not 13 lower-case base32 characters", a.ID)
	}
	g, _ := a.Body.Get("properties")
	gv, _ := g.Get("g")
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(gv.Str()) {
		t.Errorf("guid() = %q, not a version-5 GUID", gv.Str())
	}
	tmpl, _ := Parse([]byte(src))
	dc := testContext()
	dc.ResourceGroup = "rg2"
	c, err := tmpl.Plan(context.Background(), value.Value{}, dc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimPrefix(c.Resources[0].Name, "sa") == strings.TrimPrefix(a.Name, "sa") {
		t.Errorf("uniqueString did not change with the resource group: %s", c.Resources[0].Name)
	}
}

// TestBuiltinDINETemplates plans the deployment template of every
// DeployIfNotExists built-in for Machine Learning, read in place from
// ../shared (never copied), with plausible parameter values.
func TestBuiltinDINETemplates(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "azure-policy", "policyDefinitions", "Machine Learning")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("the built-in corpus is absent (%v): DINE templates not checked", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		def, err := value.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		details := def.Field("properties").Field("policyRule").Field("then").Field("details")
		dep := details.Field("deployment").Field("properties")
		tv := dep.Field("template")
		if tv.IsUndefined() {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			tmpl, err := FromValue(tv)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			params := plausibleParams(t, tv.Field("parameters"))
			plan, err := tmpl.Plan(context.Background(), params, testContext(), subnetStore{})
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if len(plan.Resources) == 0 {
				t.Fatal("no resources planned")
			}
			for _, r := range plan.Resources {
				if !strings.HasPrefix(r.ID, "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/") {
					t.Errorf("id %q is not in the deployment's resource group", r.ID)
				}
				if err := plan.Resolve(context.Background(), r, subnetStore{}); err != nil {
					t.Fatalf("resolve %s: %v", r.ID, err)
				}
				t.Logf("%s %s", r.ID, r.Body.JSON())
				if r.Deployment != nil && r.Deployment.Scope == "inner" {
					inner, err := FromValue(r.Deployment.Template)
					if err != nil {
						t.Fatalf("inner template: %v", err)
					}
					dc := testContext()
					dc.DeploymentName = r.Name
					ip, err := inner.Plan(context.Background(), r.Deployment.Parameters, dc, subnetStore{})
					if err != nil {
						t.Fatalf("inner plan: %v", err)
					}
					for _, ir := range ip.Resources {
						if err := ip.Resolve(context.Background(), ir, subnetStore{}); err != nil {
							t.Fatalf("resolve %s: %v", ir.ID, err)
						}
						t.Logf("  inner %s %s", ir.ID, ir.Body.JSON())
					}
				}
			}
		})
	}
	if n == 0 {
		t.Fatalf("no DeployIfNotExists template found under %s", dir)
	}
}

// plausibleParams gives every template parameter a value of its type, as
// the policy's deployment parameters would.
func plausibleParams(t *testing.T, decl value.Value) value.Value {
	b := value.NewObjectBuilder(decl.Len())
	for i := range decl.Len() {
		name, d := decl.MemberAt(i)
		var v value.Value
		switch strings.ToLower(d.Field("type").Str()) {
		case "bool":
			v = value.BoolValue(true)
		case "int":
			v = value.IntValue(1)
		case "object", "secureobject":
			v = value.ObjectValue()
		case "array":
			v = value.ArrayValue(nil)
		default:
			s := "ws1"
			switch {
			case strings.Contains(strings.ToLower(name), "subnet"):
				s = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe"
			case strings.HasSuffix(strings.ToLower(name), "id") || strings.Contains(strings.ToLower(name), "loganalytics"):
				s = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1"
			case strings.Contains(strings.ToLower(name), "location"):
				s = "westeurope"
			}
			v = value.StringValue(s)
		}
		b.Add(name, value.ObjectValue(value.Member{Key: "value", Value: v}))
	}
	return b.Object()
}

// subnetStore answers reference() for any id with a location.
type subnetStore struct{}

func (subnetStore) Reference(_ context.Context, id, _ string, _ bool) (value.Value, error) {
	return value.ObjectValue(value.Member{Key: "id", Value: value.StringValue(id)}, value.Member{Key: "location", Value: value.StringValue("westeurope")}), nil
}

func (subnetStore) List(_ context.Context, action, id, _ string, _ value.Value) (value.Value, error) {
	return value.Value{}, fmt.Errorf("no %s on %s", action, id)
}
