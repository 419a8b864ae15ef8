package inbound

import (
	"context"
	"errors"
	"strings"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/resources"
)

// ApprovalAction is what approving a private endpoint's connection to a
// workspace takes on the workspace, as in Azure.
const ApprovalAction = "Microsoft.MachineLearningServices/workspaces/privateEndpointConnectionsApproval/action"

// Validate implements resources.ValidatingAdmission: a write of a
// private endpoint whose connection to a workspace says Approved (and
// did not before) needs ApprovalAction on that workspace, else 403
// LinkedAuthorizationFailed, as ARM answers a write that needs an action
// on a linked resource. Without it a private endpoint's writer could
// approve itself into any private workspace. (The workspace's side, a
// privateEndpointConnections child, is written with that workspace's
// own permission.) Without Config.Authorize nothing is checked.
func (c *Checker) Validate(ctx context.Context, a *resources.Attributes) error {
	if c.cfg.Authorize == nil || a.Spec == nil || !strings.EqualFold(a.Spec.Type, "Microsoft.Network/privateEndpoints") || a.Object.IsUndefined() {
		return nil
	}
	before := approvedWorkspaces(a.OldObject)
	for key, ws := range approvedWorkspaces(a.Object) {
		if _, had := before[key]; had {
			continue
		}
		err := c.cfg.Authorize(ctx, &a.Principal, ApprovalAction, ws)
		var ae *arm.Error
		if errors.As(err, &ae) && ae.Code == "AuthorizationFailed" {
			return linkedAuthorizationFailed(&a.Principal, a.Action, a.ID.String(), ws)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// connections calls fn with the properties of each connection of a
// private endpoint body (automatic and manual ones), until fn says stop.
func connections(pe value.Value, fn func(cp value.Value) (stop bool)) {
	p := pe.Field("properties")
	for _, list := range []string{"privateLinkServiceConnections", "manualPrivateLinkServiceConnections"} {
		for _, cn := range p.Field(list).Elems() {
			if fn(cn.Field("properties")) {
				return
			}
		}
	}
}

// approvedWorkspaces are the workspaces (by key) a private endpoint body
// has an Approved connection to.
func approvedWorkspaces(pe value.Value) map[string]string {
	out := map[string]string{}
	connections(pe, func(cp value.Value) bool {
		if !strings.EqualFold(cp.Field("privateLinkServiceConnectionState").Field("status").Str(), "Approved") {
			return false
		}
		id, err := arm.ParseID(cp.Field("privateLinkServiceId").Str())
		if err == nil && strings.EqualFold(id.Type(), "Microsoft.MachineLearningServices/workspaces") {
			out[id.Key()] = id.String()
		}
		return false
	})
	return out
}

func linkedAuthorizationFailed(c *activitylog.Caller, action, scope, linked string) *arm.Error {
	name := c.Name
	if name == "" {
		name = c.ObjectID
	}
	return arm.Errorf("LinkedAuthorizationFailed", "The client '%s' with object id '%s' has permission to perform action '%s' on scope '%s'; however, it does not have permission to perform action(s) '%s' on the linked scope(s) '%s' (respectively) or the linked scope(s) are invalid.",
		name, c.ObjectID, action, scope, ApprovalAction, linked)
}

// Admit implements resources.MutatingAdmission: a private endpoint's
// connection to a workspace written without a state gets the one Azure
// gives it: the state it had (a connection to the same workspace in the
// stored private endpoint), else, for an automatic connection
// (privateLinkServiceConnections) whose writer has ApprovalAction on the
// workspace, Approved ("Auto-Approved"), else Pending ("Awaiting
// approval": the workspace's owner decides).
func (c *Checker) Admit(ctx context.Context, a *resources.Attributes) error {
	if a.Spec == nil || !strings.EqualFold(a.Spec.Type, "Microsoft.Network/privateEndpoints") || a.Object.Kind() != value.Object {
		return nil
	}
	props := a.Object.Field("properties")
	if props.Kind() != value.Object {
		return nil
	}
	changed := false
	for _, list := range []string{"privateLinkServiceConnections", "manualPrivateLinkServiceConnections"} {
		l := props.Field(list)
		if l.Kind() != value.Array {
			continue
		}
		elems := append([]value.Value(nil), l.Elems()...)
		listChanged := false
		for i, cn := range elems {
			cp := cn.Field("properties")
			if cn.Kind() != value.Object || cp.Kind() != value.Object || !cp.Field("privateLinkServiceConnectionState").Field("status").IsNullish() {
				continue
			}
			id, err := arm.ParseID(cp.Field("privateLinkServiceId").Str())
			if err != nil || !strings.EqualFold(id.Type(), "Microsoft.MachineLearningServices/workspaces") {
				continue
			}
			if old := storedState(a.OldObject, id.Key()); !old.IsUndefined() {
				elems[i] = cn.With("properties", cp.With("privateLinkServiceConnectionState", old))
				listChanged = true
				continue
			}
			status, desc := "Pending", "Awaiting approval"
			if list == "privateLinkServiceConnections" && c.cfg.Authorize != nil {
				err := c.cfg.Authorize(ctx, &a.Principal, ApprovalAction, id.String())
				var ae *arm.Error
				switch {
				case err == nil:
					status, desc = "Approved", "Auto-Approved"
				case errors.As(err, &ae) && ae.Code == "AuthorizationFailed":
				default:
					return err
				}
			}
			state := value.ObjectValue(value.Member{Key: "status", Value: value.StringValue(status)},
				value.Member{Key: "description", Value: value.StringValue(desc)},
				value.Member{Key: "actionsRequired", Value: value.StringValue("None")})
			elems[i] = cn.With("properties", cp.With("privateLinkServiceConnectionState", state))
			listChanged = true
		}
		if listChanged {
			props = props.With(list, value.ArrayValue(elems))
			changed = true
		}
	}
	if changed {
		a.Object = a.Object.With("properties", props)
	}
	return nil
}

// storedState is the state of a stored private endpoint's connection
// to the workspace of key (Undefined when none).
func storedState(pe value.Value, key string) value.Value {
	var out value.Value
	connections(pe, func(cp value.Value) bool {
		if arm.KeyOf(cp.Field("privateLinkServiceId").Str()) == key {
			if st := cp.Field("privateLinkServiceConnectionState"); st.Field("status").Str() != "" {
				out = st
				return true
			}
		}
		return false
	})
	return out
}
