package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestDeviceCodeGrantNames: the token endpoint redeems a device code
// under RFC 8628's grant type and under "device_code", the name
// @azure/msal-node 7 (and so @azure/identity's DeviceCodeCredential)
// polls with (msal-common's GrantType.DEVICE_CODE_GRANT); Entra takes
// both. Before the fix MSAL's first poll got unsupported_grant_type and
// DeviceCodeCredential failed with "post_request_failed". (The approval
// and the redemption under both names: internal/armtest's
// TestDeviceCodeGrantMSALName, on the real stores.)
func TestDeviceCodeGrantNames(t *testing.T) {
	const azureCLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	for _, grant := range []string{"urn:ietf:params:oauth:grant-type:device_code", "device_code"} {
		t.Run(grant, func(t *testing.T) {
			f := newFixture(t)
			r := httptest.NewRequest(http.MethodPost, base+"/"+f.tenant.ID+"/oauth2/v2.0/devicecode",
				strings.NewReader(url.Values{"client_id": {azureCLI}, "scope": {armScope + " openid profile offline_access"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := do(f.h, r)
			var dc struct{ UserCode, DeviceCode string }
			var raw map[string]any
			json.Unmarshal(w.Body.Bytes(), &raw)
			dc.UserCode, _ = raw["user_code"].(string)
			dc.DeviceCode, _ = raw["device_code"].(string)
			if w.Code != 200 || dc.DeviceCode == "" {
				t.Fatalf("devicecode: %d %s", w.Code, w.Body)
			}
			// The form MSAL posts (extras it adds included).
			poll := url.Values{"grant_type": {grant}, "client_id": {azureCLI}, "device_code": {dc.DeviceCode},
				"scope": {armScope + " openid profile offline_access"}, "client_info": {"1"}, "client-request-id": {"6b5c4c4e-0d1f-4e0a-9d54-1f2a3b4c5d6e"},
				"x-client-SKU": {"msal.js.node"}, "x-ms-lib-capability": {"retry-after, h429"}}
			w = do(f.h, tokenRequest(f.tenant.ID, poll))
			var e errorBody
			json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != 400 || e.Error != "authorization_pending" {
				t.Fatalf("polling before approval: %d %s", w.Code, w.Body)
			}

			// An unknown device code under the same name: the device
			// grant's own refusal, not an unsupported grant type.
			bad := url.Values{"grant_type": {grant}, "client_id": {azureCLI}, "device_code": {dc.UserCode + ".wrong"}}
			w = do(f.h, tokenRequest(f.tenant.ID, bad))
			e = errorBody{}
			json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != 400 || e.Error != "invalid_grant" {
				t.Errorf("a wrong device code: %d %s", w.Code, w.Body)
			}
		})
	}
	// Other short names stay unsupported.
	f := newFixture(t)
	w := do(f.h, tokenRequest(f.tenant.ID, url.Values{"grant_type": {"devicecode"}, "client_id": {azureCLI}, "device_code": {"x"}}))
	var e errorBody
	json.Unmarshal(w.Body.Bytes(), &e)
	if w.Code != 400 || e.Error != "unsupported_grant_type" {
		t.Errorf("grant_type devicecode: %d %s", w.Code, w.Body)
	}
}
