package armtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

// TestTokenAttacksHTTP: the token attacks through the real HTTPS
// server: each answered 401 with ARM's code and a WWW-Authenticate
// challenge; a burst of wrong secrets at the token endpoint is throttled
// (429, Retry-After) and every attempt is in the sign-in log. The
// table of every attack against Verify is authn's TestTokenAttacks.
func TestTokenAttacksHTTP(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mlgov.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := Start(t, st)
	// A second service on the same store changes the directory, as
	// another replica or the offline CLI would. The server has not seen
	// the principals it changes, so nothing of them is cached there.
	side := authn.New(st, authn.Config{Issuer: authn.IssuerAt(s.URL)})

	// The real signing key, from the store (the harness stores it plain).
	var kid string
	var priv *rsa.PrivateKey
	if err := st.Read(ctx, func(tx store.Tx) error {
		objs, err := tx.ListObjects(ctx, authn.KindSigningKey)
		if err != nil || len(objs) != 1 {
			t.Fatalf("signing keys: %d, %v", len(objs), err)
		}
		var rec struct {
			KID        string `json:"kid"`
			PrivateKey []byte `json:"privateKey"`
		}
		if err := json.Unmarshal(objs[0].Body, &rec); err != nil {
			return err
		}
		k, err := x509.ParsePKCS8PrivateKey(rec.PrivateKey)
		if err != nil {
			return err
		}
		kid, priv = rec.KID, k.(*rsa.PrivateKey)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	admin, err := side.ServicePrincipal(ctx, s.TenantID, s.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(mod func(map[string]any)) map[string]any {
		iss := authn.IssuerAt(s.URL)(s.TenantID)
		c := map[string]any{"aud": "https://management.azure.com/", "iss": iss, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"appid": s.ClientID, "azp": s.ClientID, "appidacr": "1", "idtyp": "app", "oid": admin.ObjectID, "sub": admin.ObjectID, "tid": s.TenantID,
			"ver": "1.0", authn.CredentialClaim: admin.PasswordCredentials[0].KeyID}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(alg jose.SignatureAlgorithm, key any, kid string, c map[string]any) string {
		payload, _ := json.Marshal(c)
		sg, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		o, err := sg.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := o.CompactSerialize()
		return tok
	}
	real := func(mod func(map[string]any)) string { return sign(jose.RS256, priv, kid, claims(mod)) }
	b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	tokenEndpoint := s.URL + "/" + s.TenantID + "/oauth2/v2.0/token"
	getToken := func(clientID, secret string) (int, http.Header, map[string]any) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {"https://management.azure.com/.default"}}
		resp, err := s.Client.Post(tokenEndpoint, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, resp.Header, m
	}
	tokenOf := func(name string) (*authn.ServicePrincipal, string) {
		sp, secret, err := side.CreateServicePrincipal(ctx, s.TenantID, name)
		if err != nil {
			t.Fatal(err)
		}
		st, _, m := getToken(sp.AppID, secret)
		tok, _ := m["access_token"].(string)
		if st != 200 || tok == "" {
			t.Fatalf("token for %s: %d %v", name, st, m)
		}
		return sp, tok
	}
	deleted, deletedToken := tokenOf("deleted")
	rotated, rotatedToken := tokenOf("rotated")
	if err := side.DeleteServicePrincipal(ctx, s.TenantID, deleted.AppID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := side.ResetClientSecret(ctx, s.TenantID, rotated.AppID, authn.SecretOptions{}); err != nil {
		t.Fatal(err)
	}

	list := "/subscriptions/" + s.SubscriptionID + "/resourcegroups?api-version=2021-04-01"
	call := func(tok string) *Response { return s.Do(t, "GET", list, nil, "Authorization", "Bearer "+tok) }
	if r := call(real(nil)); r.Status != 200 {
		t.Fatalf("control, a token signed with the real key: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct {
		name, token, code string
	}{
		{"alg none", b64(map[string]any{"alg": "none", "typ": "JWT"}) + "." + b64(claims(nil)) + ".", "InvalidAuthenticationToken"},
		{"HS256 keyed with the public key", sign(jose.HS256, pubPEM, kid, claims(nil)), "InvalidAuthenticationToken"},
		{"wrong key", sign(jose.RS256, foreign, kid, claims(nil)), "InvalidAuthenticationToken"},
		{"expired", real(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-3*time.Hour).Unix(), now.Add(-3*time.Hour).Unix(), now.Add(-2*time.Hour).Unix()
		}), "ExpiredAuthenticationToken"},
		{"not yet valid", real(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), "InvalidAuthenticationToken"},
		{"exp years ahead", real(func(c map[string]any) { c["exp"] = now.AddDate(3, 0, 0).Unix() }), "InvalidAuthenticationToken"},
		{"wrong audience", real(func(c map[string]any) { c["aud"] = "https://graph.microsoft.com" }), "InvalidAuthenticationTokenAudience"},
		{"wrong tenant", real(func(c map[string]any) { c["tid"] = "0d7c5e1a-aaaa-4bbb-8ccc-ddddeeeeffff" }), "InvalidAuthenticationTokenTenant"},
		{"unknown oid, real key", real(func(c map[string]any) { c["oid"] = "5f0b3c1e-7777-4888-9999-aaaabbbbcccc" }), "InvalidAuthenticationToken"},
		{"deleted principal", deletedToken, "InvalidAuthenticationToken"},
		{"rotated secret", rotatedToken, "InvalidAuthenticationToken"},
	} {
		r := call(tc.token)
		if r.Status != 401 || r.ErrorCode() != tc.code || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer authorization_uri=") {
			t.Errorf("%s: %d %s (WWW-Authenticate %q), want 401 %s; %s", tc.name, r.Status, r.ErrorCode(), r.Header.Get("WWW-Authenticate"), tc.code, r.Body)
		}
	}

	// A burst of wrong secrets for one client: ClientFailures 401s, then
	// 429 with Retry-After; the right secret is throttled too meanwhile.
	target, secret, err := side.CreateServicePrincipal(ctx, s.TenantID, "target")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range 15 {
		st, hdr, m := getToken(target.AppID, "wrong-"+strconv.Itoa(i))
		got = append(got, strconv.Itoa(st))
		if st == 429 {
			if ra, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || ra < 1 || ra > 60 || m["error"] != "temporarily_unavailable" {
				t.Errorf("429 with Retry-After %q, body %v", hdr.Get("Retry-After"), m)
			}
		}
	}
	if want := strings.Repeat("401 ", 10) + strings.TrimSpace(strings.Repeat("429 ", 5)); strings.Join(got, " ") != want {
		t.Errorf("burst answers %s\nwant %s", strings.Join(got, " "), want)
	}
	if st, _, _ := getToken(target.AppID, secret); st != 429 {
		t.Errorf("right secret within the throttled window: %d", st)
	}
	recs, err := side.SignIns(ctx, s.TenantID, authn.SignInQuery{AppID: target.AppID})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 16 || recs[0].IPAddress != "127.0.0.1" || recs[15].Status.ErrorCode != 50196 {
		t.Errorf("%d sign-in records, want 16: first %+v", len(recs), recs[0])
	}
}
