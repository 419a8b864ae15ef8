package deploy

import (
	"context"
	"fmt"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
)

// Deploy starts the deployment name at scopeID (a resource group or a
// subscription id) as caller, with a template and its parameters
// ({"name": {"value": v}}), through the write path (the caller needs
// Microsoft.Resources/deployments/write, and each resource its own
// action), and returns the deployment's id. A deployment of that name
// that exists already is returned as it is, not run again: a remediation
// resumed after a restart finds the one it started. It is what
// DeployIfNotExists remediations run (govern.Deployer).
func (e *Engine) Deploy(ctx context.Context, caller activitylog.Caller, scopeID, name string, tmpl, params value.Value) (string, error) {
	scope, err := arm.ParseID(scopeID)
	if err != nil || !(scope.IsResourceGroup() || scope.IsSubscription()) {
		return "", fmt.Errorf("a deployment's scope is a resource group or a subscription, not '%s'", scopeID)
	}
	id := &arm.ID{SubscriptionID: scope.SubscriptionID, ResourceGroup: scope.ResourceGroup,
		Parts: []arm.Part{{Namespace: "Microsoft.Resources", Type: "deployments", Name: name}}}
	rec, err := e.record(ctx, id)
	if err != nil {
		return "", err
	}
	if !rec.IsUndefined() {
		return rec.Field("id").Str(), nil
	}
	if params.IsUndefined() {
		params = value.ObjectValue()
	}
	body := value.ObjectValue(value.Member{Key: "properties", Value: value.ObjectValue(
		value.Member{Key: "mode", Value: value.StringValue("Incremental")},
		value.Member{Key: "template", Value: tmpl},
		value.Member{Key: "parameters", Value: params})})
	if scope.ResourceGroup == "" {
		locs := e.mgr.Locations()
		if len(locs) == 0 {
			return "", fmt.Errorf("no location to keep a subscription deployment in")
		}
		body = body.With("location", value.StringValue(arm.NormalizeLocation(locs[0])))
	}
	resp, err := e.mgr.Handle(ctx, &resources.Request{Method: "PUT", Path: id.String(), ID: id, APIVersion: "2026-06-01", Body: []byte(body.JSON()), Caller: caller})
	if err != nil {
		return "", err
	}
	v, err := value.Parse(resp.Body)
	if err != nil {
		return "", err
	}
	return v.Field("id").Str(), nil
}

// Status returns a deployment's provisioning state and, when it failed,
// its error ({code, message, details}).
func (e *Engine) Status(ctx context.Context, deploymentID string) (string, value.Value, error) {
	id, err := arm.ParseID(deploymentID)
	if err != nil {
		return "", value.Value{}, err
	}
	rec, err := e.record(ctx, id)
	if err != nil {
		return "", value.Value{}, err
	}
	if rec.IsUndefined() {
		return "", value.Value{}, arm.Errorf("DeploymentNotFound", "The deployment '%s' could not be found.", id.Name())
	}
	p := rec.Field("properties")
	return p.Field("provisioningState").Str(), p.Field("error"), nil
}
