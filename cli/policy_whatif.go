package cli

// mlgov policy what-if: a resource body against every assignment a write
// of it would meet on a running server, through checkPolicyRestrictions
// with mlgov.whatIf (docs/policy-what-if.md).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/policy/value"
)

// ExitWhatIfDenied is the exit status of mlgov policy what-if when the
// write would be refused (a Deny, a conflict under conflictEffect deny,
// or a policy that cannot be evaluated).
const ExitWhatIfDenied = 3

// refuses reports whether a policy evaluation of the answer would refuse
// the write.
func refuses(ev value.Value) bool {
	r := ev.Field("evaluationResult").Str()
	return r == "Error" || r == "NonCompliant" && strings.EqualFold(ev.Field("effectDetails").Field("policyEffect").Str(), "Deny")
}

func newWhatIfCmd(e *env) *cobra.Command {
	conn := new(connOptions)
	var resourceFile, scope, rg, apiVersion string
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
		switch {
		case scope != "" && rg != "":
			scopeErr = fmt.Errorf("give --scope or --resource-group, not both")
		case scope != "":
			scope, scopeErr = scopeArg("scope", scope)
		case rg != "":
			scopeErr = checkName("resource-group", rg)
		}
		ctx := cmd.Context()
		cl, err := conn.open(ctx, scopeErr)
		if err != nil {
			return err
		}
		at, err := cl.resolveScope(scope, rg)
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
		ans, err := value.Parse(b)
		evals := ans.Field("contentEvaluationResult").Field("policyEvaluations")
		if err != nil || evals.Kind() != value.Array {
			return fmt.Errorf("the server's answer is not a CheckRestrictionsResult: %.200s", b)
		}
		for _, ev := range evals.Elems() {
			if refuses(ev) {
				denied = true
			}
		}
		if conn.output == "json" {
			return printer{w: e.stdout, output: "json"}.one(b)
		}
		return whatIfReport(e.stdout, typ, at, apiVersion, ans)
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
	f.StringVarP(&rg, "resource-group", "g", "", "the resource group the resource would be written in (instead of --scope)")
	f.StringVar(&apiVersion, "api-version", "", "the api-version of the resource body (selects alias paths; default: the body's apiVersion, else the aliases' default paths)")
	return c
}

// whatIfReport writes the human-readable report of an answer.
func whatIfReport(w io.Writer, typ, scope, apiVersion string, ans value.Value) error {
	b := bufio.NewWriterSize(w, 32<<10)
	id := ans.Field("mlgov.resourceId").Str()
	if id == "" {
		id = typ + " at " + scope
	}
	fmt.Fprintf(b, "What-if: %s\n", id)
	if apiVersion != "" {
		fmt.Fprintf(b, "api-version: %s\n", apiVersion)
	}
	evals := ans.Field("contentEvaluationResult").Field("policyEvaluations").Elems()
	evals = append([]value.Value(nil), evals...)
	order := map[string]int{"deny": 0, "modify": 1, "append": 2, "audit": 3, "auditifnotexists": 4, "deployifnotexists": 5}
	rank := func(ev value.Value) int {
		if o, ok := order[strings.ToLower(ev.Field("effectDetails").Field("policyEffect").Str())]; ok {
			return o
		}
		return 9
	}
	quietOf := func(ev value.Value) bool { return ev.Field("evaluationResult").Str() == "Compliant" }
	sort.SliceStable(evals, func(i, j int) bool {
		if quietOf(evals[i]) != quietOf(evals[j]) {
			return quietOf(evals[j])
		}
		return rank(evals[i]) < rank(evals[j])
	})
	var refusing, changing, quiet int
	fmt.Fprintf(b, "%d policy evaluations\n", len(evals))
	for _, ev := range evals {
		ed := ev.Field("effectDetails")
		eff := ed.Field("policyEffect").Str()
		ex := ed.Field("mlgov.existence")
		if quietOf(ev) && ex.IsUndefined() {
			quiet++
			continue
		}
		info := ev.Field("policyInfo")
		name := ev.Field("mlgov.policyAssignmentName").Str()
		if name == "" {
			name = shortResourceID(info.Field("policyAssignmentId").Str())
		}
		title := ev.Field("mlgov.policyDefinitionDisplayName").Str()
		if ref := info.Field("policyDefinitionReferenceId").Str(); ref != "" {
			title += " [" + ref + "]"
		}
		fmt.Fprintf(b, "\n%s  %s  %s: %s\n", strings.ToUpper(eff), ev.Field("evaluationResult").Str(), name, title)
		fmt.Fprintf(b, "  assignment: %s\n", info.Field("policyAssignmentId").Str())
		if refuses(ev) {
			refusing++
		}
		if r := ev.Field("evaluationDetails").Field("reason").Str(); r != "" {
			fmt.Fprintf(b, "  reason: %s\n", r)
		}
		for _, ch := range ed.Field("mlgov.changes").Elems() {
			changing++
			fmt.Fprintf(b, "  %s %s (%s): %s -> %s\n", ch.Field("operation").Str(), ch.Field("field").Str(), ch.Field("path").Str(), shown(ch.Field("before")), shown(ch.Field("after")))
		}
		for _, cf := range ed.Field("mlgov.conflicts").Elems() {
			fmt.Fprintf(b, "  conflict: %s %s: %s\n", cf.Field("operation").Str(), cf.Field("field").Str(), cf.Field("reason").Str())
		}
		for _, sk := range ed.Field("mlgov.skipped").Elems() {
			fmt.Fprintf(b, "  skipped: %s %s: %s\n", sk.Field("operation").Str(), sk.Field("field").Str(), sk.Field("reason").Str())
		}
		if !ex.IsUndefined() {
			what := ex.Field("type").Str()
			if n := ex.Field("name").Str(); n != "" {
				what += " named " + n
			}
			where := "in the resource group"
			if ex.Field("existenceScope").Str() == "Subscription" {
				where = "in the subscription"
			}
			if g := ex.Field("resourceGroupName").Str(); g != "" {
				where = "in resource group " + g
			}
			exists := ex.Field("exists").Bool()
			fmt.Fprintf(b, "  existence check: %s %s: %s examined\n", what, where, ex.Field("totalResources").JSON())
			evaluated := ex.Field("evaluatedResourceIds").Elems()
			for _, r := range evaluated {
				mark := "does not satisfy the existence condition"
				if strings.EqualFold(r.Str(), ex.Field("matchedResourceId").Str()) || exists && len(evaluated) == 1 {
					mark = "satisfies the existence condition"
				}
				fmt.Fprintf(b, "    %s: %s\n", r.Str(), mark)
			}
			switch {
			case exists:
				fmt.Fprintf(b, "  -> a related resource exists: no %s\n", strings.ToLower(eff))
			case strings.EqualFold(eff, "DeployIfNotExists"):
				fmt.Fprintf(b, "  -> no related resource: the deployment below would run\n")
			default:
				fmt.Fprintf(b, "  -> no related resource: the resource would be NonCompliant\n")
			}
		}
		if d := ed.Field("mlgov.deployment"); !d.IsUndefined() {
			where := d.Field("deploymentScope").Str()
			if g := d.Field("resourceGroupName").Str(); g != "" {
				where += " " + g
			}
			fmt.Fprintf(b, "  deployment (%s):\n", where)
			props := d.Field("deployment").Field("properties")
			if m := props.Field("mode").Str(); m != "" {
				fmt.Fprintf(b, "    mode: %s\n", m)
			}
			params := props.Field("parameters").Members()
			sort.Slice(params, func(i, j int) bool { return params[i].Key < params[j].Key })
			for _, p := range params {
				fmt.Fprintf(b, "    parameter %s = %s\n", p.Key, shown(p.Value.Field("value")))
			}
			if t := props.Field("template"); !t.IsUndefined() {
				var tmpl bytes.Buffer
				if json.Indent(&tmpl, []byte(t.JSON()), "    ", "  ") == nil {
					fmt.Fprintf(b, "    template: %s\n", tmpl.String())
				}
			}
		}
		if exprs := ev.Field("evaluationDetails").Field("evaluatedExpressions").Elems(); len(exprs) > 0 {
			fmt.Fprintf(b, "  evaluated:\n")
			for _, x := range exprs {
				fmt.Fprintf(b, "    %-5s %s %s %s %s (value %s)\n", x.Field("result").Str(), x.Field("expressionKind").Str(), x.Field("expression").Str(),
					x.Field("operator").Str(), shown(x.Field("targetValue")), shown(x.Field("expressionValue")))
			}
		}
	}
	if quiet > 0 {
		fmt.Fprintf(b, "\n%d more evaluated with no effect (their conditions are false)\n", quiet)
	}
	if rc := ans.Field("mlgov.resourceContent"); !rc.IsUndefined() && changing > 0 {
		var out bytes.Buffer
		if json.Indent(&out, []byte(rc.JSON()), "  ", "  ") == nil {
			fmt.Fprintf(b, "\nThe resource as it would be stored:\n  %s\n", out.String())
		}
	}
	if refusing > 0 {
		fmt.Fprintf(b, "\nResult: the write would be REFUSED by %d policy evaluation(s) (exit status %d)\n", refusing, ExitWhatIfDenied)
	} else {
		fmt.Fprintf(b, "\nResult: the write would be allowed (%d change(s) by Modify/Append)\n", changing)
	}
	return b.Flush()
}

// shown is a JSON value for the report ("(absent)" for none).
func shown(v value.Value) string {
	if v.IsNullish() {
		return "(absent)"
	}
	return v.JSON()
}
