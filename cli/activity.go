package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// armClient talks to a running mlgov serve with the bootstrap identity.
type armClient struct {
	bs    *Bootstrap
	http  *http.Client
	token string
}

func newARMClient(ctx context.Context, bootstrapPath string) (*armClient, error) {
	bs, err := readBootstrap(bootstrapPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s (start `mlgov serve` first, or pass --bootstrap): %w", bootstrapPath, err)
	}
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(bs.CACertFile); err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	c := &armClient{bs: bs, http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {bs.ClientID}, "client_secret": {bs.ClientSecret}, "scope": {"https://management.azure.com/.default"}}
	req, _ := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(bs.AuthorityHost, "/")+"/"+bs.TenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("getting a token: %s %s", resp.Status, tok.Error)
	}
	c.token = tok.AccessToken
	return c, nil
}

func (c *armClient) get(ctx context.Context, pathOrURL string) ([]byte, error) {
	u := pathOrURL
	if strings.HasPrefix(u, "/") {
		u = strings.TrimRight(c.bs.Endpoint, "/") + u
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s: %s", pathOrURL, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func newActivityCmd(e *env) *cobra.Command {
	var bootstrap, filter, resourceGroup, resourceID, correlation, since, output string
	c := &cobra.Command{Use: "activity", Short: "Query the activity log of a running mlgov serve"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List activity-log events (writes, deletes, actions) of the default subscription",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := newARMClient(ctx, bootstrap)
			if err != nil {
				return err
			}
			var clauses []string
			if since != "" {
				d, err := time.ParseDuration(since)
				if err != nil {
					return fmt.Errorf("--since: %w", err)
				}
				clauses = append(clauses, fmt.Sprintf("eventTimestamp ge '%s'", time.Now().Add(-d).UTC().Format(time.RFC3339)))
			}
			if resourceGroup != "" {
				clauses = append(clauses, fmt.Sprintf("resourceGroupName eq '%s'", resourceGroup))
			}
			if resourceID != "" {
				clauses = append(clauses, fmt.Sprintf("resourceUri eq '%s'", resourceID))
			}
			if correlation != "" {
				clauses = append(clauses, fmt.Sprintf("correlationId eq '%s'", correlation))
			}
			if filter != "" {
				clauses = append(clauses, filter)
			}
			q := url.Values{"api-version": {"2015-04-01"}}
			if len(clauses) > 0 {
				q.Set("$filter", strings.Join(clauses, " and "))
			}
			next := "/subscriptions/" + cl.bs.SubscriptionID + "/providers/Microsoft.Insights/eventtypes/management/values?" + q.Encode()
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			if output == "table" {
				fmt.Fprintln(tw, "TIME\tOPERATION\tSTATUS\tRESOURCE\tCALLER\tCORRELATION")
			}
			n := 0
			for next != "" {
				b, err := cl.get(ctx, next)
				if err != nil {
					return err
				}
				var page struct {
					Value    []map[string]any `json:"value"`
					NextLink string           `json:"nextLink"`
				}
				if err := json.Unmarshal(b, &page); err != nil {
					return err
				}
				for _, ev := range page.Value {
					n++
					if output == "json" {
						j, _ := json.Marshal(ev)
						fmt.Fprintln(e.stdout, string(j))
						continue
					}
					op, _ := ev["operationName"].(map[string]any)
					st, _ := ev["status"].(map[string]any)
					fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%v\t%v\n", ev["eventTimestamp"], op["value"], st["value"], ev["resourceId"], ev["caller"], ev["correlationId"])
				}
				next = page.NextLink
			}
			tw.Flush()
			fmt.Fprintf(e.stderr, "%d events\n", n)
			return nil
		},
	}
	f := list.Flags()
	f.StringVar(&bootstrap, "bootstrap", filepath.Join("mlgov-data", "bootstrap.json"), "bootstrap.json written by mlgov serve")
	f.StringVar(&filter, "filter", "", "raw $filter clause (ANDed with the other flags)")
	f.StringVar(&resourceGroup, "resource-group", "", "only this resource group")
	f.StringVar(&resourceID, "resource", "", "only this resource id")
	f.StringVar(&correlation, "correlation-id", "", "only this correlation id")
	f.StringVar(&since, "since", "", "only events newer than this duration, e.g. 1h")
	f.StringVarP(&output, "output", "o", "table", "table or json (one event per line)")
	c.AddCommand(list)
	return c
}
