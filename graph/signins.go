package graph

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/odata"
)

// signIns serves the sign-in log: every attempt at the token endpoint,
// oldest first (Graph lists newest first: bound a query with $filter
// and page it with the nextLink), $top records a page (default 100, at
// most 1000).
func (s *Server) signIns(ctx context.Context, q url.Values) (any, int, error) {
	sq := authn.SignInQuery{Limit: 100}
	if t := q.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 1000 {
			return nil, 0, errf(400, "Request_UnsupportedQuery", "$top '%s' is not a number from 1 to 1000.", clip(t))
		}
		sq.Limit = n
	}
	if t := q.Get("$skiptoken"); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			return nil, 0, errf(400, "Request_UnsupportedQuery", "$skiptoken '%s' is not one of this API's: follow the @odata.nextLink.", clip(t))
		}
		sq.AfterSeq = n
	}
	f := strings.TrimSpace(q.Get("$filter"))
	if err := signInFilter(f, &sq); err != nil {
		return nil, 0, err
	}
	recs, next, err := s.dir.SignInsPage(ctx, s.cfg.TenantID, sq)
	if err != nil {
		return nil, 0, err
	}
	items := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		items = append(items, map[string]any{"id": r.ID, "createdDateTime": timeJSON(r.CreatedDateTime), "appId": r.AppID,
			"appDisplayName": r.AppDisplayName, "servicePrincipalId": r.ServicePrincipalID, "ipAddress": r.IPAddress,
			"correlationId": r.CorrelationID, "clientCredentialType": r.ClientCredentialType,
			"servicePrincipalCredentialKeyId": r.ServicePrincipalCredentialKeyID, "resourceId": r.ResourceID,
			"resourceDisplayName": r.ResourceDisplayName, "homeTenantId": r.HomeTenantID, "resourceTenantId": r.ResourceTenantID,
			"uniqueTokenIdentifier": r.UniqueTokenIdentifier, "status": r.Status, "signInEventTypes": r.SignInEventTypes,
			"isInteractive": r.IsInteractive, "conditionalAccessStatus": r.ConditionalAccessStatus,
			"userPrincipalName": nilIfEmpty(r.UserPrincipalName), "userId": nilIfEmpty(r.UserID),
			"authenticationRequirement":        nilIfEmpty(r.AuthenticationRequirement),
			"appliedConditionalAccessPolicies": r.AppliedConditionalAccessPolicies})
	}
	out := s.collection("auditLogs/signIns", items)
	if next != 0 {
		v := url.Values{"$top": {strconv.Itoa(sq.Limit)}, "$skiptoken": {strconv.FormatInt(next, 10)}}
		if f != "" {
			v.Set("$filter", f)
		}
		out["@odata.nextLink"] = s.cfg.PublicURL + "/v1.0/auditLogs/signIns?" + v.Encode()
	}
	return out, 200, nil
}

// signInFilter parses the $filter of the sign-in log: clauses joined by
// "and", each once: appId, userPrincipalName, userId or correlationId eq
// 'value'; createdDateTime ge|gt|le|lt a date-time (unquoted, as Graph
// writes it); status/errorCode eq|ne 0 (the successful or failed
// sign-ins).
func signInFilter(f string, sq *authn.SignInQuery) error {
	if f == "" {
		return nil
	}
	bad := func(clause, why string) error {
		return errf(400, "Request_UnsupportedQuery", "The $filter clause '%s' is not supported on sign-ins: %s (appId, userPrincipalName, userId, correlationId eq 'value'; createdDateTime ge|gt|le|lt a date-time; status/errorCode eq|ne 0; joined by and).", clip(clause), why)
	}
	seen := map[string]bool{}
	for _, clause := range odata.SplitAnd(f) {
		field, rest, _ := strings.Cut(clause, " ")
		op, lit, _ := strings.Cut(strings.TrimSpace(rest), " ")
		lit = strings.TrimSpace(lit)
		key := field
		if field == "createdDateTime" {
			key += map[string]string{"ge": ">", "gt": ">", "le": "<", "lt": "<"}[op]
		}
		if seen[key] {
			return bad(clause, "each condition may appear once")
		}
		seen[key] = true
		switch field {
		case "appId", "userPrincipalName", "userId", "correlationId":
			if op != "eq" || len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
				return bad(clause, field+" takes eq and a quoted value")
			}
			v := strings.ReplaceAll(lit[1:len(lit)-1], "''", "'")
			switch field {
			case "appId":
				sq.AppID = v
			case "userPrincipalName":
				sq.UserPrincipalName = v
			case "userId":
				sq.UserID = v
			default:
				sq.CorrelationID = v
			}
		case "createdDateTime":
			t, err := time.Parse(time.RFC3339Nano, lit)
			if err != nil {
				return bad(clause, "the date-time is not RFC 3339")
			}
			switch op {
			case "ge":
				sq.From = t
			case "gt":
				sq.From = t.Add(time.Nanosecond)
			case "le":
				sq.To = t
			case "lt":
				sq.To = t.Add(-time.Nanosecond)
			default:
				return bad(clause, "createdDateTime takes ge, gt, le or lt")
			}
		case "status/errorCode":
			if (op != "eq" && op != "ne") || lit != "0" {
				return bad(clause, "status/errorCode takes eq 0 or ne 0")
			}
			failed := op == "ne"
			sq.Failed = &failed
		default:
			return bad(clause, "the field is not one of these")
		}
	}
	return nil
}
