package policy

import "strings"

// Effect is a policy effect.
type Effect uint8

// Effects. None means the policy produced no effect for the resource (not
// applicable, condition false, disabled, or the related resource exists).
const (
	None Effect = iota
	Disabled
	Append
	Modify
	Deny
	Audit
	Manual
	AuditIfNotExists
	DeployIfNotExists
	DenyAction
	// Resource-provider-mode and legacy effects, recognised and reported;
	// the resource provider (or mlgov's own data plane) enforces them.
	EnforceSetting
	Mutate
	AddToNetworkGroup
	EnforceRegoPolicy
	AuditAction
	numEffects
)

var effectNames = [numEffects]string{
	None: "None", Disabled: "Disabled", Append: "Append", Modify: "Modify", Deny: "Deny", Audit: "Audit",
	Manual: "Manual", AuditIfNotExists: "AuditIfNotExists", DeployIfNotExists: "DeployIfNotExists",
	DenyAction: "DenyAction", EnforceSetting: "EnforceSetting", Mutate: "Mutate",
	AddToNetworkGroup: "AddToNetworkGroup", EnforceRegoPolicy: "EnforceRegoPolicy", AuditAction: "AuditAction",
}

// String returns the canonical (PascalCase) name.
func (e Effect) String() string {
	if e < numEffects {
		return effectNames[e]
	}
	return "Effect(?)"
}

// ParseEffect parses an effect name case-insensitively.
func ParseEffect(s string) (Effect, bool) {
	for i, n := range effectNames {
		if i != int(None) && strings.EqualFold(n, s) {
			return Effect(i), true
		}
	}
	return None, false
}

// IfNotExists reports whether the effect runs an existence check.
func (e Effect) IfNotExists() bool { return e == AuditIfNotExists || e == DeployIfNotExists }
