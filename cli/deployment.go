package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// deploymentAPIVersion is what @azure/arm-resourcesdeployments 2.x sends.
const deploymentAPIVersion = "2026-06-01"

// newDeploymentCmd is `mlgov deployment group|sub create|validate|what-if`,
// in the style of `az deployment`: a template file and its parameters
// deployed through a running server's Microsoft.Resources/deployments.
func newDeploymentCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "deployment", Short: "ARM template deployments on a running server (as az deployment)"}
	c.AddCommand(deploymentScopeCmd(e, "group", "Deployments to a resource group"), deploymentScopeCmd(e, "sub", "Deployments at the subscription"))
	return c
}

type deploymentOptions struct {
	conn               connOptions
	rg, location, name string
	templateFile, mode string
	parameters         []string
	noWait             bool
	timeout            time.Duration
	resultFormat       string
}

func deploymentScopeCmd(e *env, scope, short string) *cobra.Command {
	c := &cobra.Command{Use: scope, Short: short}
	o := &deploymentOptions{}
	o.conn.register(c.PersistentFlags())
	pf := c.PersistentFlags()
	if scope == "group" {
		pf.StringVarP(&o.rg, "resource-group", "g", "", "the resource group deployed to (required)")
	} else {
		pf.StringVarP(&o.location, "location", "l", "", "where the deployment's record is kept (required)")
	}
	pf.StringVarP(&o.name, "name", "n", "", "the deployment's name (default: the template file's name)")
	pf.StringVarP(&o.templateFile, "template-file", "f", "", "the template, a JSON file (required)")
	pf.StringArrayVarP(&o.parameters, "parameters", "p", nil, "a parameters file (deploymentParameters.json, or {\"name\": {\"value\": ...}}), or NAME=VALUE (VALUE as JSON when it parses, else a string); repeatable, later ones win")
	pf.StringVar(&o.mode, "mode", "Incremental", "Incremental or Complete (resource groups only: Complete deletes what the template does not name)")
	run := func(verb string) func(cmd *cobra.Command, args []string) error {
		return armCommand(e, func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), e, scope, verb)
		})
	}
	create := &cobra.Command{Use: "create", Short: "Deploy the template and wait for the deployment to end", Args: cobra.NoArgs, RunE: run("create")}
	create.Flags().BoolVar(&o.noWait, "no-wait", false, "return once the deployment is accepted")
	create.Flags().DurationVar(&o.timeout, "timeout", 30*time.Minute, "how long to wait for the deployment")
	validate := &cobra.Command{Use: "validate", Short: "Check the template and try its resources without writing (authorization, validation, policy)", Args: cobra.NoArgs, RunE: run("validate")}
	whatIf := &cobra.Command{Use: "what-if", Short: "Show what the deployment would create, change or delete", Args: cobra.NoArgs, RunE: run("what-if")}
	whatIf.Flags().StringVar(&o.resultFormat, "result-format", "FullResourcePayloads", "FullResourcePayloads or ResourceIdOnly")
	c.AddCommand(create, validate, whatIf)
	return c
}

// body builds the deployment request from the files.
func (o *deploymentOptions) body(scope, verb string) ([]byte, error) {
	if o.templateFile == "" {
		return nil, errors.New("--template-file is required")
	}
	tb, err := os.ReadFile(o.templateFile)
	if err != nil {
		return nil, fmt.Errorf("--template-file: %w", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(tb, &tmpl); err != nil {
		return nil, fmt.Errorf("--template-file %s: not a JSON object: %w", o.templateFile, err)
	}
	params := map[string]any{}
	for _, p := range o.parameters {
		if err := addParameters(params, p); err != nil {
			return nil, err
		}
	}
	mode := o.mode
	switch strings.ToLower(mode) {
	case "incremental":
		mode = "Incremental"
	case "complete":
		mode = "Complete"
	default:
		return nil, fmt.Errorf("--mode %q: expected Incremental or Complete", o.mode)
	}
	req := map[string]any{"properties": map[string]any{"mode": mode, "template": tmpl, "parameters": params}}
	if scope == "sub" {
		if o.location == "" {
			return nil, errors.New("--location is required for a subscription deployment")
		}
		req["location"] = o.location
	} else if o.rg == "" {
		return nil, errors.New("--resource-group is required")
	}
	if verb == "what-if" {
		req["properties"].(map[string]any)["whatIfSettings"] = map[string]any{"resultFormat": o.resultFormat}
	}
	return json.Marshal(req)
}

// addParameters adds a parameters file's values or one NAME=VALUE.
func addParameters(params map[string]any, p string) error {
	if name, val, ok := strings.Cut(p, "="); ok && !strings.ContainsAny(name, `/\.`) && name != "" {
		var v any
		if json.Unmarshal([]byte(val), &v) != nil {
			v = val
		}
		params[name] = map[string]any{"value": v}
		return nil
	}
	b, err := os.ReadFile(strings.TrimPrefix(p, "@"))
	if err != nil {
		return fmt.Errorf("--parameters %s: neither NAME=VALUE nor a readable file: %w", p, err)
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("--parameters %s: not a JSON object: %w", p, err)
	}
	if inner, ok := f["parameters"]; ok && (f["$schema"] != nil || f["contentVersion"] != nil) {
		f = nil
		if err := json.Unmarshal(inner, &f); err != nil {
			return fmt.Errorf("--parameters %s: parameters is not an object: %w", p, err)
		}
	}
	for k, v := range f {
		var entry map[string]any
		if json.Unmarshal(v, &entry) != nil || entry["value"] == nil && entry["reference"] == nil {
			return fmt.Errorf("--parameters %s: parameter %q must be {\"value\": ...}", p, k)
		}
		params[k] = entry
	}
	return nil
}

func (o *deploymentOptions) run(ctx context.Context, e *env, scope, verb string) error {
	body, err := o.body(scope, verb)
	if err != nil {
		return err
	}
	cl, err := o.conn.open(ctx)
	if err != nil {
		return err
	}
	sub, err := cl.subscriptionScope()
	if err != nil {
		return err
	}
	name := o.name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(o.templateFile), filepath.Ext(o.templateFile))
	}
	path := sub
	if scope == "group" {
		path += "/resourceGroups/" + url.PathEscape(o.rg)
	}
	path += "/providers/Microsoft.Resources/deployments/" + url.PathEscape(name)
	q := "?api-version=" + deploymentAPIVersion
	switch verb {
	case "validate":
		st, b, err := cl.do(ctx, "POST", path+"/validate"+q, body)
		if err != nil {
			return err
		}
		if st != 200 {
			return deploymentError(e.stderr, "validate", st, b)
		}
		return writeJSON(e.stdout, b)
	case "what-if":
		st, b, err := cl.do(ctx, "POST", path+"/whatIf"+q, body)
		if err != nil {
			return err
		}
		if st != 200 {
			return deploymentError(e.stderr, "what-if", st, b)
		}
		if o.conn.output == "json" {
			return writeJSON(e.stdout, b)
		}
		return printWhatIf(e.stdout, e.stderr, b)
	}
	st, b, err := cl.do(ctx, "PUT", path+q, body)
	if err != nil {
		return err
	}
	if st != 200 && st != 201 {
		return deploymentError(e.stderr, "create", st, b)
	}
	if o.noWait {
		return writeJSON(e.stdout, b)
	}
	return waitProvisioned(ctx, e, cl, path+q, b, o.timeout, "the deployment "+name, "mlgov deployment ... create --no-wait returns at once")
}

// waitProvisioned polls a record (b, its first answer; path with its
// api-version) until its properties.provisioningState ends: Succeeded
// prints it; Failed or Canceled prints it and its error, exit status 1.
// what names the record in messages; hint says what to do on a timeout.
func waitProvisioned(ctx context.Context, e *env, cl *armClient, path string, b []byte, timeout time.Duration, what, hint string) error {
	deadline := time.Now().Add(timeout)
	for {
		var rec struct {
			Properties struct {
				ProvisioningState string          `json:"provisioningState"`
				Error             json.RawMessage `json:"error"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("the record of %s is not JSON: %w", what, err)
		}
		switch rec.Properties.ProvisioningState {
		case "Succeeded":
			return writeJSON(e.stdout, b)
		case "Failed", "Canceled":
			writeJSON(e.stdout, b)
			fmt.Fprintf(e.stderr, "error: %s ended %s\n", what, rec.Properties.ProvisioningState)
			if len(rec.Properties.Error) > 0 {
				printDeploymentError(e.stderr, rec.Properties.Error, "")
			}
			return &exitError{1}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not end within %s (state %s); it goes on: %s", what, timeout, rec.Properties.ProvisioningState, hint)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		st, nb, err := cl.do(ctx, "GET", path, nil)
		if err != nil {
			return err
		}
		if st != 200 {
			return deploymentError(e.stderr, "get", st, nb)
		}
		b = nb
	}
}

// deploymentError prints an ARM error with its details and returns the
// exit status.
func deploymentError(w io.Writer, what string, status int, body []byte) error {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Error) == 0 {
		return fmt.Errorf("%s: status %d: %s", what, status, strings.TrimSpace(string(body)))
	}
	printDeploymentError(w, env.Error, "")
	return &exitError{1}
}

// printDeploymentError prints an error and its details, indented.
func printDeploymentError(w io.Writer, raw json.RawMessage, indent string) {
	var e struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Target  string            `json:"target"`
		Details []json.RawMessage `json:"details"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return
	}
	fmt.Fprintf(w, "%serror: %s: %s\n", indent, e.Code, e.Message)
	if e.Target != "" {
		fmt.Fprintf(w, "%s  target: %s\n", indent, e.Target)
	}
	for _, d := range e.Details {
		printDeploymentError(w, d, indent+"  ")
	}
}

func writeJSON(w io.Writer, b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		_, err := w.Write(b)
		return err
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	_, err := fmt.Fprintf(w, "%s\n", out)
	return err
}

// printWhatIf prints a what-if result as az does: one line per resource
// with its change's symbol, the property changes below it.
func printWhatIf(w, errw io.Writer, b []byte) error {
	var res struct {
		Status     string          `json:"status"`
		Error      json.RawMessage `json:"error"`
		Properties struct {
			Changes []struct {
				ResourceID string `json:"resourceId"`
				ChangeType string `json:"changeType"`
				Delta      []struct {
					Path               string `json:"path"`
					PropertyChangeType string `json:"propertyChangeType"`
					Before             any    `json:"before"`
					After              any    `json:"after"`
				} `json:"delta"`
			} `json:"changes"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("the what-if result is not JSON: %w", err)
	}
	if res.Status != "Succeeded" {
		printDeploymentError(errw, res.Error, "")
		return &exitError{1}
	}
	symbol := map[string]string{"Create": "+", "Delete": "-", "Modify": "~", "NoChange": "=", "Deploy": "!", "Ignore": "*", "Unsupported": "x"}
	counts := map[string]int{}
	for _, c := range res.Properties.Changes {
		counts[c.ChangeType]++
		fmt.Fprintf(w, "  %s %s  (%s)\n", symbol[c.ChangeType], c.ResourceID, c.ChangeType)
		for _, d := range c.Delta {
			bj, _ := json.Marshal(d.Before)
			aj, _ := json.Marshal(d.After)
			switch d.PropertyChangeType {
			case "Create":
				fmt.Fprintf(w, "      + %s: %s\n", d.Path, aj)
			case "Delete":
				fmt.Fprintf(w, "      - %s: %s\n", d.Path, bj)
			default:
				fmt.Fprintf(w, "      ~ %s: %s => %s\n", d.Path, bj, aj)
			}
		}
	}
	var kinds []string
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d to %s", counts[k], strings.ToLower(k)))
	}
	if len(parts) == 0 {
		parts = []string{"no resources"}
	}
	fmt.Fprintf(w, "Resource changes: %s.\n", strings.Join(parts, ", "))
	return nil
}
