package armtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TestClientCertificates: an application's certificate (Graph's
// keyCredentials) signs client assertions that get tokens (RS256 with
// x5t, ES256 with x5t#S256), which RBAC decides as the application's;
// a wrong key, audience, issuer, or time range is refused, certificates
// mlgov cannot use are refused at upload, and removing the certificate
// refuses the tokens it got.
func TestClientCertificates(t *testing.T) {
	if len(loadBuiltins().roles) == 0 {
		t.Skip("the built-in roles are read from ../shared/corpus/rbac (absent)")
	}
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		admin := s.graphToken(t, s.ClientID, s.ClientSecret)
		ws := s.mustWorkspace(t, "rg1", "ws1")
		p := s.NewPrincipal(t, "cert-app")
		s.assignRole(t, ws, roleIDByName(t, s, "Reader"), p.ObjectID, "ServicePrincipal")
		apps := s.graph(t, admin, "GET", "/applications?"+url.Values{"$filter": {"appId eq '" + p.AppID + "'"}}.Encode(), nil, 200)["value"].([]any)
		appPath := "/applications/" + apps[0].(map[string]any)["id"].(string)

		now := time.Now()
		rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		rsaCert := SelfSigned(t, rsaKey, now.Add(-time.Hour), now.Add(24*time.Hour))
		ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecCert := SelfSigned(t, ecKey, now.Add(-time.Hour), now.Add(24*time.Hour))
		cred := func(der []byte) map[string]any {
			return map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(der), "displayName": "ci"}
		}
		// Certificates mlgov cannot use are refused, and nothing is kept.
		small, _ := rsa.GenerateKey(rand.Reader, 1024)
		for what, body := range map[string]map[string]any{
			"not base64":        {"type": "AsymmetricX509Cert", "usage": "Verify", "key": "***"},
			"not a certificate": {"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString([]byte("hello"))},
			"a 1024-bit key":    cred(SelfSigned(t, small, now.Add(-time.Hour), now.Add(time.Hour))),
			"an expired one":    cred(SelfSigned(t, rsaKey, now.Add(-48*time.Hour), now.Add(-24*time.Hour))),
			"usage Sign":        {"type": "AsymmetricX509Cert", "usage": "Sign", "key": base64.StdEncoding.EncodeToString(rsaCert)},
			"a kept unknown id": {"keyId": "00000000-0000-0000-0000-000000000001"},
		} {
			if m := s.graph(t, admin, "PATCH", appPath, map[string]any{"keyCredentials": []any{cred(rsaCert), body}}, 400); graphErrorCode(m) != "Request_BadRequest" {
				t.Errorf("%s: %v", what, m)
			}
		}
		if ks := s.graph(t, admin, "GET", appPath, nil, 200)["keyCredentials"].([]any); len(ks) != 0 {
			t.Fatalf("after refused PATCHes: %v", ks)
		}
		s.graph(t, admin, "PATCH", appPath, map[string]any{"keyCredentials": []any{cred(rsaCert), cred(ecCert)}}, 204)
		ks := s.graph(t, admin, "GET", appPath, nil, 200)["keyCredentials"].([]any)
		thumb := sha1.Sum(rsaCert)
		if len(ks) != 2 || ks[0].(map[string]any)["key"] != nil || !strings.EqualFold(ks[0].(map[string]any)["customKeyIdentifier"].(string), strings.ToUpper(hex.EncodeToString(thumb[:]))) {
			t.Fatalf("keyCredentials: %v", ks)
		}
		rsaKeyID, ecKeyID := ks[0].(map[string]any)["keyId"].(string), ks[1].(map[string]any)["keyId"].(string)

		endpoint := s.URL + "/" + s.TenantID + "/oauth2/v2.0/token"
		claims := func(change func(map[string]any)) map[string]any {
			c := map[string]any{"aud": endpoint, "iss": p.AppID, "sub": p.AppID, "jti": uuidV4(), "nbf": now.Unix() - 10, "exp": now.Add(10 * time.Minute).Unix()}
			if change != nil {
				change(c)
			}
			return c
		}
		signIn := func(a string) (int, map[string]any) {
			return s.postToken(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {p.AppID}, "scope": {"https://management.azure.com/.default"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}})
		}
		st, tok := signIn(ClientAssertion(t, rsaKey, jose.RS256, rsaCert, "x5t", claims(nil)))
		if st != 200 {
			t.Fatalf("RS256 assertion: %d %v", st, tok)
		}
		rsaToken := tok["access_token"].(string)
		if c := claimsOf(t, rsaToken); c["mlgov_cred"] != rsaKeyID || c["appid"] != p.AppID {
			t.Errorf("the token's claims: %v", c)
		}
		if r := s.DoAs(t, rsaToken, "GET", ws+av, ""); r.Status != 200 {
			t.Errorf("reading with the certificate's token: %d", r.Status)
		}
		st, tok = signIn(ClientAssertion(t, ecKey, jose.ES256, ecCert, "x5t#S256", claims(nil)))
		if st != 200 || claimsOf(t, tok["access_token"].(string))["mlgov_cred"] != ecKeyID {
			t.Fatalf("ES256 assertion: %d %v", st, tok)
		}
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		for what, c := range map[string]struct {
			a    string
			code string
		}{
			"another key":          {ClientAssertion(t, other, jose.RS256, rsaCert, "x5t", claims(nil)), "AADSTS700027"},
			"an unknown cert":      {ClientAssertion(t, other, jose.RS256, SelfSigned(t, other, now.Add(-time.Hour), now.Add(time.Hour)), "x5t", claims(nil)), "AADSTS700027"},
			"another audience":     {ClientAssertion(t, rsaKey, jose.RS256, rsaCert, "x5t", claims(func(m map[string]any) { m["aud"] = "https://login.microsoftonline.com/x/oauth2/v2.0/token" })), "AADSTS700021"},
			"another issuer":       {ClientAssertion(t, rsaKey, jose.RS256, rsaCert, "x5t", claims(func(m map[string]any) { m["iss"] = s.ClientID })), "AADSTS700023"},
			"expired":              {ClientAssertion(t, rsaKey, jose.RS256, rsaCert, "x5t", claims(func(m map[string]any) { m["exp"] = now.Add(-time.Hour).Unix() })), "AADSTS700024"},
			"two hours ahead":      {ClientAssertion(t, rsaKey, jose.RS256, rsaCert, "x5t", claims(func(m map[string]any) { m["exp"] = now.Add(2 * time.Hour).Unix() })), "AADSTS700024"},
			"not yet valid":        {ClientAssertion(t, rsaKey, jose.RS256, rsaCert, "x5t", claims(func(m map[string]any) { m["nbf"] = now.Add(time.Hour).Unix() })), "AADSTS700024"},
			"no exp":               {ClientAssertion(t, rsaKey, jose.RS256, rsaCert, "x5t", claims(func(m map[string]any) { delete(m, "exp") })), "AADSTS700024"},
			"the wrong hash named": {ClientAssertion(t, rsaKey, jose.RS256, ecCert, "x5t", claims(nil)), "AADSTS700027"},
		} {
			if st, m := signIn(c.a); st != 401 || errorCode(m) != c.code {
				t.Errorf("%s: %d %v", what, st, m)
			}
		}
		// The sign-in log names the certificate.
		found := false
		for _, v := range s.graph(t, admin, "GET", "/auditLogs/signIns", nil, 200)["value"].([]any) {
			e := v.(map[string]any)
			if e["clientCredentialType"] == "certificate" && e["servicePrincipalCredentialKeyId"] == rsaKeyID && e["status"].(map[string]any)["errorCode"] == float64(0) {
				found = true
			}
		}
		if !found {
			t.Error("no successful certificate sign-in in the log")
		}
		// Keeping the EC certificate only: the RSA one's token is refused.
		s.graph(t, admin, "PATCH", appPath, map[string]any{"keyCredentials": []any{map[string]any{"keyId": ecKeyID}}}, 204)
		if r := s.DoAs(t, rsaToken, "GET", ws+av, ""); r.Status != 401 {
			t.Errorf("a removed certificate's token: %d", r.Status)
		}
		if st, _ := signIn(ClientAssertion(t, ecKey, jose.ES256, ecCert, "x5t#S256", claims(nil))); st != 200 {
			t.Errorf("the kept certificate: %d", st)
		}
		// (The tenth failure of this client within a minute: the next
		// attempt would be throttled, as a secret's would.)
		if st, m := signIn(ClientAssertion(t, rsaKey, jose.RS256, rsaCert, "x5t", claims(nil))); st != 401 || errorCode(m) != "AADSTS700027" {
			t.Errorf("a removed certificate's assertion: %d %v", st, m)
		}
	})
}
