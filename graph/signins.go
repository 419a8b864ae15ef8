package graph

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/authn"
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
	if f := strings.TrimSpace(q.Get("$filter")); f != "" {
		field, val, err := filter(q, true)
		if err != nil || field != "appId" {
			return nil, 0, errf(400, "Request_UnsupportedQuery", "The $filter '%s' is not supported on sign-ins: use appId eq 'value'.", clip(f))
		}
		sq.AppID = val
	}
	recs, err := s.dir.SignIns(ctx, s.cfg.TenantID, sq)
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
	if len(recs) == sq.Limit {
		next := url.Values{"$top": {strconv.Itoa(sq.Limit)}, "$skiptoken": {strconv.FormatInt(recs[len(recs)-1].Seq, 10)}}
		if sq.AppID != "" {
			next.Set("$filter", "appId eq '"+sq.AppID+"'")
		}
		out["@odata.nextLink"] = s.cfg.PublicURL + "/v1.0/auditLogs/signIns?" + next.Encode()
	}
	return out, 200, nil
}
