package armtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
)

const kvAV = "?api-version=2025-05-01"

// TestCustomerManagedKey: key rotation with a customer-managed key and
// nothing lost. A workspace created with a key of a vault mlgov holds
// seals its secrets and its children's (datastore and connection
// credentials, endpoint keys) under a data key of its own, wrapped by
// the vault key; rotating the key re-wraps it and every secret reads the
// same; disabling the key refuses the secrets (GETs still work) and
// enabling it again restores them exactly. Bad references are refused
// at create, a key in use cannot be deleted, and no GET or list of keys
// shows key material.
func TestCustomerManagedKey(t *testing.T) {
	eachBackend(t, nil, testCustomerManagedKey)
}

func testCustomerManagedKey(t *testing.T, s *Server) {
	ctx := context.Background()
	mustCreateRG(t, s, "rg")
	vault := s.RG("rg") + "/providers/Microsoft.KeyVault/vaults/kv1"
	s.put(t, vault+kvAV, `{"location":"eastus","properties":{"tenantId":"`+s.TenantID+`","sku":{"family":"A","name":"standard"}}}`, 201)
	key := vault + "/keys/cmk"
	k := s.put(t, key+kvAV, `{"properties":{"kty":"RSA","keySize":2048}}`, 201).JSON()
	kp := k["properties"].(map[string]any)
	v1 := kp["keyUriWithVersion"].(string)
	if kp["keyUri"] != "https://kv1.vault.azure.net/keys/cmk" || !strings.HasPrefix(v1, "https://kv1.vault.azure.net/keys/cmk/") || k["location"] != "eastus" {
		t.Fatalf("key: %v", k)
	}
	// The same key again changes nothing (ARM's CreateIfNotExist); another
	// size is refused; EC is not held.
	if again := s.put(t, key+kvAV, `{"properties":{"kty":"RSA","keySize":2048}}`, 200).JSON(); again["properties"].(map[string]any)["keyUriWithVersion"] != v1 {
		t.Errorf("a second PUT made a version: %v", again)
	}
	wantError(t, "PUT of another size", s.Do(t, "PUT", key+kvAV, `{"properties":{"kty":"RSA","keySize":4096}}`), 409, "Conflict", "", "rotate")
	wantError(t, "an EC key", s.Do(t, "PUT", vault+"/keys/ec"+kvAV, `{"properties":{"kty":"EC","curveName":"P-256"}}`), 400, "InvalidRequestContent", "properties.curveName", "RSA")

	// Bad references are refused at create, naming what is wrong.
	ws := wsPath(s, "rg", "ws1")
	enc := func(vaultID, kid string) string {
		return `{"location":"eastus","properties":{"encryption":{"status":"Enabled","keyVaultProperties":{"keyVaultArmId":"` + vaultID + `","keyIdentifier":"` + kid + `"}}}}`
	}
	wantError(t, "a missing vault", s.Do(t, "PUT", wsPath(s, "rg", "bad1")+av, enc(s.RG("rg")+"/providers/Microsoft.KeyVault/vaults/nope", "https://nope.vault.azure.net/keys/cmk")),
		400, "KeyVaultNotFound", "properties.encryption.keyVaultProperties.keyVaultArmId", "nope")
	wantError(t, "a missing key", s.Do(t, "PUT", wsPath(s, "rg", "bad2")+av, enc(vault, "https://kv1.vault.azure.net/keys/other")),
		400, "KeyVaultKeyNotFound", "properties.encryption.keyVaultProperties.keyIdentifier", "other")
	wantError(t, "a key of another vault's host", s.Do(t, "PUT", wsPath(s, "rg", "bad3")+av, enc(vault, "https://kv2.vault.azure.net/keys/cmk")),
		400, "InvalidKeyIdentifier", "properties.encryption.keyVaultProperties.keyIdentifier", "kv1.vault.azure.net")
	wantError(t, "a missing version", s.Do(t, "PUT", wsPath(s, "rg", "bad4")+av, enc(vault, "https://kv1.vault.azure.net/keys/cmk/0123")),
		400, "KeyVaultKeyNotFound", "", "0123")
	s.put(t, vault+"/keys/signonly"+kvAV, `{"properties":{"kty":"RSA","keyOps":["sign","verify"]}}`, 201)
	wantError(t, "a key that cannot wrap", s.Do(t, "PUT", wsPath(s, "rg", "bad5")+av, enc(vault, "https://kv1.vault.azure.net/keys/signonly")),
		400, "KeyVaultKeyOperationsNotAllowed", "properties.encryption.keyVaultProperties.keyIdentifier", "wrapKey")
	for _, n := range []string{"bad1", "bad2", "bad3", "bad4", "bad5"} {
		if r := s.Do(t, "GET", wsPath(s, "rg", n)+av, nil); r.Status != 404 {
			t.Errorf("refused workspace %s was written: %d", n, r.Status)
		}
	}

	// The CMK workspace and secrets under it.
	r := s.put(t, ws+av, enc(vault, "https://kv1.vault.azure.net/keys/cmk"), 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	plainWS := s.mustWorkspace(t, "rg", "plain")
	ds := ws + "/datastores/blob1"
	s.put(t, ds+av, `{"properties":{"datastoreType":"AzureBlob","accountName":"sa1","containerName":"c","credentials":{"credentialsType":"AccountKey","secrets":{"secretsType":"AccountKey","key":"ds-s3cret"}}}}`, 201)
	cn := ws + "/connections/git1"
	s.put(t, cn+av, `{"properties":{"category":"Git","target":"https://github.com/contoso/repo","authType":"PAT","credentials":{"pat":"ghp_cmkS3cret"}}}`, 200)
	ep := ws + "/onlineEndpoints/ep1"
	r = s.put(t, ep+av, `{"location":"eastus","properties":{"authMode":"Key"}}`, 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	s.post(t, ep+"/regenerateKeys", `{"keyType":"Primary","keyValue":"ep-primary-s3cret-0123456789"}`, 200)
	plainEP := plainWS + "/onlineEndpoints/ep1"
	r = s.put(t, plainEP+av, `{"location":"eastus","properties":{"authMode":"Key"}}`, 201)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	read := func() map[string]any {
		return map[string]any{"ds": s.post(t, ds+"/listSecrets", "", 200), "cn": s.post(t, cn+"/listsecrets", "", 200),
			"ep": s.post(t, ep+"/listKeys", "", 200), "ws": s.post(t, ws+"/listKeys", "", 200), "plain": s.post(t, plainEP+"/listKeys", "", 200)}
	}
	before := read()
	if before["ds"].(map[string]any)["key"] != "ds-s3cret" || before["ep"].(map[string]any)["primaryKey"] != "ep-primary-s3cret-0123456789" {
		t.Fatalf("secrets: %v", before)
	}

	// At rest: nothing plain; the CMK workspace's secrets name its data key,
	// the other workspace's the store's; the wrapped key names version 1.
	wsRec := func() map[string]any {
		var rec map[string]any
		if err := s.Store.Read(ctx, func(tx store.Tx) error {
			o, err := tx.GetObject(ctx, resources.KindWorkspaceKey, strings.ToLower(ws))
			if err != nil {
				return err
			}
			return json.Unmarshal(o.Body, &rec)
		}); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	rec1 := wsRec()
	if rec1["version"] != v1[strings.LastIndexByte(v1, '/')+1:] || rec1["pinned"] != false {
		t.Errorf("wrapped key record %v, want version of %s", rec1, v1)
	}
	storeKeyID := ""
	raw := map[string][]byte{}
	if err := s.Store.Read(ctx, func(tx store.Tx) error {
		os, err := tx.ListObjects(ctx, resources.KindSecrets)
		for _, o := range os {
			raw[o.Key] = o.Body
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for k, b := range raw {
		for _, plain := range []string{"ds-s3cret", "ghp_cmkS3cret", "ep-primary-s3cret", "PRIVATE KEY"} {
			if strings.Contains(string(b), plain) {
				t.Errorf("stored secrets of %s hold %q", k, plain)
			}
		}
		id, err := authn.SealedKeyID(b)
		if err != nil {
			t.Errorf("secrets of %s not sealed: %v", k, err)
			continue
		}
		switch {
		case strings.HasPrefix(k, strings.ToLower(ws)+"/") || k == strings.ToLower(ws):
			if id != rec1["id"] {
				t.Errorf("secrets of %s sealed under %s, want the workspace key %s", k, id, rec1["id"])
			}
		case storeKeyID == "":
			storeKeyID = id
			fallthrough
		default:
			if id != storeKeyID || strings.HasPrefix(id, "cmk-") {
				t.Errorf("secrets of %s sealed under %s, want the store key", k, id)
			}
		}
	}
	for _, k := range []string{ds, cn, ep, ws} {
		if _, ok := raw[strings.ToLower(k)]; !ok {
			t.Errorf("no stored secrets for %s", k)
		}
	}

	// Rotation: a new version, the data key re-wrapped with it, every
	// secret the same.
	rr := s.Do(t, "POST", key+"/rotate"+kvAV, nil)
	if rr.Status != 200 {
		t.Fatalf("rotate: %d %s", rr.Status, rr.Body)
	}
	rot := rr.JSON()
	v2 := rot["properties"].(map[string]any)["keyUriWithVersion"].(string)
	if v2 == v1 {
		t.Fatalf("rotate made no version: %v", rot)
	}
	rec2 := wsRec()
	if rec2["version"] != v2[strings.LastIndexByte(v2, '/')+1:] || rec2["wrapped"] == rec1["wrapped"] || rec2["id"] != rec1["id"] {
		t.Errorf("after rotation the record is %v (was %v), want version of %s, rewrapped, same data key", rec2, rec1, v2)
	}
	if after := read(); !equalJSON(before, after) {
		t.Errorf("secrets changed by the rotation:\n%v\n%v", before, after)
	}
	if vs := s.Do(t, "GET", key+"/versions"+kvAV, nil); vs.Status != 200 || len(vs.JSON()["value"].([]any)) != 2 {
		t.Errorf("versions: %d %s", vs.Status, vs.Body)
	}

	// Revocation: the key disabled refuses secrets, on reads and writes,
	// names the key, leaves GETs; enabled again, all is as it was.
	s.put(t, key+kvAV, `{"properties":{"kty":"RSA","keySize":2048,"attributes":{"enabled":false}}}`, 200)
	wantError(t, "listKeys while revoked", s.Do(t, "POST", ep+"/listKeys"+av, nil), 409, "KeyVaultKeyDisabled", "", "ws1", "disabled")
	wantError(t, "listSecrets while revoked", s.Do(t, "POST", ds+"/listSecrets"+av, nil), 409, "KeyVaultKeyDisabled", "", "ws1")
	wantError(t, "a datastore written while revoked", s.Do(t, "PUT", ws+"/datastores/blob2"+av,
		`{"properties":{"datastoreType":"AzureBlob","accountName":"sa1","containerName":"c","credentials":{"credentialsType":"AccountKey","secrets":{"secretsType":"AccountKey","key":"new-s3cret"}}}}`), 409, "KeyVaultKeyDisabled", "")
	if r := s.Do(t, "GET", ws+"/datastores/blob2"+av, nil); r.Status != 404 {
		t.Errorf("the datastore refused while revoked was written: %d", r.Status)
	}
	wantError(t, "rotating a disabled key", s.Do(t, "POST", key+"/rotate"+kvAV, nil), 409, "KeyVaultKeyDisabled", "")
	for _, p := range []string{ws, ds, cn, ep} {
		if r := s.Do(t, "GET", p+av, nil); r.Status != 200 {
			t.Errorf("GET %s while revoked: %d %s", p, r.Status, r.Body)
		}
	}
	if got := s.post(t, plainEP+"/listKeys", "", 200); !equalJSON(got, before["plain"]) {
		t.Errorf("a workspace without CMK is affected by the revocation: %v", got)
	}
	s.put(t, key+kvAV, `{"properties":{"attributes":{"enabled":true}}}`, 200)
	if after := read(); !equalJSON(before, after) {
		t.Errorf("secrets after re-enabling:\n%v\n%v", before, after)
	}

	// A key in use is not deleted (its workspace's secrets would be lost),
	// nor its vault; the versions are read-only.
	wantError(t, "deleting the key", s.Do(t, "DELETE", key+kvAV, nil), 409, "KeyVaultKeyInUse", "", "ws1")
	wantError(t, "deleting the vault", s.Do(t, "DELETE", vault+kvAV, nil), 409, "KeyVaultKeyInUse", "", "ws1")
	wantError(t, "writing a version", s.Do(t, "PUT", key+"/versions/x"+kvAV, `{"properties":{}}`), 400, "OperationNotSupported", "")
	// Encryption is chosen at create.
	wantError(t, "turning CMK off", s.Do(t, "PUT", ws+av, `{"location":"eastus","properties":{"encryption":{"status":"Disabled"}}}`), 400, "InvalidEncryptionChange", "properties.encryption")
	wantError(t, "turning CMK on later", s.Do(t, "PUT", plainWS+av, enc(vault, "https://kv1.vault.azure.net/keys/cmk")), 400, "InvalidEncryptionChange", "properties.encryption")

	// Pinning a version (the first) re-wraps with it; the secrets stay.
	r = s.put(t, ws+av, enc(vault, v1), 200)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	if rec3 := wsRec(); rec3["version"] != rec1["version"] || rec3["pinned"] != true {
		t.Errorf("after pinning version 1: %v", rec3)
	}
	if after := read(); !equalJSON(before, after) {
		t.Errorf("secrets after pinning:\n%v\n%v", before, after)
	}

	// No key material in any GET or list of keys.
	for _, p := range []string{key, vault + "/keys", key + "/versions"} {
		body := string(s.Do(t, "GET", p+kvAV, nil).Body)
		for _, bad := range []string{"versions\":{", "MII", "PRIVATE", "\"d\":", "\"key\":"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s shows %q: %.300s", p, bad, body)
			}
		}
	}
	// The workspace deleted, its key can go.
	r = s.Do(t, "DELETE", ws+av, nil)
	s.WaitLRO(t, r.Header.Get("Azure-AsyncOperation"))
	if r := s.Do(t, "DELETE", key+kvAV, nil); r.Status != 200 {
		t.Errorf("deleting the key after its workspace: %d %s", r.Status, r.Body)
	}
}
