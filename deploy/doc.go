// Package deploy serves ARM template deployments
// (Microsoft.Resources/deployments at resource-group and subscription
// scope) and runs them: a deployment's template is planned by
// deploy/template and each of its resources is written through the
// resource manager's one write path (resources.Manager.Handle) as the
// principal who created the deployment, so authorization, policy
// admission and the activity log apply to every resource exactly as to a
// request. Long-running resources are waited for; nested deployments are
// deployments of their own; outputs are evaluated at the end; Complete
// mode deletes what the template no longer names.
//
// The deployment record is a resource of the manager (types.go): its
// template, parameter values and caller are kept with it as its secrets,
// never returned by a GET. The Engine (engine.go) runs accepted
// deployments: the replica that accepted one starts it at once, and every
// replica's sweep resumes deployments whose runner stopped (a lease kept
// in the store). Handler (handler.go) serves what does not write:
// validate (preflight: every resource tried through the write path
// without writing) and whatIf, and checks a PUT before it is stored.
package deploy
