package resources

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
)

// The destinations of a workspace's outbound rules, as the ML REST API
// defines them (docs/egress.md), checked on write: what the egress proxy
// could not honour is refused here rather than stored and ignored.
//
//	FQDN:            "destination": "pypi.org" | "*.blob.core.windows.net"
//	ServiceTag:      "destination": {"serviceTag", "protocol", "portRanges", "action"?, "addressPrefixes"?}
//	PrivateEndpoint: "destination": {"serviceResourceId", "subresourceTarget", "sparkEnabled"?, "sparkStatus"?}

// validateRuleDestination checks the destination of a rule of type typ
// (validated already) at path.
func validateRuleDestination(rule value.Value, typ, path string) error {
	d := rule.Field("destination")
	dp := path + ".destination"
	switch strings.ToLower(typ) {
	case "fqdn":
		if d.Kind() != value.String {
			return badRequest("InvalidRequestContent", "%s is required: the host name a FQDN rule allows (\"pypi.org\", or \"*.example.com\" for its sub-domains).", dp)
		}
		if msg := fqdnProblem(d.Str()); msg != "" {
			return badRequest("InvalidRequestContent", "The value %s of '%s' is not a host name: %s.", arm.Clip(d.JSON(), 300), dp, msg)
		}
	case "servicetag":
		if d.Kind() != value.Object {
			return badRequest("InvalidRequestContent", "%s must be an object {serviceTag, protocol, portRanges, action?, addressPrefixes?}.", dp)
		}
		if t := d.Field("serviceTag"); t.Kind() != value.String || strings.TrimSpace(t.Str()) == "" {
			return badRequest("InvalidRequestContent", "%s.serviceTag is required (a service tag's name, e.g. \"Storage\", or a name of the operator's addressPrefixes).", dp)
		}
		if err := oneOf(d.Field("protocol"), dp+".protocol", "*", "TCP", "UDP", "ICMP"); err != nil {
			return err
		}
		pr := d.Field("portRanges")
		if pr.Kind() != value.String {
			return badRequest("InvalidRequestContent", "%s.portRanges is required: \"*\", a port, a range \"8000-8080\", or a comma-separated list of them.", dp)
		}
		if msg := portRangesProblem(pr.Str()); msg != "" {
			return badRequest("InvalidRequestContent", "The value %s of '%s.portRanges' is not valid: %s.", arm.Clip(pr.JSON(), 300), dp, msg)
		}
		if err := oneOf(d.Field("action"), dp+".action", "Allow", "Deny"); err != nil {
			return err
		}
		if ap := d.Field("addressPrefixes"); !ap.IsNullish() {
			if ap.Kind() != value.Array {
				return badRequest("InvalidRequestContent", "%s.addressPrefixes must be an array of addresses or CIDR prefixes.", dp)
			}
			for i, p := range ap.Elems() {
				if p.Kind() != value.String || !validPrefix(p.Str()) {
					return badRequest("InvalidRequestContent", "The value %s of '%s.addressPrefixes[%d]' is not an IP address or a CIDR prefix.", arm.Clip(p.JSON(), 100), dp, i)
				}
			}
		}
	case "privateendpoint":
		if d.Kind() != value.Object {
			return badRequest("InvalidRequestContent", "%s must be an object {serviceResourceId, subresourceTarget, sparkEnabled?}.", dp)
		}
		sid := d.Field("serviceResourceId")
		if sid.Kind() != value.String {
			return badRequest("InvalidRequestContent", "%s.serviceResourceId is required: the resource id of the private endpoint's target.", dp)
		}
		if id, err := arm.ParseID(sid.Str()); err != nil || len(id.Parts) == 0 {
			return badRequest("InvalidRequestContent", "The value %s of '%s.serviceResourceId' is not a resource id.", arm.Clip(sid.JSON(), 300), dp)
		}
		if t := d.Field("subresourceTarget"); t.Kind() != value.String || t.Str() == "" {
			return badRequest("InvalidRequestContent", "%s.subresourceTarget is required (e.g. \"blob\", \"vault\", \"registry\", \"amlworkspace\").", dp)
		}
		if s := d.Field("sparkEnabled"); !s.IsNullish() && s.Kind() != value.Bool {
			return badRequest("InvalidRequestContent", "%s.sparkEnabled must be true or false.", dp)
		}
	}
	return nil
}

// fqdnProblem says what is wrong with a FQDN rule's destination ("": a
// host name, "*." and a host name for its sub-domains, ASCII: a
// non-ASCII name is given in its punycode form).
func fqdnProblem(s string) string {
	h := strings.TrimSuffix(strings.TrimPrefix(s, "*."), ".")
	switch {
	case h == "":
		return "it is empty"
	case len(h) > 253:
		return "it is longer than 253 characters"
	case strings.Contains(h, "*"):
		return "a wildcard is only allowed as the first label (\"*.example.com\")"
	case strings.ContainsAny(h, "/:@?# "):
		return "give the host name alone, without a scheme, port or path (FQDN rules allow ports 80 and 443)"
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return "it is an IP address (use a ServiceTag rule's addressPrefixes for addresses)"
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return "a label is empty or longer than 63 characters"
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "only letters, digits, '-' and '_' in a label (give an internationalized name in its punycode form, xn--…)"
			}
		}
	}
	return ""
}

// portRangesProblem says what is wrong with a ServiceTag rule's
// portRanges ("": valid).
func portRangesProblem(s string) string {
	if strings.TrimSpace(s) == "*" {
		return ""
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
			return "want \"*\", ports 1-65535 and ranges low-high, separated by commas"
		}
	}
	return ""
}

func validPrefix(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// ruleStatuses sets the status of every rule of a workspace's map: a
// rule is Active while the workspace's managed network is (its
// managedNetwork.status.status, which provisionManagedNetwork makes
// Active), else Inactive. The status is the resource provider's, not
// the client's: what a client sends is replaced.
func ruleStatuses(ws value.Value) value.Value {
	rules := outboundRules(ws)
	if rules.Kind() != value.Object {
		return ws
	}
	st := networkRuleStatus(ws)
	b := value.NewObjectBuilder(rules.Len())
	for _, r := range rules.Members() {
		v := r.Value
		if v.Kind() == value.Object {
			v = v.With("status", str(st))
		}
		b.Add(r.Key, v)
	}
	return set(ws, b.Object(), "properties", "managedNetwork", "outboundRules")
}

// networkRuleStatus is the status of a workspace's rules.
func networkRuleStatus(ws value.Value) string {
	if strings.EqualFold(get(ws, "properties", "managedNetwork", "status", "status").Str(), "Active") {
		return "Active"
	}
	return "Inactive"
}

// outboundRuleBuild sets a rule child's status from its workspace's
// managed network.
func outboundRuleBuild(c *Ctx, obj, body, existing value.Value) (value.Value, error) {
	st := "Inactive"
	if c.Get != nil {
		if ws, err := c.Get(c.ID.Parent().Key()); err != nil {
			return value.Value{}, err
		} else if ws != nil {
			if wv, err := value.Parse(ws.Body); err == nil {
				st = networkRuleStatus(wv)
			}
		}
	}
	return set(obj, str(st), "properties", "status"), nil
}
