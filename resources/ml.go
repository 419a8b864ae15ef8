package resources

import (
	"regexp"
	"strings"
	"sync"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
)

// Type hooks of the Microsoft.MachineLearningServices types, following the
// request/response examples of the resource provider.

func badRequest(code, format string, args ...any) error { return arm.Errorf(code, format, args...) }

func oneOf(v value.Value, path string, allowed ...string) error {
	if v.IsNullish() {
		return nil
	}
	if v.Kind() == value.String {
		for _, a := range allowed {
			if strings.EqualFold(a, v.Str()) {
				return nil
			}
		}
	}
	return badRequest("InvalidRequestContent", "The value %s of '%s' is not valid; allowed values are %s.", v.JSON(), path, strings.Join(allowed, ", "))
}

func requireProperties(body value.Value, create bool) error {
	p := body.Field("properties")
	if create && p.Kind() != value.Object {
		return badRequest("InvalidRequestContent", "The request body must contain a 'properties' object.")
	}
	return nil
}

func plainDefaults(c *Ctx, body, existing value.Value) value.Value { return body }

func validateWorkspace(body value.Value, create bool) error {
	p := body.Field("properties")
	if !p.IsNullish() && p.Kind() != value.Object {
		return badRequest("InvalidRequestContent", "'properties' must be an object.")
	}
	if err := oneOf(p.Field("publicNetworkAccess"), "properties.publicNetworkAccess", "Enabled", "Disabled"); err != nil {
		return err
	}
	if enc := p.Field("encryption"); !enc.IsNullish() {
		if err := oneOf(enc.Field("status"), "properties.encryption.status", "Enabled", "Disabled"); err != nil {
			return err
		}
		kv := enc.Field("keyVaultProperties")
		if strings.EqualFold(enc.Field("status").Str(), "Enabled") {
			if kv.Field("keyVaultArmId").Str() == "" || kv.Field("keyIdentifier").Str() == "" {
				return badRequest("InvalidRequestContent", "Customer-managed key encryption needs properties.encryption.keyVaultProperties.keyVaultArmId and keyIdentifier.")
			}
			if _, err := arm.ParseID(kv.Field("keyVaultArmId").Str()); err != nil {
				return badRequest("InvalidRequestContent", "properties.encryption.keyVaultProperties.keyVaultArmId is not a resource id: %v", err)
			}
		}
	}
	if pu := p.Field("primaryUserAssignedIdentity"); pu.Kind() == value.String && pu.Str() != "" {
		if _, ok := body.Field("identity").Field("userAssignedIdentities").Get(pu.Str()); !ok {
			return badRequest("InvalidRequestContent", "properties.primaryUserAssignedIdentity '%s' must be one of the workspace's user-assigned identities.", pu.Str())
		}
	}
	if mn := p.Field("managedNetwork"); !mn.IsNullish() {
		if err := oneOf(mn.Field("isolationMode"), "properties.managedNetwork.isolationMode", "Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound"); err != nil {
			return err
		}
		if rules := mn.Field("outboundRules"); !rules.IsNullish() {
			if rules.Kind() != value.Object {
				return badRequest("InvalidRequestContent", "properties.managedNetwork.outboundRules must be an object from rule name to rule.")
			}
			for _, r := range rules.Members() {
				if err := mlName("outbound rule")(r.Key); err != nil {
					return err
				}
				if err := validateOutboundRule(r.Value, "properties.managedNetwork.outboundRules."+r.Key); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func workspaceDefaults(c *Ctx, body, existing value.Value) value.Value {
	guid := func() value.Value { return str(c.NewID()) }
	body = keep(body, existing, guid, "properties", "workspaceId")
	body = setDefault(body, str(c.TenantID), "properties", "tenantId")
	body = setDefault(body, str("Enabled"), "properties", "publicNetworkAccess")
	body = setDefault(body, value.BoolValue(false), "properties", "v1LegacyMode")
	body = setDefault(body, value.BoolValue(false), "properties", "storageHasPrivateLinkConnection")
	body = setDefault(body, value.IntValue(0), "properties", "privateLinkCount")
	body = setDefault(body, value.BoolValue(false), "properties", "hbiWorkspace")
	loc := body.Field("location").Str()
	body = set(body, str("https://"+loc+".api.azureml.ms/discovery"), "properties", "discoveryUrl")
	body = set(body, str("azureml://"+loc+".api.azureml.ms/mlflow/v1.0"+c.ID.String()), "properties", "mlFlowTrackingUri")
	// The rules: those sent (each completed), else those the workspace
	// has (a PUT without them does not delete the rule children).
	if rules := outboundRules(body); rules.Kind() == value.Object {
		b := value.NewObjectBuilder(rules.Len())
		for _, r := range rules.Members() {
			b.Add(r.Key, ruleDefaults(r.Value))
		}
		body = set(body, b.Object(), "properties", "managedNetwork", "outboundRules")
	} else if rules.IsUndefined() && outboundRules(existing).Kind() == value.Object {
		body = set(body, outboundRules(existing), "properties", "managedNetwork", "outboundRules")
	}
	// The network's status is the provider's (provisionManagedNetwork),
	// and the rules' follow it.
	if mn := get(body, "properties", "managedNetwork"); mn.Kind() == value.Object {
		if st := get(existing, "properties", "managedNetwork", "status"); !st.IsUndefined() {
			body = set(body, st, "properties", "managedNetwork", "status")
		} else {
			body = set(body, mn.Without("status"), "properties", "managedNetwork")
		}
	}
	body = ruleStatuses(body)
	if !get(existing, "properties", "privateEndpointConnections").IsUndefined() {
		body = setDefault(body, get(existing, "properties", "privateEndpointConnections"), "properties", "privateEndpointConnections")
	}
	return body
}

func provisionManagedNetwork(c *Ctx, r, body value.Value) (value.Value, value.Value, error) {
	r = set(r, str("Active"), "properties", "managedNetwork", "status", "status")
	r = ruleStatuses(r) // the rules become Active with the network
	return r, value.ObjectValue(value.Member{Key: "status", Value: str("Active")}, value.Member{Key: "sparkReady", Value: value.BoolValue(body.Field("includeSpark").Bool())}), nil
}

var computeNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,23}$`) }) // compiled on first use: the CLI starts faster

func computeName(n string) error {
	if !computeNameRE().MatchString(n) {
		return badRequest("InvalidResourceName", "The compute name '%s' is invalid: it must be 2 to 24 characters, start with a letter, and contain only letters, digits and '-'.", n)
	}
	return nil
}

var computeTypes = []string{"ComputeInstance", "AmlCompute", "Kubernetes", "AKS", "VirtualMachine", "HDInsight", "DataFactory", "Databricks", "DataLakeAnalytics", "SynapseSpark"}

func validateCompute(body value.Value, create bool) error {
	p := body.Field("properties")
	if p.Kind() != value.Object {
		return badRequest("InvalidRequestContent", "The request body must contain a 'properties' object with a computeType.")
	}
	ct := p.Field("computeType")
	if ct.Kind() != value.String {
		return badRequest("InvalidRequestContent", "properties.computeType is required (one of %s).", strings.Join(computeTypes, ", "))
	}
	if err := oneOf(ct, "properties.computeType", computeTypes...); err != nil {
		return err
	}
	if d := p.Field("disableLocalAuth"); !d.IsNullish() && d.Kind() != value.Bool {
		return badRequest("InvalidRequestContent", "properties.disableLocalAuth must be a boolean.")
	}
	if p.Field("disableLocalAuth").Bool() {
		if what := localAuthIn(p.Field("properties")); what != "" {
			return badRequest("InvalidRequestContent", "properties.disableLocalAuth is true, and %s is local authentication: remove it or enable local authentication.", what)
		}
	}
	if strings.EqualFold(ct.Str(), "AmlCompute") {
		ss := p.Field("properties").Field("scaleSettings")
		if !ss.IsNullish() {
			mx, mn := ss.Field("maxNodeCount"), ss.Field("minNodeCount")
			if !mx.IsNumber() {
				return badRequest("InvalidRequestContent", "properties.properties.scaleSettings.maxNodeCount is required and must be a number.")
			}
			if mn.IsNumber() && mn.Int() > mx.Int() {
				return badRequest("InvalidRequestContent", "properties.properties.scaleSettings.minNodeCount (%d) must not exceed maxNodeCount (%d).", mn.Int(), mx.Int())
			}
		}
	}
	return nil
}

func computeDefaults(c *Ctx, body, existing value.Value) value.Value {
	now := timestamp(c.Now)
	body = keep(body, existing, func() value.Value { return now }, "properties", "createdOn")
	body = set(body, now, "properties", "modifiedOn")
	body = setDefault(body, value.BoolValue(false), "properties", "disableLocalAuth")
	body = setDefault(body, value.BoolValue(false), "properties", "isAttachedCompute")
	body = set(body, body.Field("location"), "properties", "computeLocation")
	switch strings.ToLower(get(body, "properties", "computeType").Str()) {
	case "computeinstance":
		st := get(existing, "properties", "properties", "state")
		if st.IsNullish() {
			st = str("Running")
		}
		body = set(body, st, "properties", "properties", "state")
		body = setDefault(body, str("personal"), "properties", "properties", "computeInstanceAuthorizationType")
		body = setDefault(body, str("Shared"), "properties", "properties", "applicationSharingPolicy")
	case "amlcompute":
		body = setDefault(body, str("Dedicated"), "properties", "properties", "vmPriority")
		body = setDefault(body, str("Linux"), "properties", "properties", "osType")
		// The defaults of scaleSettings' optional members, when it is
		// given: a scaleSettings made here would lack its required
		// maxNodeCount, and every later write would be refused for it.
		if get(body, "properties", "properties", "scaleSettings").Kind() == value.Object {
			body = setDefault(body, value.IntValue(0), "properties", "properties", "scaleSettings", "minNodeCount")
			body = setDefault(body, str("PT120S"), "properties", "properties", "scaleSettings", "nodeIdleTimeBeforeScaleDown")
		}
		body = setDefault(body, value.IntValue(0), "properties", "properties", "currentNodeCount")
		body = setDefault(body, value.IntValue(0), "properties", "properties", "targetNodeCount")
		body = setDefault(body, str("Steady"), "properties", "properties", "allocationState")
	}
	return body
}

func computeState(state string, kinds ...string) func(c *Ctx, r, body value.Value) (value.Value, value.Value, error) {
	return func(c *Ctx, r, body value.Value) (value.Value, value.Value, error) {
		if !strings.EqualFold(get(r, "properties", "computeType").Str(), "ComputeInstance") {
			return value.Value{}, value.Value{}, badRequest("OperationNotSupported", "This action is only supported for compute instances.")
		}
		return set(r, str(state), "properties", "properties", "state"), value.Value{}, nil
	}
}

func during(state string) func(r value.Value) value.Value {
	return func(r value.Value) value.Value {
		if !strings.EqualFold(get(r, "properties", "computeType").Str(), "ComputeInstance") {
			return r
		}
		return set(r, str(state), "properties", "properties", "state")
	}
}

func computeActions() map[string]*ActionSpec {
	return map[string]*ActionSpec{
		"start":   {Name: "start", Async: true, Run: computeState("Running"), During: during("Starting")},
		"stop":    {Name: "stop", Async: true, Run: computeState("Stopped"), During: during("Stopping")},
		"restart": {Name: "restart", Async: true, Run: computeState("Running"), During: during("Restarting")},
		"updateidleshutdownsetting": {Name: "updateIdleShutdownSetting", Run: func(c *Ctx, r, body value.Value) (value.Value, value.Value, error) {
			t := body.Field("idleTimeBeforeShutdown")
			if t.Kind() != value.String || !isoDurationRE.MatchString(t.Str()) || t.Str() == "P" || strings.HasSuffix(t.Str(), "T") {
				return value.Value{}, value.Value{}, badRequest("InvalidRequestContent", "idleTimeBeforeShutdown must be an ISO 8601 duration such as PT30M; got %s.", arm.Clip(t.JSON(), 64))
			}
			return set(r, t, "properties", "properties", "idleTimeBeforeShutdown"), value.Value{}, nil
		}},
		"listkeys":        secretAction("listKeys", computeKeys),
		"listnodes":       secretAction("listNodes", computeNodes),
		"updateschedules": {Name: "updateSchedules", Run: computeSchedules},
	}
}

// isoDurationRE is an ISO 8601 duration of days and time (PT30M, P1DT2H).
var isoDurationRE = regexp.MustCompile(`^P(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$`)

// localAuthIn names the first local-authentication setting of a compute's
// type-specific properties ("" if none): SSH keys and open SSH access of
// compute instances and clusters, administrator credentials of clusters
// and attached VMs. They are what disableLocalAuth turns off, and RBAC
// never governs them.
func localAuthIn(p value.Value) string {
	for _, c := range []struct {
		path []string
		on   func(v value.Value) bool
	}{
		{[]string{"sshSettings", "sshPublicAccess"}, func(v value.Value) bool { return strings.EqualFold(v.Str(), "Enabled") }},
		{[]string{"sshSettings", "adminPublicKey"}, nonEmpty},
		{[]string{"userAccountCredentials", "adminUserSshPublicKey"}, nonEmpty},
		{[]string{"userAccountCredentials", "adminUserPassword"}, nonEmpty},
		{[]string{"remoteLoginPortPublicAccess"}, func(v value.Value) bool { return strings.EqualFold(v.Str(), "Enabled") }},
		{[]string{"administratorAccount", "password"}, nonEmpty},
		{[]string{"administratorAccount", "privateKeyData"}, nonEmpty},
	} {
		if v := get(p, c.path...); !v.IsNullish() && c.on(v) {
			return "properties.properties." + strings.Join(c.path, ".")
		}
	}
	return ""
}

func nonEmpty(v value.Value) bool { return v.Kind() != value.String || v.Str() != "" }

var jobTypes = []string{"Command", "Pipeline", "Sweep", "AutoML", "Spark", "Labeling"}

func validateJob(body value.Value, create bool) error {
	if err := requireProperties(body, true); err != nil {
		return err
	}
	jt := get(body, "properties", "jobType")
	if jt.Kind() != value.String {
		return badRequest("InvalidRequestContent", "properties.jobType is required (one of %s).", strings.Join(jobTypes, ", "))
	}
	if err := oneOf(jt, "properties.jobType", jobTypes...); err != nil {
		return err
	}
	if strings.EqualFold(jt.Str(), "Command") {
		if get(body, "properties", "command").Str() == "" || get(body, "properties", "environmentId").Str() == "" {
			return badRequest("InvalidRequestContent", "A command job needs properties.command and properties.environmentId.")
		}
	}
	return nil
}

func jobDefaults(c *Ctx, body, existing value.Value) value.Value {
	st := get(existing, "properties", "status")
	if st.IsNullish() {
		st = str("Queued") // until a runner claims it (jobs.go)
	}
	body = set(body, st, "properties", "status")
	body = setDefault(body, str("Default"), "properties", "experimentName")
	body = setDefault(body, value.BoolValue(false), "properties", "isArchived")
	return body
}

func jobCancel(c *Ctx, r, body value.Value) (value.Value, value.Value, error) {
	switch strings.ToLower(get(r, "properties", "status").Str()) {
	case "completed", "failed", "canceled":
		return value.Value{}, value.Value{}, badRequest("Conflict", "The job has already finished (status %s) and cannot be canceled.", get(r, "properties", "status").Str())
	}
	return set(r, str("Canceled"), "properties", "status"), value.Value{}, nil
}

func jobCancelling(r value.Value) value.Value {
	return set(r, str("CancelRequested"), "properties", "status")
}

var endpointNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{0,31}$`) }) // compiled on first use: the CLI starts faster

func endpointName(n string) error {
	if !endpointNameRE().MatchString(n) {
		return badRequest("InvalidResourceName", "The name '%s' is invalid: it must be 1 to 32 characters, start with a letter, and contain only letters, digits and '-'.", n)
	}
	return nil
}

func validateEndpoint(body value.Value, create bool) error {
	if err := requireProperties(body, true); err != nil {
		return err
	}
	am := get(body, "properties", "authMode")
	if am.Kind() != value.String {
		return badRequest("InvalidRequestContent", "properties.authMode is required (Key, AMLToken or AADToken).")
	}
	return oneOf(am, "properties.authMode", "Key", "AMLToken", "AADToken")
}

func endpointDefaults(c *Ctx, body, existing value.Value) value.Value {
	loc := body.Field("location").Str()
	name := c.ID.Name()
	if c.ScoringURL != "" {
		score := c.ScoringURL + ScoringPath(c.ID)
		body = set(body, str(score), "properties", "scoringUri")
		body = set(body, str(strings.TrimSuffix(score, "/score")+"/swagger.json"), "properties", "swaggerUri")
	} else {
		body = set(body, str("https://"+strings.ToLower(name)+"."+loc+".inference.ml.azure.com/score"), "properties", "scoringUri")
		body = set(body, str("https://"+strings.ToLower(name)+"."+loc+".inference.ml.azure.com/swagger.json"), "properties", "swaggerUri")
	}
	body = setDefault(body, str("Enabled"), "properties", "publicNetworkAccess")
	return body
}

func deploymentDefaults(c *Ctx, body, existing value.Value) value.Value {
	return body
}

func uaiDefaults(c *Ctx, body, existing value.Value) value.Value {
	guid := func() value.Value { return str(c.NewID()) }
	body = keep(body, existing, guid, "properties", "principalId")
	body = keep(body, existing, guid, "properties", "clientId")
	body = set(body, str(c.TenantID), "properties", "tenantId")
	return body
}

// Assets: code, component, data, environment and model containers and
// their versions (workspace-level, not tracked, synchronous).

var assetNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,254}$`) }) // compiled on first use: the CLI starts faster

func assetName(kind string) func(string) error {
	return func(n string) error {
		if !assetNameRE().MatchString(n) {
			return badRequest("InvalidResourceName", "The %s '%s' is invalid: it must be 1 to 255 characters, start with a letter or digit, and contain only letters, digits, '.', '_' and '-'.", kind, n)
		}
		return nil
	}
}

// validateAsset checks what every asset body has (properties an object;
// description a string; tags and properties string maps) and what the
// type requires (required: property names that must be non-empty
// strings; oneOfProps: at least one of them).
func validateAsset(required []string, oneOfProps ...string) func(body value.Value, create bool) error {
	return func(body value.Value, create bool) error {
		if err := requireProperties(body, true); err != nil {
			return err
		}
		p := body.Field("properties")
		if d := p.Field("description"); !d.IsNullish() && d.Kind() != value.String {
			return badRequest("InvalidRequestContent", "properties.description must be a string.")
		}
		for _, m := range []string{"tags", "properties"} {
			if v := p.Field(m); !v.IsNullish() && v.Kind() != value.Object {
				return badRequest("InvalidRequestContent", "properties.%s must be an object of strings.", m)
			}
		}
		for _, r := range required {
			if v := p.Field(r); v.Kind() != value.String || v.Str() == "" {
				return badRequest("InvalidRequestContent", "properties.%s is required.", r)
			}
		}
		if len(oneOfProps) > 0 {
			found := false
			for _, o := range oneOfProps {
				found = found || !p.Field(o).IsNullish()
			}
			if !found {
				return badRequest("InvalidRequestContent", "One of properties.%s is required.", strings.Join(oneOfProps, ", properties."))
			}
		}
		return nil
	}
}

// assetMutable are the properties of an asset version that may change
// after it is created: a version is otherwise immutable, as in Azure
// Machine Learning (the same PUT again is accepted).
var assetMutable = []string{"description", "tags", "isArchived", "stage", "provisioningState", "properties"}

// versionBuild refuses an update that changes an immutable property of
// an asset version, naming it.
func versionBuild(c *Ctx, obj, body, existing value.Value) (value.Value, error) {
	if existing.IsUndefined() {
		return obj, nil
	}
	np, op := obj.Field("properties"), existing.Field("properties")
	keys := map[string]bool{}
	for _, v := range []value.Value{np, op} {
		for _, m := range v.Members() {
			keys[m.Key] = true
		}
	}
	for k := range keys {
		mutable := false
		for _, m := range assetMutable {
			mutable = mutable || strings.EqualFold(m, k)
		}
		if !mutable && np.Field(k).JSON() != op.Field(k).JSON() {
			return value.Value{}, badRequest("Conflict", "The version '%s' exists and properties.%s cannot be changed: asset versions are immutable except for description, tags, properties, stage and isArchived. Create a new version.", c.ID.Name(), k)
		}
	}
	return obj, nil
}

func environmentDefaults(c *Ctx, body, existing value.Value) value.Value {
	return set(body, str("UserCreated"), "properties", "environmentType")
}

func validateSchedule(body value.Value, create bool) error {
	if err := requireProperties(body, true); err != nil {
		return err
	}
	p := body.Field("properties")
	if p.Field("action").Kind() != value.Object || p.Field("trigger").Kind() != value.Object {
		return badRequest("InvalidRequestContent", "A schedule needs properties.action and properties.trigger objects.")
	}
	if err := oneOf(get(p, "action", "actionType"), "properties.action.actionType", "CreateJob", "InvokeBatchEndpoint"); err != nil {
		return err
	}
	return oneOf(get(p, "trigger", "triggerType"), "properties.trigger.triggerType", "Recurrence", "Cron")
}

func scheduleDefaults(c *Ctx, body, existing value.Value) value.Value {
	return setDefault(body, value.BoolValue(true), "properties", "isEnabled")
}

// workspacePrivateLinks lists the workspace's private link resource: the
// group id and DNS zones a private endpoint to it needs.
func workspacePrivateLinks(c *Ctx, r value.Value) (value.Value, error) {
	id := c.ID.String() + "/privateLinkResources/amlworkspace"
	return jsonOf(map[string]any{"value": []any{map[string]any{
		"id": id, "name": "amlworkspace", "type": "Microsoft.MachineLearningServices/workspaces/privateLinkResources",
		"location": r.Field("location").Str(),
		"properties": map[string]any{"groupId": "amlworkspace", "requiredMembers": []any{"api", "notebook"},
			"requiredZoneNames": []any{"privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"}},
	}}}), nil
}

// workspaceFeatures lists the preview features enabled for the caller in
// the workspace: mlgov has none to enable, so the list is empty.
func workspaceFeatures(c *Ctx, r value.Value) (value.Value, error) {
	return jsonOf(map[string]any{"value": []any{}}), nil
}

// Outbound rules: a workspace's properties.managedNetwork.outboundRules
// (a map from rule name to rule) and its workspaces/outboundRules/{name}
// children are one set of rules. The children are resources (what a
// policy on the outboundRules type evaluates and a compliance scan
// lists); the map is what a GET of the workspace shows. Each write of
// either mirrors itself into the other (TypeSpec.Mirrors).

var outboundRuleTypes = []string{"FQDN", "PrivateEndpoint", "ServiceTag"}

// validateOutboundRule checks one rule (the child's properties, or a
// value of the workspace's map at path).
func validateOutboundRule(rule value.Value, path string) error {
	if rule.Kind() != value.Object {
		return badRequest("InvalidRequestContent", "%s must be an outbound rule object with a type (%s).", path, strings.Join(outboundRuleTypes, ", "))
	}
	if rule.Field("type").Kind() != value.String {
		return badRequest("InvalidRequestContent", "%s.type is required (%s).", path, strings.Join(outboundRuleTypes, ", "))
	}
	if err := oneOf(rule.Field("type"), path+".type", outboundRuleTypes...); err != nil {
		return err
	}
	if err := validateRuleDestination(rule, rule.Field("type").Str(), path); err != nil {
		return err
	}
	return oneOf(rule.Field("category"), path+".category", "Required", "Recommended", "UserDefined", "Dependency")
}

func validateOutboundRuleResource(body value.Value, create bool) error {
	if err := requireProperties(body, true); err != nil {
		return err
	}
	return validateOutboundRule(body.Field("properties"), "properties")
}

// outboundRules returns a workspace's rule map (Undefined when absent).
func outboundRules(ws value.Value) value.Value {
	return get(ws, "properties", "managedNetwork", "outboundRules")
}

// ruleDefaults completes a rule as the resource provider stores it.
func ruleDefaults(rule value.Value) value.Value {
	rule = setDefault(rule, str("UserDefined"), "category")
	return setDefault(rule, str("Inactive"), "status")
}

func outboundRuleDefaults(c *Ctx, body, existing value.Value) value.Value {
	return body.With("properties", ruleDefaults(body.Field("properties")))
}

// ruleID is the id of a workspace's rule child.
func ruleID(ws *arm.ID, name string) *arm.ID {
	id := *ws
	id.Parts = append(append([]arm.Part(nil), ws.Parts...), arm.Part{Type: "outboundRules", Name: name})
	return &id
}

// workspaceRuleMirrors writes the rule children a workspace write adds,
// changes or removes in its map.
func workspaceRuleMirrors(c *Ctx, obj, old value.Value) []Mirror {
	now, was := outboundRules(obj), outboundRules(old)
	if now.JSON() == was.JSON() {
		return nil
	}
	var out []Mirror
	for _, mem := range now.Members() {
		rule := mem.Value
		if was.Field(mem.Key).JSON() == rule.JSON() {
			continue
		}
		id := ruleID(c.ID, mem.Key)
		sd := obj.Field("systemData")
		out = append(out, Mirror{ID: id, Update: func(cur value.Value) value.Value {
			if cur.IsUndefined() {
				cur = jsonOf(map[string]any{"id": id.String(), "name": id.Name(), "type": id.Type()})
				cur = cur.With("systemData", sd)
			}
			return cur.With("properties", rule.With("provisioningState", str("Succeeded")))
		}})
	}
	for _, mem := range was.Members() {
		if _, kept := now.Get(mem.Key); !kept {
			out = append(out, Mirror{ID: ruleID(c.ID, mem.Key), Update: func(value.Value) value.Value { return value.Value{} }})
		}
	}
	return out
}

// ruleWorkspaceMirror sets (or, for a delete, removes) a rule child in its
// workspace's map.
func ruleWorkspaceMirror(c *Ctx, obj, old value.Value) []Mirror {
	name := c.ID.Name()
	return []Mirror{{ID: c.ID.Parent(), Update: func(ws value.Value) value.Value {
		if ws.IsUndefined() {
			return ws
		}
		rules := outboundRules(ws)
		if obj.IsUndefined() {
			if rules.Kind() != value.Object {
				return ws
			}
			return set(ws, without(rules, memberKey(rules, name)), "properties", "managedNetwork", "outboundRules")
		}
		if rules.Kind() != value.Object {
			rules = value.ObjectValue()
		}
		return set(ws, rules.Without(memberKey(rules, name)).With(name, obj.Field("properties").Without("provisioningState").With("status", str(networkRuleStatus(ws)))), "properties", "managedNetwork", "outboundRules")
	}}}
}

// memberKey is the key of v's member named name (case-insensitively, as
// resource names compare), or name.
func memberKey(v value.Value, name string) string {
	for _, m := range v.Members() {
		if strings.EqualFold(m.Key, name) {
			return m.Key
		}
	}
	return name
}
