package armtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

// post sends a POST action and checks its status.
func (s *Server) post(t *testing.T, path, body string, want int) map[string]any {
	t.Helper()
	var b any
	if body != "" {
		b = body
	}
	r := s.Do(t, "POST", path+av, b)
	if r.Status != want {
		t.Fatalf("POST %s: %d %s, want %d", path, r.Status, r.Body, want)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON()
}

// TestMLSecrets: the list actions of workspaces, endpoints, datastores and
// computes answer generated or given secrets that are stable across calls,
// never in the resource's GET; regenerateKeys replaces one key; secrets go
// with their resource.
func TestMLSecrets(t *testing.T) {
	eachBackend(t, nil, testMLSecrets)
}

func testMLSecrets(t *testing.T, s *Server) {
	sa := s.RG("rg") + "/providers/Microsoft.Storage/storageAccounts/sa1"
	ws := s.mustWorkspace(t, "rg", "ws1")
	s.put(t, sa+"?api-version=2023-01-01", `{"location":"eastus"}`, 201)
	r := s.Do(t, "PUT", ws+av, `{"location":"eastus","properties":{"storageAccount":"`+sa+`","containerRegistry":"/subscriptions/`+s.SubscriptionID+`/resourceGroups/other/providers/Microsoft.ContainerRegistry/registries/cr1"}}`)
	if r.Status >= 300 {
		t.Fatalf("workspace: %d %s", r.Status, r.Body)
	}
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))

	// Workspace keys: generated once, the same from every action.
	k1 := s.post(t, ws+"/listKeys", "", 200)
	k2 := s.post(t, ws+"/listKeys", "", 200)
	if k1["userStorageKey"] == "" || k1["userStorageKey"] == nil || !equalJSON(k1, k2) {
		t.Fatalf("listKeys: %v then %v", k1, k2)
	}
	if k1["userStorageResourceId"] != sa {
		t.Errorf("userStorageResourceId %v, want %s", k1["userStorageResourceId"], sa)
	}
	cr, _ := k1["containerRegistryCredentials"].(map[string]any)
	if cr["username"] != "cr1" || len(cr["passwords"].([]any)) != 2 {
		t.Errorf("containerRegistryCredentials %v", cr)
	}
	if sk := s.post(t, ws+"/listStorageAccountKeys", "", 200); sk["userStorageKey"] != k1["userStorageKey"] {
		t.Errorf("listStorageAccountKeys %v, listKeys %v", sk, k1["userStorageKey"])
	}
	if nk := s.post(t, ws+"/listNotebookKeys", "", 200); !equalJSON(nk, k1["notebookAccessKeys"]) {
		t.Errorf("listNotebookKeys %v, listKeys %v", nk, k1["notebookAccessKeys"])
	}
	if body := string(s.Do(t, "GET", ws+av, nil).Body); strings.Contains(body, k1["userStorageKey"].(string)) {
		t.Errorf("the workspace GET shows its storage key: %s", body)
	}
	s.post(t, ws+"/resyncKeys", "", 200)
	if k3 := s.post(t, ws+"/listKeys", "", 200); !equalJSON(k1, k3) {
		t.Errorf("keys changed by resyncKeys: %v then %v", k1, k3)
	}

	// Notebook: prepareNotebook records the notebook resource on the
	// workspace; the access token names it and is stable.
	nb := s.post(t, ws+"/prepareNotebook", "", 200)
	props, _ := s.Do(t, "GET", ws+av, nil).JSON()["properties"].(map[string]any)
	if nb["fqdn"] == nil || !equalJSON(props["notebookInfo"], nb) {
		t.Errorf("prepareNotebook %v; workspace notebookInfo %v", nb, props["notebookInfo"])
	}
	t1 := s.post(t, ws+"/listNotebookAccessToken", "", 200)
	t2 := s.post(t, ws+"/listNotebookAccessToken", "", 200)
	if t1["accessToken"] == nil || t1["accessToken"] != t2["accessToken"] || t1["hostName"] != nb["fqdn"] || t1["notebookResourceId"] != nb["resourceId"] {
		t.Errorf("listNotebookAccessToken %v then %v (notebook %v)", t1, t2, nb)
	}

	// Diagnose: the linked storage account exists, the registry does not.
	d, _ := s.post(t, ws+"/diagnose", `{"value":{}}`, 200)["value"].(map[string]any)
	if got := d["storageAccountResults"].([]any); len(got) != 0 {
		t.Errorf("storage account results %v, want none", got)
	}
	if got := d["containerRegistryResults"].([]any); len(got) != 1 || !strings.Contains(got[0].(map[string]any)["message"].(string), "cr1") {
		t.Errorf("container registry results %v, want one warning naming cr1", got)
	}
	if r := s.Do(t, "GET", ws+"/outboundNetworkDependenciesEndpoints"+av, nil); r.Status != 200 || len(r.JSON()["value"].([]any)) == 0 {
		t.Errorf("outbound dependencies: %d %s", r.Status, r.Body)
	}

	// Datastore: the secrets of the credentials leave the body for
	// listSecrets; a new PUT replaces them.
	ds := ws + "/datastores/blob1"
	s.put(t, ds+av, `{"properties":{"datastoreType":"AzureBlob","accountName":"sa1","containerName":"c","credentials":{"credentialsType":"AccountKey","secrets":{"secretsType":"AccountKey","key":"s3cret-one"}}}}`, 201)
	if body := string(s.Do(t, "GET", ds+av, nil).Body); strings.Contains(body, "s3cret") {
		t.Errorf("the datastore GET shows its secret: %s", body)
	}
	if got := s.post(t, ds+"/listSecrets", "", 200); got["key"] != "s3cret-one" || got["secretsType"] != "AccountKey" {
		t.Errorf("listSecrets %v", got)
	}
	s.put(t, ds+av, `{"properties":{"datastoreType":"AzureBlob","accountName":"sa1","containerName":"c","credentials":{"credentialsType":"AccountKey","secrets":{"secretsType":"AccountKey","key":"s3cret-two"}}}}`, 200)
	if got := s.post(t, ds+"/listSecrets", "", 200); got["key"] != "s3cret-two" {
		t.Errorf("listSecrets after update %v", got)
	}
	s.put(t, ds+av, `{"properties":{"datastoreType":"AzureBlob","accountName":"sa1","containerName":"c","credentials":{"credentialsType":"None"}}}`, 200)
	wantError(t, "listSecrets of a datastore without secrets", s.Do(t, "POST", ds+"/listSecrets"+av, nil), 400, "OperationNotSupported", "", "None")

	// Online endpoint keys: stable; regenerateKeys replaces the one named.
	ep := ws + "/onlineEndpoints/ep1"
	r = s.put(t, ep+av, `{"location":"eastus","properties":{"authMode":"Key"}}`, 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	e1 := s.post(t, ep+"/listKeys", "", 200)
	s.post(t, ep+"/regenerateKeys", `{"keyType":"Secondary"}`, 200)
	e2 := s.post(t, ep+"/listKeys", "", 200)
	if e1["primaryKey"] == nil || e2["primaryKey"] != e1["primaryKey"] || e2["secondaryKey"] == e1["secondaryKey"] {
		t.Errorf("keys %v, after regenerating the secondary %v", e1, e2)
	}
	s.post(t, ep+"/regenerateKeys", `{"keyType":"Primary","keyValue":"0123456789abcdef-mine"}`, 200)
	if e3 := s.post(t, ep+"/listKeys", "", 200); e3["primaryKey"] != "0123456789abcdef-mine" || e3["secondaryKey"] != e2["secondaryKey"] {
		t.Errorf("keys after setting the primary: %v", e3)
	}
	wantError(t, "regenerateKeys without keyType", s.Do(t, "POST", ep+"/regenerateKeys"+av, `{}`), 400, "InvalidRequestContent", "", "keyType")
	tok := ws + "/onlineEndpoints/ep2"
	r = s.put(t, tok+av, `{"location":"eastus","properties":{"authMode":"AMLToken"}}`, 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	wantError(t, "listKeys of a token endpoint", s.Do(t, "POST", tok+"/listKeys"+av, nil), 400, "OperationNotSupported", "", "AMLToken")

	// Deployment logs and SKUs.
	dep := ep + "/deployments/blue"
	r = s.put(t, dep+av, `{"location":"eastus","sku":{"name":"Default","capacity":1},"properties":{"endpointComputeType":"Managed","model":"azureml:m:1","instanceType":"Standard_DS3_v2"}}`, 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	logs := s.post(t, dep+"/getLogs", `{"containerType":"InferenceServer","tail":2}`, 200)
	if c, _ := logs["content"].(string); strings.Count(c, "\n") != 1 {
		t.Errorf("getLogs tail 2: %q", c)
	}
	wantError(t, "getLogs of an unknown container", s.Do(t, "POST", dep+"/getLogs"+av, `{"containerType":"Sidecar"}`), 400, "InvalidRequestContent", "", "containerType")
	if r := s.Do(t, "GET", dep+"/skus"+av, nil); r.Status != 200 || len(r.JSON()["value"].([]any)) != 1 {
		t.Errorf("skus: %d %s", r.Status, r.Body)
	}

	// Computes: an attached VM's password is write-only; a cluster lists
	// its nodes; an instance has no keys.
	vm := ws + "/computes/vm1"
	r = s.put(t, vm+av, `{"location":"eastus","properties":{"computeType":"VirtualMachine","resourceId":"`+sa+`","properties":{"administratorAccount":{"username":"azureuser","password":"vm-p4ss"}}}}`, 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	if body := string(s.Do(t, "GET", vm+av, nil).Body); strings.Contains(body, "vm-p4ss") {
		t.Errorf("the compute GET shows its password: %s", body)
	}
	acct, _ := s.post(t, vm+"/listKeys", "", 200)["administratorAccount"].(map[string]any)
	if acct["username"] != "azureuser" || acct["password"] != "vm-p4ss" {
		t.Errorf("listKeys administratorAccount %v", acct)
	}
	cl := ws + "/computes/cluster1"
	r = s.put(t, cl+av, `{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"STANDARD_DS3_V2","scaleSettings":{"maxNodeCount":2}}}}`, 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	if n := s.post(t, cl+"/listNodes", "", 200); len(n["nodes"].([]any)) != 0 {
		t.Errorf("listNodes of an idle cluster: %v", n)
	}
	wantError(t, "listKeys of a cluster", s.Do(t, "POST", cl+"/listKeys"+av, nil), 400, "OperationNotSupported", "", "AmlCompute")

	// At rest the secrets are sealed: no stored object holds a plain
	// secret, and a sealed value moved to another resource does not open.
	raw := map[string][]byte{}
	if err := s.Store.Read(context.Background(), func(tx store.Tx) error {
		os, err := tx.ListObjects(context.Background(), resources.KindSecrets)
		for _, o := range os {
			raw[o.Key] = o.Body
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for k, b := range raw {
		if !strings.HasPrefix(string(b), "mlgov-sealed:v1:") || strings.Contains(string(b), "vm-p4ss") || strings.Contains(string(b), "0123456789abcdef-mine") {
			t.Errorf("the secrets of %s at rest: %.80s", k, b)
		}
	}
	epKey, vmKey := strings.ToLower(ep), strings.ToLower(vm)
	if len(raw) != 4 || raw[epKey] == nil || raw[vmKey] == nil {
		t.Fatalf("stored secrets for %d resources; the endpoint's and the VM's among them: %v, %v", len(raw), raw[epKey] != nil, raw[vmKey] != nil)
	}
	if err := s.Store.Write(context.Background(), func(tx store.Tx) error {
		return tx.PutObject(context.Background(), &store.Object{Kind: resources.KindSecrets, Key: vmKey, Body: raw[epKey], UpdatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	if r := s.Do(t, "POST", vm+"/listKeys"+av, nil); r.Status != 500 || strings.Contains(string(r.Body), "0123456789abcdef") {
		t.Errorf("listKeys with another resource's sealed secrets: %d %s", r.Status, r.Body)
	}

	// Every call is in the activity log.
	if evs := s.Events(t, "resourceUri eq '"+ws+"'", 0); !hasOperation(evs, "Microsoft.MachineLearningServices/workspaces/listKeys/action") {
		t.Errorf("no listKeys/action event in %d events", len(evs))
	}

	// Deleting the workspace deletes every secret under it.
	if got := storedSecrets(t, s); len(got) != 4 {
		t.Errorf("secrets stored for %v, want the workspace, the datastore, the endpoint and the VM", got)
	}
	r = s.Do(t, "DELETE", ws+av, nil)
	if r.Status == 202 {
		s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	}
	if got := storedSecrets(t, s); len(got) != 0 {
		t.Errorf("secrets left after the workspace's deletion: %v", got)
	}
}

func hasOperation(evs []map[string]any, op string) bool {
	for _, e := range evs {
		if on, _ := e["operationName"].(map[string]any); strings.EqualFold(on["value"].(string), op) {
			return true
		}
	}
	return false
}

// storedSecrets lists the keys of the resources whose secrets are stored.
func storedSecrets(t *testing.T, s *Server) []string {
	t.Helper()
	var keys []string
	err := s.Store.Read(context.Background(), func(tx store.Tx) error {
		os, err := tx.ListObjects(context.Background(), resources.KindSecrets)
		for _, o := range os {
			keys = append(keys, o.Key)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// equalJSON compares two decoded JSON values.
func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestRegistryRemoveRegions: removeRegions keeps the regions the body
// lists and answers the registry; it adds none and keeps the primary.
// Compute instance schedules and idle shutdown are set by
// updateSchedules and updateIdleShutdownSetting.
func TestRegistryRemoveRegions(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		mustCreateRG(t, s, "rg")
		reg := s.RG("rg") + "/providers/Microsoft.MachineLearningServices/registries/reg1"
		r := s.put(t, reg+av, `{"location":"eastus","properties":{"regionDetails":[{"location":"eastus"},{"location":"westus"},{"location":"westeurope"}]}}`, 201)
		s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
		got := s.post(t, reg+"/removeRegions", `{"location":"eastus","properties":{"regionDetails":[{"location":"eastus"},{"location":"West Europe"}]}}`, 200)
		var locs []any
		for _, d := range got["properties"].(map[string]any)["regionDetails"].([]any) {
			locs = append(locs, d.(map[string]any)["location"])
		}
		if !equalJSON(locs, []any{"eastus", "westeurope"}) {
			t.Errorf("regions after removeRegions: %v", locs)
		}
		stored := s.Do(t, "GET", reg+av, nil).JSON()["properties"].(map[string]any)["regionDetails"].([]any)
		if len(stored) != 2 {
			t.Errorf("stored regions: %v", stored)
		}
		wantError(t, "adding a region", s.Do(t, "POST", reg+"/removeRegions"+av, `{"properties":{"regionDetails":[{"location":"eastus"},{"location":"japaneast"}]}}`), 400, "InvalidRequestContent", "", "japaneast")
		wantError(t, "removing the primary", s.Do(t, "POST", reg+"/removeRegions"+av, `{"properties":{"regionDetails":[{"location":"westeurope"}]}}`), 400, "InvalidRequestContent", "", "primary")

		ws := s.mustWorkspace(t, "rg", "ws1")
		ci := ws + "/computes/ci1"
		r = s.put(t, ci+av, `{"location":"eastus","properties":{"computeType":"ComputeInstance","properties":{"vmSize":"STANDARD_DS3_V2"}}}`, 201)
		s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
		s.post(t, ci+"/updateSchedules", `{"computeStartStop":[{"action":"Stop","triggerType":"Cron","cron":{"expression":"0 18 * * *"}}]}`, 200)
		p := s.Do(t, "GET", ci+av, nil).JSON()["properties"].(map[string]any)["properties"].(map[string]any)
		if ss, _ := p["schedules"].(map[string]any)["computeStartStop"].([]any); len(ss) != 1 {
			t.Errorf("schedules after updateSchedules: %v", p["schedules"])
		}
		wantError(t, "schedules that are not a list", s.Do(t, "POST", ci+"/updateSchedules"+av, `{"computeStartStop":{}}`), 400, "InvalidRequestContent", "", "computeStartStop")
		s.post(t, ci+"/updateIdleShutdownSetting", `{"idleTimeBeforeShutdown":"PT30M"}`, 200)
		if p := s.Do(t, "GET", ci+av, nil).JSON()["properties"].(map[string]any)["properties"].(map[string]any); p["idleTimeBeforeShutdown"] != "PT30M" {
			t.Errorf("idleTimeBeforeShutdown after updateIdleShutdownSetting: %v", p["idleTimeBeforeShutdown"])
		}
		wantError(t, "an idle time that is not a duration string", s.Do(t, "POST", ci+"/updateIdleShutdownSetting"+av, `{"idleTimeBeforeShutdown":30}`), 400, "InvalidRequestContent", "", "idleTimeBeforeShutdown")
		wantError(t, "an idle time in minutes", s.Do(t, "POST", ci+"/updateIdleShutdownSetting"+av, `{"idleTimeBeforeShutdown":"30m"}`), 400, "InvalidRequestContent", "", "PT30M", "30m")
	})
}

// TestSealStoredSecrets: secrets stored in plain form (before sealing was
// configured) are read as they are and sealed by the start-up migration,
// after which they still open.
func TestSealStoredSecrets(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ctx := context.Background()
		ws := s.mustWorkspace(t, "rg", "ws1")
		ep := ws + "/onlineEndpoints/ep1"
		r := s.put(t, ep+av, `{"location":"eastus","properties":{"authMode":"Key"}}`, 201)
		s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
		plain := `{"primaryKey":"plain-primary-key-1","secondaryKey":"plain-secondary-key-2"}`
		if err := s.Store.Write(ctx, func(tx store.Tx) error {
			return tx.PutObject(ctx, &store.Object{Kind: resources.KindSecrets, Key: strings.ToLower(ep), Body: []byte(plain), UpdatedAt: time.Now()})
		}); err != nil {
			t.Fatal(err)
		}
		if k := s.post(t, ep+"/listKeys", "", 200); k["primaryKey"] != "plain-primary-key-1" {
			t.Errorf("keys stored plain: %v", k)
		}
		if n, err := s.Manager.SealStoredSecrets(ctx); err != nil || n != 1 {
			t.Fatalf("SealStoredSecrets: %d, %v; want 1", n, err)
		}
		if err := s.Store.Read(ctx, func(tx store.Tx) error {
			o, err := tx.GetObject(ctx, resources.KindSecrets, strings.ToLower(ep))
			if err == nil && strings.Contains(string(o.Body), "plain-primary") {
				t.Errorf("still plain after the migration: %s", o.Body)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if k := s.post(t, ep+"/listKeys", "", 200); k["primaryKey"] != "plain-primary-key-1" {
			t.Errorf("keys after sealing: %v", k)
		}
		if n, _ := s.Manager.SealStoredSecrets(ctx); n != 0 {
			t.Errorf("a second migration sealed %d", n)
		}
	})
}

// TestConnectionSecrets: a connection's credential secrets leave its body
// (GET and list never show them) for listsecrets; a write without them
// keeps them.
func TestConnectionSecrets(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg", "ws1")
		cn := ws + "/connections/git1"
		s.put(t, cn+av, `{"properties":{"category":"Git","target":"https://github.com/contoso/repo","authType":"PAT","credentials":{"pat":"ghp_s3cretToken"}}}`, 200)
		s.put(t, ws+"/connections/sp1"+av, `{"properties":{"category":"AzureOpenAI","target":"https://x.openai.azure.com","authType":"ServicePrincipal","credentials":{"clientId":"c1","tenantId":"t1","clientSecret":"sp-s3cret"}}}`, 200)
		for _, path := range []string{cn, ws + "/connections", ws + "/connections/sp1"} {
			if body := string(s.Do(t, "GET", path+av, nil).Body); strings.Contains(body, "s3cret") {
				t.Errorf("GET %s shows a secret: %s", path, body)
			}
		}
		if got := s.post(t, ws+"/connections/sp1/listsecrets", "", 200); got["properties"].(map[string]any)["credentials"].(map[string]any)["clientSecret"] != "sp-s3cret" {
			t.Errorf("listsecrets: %v", got)
		} else if cred := got["properties"].(map[string]any)["credentials"].(map[string]any); cred["clientId"] != "c1" {
			t.Errorf("listsecrets lost the credentials that are not secret: %v", cred)
		}
		s.put(t, cn+av, `{"properties":{"category":"Git","target":"https://github.com/contoso/other","authType":"PAT","credentials":{}}}`, 200)
		if got := s.post(t, cn+"/listsecrets", "", 200); got["properties"].(map[string]any)["credentials"].(map[string]any)["pat"] != "ghp_s3cretToken" {
			t.Errorf("listsecrets after a write without the secret: %v", got)
		}
	})
}

// TestComputeLocalAuth: with disableLocalAuth a compute takes no SSH key,
// open SSH access or administrator credential (refused, naming the
// setting) and lists no keys; with local auth it takes them.
func TestComputeLocalAuth(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg", "ws1")
		for _, c := range []struct{ name, props, setting string }{
			{"ci1", `{"computeType":"ComputeInstance","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2","sshSettings":{"sshPublicAccess":"Enabled","adminPublicKey":"ssh-rsa AAAA"}}}`, "sshSettings.sshPublicAccess"},
			{"cl1", `{"computeType":"AmlCompute","disableLocalAuth":true,"properties":{"vmSize":"STANDARD_DS3_V2","userAccountCredentials":{"adminUserName":"azureuser","adminUserSshPublicKey":"ssh-rsa AAAA"}}}`, "userAccountCredentials.adminUserSshPublicKey"},
			{"vm1", `{"computeType":"VirtualMachine","disableLocalAuth":true,"properties":{"administratorAccount":{"username":"azureuser","password":"p"}}}`, "administratorAccount.password"},
		} {
			wantError(t, c.name, s.Do(t, "PUT", ws+"/computes/"+c.name+av, `{"location":"eastus","properties":`+c.props+`}`), 400, "InvalidRequestContent", "", c.setting, "disableLocalAuth")
		}
		r := s.put(t, ws+"/computes/ci2"+av, `{"location":"eastus","properties":{"computeType":"ComputeInstance","disableLocalAuth":false,"properties":{"vmSize":"STANDARD_DS3_V2","sshSettings":{"sshPublicAccess":"Enabled","adminPublicKey":"ssh-rsa AAAA"}}}}`, 201)
		s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
		wantError(t, "turning local auth off with SSH open", s.Do(t, "PATCH", ws+"/computes/ci2"+av, `{"properties":{"disableLocalAuth":true}}`), 400, "InvalidRequestContent", "", "sshSettings")
		r = s.put(t, ws+"/computes/vm2"+av, `{"location":"eastus","properties":{"computeType":"VirtualMachine","disableLocalAuth":true,"properties":{"administratorAccount":{"username":"azureuser"}}}}`, 201)
		s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
		wantError(t, "listKeys without local auth", s.Do(t, "POST", ws+"/computes/vm2/listKeys"+av, nil), 400, "OperationNotSupported", "", "Local authentication is disabled")
	})
}
