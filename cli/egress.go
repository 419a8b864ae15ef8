package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/arm"
)

// mlgov egress log: a workspace's egress log (docs/egress.md) through
// the server's REST API (/egress/{sub}/{rg}/{ws}/log).
func newEgressCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "egress", Short: "A workspace's outbound network: the egress proxy's decisions"}
	var workspace, job, decision, host, output string
	var top int
	conn := new(connOptions)
	lg := &cobra.Command{
		Use:   "log --workspace ID [--job NAME] [--decision Allowed|Denied]",
		Short: "List the egress proxy's decisions for a workspace's jobs (oldest first)",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			id, err := arm.ParseID(workspace)
			var check error
			if err != nil || len(id.Parts) != 1 || !strings.EqualFold(id.Type(), "Microsoft.MachineLearningServices/workspaces") || id.ResourceGroup == "" {
				check = fmt.Errorf("--workspace %q: give the workspace's resource id (/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{name})", workspace)
			}
			if d := strings.ToLower(decision); d != "" && d != "allowed" && d != "denied" {
				check = fmt.Errorf("--decision %q: Allowed or Denied", decision)
			}
			if output != "table" && output != "json" {
				check = fmt.Errorf("--output %q: table or json", output)
			}
			if top < 0 {
				check = fmt.Errorf("--top %d: a positive number, or 0 for all", top)
			}
			ctx := cmd.Context()
			cl, err := conn.open(ctx, check)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"job": job, "decision": decision, "host": host} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if top > 0 {
				q.Set("$top", strconv.Itoa(min(top, 1000)))
			}
			next := "/egress/" + url.PathEscape(id.SubscriptionID) + "/" + url.PathEscape(id.ResourceGroup) + "/" + url.PathEscape(id.Name()) + "/log?" + q.Encode()
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			if output == "table" {
				fmt.Fprintln(tw, "TIME\tJOB\tMETHOD\tHOST\tPORT\tDECISION\tRULE\tBYTES UP\tBYTES DOWN\tMS")
			}
			var all []json.RawMessage
			n := 0
			for next != "" && (top == 0 || n < top) {
				st, b, err := cl.do(ctx, "GET", next, nil)
				if err != nil {
					return err
				}
				if st != 200 {
					return asARMError("GET", next, st, b)
				}
				var page struct {
					Value    []json.RawMessage `json:"value"`
					NextLink string            `json:"nextLink"`
				}
				if err := json.Unmarshal(b, &page); err != nil {
					return err
				}
				for _, raw := range page.Value {
					if top > 0 && n >= top {
						break
					}
					n++
					if output == "json" {
						all = append(all, raw)
						continue
					}
					var r struct {
						Time       string  `json:"time"`
						JobID      string  `json:"jobId"`
						Method     string  `json:"method"`
						Host       string  `json:"host"`
						Port       int     `json:"port"`
						Decision   string  `json:"decision"`
						Rule       string  `json:"rule"`
						Reason     string  `json:"reason"`
						BytesUp    int64   `json:"bytesUp"`
						BytesDown  int64   `json:"bytesDown"`
						DurationMs float64 `json:"durationMs"`
					}
					json.Unmarshal(raw, &r)
					jobName := r.JobID[strings.LastIndex(r.JobID, "/")+1:]
					rule := r.Rule
					if rule == "" {
						rule = "(" + r.Reason + ")"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%.1f\n", r.Time, jobName, r.Method, r.Host, r.Port, r.Decision, rule, r.BytesUp, r.BytesDown, r.DurationMs)
				}
				next = page.NextLink
			}
			if output == "json" {
				if all == nil {
					all = []json.RawMessage{}
				}
				b, _ := json.MarshalIndent(all, "", "  ")
				fmt.Fprintln(e.stdout, string(b))
				return nil
			}
			return tw.Flush()
		}),
	}
	conn.registerConn(lg.Flags())
	lg.Flags().StringVar(&workspace, "workspace", "", "resource id of the workspace")
	lg.Flags().StringVar(&job, "job", "", "only this job's (its name)")
	lg.Flags().StringVar(&decision, "decision", "", "only Allowed or Denied")
	lg.Flags().StringVar(&host, "host", "", "only connections to this host")
	lg.Flags().IntVar(&top, "top", 0, "at most this many (0: all)")
	lg.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	c.AddCommand(lg)
	return c
}
