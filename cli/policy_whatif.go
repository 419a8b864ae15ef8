package cli

// mlgov policy what-if: a resource body against every assignment a write
// of it would meet on a running server, through checkPolicyRestrictions
// with mlgov.whatIf (docs/policy-what-if.md).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// ExitWhatIfDenied is the exit status of mlgov policy what-if when the
// write would be refused (a Deny, a conflict under conflictEffect deny,
// or a policy that cannot be evaluated).
const ExitWhatIfDenied = 3

// whatIfAnswer is the part of a CheckRestrictionsResult the report shows.
type whatIfAnswer struct {
	FieldRestrictions []struct {
		Field        string `json:"field"`
		Restrictions []struct {
			Result       string   `json:"result"`
			DefaultValue string   `json:"defaultValue"`
			Values       []string `json:"values"`
			PolicyEffect string   `json:"policyEffect"`
			Reason       string   `json:"reason"`
			Policy       struct {
				PolicyAssignmentID string `json:"policyAssignmentId"`
			} `json:"policy"`
		} `json:"restrictions"`
	} `json:"fieldRestrictions"`
	ContentEvaluationResult struct {
		PolicyEvaluations []whatIfEvaluation `json:"policyEvaluations"`
	} `json:"contentEvaluationResult"`
	ResourceContent json.RawMessage `json:"mlgov.resourceContent"`
	ResourceID      string          `json:"mlgov.resourceId"`
}

type whatIfEvaluation struct {
	PolicyInfo struct {
		PolicyDefinitionID          string `json:"policyDefinitionId"`
		PolicySetDefinitionID       string `json:"policySetDefinitionId"`
		PolicyDefinitionReferenceID string `json:"policyDefinitionReferenceId"`
		PolicyAssignmentID          string `json:"policyAssignmentId"`
	} `json:"policyInfo"`
	EvaluationResult  string `json:"evaluationResult"`
	EvaluationDetails struct {
		EvaluatedExpressions []struct {
			Result          string          `json:"result"`
			ExpressionKind  string          `json:"expressionKind"`
			Expression      string          `json:"expression"`
			ExpressionValue json.RawMessage `json:"expressionValue"`
			TargetValue     json.RawMessage `json:"targetValue"`
			Operator        string          `json:"operator"`
		} `json:"evaluatedExpressions"`
		Reason string `json:"reason"`
	} `json:"evaluationDetails"`
	EffectDetails struct {
		PolicyEffect string `json:"policyEffect"`
		Changes      []struct {
			Operation string          `json:"operation"`
			Field     string          `json:"field"`
			Path      string          `json:"path"`
			Before    json.RawMessage `json:"before"`
			After     json.RawMessage `json:"after"`
		} `json:"mlgov.changes"`
		Conflicts []struct {
			Operation string `json:"operation"`
			Field     string `json:"field"`
			Reason    string `json:"reason"`
		} `json:"mlgov.conflicts"`
		Skipped []struct {
			Operation string `json:"operation"`
			Field     string `json:"field"`
			Reason    string `json:"reason"`
		} `json:"mlgov.skipped"`
		Existence *struct {
			Type           string   `json:"type"`
			Name           string   `json:"name"`
			ResourceGroup  string   `json:"resourceGroupName"`
			ExistenceScope string   `json:"existenceScope"`
			Exists         bool     `json:"exists"`
			TotalResources int      `json:"totalResources"`
			Evaluated      []string `json:"evaluatedResourceIds"`
			Matched        string   `json:"matchedResourceId"`
		} `json:"mlgov.existence"`
		Deployment *struct {
			DeploymentScope   string          `json:"deploymentScope"`
			ResourceGroupName string          `json:"resourceGroupName"`
			Deployment        json.RawMessage `json:"deployment"`
		} `json:"mlgov.deployment"`
	} `json:"effectDetails"`
	AssignmentName        string `json:"mlgov.policyAssignmentName"`
	DefinitionDisplayName string `json:"mlgov.policyDefinitionDisplayName"`
}

// refuses reports whether the evaluation would refuse the write.
func (e *whatIfEvaluation) refuses() bool {
	return e.EvaluationResult == "Error" || e.EvaluationResult == "NonCompliant" && strings.EqualFold(e.EffectDetails.PolicyEffect, "Deny")
}

func newWhatIfCmd(e *env) *cobra.Command {
	conn := new(connOptions)
	var resourceFile, scope, apiVersion string
	c := &cobra.Command{
		Use:   "what-if",
		Short: "Show what every policy assignment in scope would do to a resource before it is written (against a running server's inventory)",
		Long: `Evaluate a resource body against every policy assignment a write of it at --scope would meet
on a running mlgov serve, without writing anything: the Modify and Append changes (before and
after), Deny with its evaluated conditions, Audit, and AuditIfNotExists/DeployIfNotExists with
their existence check against the live inventory and the deployment DeployIfNotExists would run.

Exit status: 0 when the write would be allowed; 3 when a policy would refuse it (Deny, a
conflict under conflictEffect deny, or a policy that cannot be evaluated); 1 on other errors.`,
		Args: cobra.NoArgs,
	}
	denied := false
	run := armCommand(e, func(cmd *cobra.Command, args []string) error {
		if resourceFile == "" {
			return fmt.Errorf("--resource is required: a JSON file (or inline JSON) of the resource body, with its type")
		}
		body, err := jsonObject("resource", resourceFile)
		if err != nil {
			return err
		}
		var typ string
		if t, ok := body["type"]; !ok || json.Unmarshal(t, &typ) != nil || !strings.Contains(typ, "/") {
			return fmt.Errorf("--resource %s: the body needs its \"type\", e.g. \"Microsoft.MachineLearningServices/workspaces\"", resourceFile)
		}
		if v, ok := body["apiVersion"]; ok { // a template's resource: its apiVersion
			var av string
			if json.Unmarshal(v, &av) == nil && apiVersion == "" {
				apiVersion = av
			}
			delete(body, "apiVersion")
		}
		var scopeErr error
		if scope != "" {
			scope, scopeErr = scopeArg("scope", scope)
		}
		ctx := cmd.Context()
		cl, err := conn.open(ctx, scopeErr)
		if err != nil {
			return err
		}
		at, err := cl.resolveScope(scope, "")
		if err != nil {
			return err
		}
		// The request goes to the subscription or resource group; a
		// deeper scope (a parent resource) is resourceDetails.scope.
		parts := strings.Split(strings.TrimPrefix(at, "/"), "/")
		post := "/" + strings.Join(parts[:min(len(parts), 2)], "/")
		if len(parts) >= 4 && strings.EqualFold(parts[2], "resourceGroups") {
			post = "/" + strings.Join(parts[:4], "/")
		}
		content, _ := json.Marshal(body)
		details := map[string]any{"resourceContent": json.RawMessage(content), "scope": at}
		if apiVersion != "" {
			details["apiVersion"] = apiVersion
		}
		req, _ := json.Marshal(map[string]any{"resourceDetails": details, "includeAuditEffect": true, "mlgov.whatIf": true})
		_, b, err := cl.call(ctx, "POST", post+insights+"checkPolicyRestrictions?"+url.Values{"api-version": {insightsAPIVersion}}.Encode(), req)
		if err != nil {
			return err
		}
		var ans whatIfAnswer
		if err := json.Unmarshal(b, &ans); err != nil {
			return fmt.Errorf("the server's answer is not a CheckRestrictionsResult: %w", err)
		}
		for i := range ans.ContentEvaluationResult.PolicyEvaluations {
			if ans.ContentEvaluationResult.PolicyEvaluations[i].refuses() {
				denied = true
			}
		}
		if conn.output == "json" {
			return printer{w: e.stdout, output: "json"}.one(b)
		}
		return whatIfReport(e.stdout, typ, at, apiVersion, &ans)
	})
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := run(cmd, args); err != nil {
			return err
		}
		if denied {
			return &exitError{ExitWhatIfDenied}
		}
		return nil
	}
	conn.register(c.Flags())
	f := c.Flags()
	f.StringVar(&resourceFile, "resource", "", "the resource body: a JSON file or inline JSON (type, name, location, properties, tags...)")
	f.StringVar(&scope, "scope", "", "where the resource would be written: a resource group, subscription or parent resource id (default: the subscription)")
	f.StringVar(&apiVersion, "api-version", "", "the api-version of the resource body (selects alias paths; default: the body's apiVersion, else the aliases' default paths)")
	return c
}

// whatIfReport writes the human-readable report.
func whatIfReport(w io.Writer, typ, scope, apiVersion string, ans *whatIfAnswer) error {
	var b bytes.Buffer
	id := ans.ResourceID
	if id == "" {
		id = typ + " at " + scope
	}
	fmt.Fprintf(&b, "What-if: %s\n", id)
	if apiVersion != "" {
		fmt.Fprintf(&b, "api-version: %s\n", apiVersion)
	}
	evals := ans.ContentEvaluationResult.PolicyEvaluations
	order := map[string]int{"deny": 0, "modify": 1, "append": 2, "audit": 3, "auditifnotexists": 4, "deployifnotexists": 5}
	sort.SliceStable(evals, func(i, j int) bool {
		a, c := &evals[i], &evals[j]
		if (a.EvaluationResult == "Compliant") != (c.EvaluationResult == "Compliant") {
			return c.EvaluationResult == "Compliant"
		}
		oa, ok1 := order[strings.ToLower(a.EffectDetails.PolicyEffect)]
		oc, ok2 := order[strings.ToLower(c.EffectDetails.PolicyEffect)]
		if !ok1 {
			oa = 9
		}
		if !ok2 {
			oc = 9
		}
		return oa < oc
	})
	var refusing, changing, quiet int
	fmt.Fprintf(&b, "%d policy evaluations\n", len(evals))
	for i := range evals {
		ev := &evals[i]
		eff := ev.EffectDetails.PolicyEffect
		if ev.EvaluationResult == "Compliant" && ev.EffectDetails.Existence == nil {
			quiet++
			continue
		}
		name := ev.AssignmentName
		if name == "" {
			name = shortResourceID(ev.PolicyInfo.PolicyAssignmentID)
		}
		title := ev.DefinitionDisplayName
		if ev.PolicyInfo.PolicyDefinitionReferenceID != "" {
			title += " [" + ev.PolicyInfo.PolicyDefinitionReferenceID + "]"
		}
		fmt.Fprintf(&b, "\n%s  %s  %s: %s\n", strings.ToUpper(eff), ev.EvaluationResult, name, title)
		fmt.Fprintf(&b, "  assignment: %s\n", ev.PolicyInfo.PolicyAssignmentID)
		if ev.refuses() {
			refusing++
		}
		if r := ev.EvaluationDetails.Reason; r != "" {
			fmt.Fprintf(&b, "  reason: %s\n", r)
		}
		for _, ch := range ev.EffectDetails.Changes {
			changing++
			fmt.Fprintf(&b, "  %s %s (%s): %s -> %s\n", ch.Operation, ch.Field, ch.Path, shown(ch.Before), shown(ch.After))
		}
		for _, cf := range ev.EffectDetails.Conflicts {
			fmt.Fprintf(&b, "  conflict: %s %s: %s\n", cf.Operation, cf.Field, cf.Reason)
		}
		for _, sk := range ev.EffectDetails.Skipped {
			fmt.Fprintf(&b, "  skipped: %s %s: %s\n", sk.Operation, sk.Field, sk.Reason)
		}
		if x := ev.EffectDetails.Existence; x != nil {
			what := x.Type
			if x.Name != "" {
				what += " named " + x.Name
			}
			where := "in the resource group"
			if x.ExistenceScope == "Subscription" {
				where = "in the subscription"
			}
			if x.ResourceGroup != "" {
				where = "in resource group " + x.ResourceGroup
			}
			fmt.Fprintf(&b, "  existence check: %s %s: %d examined\n", what, where, x.TotalResources)
			for _, r := range x.Evaluated {
				mark := "does not satisfy the existence condition"
				if strings.EqualFold(r, x.Matched) || x.Exists && len(x.Evaluated) == 1 {
					mark = "satisfies the existence condition"
				}
				fmt.Fprintf(&b, "    %s: %s\n", r, mark)
			}
			if x.Exists {
				fmt.Fprintf(&b, "  -> a related resource exists: no %s\n", strings.ToLower(eff))
			} else if strings.EqualFold(eff, "DeployIfNotExists") {
				fmt.Fprintf(&b, "  -> no related resource: the deployment below would run\n")
			} else {
				fmt.Fprintf(&b, "  -> no related resource: the resource would be NonCompliant\n")
			}
		}
		if d := ev.EffectDetails.Deployment; d != nil {
			where := d.DeploymentScope
			if d.ResourceGroupName != "" {
				where += " " + d.ResourceGroupName
			}
			fmt.Fprintf(&b, "  deployment (%s):\n", where)
			var dep struct {
				Properties struct {
					Mode       string                     `json:"mode"`
					Template   json.RawMessage            `json:"template"`
					Parameters map[string]json.RawMessage `json:"parameters"`
				} `json:"properties"`
			}
			json.Unmarshal(d.Deployment, &dep)
			if dep.Properties.Mode != "" {
				fmt.Fprintf(&b, "    mode: %s\n", dep.Properties.Mode)
			}
			names := make([]string, 0, len(dep.Properties.Parameters))
			for k := range dep.Properties.Parameters {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				var p struct {
					Value json.RawMessage `json:"value"`
				}
				json.Unmarshal(dep.Properties.Parameters[k], &p)
				fmt.Fprintf(&b, "    parameter %s = %s\n", k, shown(p.Value))
			}
			var tmpl bytes.Buffer
			if len(dep.Properties.Template) > 0 && json.Indent(&tmpl, dep.Properties.Template, "    ", "  ") == nil {
				fmt.Fprintf(&b, "    template: %s\n", tmpl.String())
			}
		}
		if exprs := ev.EvaluationDetails.EvaluatedExpressions; len(exprs) > 0 {
			fmt.Fprintf(&b, "  evaluated:\n")
			for _, x := range exprs {
				fmt.Fprintf(&b, "    %-5s %s %s %s %s (value %s)\n", x.Result, x.ExpressionKind, x.Expression, x.Operator, shown(x.TargetValue), shown(x.ExpressionValue))
			}
		}
	}
	if quiet > 0 {
		fmt.Fprintf(&b, "\n%d more evaluated with no effect (their conditions are false)\n", quiet)
	}
	if len(ans.ResourceContent) > 0 && changing > 0 {
		var rc bytes.Buffer
		if json.Indent(&rc, ans.ResourceContent, "  ", "  ") == nil {
			fmt.Fprintf(&b, "\nThe resource as it would be stored:\n  %s\n", rc.String())
		}
	}
	switch {
	case refusing > 0:
		fmt.Fprintf(&b, "\nResult: the write would be REFUSED by %d policy evaluation(s) (exit status %d)\n", refusing, ExitWhatIfDenied)
	default:
		fmt.Fprintf(&b, "\nResult: the write would be allowed (%d change(s) by Modify/Append)\n", changing)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// shown is a JSON value for the report ("(absent)" for none).
func shown(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return "(absent)"
	}
	return string(v)
}
