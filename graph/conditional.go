package graph

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/mlgov/mlgov/authn"
)

// Conditional Access through Graph:
//
//	/v1.0/identity/conditionalAccess/policies[/{id}]        GET, POST, PATCH, DELETE
//	/v1.0/identity/conditionalAccess/namedLocations[/{id}]  GET, POST, DELETE (ipNamedLocation)
//
// What mlgov evaluates is authn's (conditional.go): workload identity
// policies. A property it would not evaluate is refused when it says
// something (a value other than null, an empty list or Graph's
// "include nobody"), never ignored.

func (s *Server) conditionalAccess(ctx context.Context, r *http.Request, method string, seg []string) (any, int, error) {
	if len(seg) < 1 {
		return nil, 0, errf(400, "BadRequest", "Resource not found for the segment 'conditionalAccess'.")
	}
	switch seg[0] {
	case "policies":
		return s.caPolicies(ctx, r, method, seg[1:])
	case "namedLocations":
		return s.namedLocations(ctx, r, method, seg[1:])
	}
	return nil, 0, errf(400, "BadRequest", "Resource not found for the segment '%s'.", clip(seg[0]))
}

func policyJSON(p *authn.CAPolicy) map[string]any {
	b, _ := json.Marshal(p)
	var m map[string]any
	json.Unmarshal(b, &m)
	m["createdDateTime"], m["modifiedDateTime"] = timeJSON(p.CreatedDateTime), timeJSON(p.ModifiedDateTime)
	return m
}

// inert reports whether a JSON value says nothing: null, false, an
// empty string, list or object, or a list of "None".
func inert(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case []any:
		for _, e := range x {
			if s, ok := e.(string); !ok || !strings.EqualFold(s, "None") {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !inert(e) {
				return false
			}
		}
		return true
	}
	return false
}

// decodePolicy reads a policy body, refusing what mlgov would not
// evaluate.
func decodePolicy(b []byte, into *authn.CAPolicy) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return badRequest("Invalid request body: a conditional access policy is a JSON object.")
	}
	known := map[string]bool{"displayName": true, "state": true, "conditions": true, "grantControls": true, "id": true, "createdDateTime": true, "modifiedDateTime": true, "@odata.type": true}
	for k, v := range m {
		if !known[k] && !inert(v) {
			return badRequest("Property '%s' is not evaluated by mlgov: leave it out (or null).", clip(k))
		}
	}
	if c, ok := m["conditions"].(map[string]any); ok {
		evaluated := map[string]bool{"applications": true, "clientApplications": true, "locations": true, "users": true}
		if u, ok := c["users"].(map[string]any); ok {
			for k, v := range u {
				switch k {
				case "includeUsers", "excludeUsers", "includeGroups", "excludeGroups", "includeRoles", "excludeRoles":
				default:
					if !inert(v) {
						return badRequest("conditions.users.%s is not evaluated by mlgov: it evaluates users, groups and directory roles.", clip(k))
					}
					delete(u, k)
				}
			}
		}
		for k, v := range c {
			if all, ok := v.([]any); ok && k == "clientAppTypes" && len(all) == 1 && all[0] == "all" {
				continue // every client app type: what mlgov evaluates
			}
			if !evaluated[k] && !inert(v) {
				return badRequest("conditions.%s is not evaluated by mlgov: leave it out, or include nobody.", clip(k))
			}
		}
		for k := range c {
			if !evaluated[k] {
				delete(c, k)
			}
		}
	}
	if g, ok := m["grantControls"].(map[string]any); ok {
		for k, v := range g {
			if k != "operator" && k != "builtInControls" && !inert(v) {
				return badRequest("grantControls.%s is not evaluated by mlgov.", clip(k))
			}
			if k != "operator" && k != "builtInControls" {
				delete(g, k)
			}
		}
	}
	for k := range m {
		if !known[k] {
			delete(m, k)
		}
	}
	clean, _ := json.Marshal(m)
	dec := json.NewDecoder(strings.NewReader(string(clean)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return badRequest("Invalid conditional access policy: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func caError(err error) error {
	if errors.Is(err, authn.ErrCAInvalid) {
		return badRequest("%s", strings.TrimPrefix(err.Error(), authn.ErrCAInvalid.Error()+": "))
	}
	return err
}

func (s *Server) caPolicies(ctx context.Context, r *http.Request, method string, seg []string) (any, int, error) {
	switch {
	case len(seg) == 0 && method == "GET":
		ps, err := s.dir.CAPolicies(ctx, s.cfg.TenantID)
		if err != nil {
			return nil, 0, err
		}
		var out []map[string]any
		for _, p := range ps {
			out = append(out, policyJSON(p))
		}
		return s.collection("identity/conditionalAccess/policies", out), 200, nil
	case len(seg) == 0 && method == "POST":
		b, err := readRaw(r)
		if err != nil {
			return nil, 0, err
		}
		var p authn.CAPolicy
		if err := decodePolicy(b, &p); err != nil {
			return nil, 0, err
		}
		p.ID = ""
		out, err := s.dir.PutCAPolicy(ctx, s.cfg.TenantID, &p)
		if err != nil {
			return nil, 0, caError(err)
		}
		return s.entity("identity/conditionalAccess/policies", policyJSON(out)), 201, nil
	case len(seg) == 1:
		ps, err := s.dir.CAPolicies(ctx, s.cfg.TenantID)
		if err != nil {
			return nil, 0, err
		}
		var cur *authn.CAPolicy
		for _, p := range ps {
			if strings.EqualFold(p.ID, seg[0]) {
				cur = p
			}
		}
		if cur == nil {
			return nil, 0, notFound(seg[0])
		}
		switch method {
		case "GET":
			return s.entity("identity/conditionalAccess/policies", policyJSON(cur)), 200, nil
		case "DELETE":
			return nil, 204, directoryError(s.dir.DeleteCAObject(ctx, authn.KindCAPolicy, s.cfg.TenantID, cur.ID), seg[0])
		case "PATCH":
			b, err := readRaw(r)
			if err != nil {
				return nil, 0, err
			}
			// A PATCH is the policy with the body's properties replaced.
			var patch, whole map[string]any
			if json.Unmarshal(b, &patch) != nil || patch == nil {
				return nil, 0, badRequest("Invalid request body: a PATCH is a JSON object.")
			}
			whole = policyJSON(cur)
			for k, v := range patch {
				whole[k] = v
			}
			merged, _ := json.Marshal(whole)
			next := *cur
			next.Conditions, next.GrantControls = authn.CAConditions{}, authn.CAGrant{}
			if err := decodePolicy(merged, &next); err != nil {
				return nil, 0, err
			}
			next.ID, next.CreatedDateTime = cur.ID, cur.CreatedDateTime
			if _, err := s.dir.PutCAPolicy(ctx, s.cfg.TenantID, &next); err != nil {
				return nil, 0, caError(err)
			}
			return nil, 204, nil
		}
	}
	return nil, 0, errf(405, "Request_BadRequest", "%s %s is not served.", method, clip(r.URL.Path))
}

func locationJSON(l *authn.NamedLocation) map[string]any {
	ranges := []map[string]any{}
	for _, c := range l.IPRanges {
		t := "#microsoft.graph.iPv4CidrRange"
		if strings.Contains(c, ":") {
			t = "#microsoft.graph.iPv6CidrRange"
		}
		ranges = append(ranges, map[string]any{"@odata.type": t, "cidrAddress": c})
	}
	return map[string]any{"@odata.type": "#microsoft.graph.ipNamedLocation", "id": l.ID, "displayName": l.DisplayName, "isTrusted": l.IsTrusted,
		"ipRanges": ranges, "createdDateTime": timeJSON(l.CreatedDateTime), "modifiedDateTime": timeJSON(l.ModifiedDateTime)}
}

func (s *Server) namedLocations(ctx context.Context, r *http.Request, method string, seg []string) (any, int, error) {
	switch {
	case len(seg) == 0 && method == "GET":
		ls, err := s.dir.NamedLocations(ctx, s.cfg.TenantID)
		if err != nil {
			return nil, 0, err
		}
		var out []map[string]any
		for _, l := range ls {
			out = append(out, locationJSON(l))
		}
		return s.collection("identity/conditionalAccess/namedLocations", out), 200, nil
	case len(seg) == 0 && method == "POST":
		var body struct {
			Type        string `json:"@odata.type"`
			DisplayName string `json:"displayName"`
			IsTrusted   bool   `json:"isTrusted"`
			IPRanges    []struct {
				Type        string `json:"@odata.type"`
				CidrAddress string `json:"cidrAddress"`
			} `json:"ipRanges"`
		}
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		if body.Type != "#microsoft.graph.ipNamedLocation" {
			return nil, 0, badRequest("mlgov serves IP named locations (@odata.type #microsoft.graph.ipNamedLocation), not '%s'.", clip(body.Type))
		}
		l := &authn.NamedLocation{DisplayName: body.DisplayName, IsTrusted: body.IsTrusted}
		for _, ir := range body.IPRanges {
			l.IPRanges = append(l.IPRanges, ir.CidrAddress)
		}
		out, err := s.dir.PutNamedLocation(ctx, s.cfg.TenantID, l)
		if err != nil {
			return nil, 0, caError(err)
		}
		return s.entity("identity/conditionalAccess/namedLocations", locationJSON(out)), 201, nil
	case len(seg) == 1:
		ls, err := s.dir.NamedLocations(ctx, s.cfg.TenantID)
		if err != nil {
			return nil, 0, err
		}
		for _, l := range ls {
			if strings.EqualFold(l.ID, seg[0]) {
				switch method {
				case "GET":
					return s.entity("identity/conditionalAccess/namedLocations", locationJSON(l)), 200, nil
				case "DELETE":
					if err := s.dir.DeleteCAObject(ctx, authn.KindNamedLocation, s.cfg.TenantID, l.ID); err != nil {
						return nil, 0, caError(directoryError(err, seg[0]))
					}
					return nil, 204, nil
				}
			}
		}
		return nil, 0, notFound(seg[0])
	}
	return nil, 0, errf(405, "Request_BadRequest", "%s %s is not served.", method, clip(r.URL.Path))
}
