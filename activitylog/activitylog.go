// Package activitylog builds Azure activity-log events (EventData, the
// Administrative category) for writes, deletes and actions, and parses the
// $filter of the activity-log query API into a store.EventQuery.
//
// It imports the standard library, arm and store (interfaces only).
package activitylog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/odata"
	"github.com/mlgov/mlgov/store"
)

// Caller identifies who made a request.
type Caller struct {
	Name     string // UPN for users, else the application id
	ObjectID string
	TenantID string
	AppID    string
	Type     string // User, ServicePrincipal, ManagedIdentity
	// Claims are the claims of the caller's token as a JSON object,
	// encoded once per token rather than once per event (nil: none).
	Claims json.RawMessage
	// Groups are the groups the caller's token names (a federated
	// issuer's groups claim), besides those of the directory.
	Groups []string `json:"-"`
}

// Op describes one operation (write, delete or action) for its events.
type Op struct {
	OperationName   string // e.g. Microsoft.MachineLearningServices/workspaces/write
	ResourceID      string // as the caller wrote it
	ResourceType    string
	SubscriptionID  string
	ResourceGroup   string
	CorrelationID   string
	OperationID     string
	Method          string
	ClientRequestID string
	ClientIP        string
	Caller          Caller
}

// Status of an event.
type Status string

// Statuses.
const (
	Started   Status = "Started"
	Accepted  Status = "Accepted"
	Succeeded Status = "Succeeded"
	Failed    Status = "Failed"
)

var subStatusText = map[int]string{
	200: "OK", 201: "Created", 202: "Accepted", 204: "NoContent", 400: "BadRequest", 401: "Unauthorized",
	403: "Forbidden", 404: "NotFound", 409: "Conflict", 412: "PreconditionFailed", 413: "RequestEntityTooLarge",
	500: "InternalServerError",
}

// eventData is the JSON of an event. Its fields are in the order of their
// names, so that it encodes exactly as the same data in a map would (sorted
// keys), only faster: events are built inside write transactions.
type eventData struct {
	Authorization struct {
		Action string `json:"action"`
		Scope  string `json:"scope"`
	} `json:"authorization"`
	Caller         string          `json:"caller"`
	Category       localized       `json:"category"`
	Channels       string          `json:"channels"`
	Claims         json.RawMessage `json:"claims"`
	CorrelationID  string          `json:"correlationId"`
	Description    string          `json:"description"`
	EventDataID    string          `json:"eventDataId"`
	EventName      localized       `json:"eventName"`
	EventTimestamp string          `json:"eventTimestamp"`
	HTTPRequest    struct {
		ClientIPAddress string `json:"clientIpAddress"`
		ClientRequestID string `json:"clientRequestId"`
		Method          string `json:"method"`
	} `json:"httpRequest"`
	ID                   string         `json:"id"`
	Level                string         `json:"level"`
	OperationID          string         `json:"operationId"`
	OperationName        localized      `json:"operationName"`
	Properties           map[string]any `json:"properties"`
	RelatedEvents        []any          `json:"relatedEvents"`
	ResourceGroupName    string         `json:"resourceGroupName"`
	ResourceID           string         `json:"resourceId"`
	ResourceProviderName localized      `json:"resourceProviderName"`
	ResourceType         localized      `json:"resourceType"`
	Status               localized      `json:"status"`
	SubStatus            localized      `json:"subStatus"`
	SubmissionTimestamp  string         `json:"submissionTimestamp"`
	SubscriptionID       string         `json:"subscriptionId"`
	TenantID             string         `json:"tenantId"`
}

type localized struct {
	LocalizedValue string `json:"localizedValue"`
	Value          string `json:"value"`
}

// Event builds one Administrative event. httpStatus is 0 for the start
// event.
func Event(op Op, status Status, httpStatus int, eventID string, at time.Time, properties map[string]string) *store.Event {
	level := "Informational"
	if status == Failed {
		level = "Error"
	}
	props := make(map[string]any, len(properties)+1)
	for k, v := range properties {
		props[k] = v
	}
	return build(op, op.OperationName, "Administrative", level, status, httpStatus, eventID, at, props)
}

// PolicyEvent builds a Policy-category event: an effect (audit, deny,
// modify, append, denyAction, ...) applied to the request op (whose
// OperationName is the triggering action, authorization.action).
// policies is the JSON array of the policies that had the effect
// ({policyDefinitionId, policyAssignmentId, ...}), stored as a JSON
// string in properties.policies as Azure does. Audit events are level
// Warning, deny events Error and Failed, the others Informational.
func PolicyEvent(op Op, effect string, policies []byte, resourceLocation, eventID string, at time.Time) *store.Event {
	level, status := "Informational", Succeeded
	switch strings.ToLower(effect) {
	case "audit", "auditifnotexists":
		level = "Warning"
	case "deny", "denyaction":
		level, status = "Error", Failed
	}
	props := map[string]any{
		"isComplianceCheck": "False",
		"resourceLocation":  resourceLocation,
		"ancestors":         "",
		"policies":          string(policies),
	}
	return build(op, "Microsoft.Authorization/policies/"+effect+"/action", "Policy", level, status, 0, eventID, at, props)
}

func build(op Op, operationName, category, level string, status Status, httpStatus int, eventID string, at time.Time, props map[string]any) *store.Event {
	eventName := "EndRequest"
	if status == Started {
		eventName = "BeginRequest"
	}
	sub := ""
	subLocalized := ""
	if httpStatus != 0 {
		sub = subStatusText[httpStatus]
		subLocalized = fmt.Sprintf("%s (HTTP Status Code: %d)", sub, httpStatus)
	}
	provider := op.ResourceType
	if i := strings.IndexByte(provider, '/'); i > 0 {
		provider = provider[:i]
	}
	if httpStatus != 0 {
		props["statusCode"] = sub
	}
	ts := at.UTC()
	claims := op.Caller.Claims
	if len(claims) == 0 {
		claims = json.RawMessage(`{}`)
	}
	stamp := ts.Format("2006-01-02T15:04:05.0000000Z")
	body := eventData{
		Caller:               op.Caller.Name,
		Category:             localized{category, category},
		Channels:             "Operation",
		Claims:               claims,
		CorrelationID:        op.CorrelationID,
		EventDataID:          eventID,
		EventName:            localized{map[string]string{"BeginRequest": "Begin request", "EndRequest": "End request"}[eventName], eventName},
		EventTimestamp:       stamp,
		ID:                   op.ResourceID + "/events/" + eventID + "/ticks/" + strconv.FormatInt(ts.UnixNano()/100+621355968000000000, 10),
		Level:                level,
		OperationID:          op.OperationID,
		OperationName:        localized{operationName, operationName},
		Properties:           props,
		RelatedEvents:        []any{},
		ResourceGroupName:    op.ResourceGroup,
		ResourceID:           op.ResourceID,
		ResourceProviderName: localized{provider, provider},
		ResourceType:         localized{op.ResourceType, op.ResourceType},
		Status:               localized{string(status), string(status)},
		SubStatus:            localized{subLocalized, sub},
		SubmissionTimestamp:  stamp,
		SubscriptionID:       op.SubscriptionID,
		TenantID:             op.Caller.TenantID,
	}
	body.Authorization.Action, body.Authorization.Scope = op.OperationName, op.ResourceID
	body.HTTPRequest.ClientIPAddress, body.HTTPRequest.ClientRequestID, body.HTTPRequest.Method = op.ClientIP, op.ClientRequestID, op.Method
	b, _ := json.Marshal(&body)
	return &store.Event{
		ID:              eventID,
		SubscriptionKey: arm.KeyOf(op.SubscriptionID),
		Timestamp:       ts,
		ResourceGroup:   arm.KeyOf(op.ResourceGroup),
		ResourceKey:     arm.KeyOf(op.ResourceID),
		CorrelationID:   arm.KeyOf(op.CorrelationID),
		OperationID:     op.OperationID,
		Body:            b,
	}
}

// ParseFilter parses the activity-log $filter: clauses joined by "and":
// eventTimestamp ge|le|gt|lt '<time>', resourceGroupName eq '<rg>',
// resourceUri|resourceId eq '<id>', correlationId eq '<id>'. Errors are
// *arm.Error with code InvalidFilter.
func ParseFilter(filter string, q *store.EventQuery) error {
	f := strings.TrimSpace(filter)
	if f == "" {
		return nil
	}
	seen := map[string]bool{}
	for _, clause := range odata.SplitAnd(f) {
		parts := strings.Fields(clause)
		if len(parts) < 3 {
			return arm.Errorf("InvalidFilter", "The $filter clause '%s' is not valid: expected '<field> <operator> '<value>''.", arm.Clip(clause, 100))
		}
		field, op := strings.ToLower(parts[0]), strings.ToLower(parts[1])
		raw := strings.TrimSpace(clause[strings.Index(clause, parts[1])+len(parts[1]):])
		if len(raw) < 2 || raw[0] != '\'' || raw[len(raw)-1] != '\'' {
			return arm.Errorf("InvalidFilter", "The value in the $filter clause '%s' must be quoted with single quotes.", arm.Clip(clause, 100))
		}
		val, ok := unquote(raw[1 : len(raw)-1])
		if !ok {
			return arm.Errorf("InvalidFilter", "The value in the $filter clause '%s' has a single quote that is not doubled ('').", arm.Clip(clause, 100))
		}
		// Each field (each end of the time range) at most once: a second
		// value would silently replace the first.
		slot := field
		if field == "eventtimestamp" {
			slot += map[string]string{"ge": " from", "gt": " from", "le": " to", "lt": " to"}[op]
		}
		if field == "resourceid" {
			slot = "resourceuri"
		}
		if seen[slot] {
			return arm.Errorf("InvalidFilter", "The $filter gives '%s' more than once; each condition may appear once.", arm.Clip(clause, 100))
		}
		seen[slot] = true
		switch field {
		case "eventtimestamp":
			t, err := time.Parse(time.RFC3339Nano, val)
			if err != nil {
				return arm.Errorf("InvalidFilter", "The eventTimestamp '%s' in $filter is not an ISO 8601 date-time.", arm.Clip(val, 100))
			}
			switch op {
			case "ge":
				q.From = t
			case "gt":
				q.From = t.Add(time.Nanosecond)
			case "le":
				q.To = t
			case "lt":
				q.To = t.Add(-time.Nanosecond)
			default:
				return arm.Errorf("InvalidFilter", "eventTimestamp supports ge, gt, le and lt, not '%s'.", parts[1])
			}
		case "resourcegroupname", "resourceuri", "resourceid", "correlationid":
			if op != "eq" {
				return arm.Errorf("InvalidFilter", "%s supports only eq, not '%s'.", parts[0], parts[1])
			}
			switch field {
			case "resourcegroupname":
				q.ResourceGroup = arm.KeyOf(val)
			case "correlationid":
				q.CorrelationID = arm.KeyOf(val)
			default:
				q.ResourceKey = arm.KeyOf(val)
			}
		default:
			return arm.Errorf("InvalidFilter", "The $filter field '%s' is not supported (eventTimestamp, resourceGroupName, resourceUri, resourceId, correlationId are).", arm.Clip(parts[0], 100))
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return arm.Errorf("InvalidFilter", "The $filter time range ends before it starts.")
	}
	return nil
}

// unquote undoes the doubling of single quotes inside a quoted $filter
// value; a lone quote is an error.
func unquote(s string) (string, bool) {
	if !strings.Contains(s, "'") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			if i+1 >= len(s) || s[i+1] != '\'' {
				return "", false
			}
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String(), true
}
