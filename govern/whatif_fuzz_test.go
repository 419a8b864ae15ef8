package govern

import (
	"testing"

	"github.com/mlgov/mlgov/arm"
)

// FuzzCheckRestrictionsRequest: any body is either refused with an
// *arm.Error naming its problem or placed as a resource under the scope,
// never a panic (parseRestrictions, candidate).
func FuzzCheckRestrictionsRequest(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `[]`, `{"resourceDetails":null}`,
		`{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces","name":"w"},"apiVersion":"2024-04-01"},"pendingFields":[{"field":"location","values":["eastus"]},{"field":"tags"}],"includeAuditEffect":true,"mlgov.whatIf":true}`,
		`{"resourceDetails":{"resourceContent":{"type":"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments","name":"e/d"},"scope":"/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"}}`,
		`{"resourceDetails":{"resourceContent":{"type":"a/","name":"x/y/z"}}}`,
		`{"resourceDetails":{"resourceContent":{"type":"a//b"}},"pendingFields":[{"values":[1]},7]}`,
	} {
		f.Add([]byte(s))
	}
	scope, err := arm.ParseID("/subscriptions/s/resourceGroups/g")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseRestrictions(body, scope)
		if err != nil {
			if _, ok := err.(*arm.Error); !ok {
				t.Fatalf("not an ARM error: %T %v", err, err)
			}
			return
		}
		id, obj, err := candidate(req)
		if err != nil {
			if _, ok := err.(*arm.Error); !ok {
				t.Fatalf("not an ARM error: %T %v", err, err)
			}
			return
		}
		if !id.IsResource() || obj.Field("id").Str() != id.String() {
			t.Fatalf("placed as %v with id %q", id, obj.Field("id").Str())
		}
	})
}
