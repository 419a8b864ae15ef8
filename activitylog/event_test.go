package activitylog

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// referenceEventBody is the map-based encoding Event used before it
// encoded a struct: the event JSON must stay byte for byte the same.
func referenceEventBody(op Op, status Status, httpStatus int, eventID string, at time.Time, properties map[string]string) []byte {
	level := "Informational"
	if status == Failed {
		level = "Error"
	}
	eventName := "EndRequest"
	if status == Started {
		eventName = "BeginRequest"
	}
	sub, subLocalized := "", ""
	if httpStatus != 0 {
		sub = subStatusText[httpStatus]
		subLocalized = fmt.Sprintf("%s (HTTP Status Code: %d)", sub, httpStatus)
	}
	provider := op.ResourceType
	if i := strings.IndexByte(provider, '/'); i > 0 {
		provider = provider[:i]
	}
	props := map[string]any{}
	for k, v := range properties {
		props[k] = v
	}
	if httpStatus != 0 {
		props["statusCode"] = sub
	}
	ts := at.UTC()
	claims := map[string]any{}
	if len(op.Caller.Claims) > 0 {
		if err := json.Unmarshal(op.Caller.Claims, &claims); err != nil {
			panic(err)
		}
	}
	body := map[string]any{
		"authorization":        map[string]any{"action": op.OperationName, "scope": op.ResourceID},
		"caller":               op.Caller.Name,
		"channels":             "Operation",
		"claims":               claims,
		"correlationId":        op.CorrelationID,
		"description":          "",
		"eventDataId":          eventID,
		"eventName":            map[string]any{"value": eventName, "localizedValue": map[string]string{"BeginRequest": "Begin request", "EndRequest": "End request"}[eventName]},
		"category":             map[string]any{"value": "Administrative", "localizedValue": "Administrative"},
		"eventTimestamp":       ts.Format("2006-01-02T15:04:05.0000000Z"),
		"httpRequest":          map[string]any{"clientRequestId": op.ClientRequestID, "clientIpAddress": op.ClientIP, "method": op.Method},
		"id":                   fmt.Sprintf("%s/events/%s/ticks/%d", op.ResourceID, eventID, ts.UnixNano()/100+621355968000000000),
		"level":                level,
		"operationId":          op.OperationID,
		"operationName":        map[string]any{"value": op.OperationName, "localizedValue": op.OperationName},
		"resourceGroupName":    op.ResourceGroup,
		"resourceProviderName": map[string]any{"value": provider, "localizedValue": provider},
		"resourceType":         map[string]any{"value": op.ResourceType, "localizedValue": op.ResourceType},
		"resourceId":           op.ResourceID,
		"status":               map[string]any{"value": string(status), "localizedValue": string(status)},
		"subStatus":            map[string]any{"value": sub, "localizedValue": subLocalized},
		"submissionTimestamp":  ts.Format("2006-01-02T15:04:05.0000000Z"),
		"subscriptionId":       op.SubscriptionID,
		"tenantId":             op.Caller.TenantID,
		"properties":           props,
		"relatedEvents":        []any{},
	}
	b, _ := json.Marshal(body)
	return b
}

// TestEventBodyEncoding: Event's JSON equals the sorted-map encoding for
// every status, with and without claims and properties, and with strings
// that need escaping.
func TestEventBodyEncoding(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456700, time.FixedZone("x", 3600))
	ops := []Op{
		{},
		{
			OperationName: "Microsoft.MachineLearningServices/workspaces/computes/write",
			ResourceID:    "/subscriptions/s/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c",
			ResourceType:  "Microsoft.MachineLearningServices/workspaces/computes", SubscriptionID: "S", ResourceGroup: "RG",
			CorrelationID: "Corr", OperationID: "op", Method: "PUT", ClientRequestID: "cr", ClientIP: "127.0.0.1",
			Caller: Caller{Name: "app", ObjectID: "oid", TenantID: "tid", AppID: "app", Type: "ServicePrincipal",
				Claims: claimsJSON(map[string]any{"aud": "https://management.azure.com", "exp": 1.795e9, "roles": []any{"a", "b"}, "idtyp": "app", "ver": "1.0"})},
		},
		{
			OperationName: `weird/<&>"\` + "\u2028\x01/action", ResourceID: "/x/é/\U0001F600", ResourceType: "NoSlash",
			Method: "POST", Caller: Caller{Name: "<b>", Claims: claimsJSON(map[string]any{"z": nil, "a": map[string]any{"k": true}})},
		},
	}
	props := []map[string]string{nil, {}, {"statusMessage": `{"error":{"code":"X","message":"<m>"}}`, "statusCode": "overridden"}}
	cases := []struct {
		status Status
		http   int
	}{{Started, 0}, {Accepted, 201}, {Accepted, 202}, {Succeeded, 200}, {Succeeded, 204}, {Failed, 403}, {Failed, 500}, {Failed, 418}}
	for i, op := range ops {
		for j, p := range props {
			for _, c := range cases {
				got := Event(op, c.status, c.http, "ev-1", at, p).Body
				want := referenceEventBody(op, c.status, c.http, "ev-1", at, p)
				if string(got) != string(want) {
					t.Errorf("op %d props %d %s %d:\n got %s\nwant %s", i, j, c.status, c.http, got, want)
				}
			}
		}
	}
}

func BenchmarkEvent(b *testing.B) {
	op := Op{OperationName: "Microsoft.MachineLearningServices/workspaces/computes/write",
		ResourceID:   "/subscriptions/s/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c",
		ResourceType: "Microsoft.MachineLearningServices/workspaces/computes", SubscriptionID: "S", ResourceGroup: "RG",
		Caller: Caller{Name: "app", Claims: claimsJSON(map[string]any{"aud": "https://management.azure.com", "exp": 1.795e9, "idtyp": "app", "ver": "1.0",
			"iss": "https://127.0.0.1:8443/t/v2.0", "oid": "f5ba8f1a-7131-4fad-80f0-f1071049f6c3", "tid": "2ad38d83-4498-406c-a8bf-fea7dcbd71fc"})}}
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		Event(op, Accepted, 201, "ev", at, nil)
	}
}

func claimsJSON(m map[string]any) json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}
