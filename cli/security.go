package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/security"
)

// newSecurityCmd is `mlgov security import`: scanners' reports recorded
// as Microsoft.Security/assessments on a running server
// (docs/security-findings.md).
func newSecurityCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "security", Short: "Vulnerability findings of container images as Microsoft.Security assessments"}
	o := &securityImportOptions{}
	imp := &cobra.Command{
		Use:   "import --resource ID REPORT...",
		Short: "Import Trivy or Grype JSON reports of images of a registry, workspace or environment as assessments with sub-assessments",
		Long: `Reads Trivy (trivy image -f json) or Grype (grype -o json) reports and records
them on the resource: the assessment ` + security.ContainerImageAssessment + ` (the one the
built-in policy "Azure registry container images should have vulnerabilities
resolved" audits) with a sub-assessment per finding. A finding that a later report
of the same image no longer has is resolved (Healthy), not deleted. Needs
Microsoft.Security/assessments/write and .../importFindings/action on the resource.`,
		Args: cobra.MinimumNArgs(1),
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), e, args)
		}),
	}
	o.conn.register(imp.Flags())
	imp.Flags().StringVar(&o.resource, "resource", "", "the assessed resource's id: a container registry, a workspace or an environment version (required)")
	imp.Flags().StringVar(&o.assessment, "assessment", security.ContainerImageAssessment, "the assessment's name")
	imp.Flags().StringVar(&o.minSeverity, "min-severity", security.SeverityLow, "the lowest severity of an unresolved finding that makes the assessment Unhealthy: Low, Medium or High")
	c.AddCommand(imp)
	return c
}

// maxImportBody is the largest importFindings request (the server's body
// limit, 4 MiB, less room for its envelope).
const maxImportBody = 4<<20 - 1024

type securityImportOptions struct {
	conn                              connOptions
	resource, assessment, minSeverity string
}

func (o *securityImportOptions) run(ctx context.Context, e *env, files []string) error {
	if o.resource == "" {
		return errors.New("--resource is required: the id of the registry, workspace or environment version the images belong to")
	}
	id, err := arm.ParseID(o.resource)
	if err != nil || !id.IsResource() || id.Trailing != "" {
		return fmt.Errorf("--resource %q: not a resource id (/subscriptions/{id}/resourceGroups/{rg}/providers/{namespace}/{type}/{name})", o.resource)
	}
	min := ""
	for _, s := range []string{security.SeverityLow, security.SeverityMedium, security.SeverityHigh} {
		if strings.EqualFold(o.minSeverity, s) {
			min = s
		}
	}
	if min == "" {
		return fmt.Errorf("--min-severity %q: expected Low, Medium or High", o.minSeverity)
	}
	if err := arm.ValidateResourceName(o.assessment); err != nil || o.assessment == "" {
		return fmt.Errorf("--assessment %q: not a resource name", o.assessment)
	}
	// Every report is read before anything is sent.
	imports, bodies := make([]*security.Import, len(files)), make([][]byte, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("report %s: %w", f, err)
		}
		imp, err := security.ParseReport(data)
		if err != nil {
			return fmt.Errorf("report %s: %w", f, err)
		}
		imp.MinimumSeverity = min
		imports[i] = imp
		bodies[i] = security.ImportBody(imp)
		if len(bodies[i]) > maxImportBody {
			return fmt.Errorf("report %s: its %d findings make a request of %.1f MiB; a server takes 4 MiB at most", f, len(imp.Findings), float64(len(bodies[i]))/(1<<20))
		}
	}
	cl, err := o.conn.open(ctx)
	if err != nil {
		return err
	}
	path := id.String() + "/providers/Microsoft.Security/assessments/" + o.assessment
	q := "?api-version=" + security.AssessmentAPIVersion
	var results []map[string]any
	for i, imp := range imports {
		st, b, err := cl.do(ctx, "GET", path+q, nil)
		if err != nil {
			return err
		}
		switch st {
		case 200:
		case 404:
			// Created first (the import works its status out again).
			st, b, err = cl.do(ctx, "PUT", path+q, security.CreateBody(o.assessment, imp))
			if err != nil {
				return err
			}
			if st != 200 && st != 201 {
				return asARMError("PUT", path, st, b)
			}
		default:
			return asARMError("GET", path, st, b)
		}
		st, b, err = cl.do(ctx, "POST", path+"/importFindings"+q, bodies[i])
		if err != nil {
			return err
		}
		if st != 200 {
			return fmt.Errorf("report %s: %w", files[i], asARMError("POST", path+"/importFindings", st, b))
		}
		var res map[string]any
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("importFindings: the answer is not JSON: %w", err)
		}
		res["scanner"], res["report"] = imp.Scanner, files[i]
		results = append(results, res)
	}
	if o.conn.output == "json" {
		out, _ := json.MarshalIndent(map[string]any{"assessment": path, "imports": results}, "", "  ")
		fmt.Fprintln(e.stdout, string(out))
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPORT\tSCANNER\tIMAGE\tFINDINGS\tOPENED\tRESOLVED\tSTATUS")
	for _, r := range results {
		fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%v\t%v\t%v\n", r["report"], r["scanner"], r["image"], r["findings"], r["opened"], r["resolved"], r["status"])
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "assessment %s: %v (%v unresolved)\n", path, results[len(results)-1]["status"], results[len(results)-1]["unresolved"])
	return nil
}
