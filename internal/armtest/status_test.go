package armtest

import "testing"

// TestCreatedOKTypes: a PUT that creates a workspace connection, a
// private endpoint connection or an outbound rule answers 200, as the REST specification
// lists (the SDK refuses 201), and so does one that replaces it; a
// compute's create still answers 201.
func TestCreatedOKTypes(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, s *Server) {
		ws := s.mustWorkspace(t, "rg1", "ws1")
		for _, c := range []struct{ path, body string }{
			{ws + "/connections/acr", `{"properties":{"category":"ContainerRegistry","authType":"None","target":"myacr.azurecr.io"}}`},
			{ws + "/privateEndpointConnections/pe1", `{"properties":{"privateLinkServiceConnectionState":{"status":"Approved"}}}`},
			{ws + "/outboundRules/rule_name_1", `{"properties":{"type":"FQDN","destination":"pypi.org","status":"Active","category":"UserDefined"}}`},
		} {
			s.put(t, c.path+av, c.body, 200)
			s.put(t, c.path+av, c.body, 200)
		}
		s.put(t, ws+"/computes/ci1"+av, `{"location":"eastus","properties":{"computeType":"ComputeInstance","properties":{"vmSize":"STANDARD_DS3_V2"}}}`, 201)
	})
}
