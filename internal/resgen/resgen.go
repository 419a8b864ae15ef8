// Package resgen generates a deterministic stream of realistic Azure
// Machine Learning resources (ARM GET shapes of api-version 2025-12-01 with
// synthetic values) for benchmarks, demos and scripts/genresources.
//
// The mix follows what a subscription running Azure ML holds: workspaces
// (default, hub and project kinds), computes (ComputeInstance, AmlCompute,
// Kubernetes), jobs, online endpoints and deployments, registries,
// datastores, the associated storage accounts, key vaults, private
// endpoints and diagnostic settings, and the data-plane components the
// resource-provider-mode built-ins evaluate
// (Microsoft.MachineLearningServices.v2.Data/workspaces/deployments and
// Microsoft.MachineLearningServices.Data/workspaces). Compliant and
// non-compliant settings are mixed so that every effect of the Machine
// Learning built-ins fires.
//
// The same seed always produces the same bytes: the generator uses its own
// splitmix64 stream, not math/rand.
package resgen

import (
	"fmt"
	"strconv"
)

// Generator produces resources one at a time. It is not safe for
// concurrent use.
type Generator struct{ g *gen }

// New returns a generator for the given seed.
func New(seed uint64) *Generator { return &Generator{newGen(seed)} }

// Append appends the next resource, as one line of compact JSON without
// the newline, to b.
func (g *Generator) Append(b []byte) []byte { return g.g.resource().appendJSON(b) }

// ---- a small ordered JSON builder

// obj is a JSON object with members in order.
type obj []kv

type kv struct {
	k string
	v any
}

// arr is a JSON array.
type arr []any

// o builds an object from alternating keys and values; a nil value (omit)
// drops the member.
func o(pairs ...any) obj {
	m := make(obj, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		if _, skip := pairs[i+1].(omitT); skip {
			continue
		}
		m = append(m, kv{pairs[i].(string), pairs[i+1]})
	}
	return m
}

type omitT struct{}

// omit marks a member that is left out.
var omit = omitT{}

func (m obj) appendJSON(b []byte) []byte { return appendValue(b, m) }

func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case string:
		return strconv.AppendQuote(b, v)
	case []string:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, s)
		}
		return append(b, ']')
	case arr:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	case obj:
		b = append(b, '{')
		for i, m := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, m.k)
			b = append(b, ':')
			b = appendValue(b, m.v)
		}
		return append(b, '}')
	}
	panic(fmt.Sprintf("resgen: unsupported value %T", v))
}

// ---- deterministic randomness

type rng struct{ s uint64 }

// next is splitmix64.
func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// chance is true with probability pct/100.
func (r *rng) chance(pct int) bool { return r.intn(100) < pct }

func pick[T any](r *rng, xs ...T) T { return xs[r.intn(len(xs))] }

func (r *rng) guid() string {
	a, b := r.next(), r.next()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", uint32(a>>32), uint16(a>>16), uint16(a), uint16(b>>48), b&0xffffffffffff)
}

func (r *rng) hex(n int) string {
	const digits = "0123456789abcdef"
	out := make([]byte, n)
	for i := range out {
		out[i] = digits[r.intn(16)]
	}
	return string(out)
}

// ---- the generator

type gen struct {
	r     rng
	subs  []string
	rgs   []string
	teams []string
}

func newGen(seed uint64) *gen {
	g := &gen{r: rng{s: seed * 0x2545f4914f6cdd1d}}
	for i := 0; i < 8; i++ {
		g.subs = append(g.subs, g.r.guid())
	}
	g.teams = []string{"fraud", "vision", "nlp", "forecast", "churn", "genai", "recsys", "risk", "speech", "search", "ops", "pricing"}
	for _, t := range g.teams {
		for _, env := range []string{"dev", "test", "prod"} {
			g.rgs = append(g.rgs, "rg-ml-"+t+"-"+env)
		}
	}
	return g
}

var locations = []string{"eastus", "eastus2", "westeurope", "northeurope", "westus3", "swedencentral", "uksouth", "southeastasia", "East US 2", "francecentral"}

// scope is where a resource lives.
type scope struct {
	sub, rg, team, loc, ws string
}

func (g *gen) scope() scope {
	r := &g.r
	ti := r.intn(len(g.teams))
	env := r.intn(3)
	return scope{
		sub:  g.subs[r.intn(len(g.subs))],
		rg:   g.rgs[ti*3+env],
		team: g.teams[ti],
		loc:  pick(r, locations...),
		ws:   fmt.Sprintf("mlw-%s-%s-%02d", g.teams[ti], [...]string{"dev", "test", "prod"}[env], r.intn(20)),
	}
}

func (s scope) rgID() string { return "/subscriptions/" + s.sub + "/resourceGroups/" + s.rg }

func (s scope) providerID(ns string) string { return s.rgID() + "/providers/" + ns }

func (s scope) wsID() string {
	return s.providerID("Microsoft.MachineLearningServices") + "/workspaces/" + s.ws
}

func (g *gen) tags(s scope) obj {
	r := &g.r
	t := o("team", s.team, "env", pick(r, "dev", "test", "prod"), "costCenter", strconv.Itoa(1000+r.intn(9000)))
	if r.chance(40) {
		t = append(t, kv{"owner", pick(r, "alice", "bob", "chen", "dana", "emeka", "fatima") + "@contoso.com"})
	}
	if r.chance(20) {
		t = append(t, kv{"dataClassification", pick(r, "Confidential", "General", "Restricted")})
	}
	return t
}

func (g *gen) systemData() obj {
	r := &g.r
	day := 1 + r.intn(28)
	user := pick(r, "alice", "bob", "chen", "dana") + "@contoso.com"
	return o("createdBy", user, "createdByType", "User",
		"createdAt", fmt.Sprintf("2025-%02d-%02dT%02d:%02d:%02d.%07dZ", 1+r.intn(12), day, r.intn(24), r.intn(60), r.intn(60), r.intn(10000000)),
		"lastModifiedBy", user, "lastModifiedByType", "User",
		"lastModifiedAt", fmt.Sprintf("2026-%02d-%02dT%02d:%02d:%02dZ", 1+r.intn(10), day, r.intn(24), r.intn(60), r.intn(60)))
}

// resource returns resource number i: the kind is chosen from a fixed
// weighted mix.
func (g *gen) resource() obj {
	r := &g.r
	x := r.intn(100)
	switch {
	case x < 18:
		return g.workspace()
	case x < 27:
		return g.computeInstance()
	case x < 35:
		return g.amlCompute()
	case x < 39:
		return g.kubernetesCompute()
	case x < 48:
		return g.job()
	case x < 52:
		return g.onlineEndpoint()
	case x < 57:
		return g.onlineDeployment()
	case x < 60:
		return g.registry()
	case x < 65:
		return g.datastore()
	case x < 69:
		return g.storageAccount()
	case x < 72:
		return g.keyVault()
	case x < 78:
		return g.privateEndpoint()
	case x < 83:
		return g.diagnosticSetting()
	case x < 92:
		return g.v2DataDeployment()
	default:
		return g.dataWorkspace()
	}
}

func (g *gen) workspace() obj {
	r := &g.r
	s := g.scope()
	kind := pick(r, "Default", "Default", "Default", "Hub", "Project")
	name := s.ws
	if kind == "Hub" {
		name = "hub-" + s.team + "-" + strconv.Itoa(r.intn(10))
	} else if kind == "Project" {
		name = "proj-" + s.team + "-" + strconv.Itoa(r.intn(50))
	}
	id := s.providerID("Microsoft.MachineLearningServices") + "/workspaces/" + name
	uai := s.providerID("Microsoft.ManagedIdentity") + "/userAssignedIdentities/uai-" + s.team
	var identity obj
	var primaryUAI any = omit
	switch r.intn(4) {
	case 0:
		identity = o("type", "SystemAssigned", "principalId", r.guid(), "tenantId", g.subs[0])
	case 1:
		identity = o("type", "SystemAssigned,UserAssigned", "principalId", r.guid(), "tenantId", g.subs[0],
			"userAssignedIdentities", o(uai, o("clientId", r.guid(), "principalId", r.guid())))
		primaryUAI = uai
	case 2:
		identity = o("type", "UserAssigned", "tenantId", g.subs[0],
			"userAssignedIdentities", o(uai, o("clientId", r.guid(), "principalId", r.guid())))
		primaryUAI = pick[any](r, uai, uai, "")
	default:
		identity = o("type", "None")
	}
	vault := s.providerID("Microsoft.KeyVault") + "/vaults/kv-" + s.team + "-" + r.hex(4)
	var encryption any = omit
	switch r.intn(3) {
	case 0:
		encryption = o("status", "Enabled",
			"identity", o("userAssignedIdentity", uai),
			"keyVaultProperties", o("keyVaultArmId", vault, "keyIdentifier", "https://kv-"+s.team+".vault.azure.net/keys/cmk/"+r.hex(32), "identityClientId", ""))
	case 1:
		encryption = o("status", "Disabled", "keyVaultProperties", o("keyVaultArmId", "", "keyIdentifier", ""))
	}
	var pnaV any = pick[any](r, "Enabled", "Disabled", "Disabled", omit)
	var peConns arr
	for j, m := 0, pick(r, 0, 0, 1, 1, 1, 2); j < m; j++ {
		peName := "pe-" + name + "-" + strconv.Itoa(j)
		peConns = append(peConns, o("id", id+"/privateEndpointConnections/"+peName, "name", peName,
			"type", "Microsoft.MachineLearningServices/workspaces/privateEndpointConnections",
			"properties", o(
				"privateEndpoint", o("id", s.providerID("Microsoft.Network")+"/privateEndpoints/"+peName),
				"privateLinkServiceConnectionState", o("status", pick(r, "Approved", "Approved", "Pending", "Rejected"), "description", "Auto-Approved", "actionsRequired", "None"),
				"provisioningState", "Succeeded")))
	}
	var managedNetwork any = omit
	if r.chance(70) {
		iso := pick(r, "Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound")
		mn := o("isolationMode", iso, "networkId", r.guid(), "status", o("status", pick(r, "Active", "Inactive"), "sparkReady", r.chance(30)))
		managedNetwork = mn
	}
	props := o(
		"friendlyName", name,
		"description", "Azure ML workspace of the "+s.team+" team",
		"storageAccount", s.providerID("Microsoft.Storage")+"/storageAccounts/st"+s.team+r.hex(6),
		"keyVault", vault,
		"applicationInsights", s.providerID("microsoft.insights")+"/components/appi-"+s.team,
		"containerRegistry", pick[any](r, s.providerID("Microsoft.ContainerRegistry")+"/registries/cr"+s.team, omit),
		"hbiWorkspace", r.chance(10),
		"encryption", encryption,
		"primaryUserAssignedIdentity", primaryUAI,
		"publicNetworkAccess", pnaV,
		"allowPublicAccessWhenBehindVnet", r.chance(20),
		"v1LegacyMode", pick[any](r, false, false, true, omit),
		"managedNetwork", managedNetwork,
		"privateEndpointConnections", func() any {
			if peConns == nil {
				return pick[any](r, arr{}, omit)
			}
			return peConns
		}(),
		"workspaceId", r.guid(),
		"discoveryUrl", "https://"+locNorm(s.loc)+".api.azureml.ms/discovery",
		"provisioningState", "Succeeded",
	)
	if kind == "Project" {
		props = append(props, kv{"hubResourceId", s.providerID("Microsoft.MachineLearningServices") + "/workspaces/hub-" + s.team + "-0"})
	}
	return o("id", id, "name", name, "type", "Microsoft.MachineLearningServices/workspaces",
		"kind", kind, "location", s.loc, "tags", g.tags(s),
		"identity", identity,
		"sku", o("name", "Basic", "tier", "Basic"),
		"properties", props,
		"systemData", g.systemData())
}

func locNorm(l string) string {
	b := make([]byte, 0, len(l))
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == ' ' {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

func (g *gen) computeBase(s scope, name, computeType string, inner obj) obj {
	r := &g.r
	return o("id", s.wsID()+"/computes/"+name, "name", name,
		"type", "Microsoft.MachineLearningServices/workspaces/computes",
		"location", s.loc, "tags", g.tags(s),
		"identity", pick[any](r, o("type", "SystemAssigned", "principalId", r.guid(), "tenantId", g.subs[0]), omit),
		"properties", o(
			"computeType", computeType,
			"computeLocation", s.loc,
			"description", computeType+" for "+s.team,
			"provisioningState", pick(r, "Succeeded", "Succeeded", "Creating", "Failed"),
			"createdOn", "2025-04-01T22:00:00.0000000+00:00",
			"modifiedOn", "2026-02-11T08:31:00.0000000+00:00",
			"isAttachedCompute", computeType == "Kubernetes",
			"disableLocalAuth", pick[any](r, true, true, false, omit),
			"properties", inner),
		"systemData", g.systemData())
}

func (g *gen) subnet(s scope) any {
	r := &g.r
	switch r.intn(4) {
	case 0:
		return omit
	case 1:
		return o("id", "")
	}
	return o("id", s.providerID("Microsoft.Network")+"/virtualNetworks/vnet-"+s.team+"/subnets/snet-ml")
}

func (g *gen) computeInstance() obj {
	r := &g.r
	s := g.scope()
	name := "ci-" + pick(r, "alice", "bob", "chen", "dana", "emeka", "fatima") + "-" + r.hex(4)
	latest := r.chance(60)
	cur := "25.01.13"
	if latest {
		cur = "25.06.30"
	}
	inner := o(
		"vmSize", pick(r, "STANDARD_DS3_V2", "STANDARD_E4DS_V4", "STANDARD_NC6S_V3"),
		"subnet", g.subnet(s),
		"applicationSharingPolicy", pick(r, "Personal", "Shared"),
		"computeInstanceAuthorizationType", "personal",
		"sshSettings", o("sshPublicAccess", pick(r, "Disabled", "Enabled"), "adminUserName", "azureuser", "sshPort", 4000+r.intn(1000)),
		"idleTimeBeforeShutdown", pick[any](r, "PT30M", "PT60M", "PT2H", "", omit),
		"osImageMetadata", o("currentImageVersion", cur, "latestImageVersion", "25.06.30", "isLatestOsImageVersion", latest),
		"enableNodePublicIp", pick[any](r, false, true, omit),
		"personalComputeInstanceSettings", o("assignedUser", o("objectId", r.guid(), "tenantId", g.subs[0])),
		"connectivityEndpoints", o("publicIpAddress", fmt.Sprintf("20.%d.%d.%d", r.intn(256), r.intn(256), r.intn(256)), "privateIpAddress", fmt.Sprintf("10.0.%d.%d", r.intn(256), r.intn(256))),
		"state", pick(r, "Running", "Stopped", "Running"),
		"errors", nil,
	)
	return g.computeBase(s, name, "ComputeInstance", inner)
}

func (g *gen) amlCompute() obj {
	r := &g.r
	s := g.scope()
	name := "cpu-cluster-" + r.hex(4)
	max := 1 + r.intn(16)
	inner := o(
		"vmSize", pick(r, "STANDARD_D13_V2", "STANDARD_NC24ADS_A100_V4", "STANDARD_DS11_V2"),
		"vmPriority", pick(r, "Dedicated", "LowPriority"),
		"osType", "Linux",
		"isolatedNetwork", r.chance(20),
		"subnet", g.subnet(s),
		"scaleSettings", o("maxNodeCount", max, "minNodeCount", 0, "nodeIdleTimeBeforeScaleDown", pick(r, "PT5M", "PT30M", "PT2M")),
		"remoteLoginPortPublicAccess", pick(r, "Enabled", "Disabled", "NotSpecified"),
		"enableNodePublicIp", pick[any](r, true, false, omit),
		"allocationState", pick(r, "Steady", "Resizing"),
		"allocationStateTransitionTime", "2026-01-27T22:28:08.998Z",
		"currentNodeCount", r.intn(max+1), "targetNodeCount", r.intn(max+1),
		"nodeStateCounts", o("preparingNodeCount", 0, "runningNodeCount", r.intn(4), "idleNodeCount", r.intn(4), "unusableNodeCount", 0, "leavingNodeCount", 0, "preemptedNodeCount", 0),
		"errors", nil,
	)
	return g.computeBase(s, name, "AmlCompute", inner)
}

func (g *gen) kubernetesCompute() obj {
	r := &g.r
	s := g.scope()
	name := "aks-" + s.team + "-" + r.hex(3)
	inner := o(
		"namespace", "azureml-"+s.team,
		"defaultInstanceType", "defaultinstancetype",
		"instanceTypes", o("defaultinstancetype", o("nodeSelector", nil, "resources", o("requests", o("cpu", "1", "memory", "4Gi"), "limits", o("cpu", "1", "memory", "4Gi", "nvidia.com/gpu", nil)))),
		"extensionPrincipalId", r.guid(),
		"extensionInstanceReleaseTrain", "stable",
		"vcName", "",
	)
	b := g.computeBase(s, name, "Kubernetes", inner)
	for i := range b {
		if b[i].k == "properties" {
			p := b[i].v.(obj)
			p = append(p, kv{"resourceId", s.providerID("Microsoft.ContainerService") + "/managedClusters/aks-" + s.team})
			b[i].v = p
		}
	}
	return b
}

func (g *gen) job() obj {
	r := &g.r
	s := g.scope()
	name := pick(r, "train", "eval", "sweep", "score") + "-" + r.hex(10)
	jt := pick(r, "Command", "Command", "Pipeline", "Sweep")
	props := o(
		"jobType", jt,
		"displayName", name,
		"experimentName", s.team+"-experiments",
		"description", "nightly "+jt+" job",
		"computeId", s.wsID()+"/computes/cpu-cluster-"+r.hex(4),
		"status", pick(r, "Completed", "Running", "Failed", "Queued", "Canceled"),
		"isArchived", false,
		"identity", pick[any](r, o("identityType", "AMLToken"), o("identityType", "Managed"), o("identityType", "UserIdentity")),
		"tags", o("run", strconv.Itoa(r.intn(1000))),
		"properties", o("azureml.git.repository_uri", "https://github.com/contoso/"+s.team+"-models", "azureml.git.commit", r.hex(40)),
	)
	switch jt {
	case "Command":
		props = append(props,
			kv{"command", "python train.py --epochs ${{inputs.epochs}} --data ${{inputs.training_data}}"},
			kv{"codeId", s.wsID() + "/codes/" + r.guid() + "/versions/1"},
			kv{"environmentId", "azureml://registries/azureml/environments/sklearn-1.5/versions/" + strconv.Itoa(1+r.intn(20))},
			kv{"inputs", o("epochs", o("jobInputType", "literal", "value", strconv.Itoa(1+r.intn(50))),
				"training_data", o("jobInputType", "uri_folder", "mode", "ReadOnlyMount", "uri", "azureml://datastores/workspaceblobstore/paths/"+s.team+"/train/"))},
			kv{"resources", o("instanceCount", 1+r.intn(4), "shmSize", "2g")},
			kv{"limits", o("jobLimitsType", "Command", "timeout", "PT8H")})
	case "Pipeline":
		props = append(props, kv{"settings", o("default_compute", "cpu-cluster", "continue_on_step_failure", false)},
			kv{"jobs", o("prep", o("type", "command", "component", "azureml:prep:1"), "train", o("type", "command", "component", "azureml:train:3"))})
	case "Sweep":
		props = append(props, kv{"objective", o("goal", "Maximize", "primaryMetric", "accuracy")},
			kv{"samplingAlgorithm", o("samplingAlgorithmType", "Random")},
			kv{"limits", o("jobLimitsType", "Sweep", "maxTotalTrials", 20, "maxConcurrentTrials", 4)})
	}
	return o("id", s.wsID()+"/jobs/"+name, "name", name,
		"type", "Microsoft.MachineLearningServices/workspaces/jobs",
		"properties", props,
		"systemData", g.systemData())
}

func (g *gen) onlineEndpoint() obj {
	r := &g.r
	s := g.scope()
	name := "ep-" + s.team + "-" + r.hex(4)
	return o("id", s.wsID()+"/onlineEndpoints/"+name, "name", name,
		"type", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
		"kind", "Managed", "location", s.loc, "tags", g.tags(s),
		"identity", o("type", "SystemAssigned", "principalId", r.guid(), "tenantId", g.subs[0]),
		"properties", o(
			"authMode", pick(r, "AMLToken", "Key", "AADToken"),
			"description", "real-time scoring for "+s.team,
			"publicNetworkAccess", pick(r, "Enabled", "Disabled"),
			"traffic", o("blue", 90, "green", 10),
			"scoringUri", "https://"+name+"."+locNorm(s.loc)+".inference.ml.azure.com/score",
			"swaggerUri", "https://"+name+"."+locNorm(s.loc)+".inference.ml.azure.com/swagger.json",
			"provisioningState", "Succeeded"),
		"systemData", g.systemData())
}

func (g *gen) onlineDeployment() obj {
	r := &g.r
	s := g.scope()
	ep := "ep-" + s.team + "-" + r.hex(4)
	name := pick(r, "blue", "green")
	return o("id", s.wsID()+"/onlineEndpoints/"+ep+"/deployments/"+name, "name", name,
		"type", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
		"kind", "Managed", "location", s.loc, "tags", g.tags(s),
		"sku", o("name", "Default", "capacity", 1+r.intn(3)),
		"properties", o(
			"endpointComputeType", "Managed",
			"model", pick(r, s.wsID()+"/models/"+s.team+"-model/versions/"+strconv.Itoa(1+r.intn(9)),
				"azureml://registries/azureml/models/Phi-3-mini-4k-instruct/versions/"+strconv.Itoa(1+r.intn(15))),
			"instanceType", pick(r, "Standard_DS3_v2", "Standard_NC6s_v3"),
			"appInsightsEnabled", r.chance(50),
			"egressPublicNetworkAccess", pick(r, "Enabled", "Disabled"),
			"requestSettings", o("maxConcurrentRequestsPerInstance", 1, "requestTimeout", "PT5S"),
			"livenessProbe", o("initialDelay", "PT10M", "period", "PT10S", "timeout", "PT2S", "failureThreshold", 30, "successThreshold", 1),
			"scaleSettings", o("scaleType", "Default"),
			"provisioningState", "Succeeded"),
		"systemData", g.systemData())
}

func (g *gen) registry() obj {
	r := &g.r
	s := g.scope()
	name := "reg-" + s.team
	return o("id", s.providerID("Microsoft.MachineLearningServices")+"/registries/"+name, "name", name,
		"type", "Microsoft.MachineLearningServices/registries",
		"kind", "", "location", s.loc, "tags", g.tags(s),
		"identity", o("type", "SystemAssigned", "principalId", r.guid(), "tenantId", g.subs[0]),
		"sku", o("name", "P3", "tier", "Basic"),
		"properties", o(
			"discoveryUrl", "https://"+locNorm(s.loc)+".api.azureml.ms/registrymanagement/v1.0/registries/"+name+"/discovery",
			"intellectualPropertyPublisher", "Contoso",
			"managedResourceGroup", o("resourceId", "/subscriptions/"+s.sub+"/resourceGroups/azureml-rg-"+name+"_"+r.guid()),
			"mlFlowRegistryUri", "azureml://"+locNorm(s.loc)+".api.azureml.ms/mlflow/v1.0"+s.providerID("Microsoft.MachineLearningServices")+"/registries/"+name,
			"publicNetworkAccess", pick(r, "Enabled", "Disabled"),
			"regionDetails", arr{o("location", locNorm(s.loc), "acrDetails", arr{o("systemCreatedAcrAccount", o("acrAccountSku", "Premium"))},
				"storageAccountDetails", arr{o("systemCreatedStorageAccount", o("storageAccountType", "Standard_LRS", "storageAccountHnsEnabled", false))})},
			"registryPrivateEndpointConnections", arr{}),
		"systemData", g.systemData())
}

func (g *gen) datastore() obj {
	r := &g.r
	s := g.scope()
	name := pick(r, "workspaceblobstore", "workspaceartifactstore", "curated_"+s.team, "LogsDatastore")
	dt := pick(r, "AzureBlob", "AzureBlob", "AzureDataLakeGen2", "AzureFile")
	props := o(
		"datastoreType", dt,
		"description", "data of the "+s.team+" team",
		"accountName", "st"+s.team+r.hex(6),
		"endpoint", "core.windows.net",
		"protocol", "https",
		"isDefault", name == "workspaceblobstore",
		"serviceDataAccessAuthIdentity", pick(r, "None", "WorkspaceSystemAssignedIdentity"),
		"credentials", pick[any](r, o("credentialsType", "AccountKey"), o("credentialsType", "None"), o("credentialsType", "Sas")),
		"tags", o("team", s.team),
	)
	switch dt {
	case "AzureBlob":
		props = append(props, kv{"containerName", "azureml-blobstore-" + r.guid()})
	case "AzureDataLakeGen2":
		props = append(props, kv{"filesystem", s.team + "-lake"})
	case "AzureFile":
		props = append(props, kv{"fileShareName", "code-" + r.guid()})
	}
	return o("id", s.wsID()+"/datastores/"+name, "name", name,
		"type", "Microsoft.MachineLearningServices/workspaces/datastores",
		"properties", props,
		"systemData", g.systemData())
}

func (g *gen) storageAccount() obj {
	r := &g.r
	s := g.scope()
	name := "st" + s.team + r.hex(6)
	return o("id", s.providerID("Microsoft.Storage")+"/storageAccounts/"+name, "name", name,
		"type", "Microsoft.Storage/storageAccounts",
		"kind", "StorageV2", "location", s.loc, "tags", g.tags(s),
		"sku", o("name", pick(r, "Standard_LRS", "Standard_ZRS", "Standard_GRS"), "tier", "Standard"),
		"properties", o(
			"minimumTlsVersion", pick(r, "TLS1_2", "TLS1_2", "TLS1_0"),
			"allowBlobPublicAccess", r.chance(20),
			"allowSharedKeyAccess", r.chance(50),
			"supportsHttpsTrafficOnly", true,
			"publicNetworkAccess", pick(r, "Enabled", "Disabled"),
			"isHnsEnabled", r.chance(30),
			"networkAcls", o("bypass", "AzureServices", "defaultAction", pick(r, "Allow", "Deny"), "ipRules", arr{}, "virtualNetworkRules", arr{}),
			"encryption", o("keySource", "Microsoft.Storage", "services", o("blob", o("enabled", true, "keyType", "Account"), "file", o("enabled", true, "keyType", "Account"))),
			"accessTier", "Hot",
			"provisioningState", "Succeeded",
			"primaryEndpoints", o("blob", "https://"+name+".blob.core.windows.net/", "file", "https://"+name+".file.core.windows.net/", "dfs", "https://"+name+".dfs.core.windows.net/")))
}

func (g *gen) keyVault() obj {
	r := &g.r
	s := g.scope()
	name := "kv-" + s.team + "-" + r.hex(4)
	return o("id", s.providerID("Microsoft.KeyVault")+"/vaults/"+name, "name", name,
		"type", "Microsoft.KeyVault/vaults",
		"location", s.loc, "tags", g.tags(s),
		"properties", o(
			"tenantId", g.subs[0],
			"sku", o("family", "A", "name", pick(r, "standard", "premium")),
			"enableRbacAuthorization", r.chance(70),
			"enableSoftDelete", true,
			"softDeleteRetentionInDays", pick(r, 7, 90),
			"enablePurgeProtection", pick[any](r, true, omit),
			"publicNetworkAccess", pick(r, "Enabled", "Disabled"),
			"networkAcls", o("bypass", "AzureServices", "defaultAction", pick(r, "Allow", "Deny"), "ipRules", arr{}, "virtualNetworkRules", arr{}),
			"accessPolicies", arr{},
			"vaultUri", "https://"+name+".vault.azure.net/",
			"provisioningState", "Succeeded"))
}

func (g *gen) privateEndpoint() obj {
	r := &g.r
	s := g.scope()
	group := pick(r, "amlworkspace", "amlworkspace", "blob", "vault", "registry")
	target := s.wsID()
	switch group {
	case "blob":
		target = s.providerID("Microsoft.Storage") + "/storageAccounts/st" + s.team + r.hex(6)
	case "vault":
		target = s.providerID("Microsoft.KeyVault") + "/vaults/kv-" + s.team + "-" + r.hex(4)
	case "registry":
		target = s.providerID("Microsoft.ContainerRegistry") + "/registries/cr" + s.team
	}
	name := "pe-" + s.team + "-" + group + "-" + r.hex(4)
	conn := o("name", name, "id", s.providerID("Microsoft.Network")+"/privateEndpoints/"+name+"/privateLinkServiceConnections/"+name,
		"properties", o("privateLinkServiceId", target, "groupIds", []string{group},
			"privateLinkServiceConnectionState", o("status", pick(r, "Approved", "Approved", "Pending"), "description", "Auto-Approved", "actionsRequired", "None"),
			"provisioningState", "Succeeded"))
	var auto, manual arr = arr{conn}, arr{}
	if r.chance(15) {
		auto, manual = arr{}, arr{conn}
	}
	return o("id", s.providerID("Microsoft.Network")+"/privateEndpoints/"+name, "name", name,
		"type", "Microsoft.Network/privateEndpoints",
		"location", s.loc, "tags", g.tags(s),
		"properties", o(
			"subnet", o("id", s.providerID("Microsoft.Network")+"/virtualNetworks/vnet-"+s.team+"/subnets/snet-pe"),
			"privateLinkServiceConnections", auto,
			"manualPrivateLinkServiceConnections", manual,
			"networkInterfaces", arr{o("id", s.providerID("Microsoft.Network")+"/networkInterfaces/"+name+".nic."+r.guid())},
			"customDnsConfigs", arr{o("fqdn", r.guid()+".workspace."+locNorm(s.loc)+".api.azureml.ms", "ipAddresses", []string{fmt.Sprintf("10.1.%d.%d", r.intn(256), r.intn(256))})},
			"provisioningState", "Succeeded"))
}

func (g *gen) diagnosticSetting() obj {
	r := &g.r
	s := g.scope()
	name := pick(r, "MachineLearningServicesDiagnosticsLogsToWorkspace", "send-to-law", "archive")
	days := pick(r, 0, 30, 90, 365, 400)
	enabled := r.chance(80)
	var logs arr
	for _, cat := range []string{"AmlComputeClusterEvent", "AmlComputeJobEvent", "AmlRunStatusChangedEvent"} {
		logs = append(logs, o("category", cat, "enabled", enabled, "retentionPolicy", o("enabled", r.chance(60), "days", days)))
	}
	return o("id", s.wsID()+"/providers/Microsoft.Insights/diagnosticSettings/"+name, "name", name,
		"type", "Microsoft.Insights/diagnosticSettings",
		"properties", o(
			"workspaceId", "/subscriptions/"+s.sub+"/resourceGroups/rg-monitor/providers/Microsoft.OperationalInsights/workspaces/law-central",
			"storageAccountId", pick[any](r, s.providerID("Microsoft.Storage")+"/storageAccounts/stlogs"+s.team, omit),
			"logs", logs,
			"metrics", arr{o("category", "AllMetrics", "enabled", r.chance(70), "retentionPolicy", o("enabled", false, "days", 0))}))
}

var models = []struct{ registry, model, publisher string }{
	{"azureml", "Phi-3-mini-4k-instruct", "Microsoft"},
	{"azureml", "Phi-4", "Microsoft"},
	{"azureml-meta", "Llama-2-7b", "Meta"},
	{"azureml-meta", "Meta-Llama-3.1-8B-Instruct", "Meta"},
	{"azureml-mistral", "Mistral-7B-Instruct-v0.2", "Mistral AI"},
	{"HuggingFace", "bert-base-uncased", "HuggingFace"},
	{"contoso-models", "churn-classifier", "Contoso"},
}

func (g *gen) v2DataDeployment() obj {
	r := &g.r
	s := g.scope()
	m := models[r.intn(len(models))]
	model := o("assetId", fmt.Sprintf("azureml://registries/%s/models/%s/versions/%d", m.registry, m.model, 1+r.intn(20)),
		"registryName", m.registry, "publisher", m.publisher)
	if r.chance(20) {
		// A workspace model: no registry.
		model = o("assetId", fmt.Sprintf("azureml:%s-model:%d", s.team, 1+r.intn(9)), "publisher", "Contoso")
	}
	name := pick(r, "blue", "green", "canary") + "-" + r.hex(4)
	return o("type", "Microsoft.MachineLearningServices.v2.Data/workspaces/deployments",
		"id", s.wsID()+"/onlineEndpoints/ep-"+s.team+"/deployments/"+name,
		"name", name, "location", s.loc,
		"model", model,
		"endpointName", "ep-"+s.team,
		"instanceType", pick(r, "Standard_NC24ads_A100_v4", "Standard_DS3_v2"),
		"instanceCount", 1+r.intn(3))
}

func (g *gen) dataWorkspace() obj {
	r := &g.r
	s := g.scope()
	ct := pick(r, "MachineLearningCompute", "ComputeInstance", "ManagedEndpoint", "SynapseSpark", "Automatic", "Singularity")
	var tags []string
	for j, m := 0, r.intn(3); j < m; j++ {
		tags = append(tags, pick(r, "team:"+s.team, "env:prod", "pii", "gpu", "regulated"))
	}
	if tags == nil {
		tags = []string{}
	}
	return o("type", "Microsoft.MachineLearningServices.Data/workspaces",
		"id", s.wsID(),
		"name", s.ws, "location", s.loc,
		"workspaceId", r.guid(),
		"jobName", pick(r, "train", "eval", "score")+"-"+r.hex(10),
		"computeName", pick(r, "cpu-cluster", "gpu-cluster", "ci-"+pick(r, "alice", "bob"), "serverless"),
		"computeType", ct,
		"isIsolatedNetwork", pick(r, "Yes", "No"),
		"tags", tags)
}
