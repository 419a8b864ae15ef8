package armtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store/sqlite"
)

// BenchmarkScoreKeyCMK: the scoring gateway's key check of an online
// endpoint (the manager over SQLite, without HTTP), which opens the
// endpoint's sealed keys on every call: under the store's data key, and
// under a workspace's customer-managed key (the wrapped record and the
// key version's state read in the transaction, the RSA unwrap cached).
func BenchmarkScoreKeyCMK(b *testing.B) {
	for _, cmk := range []bool{false, true} {
		name := "store-key"
		if cmk {
			name = "customer-managed-key"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "mlgov.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			kek := make([]byte, 32)
			rand.Read(kek)
			dk, err := authn.LoadDataKey(ctx, st, kek)
			if err != nil {
				b.Fatal(err)
			}
			m := resources.New(st, resources.NewRegistry(), resources.Config{Now: func() time.Time { return time.Now().UTC() }, NewID: uuidV4,
				TenantID: "t", LROLatency: time.Hour, Sealer: dk})
			sub := uuidV4()
			if err := m.EnsureSubscription(ctx, sub, "bench"); err != nil {
				b.Fatal(err)
			}
			do := func(method, path, av, body string) *resources.Response {
				id, err := arm.ParseID(path)
				if err != nil {
					b.Fatal(err)
				}
				resp, err := m.Handle(ctx, &resources.Request{Method: method, Path: path, ID: id, APIVersion: av, Query: url.Values{}, Body: []byte(body),
					Caller: activitylog.Caller{Name: "bench", AppID: "bench"}})
				if err != nil {
					b.Fatalf("%s %s: %v", method, path, err)
				}
				return resp
			}
			rg := "/subscriptions/" + sub + "/resourceGroups/mlgov-bench"
			do("PUT", rg, "2021-04-01", `{"location":"eastus"}`)
			vault := rg + "/providers/Microsoft.KeyVault/vaults/kv1"
			do("PUT", vault, "2025-05-01", `{"location":"eastus","properties":{}}`)
			do("PUT", vault+"/keys/cmk", "2025-05-01", `{"properties":{"kty":"RSA","keySize":3072}}`)
			body := `{"location":"eastus"}`
			if cmk {
				body = `{"location":"eastus","properties":{"encryption":{"status":"Enabled","keyVaultProperties":{"keyVaultArmId":"` + vault + `","keyIdentifier":"https://kv1.vault.azure.net/keys/cmk"}}}}`
			}
			ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/ws1"
			do("PUT", ws, "2024-04-01", body)
			ep := ws + "/onlineEndpoints/ep1"
			do("PUT", ep, "2024-04-01", `{"location":"eastus","properties":{"authMode":"Key"}}`)
			do("POST", ep+"/regenerateKeys", "2024-04-01", `{"keyType":"Primary","keyValue":"bench-primary-key-0123456789"}`)
			id, _ := arm.ParseID(ep)
			b.ReportAllocs()
			for b.Loop() {
				// The key is checked first; an endpoint without deployments
				// then answers NoTraffic.
				if _, err := m.Score(ctx, resources.ScoreRequest{Endpoint: id, Bearer: "bench-primary-key-0123456789"}); err == nil || !strings.Contains(err.Error(), "NoTraffic") {
					b.Fatalf("Score: %v, want NoTraffic (the key accepted)", err)
				}
			}
		})
	}
}
