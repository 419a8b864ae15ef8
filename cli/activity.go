package cli

import (
	"bytes"
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

	"github.com/mlgov/mlgov/arm"
)

// armClient talks to a running mlgov serve (or another ARM endpoint) with
// a client-credentials identity: the bootstrap one by default.
type armClient struct {
	bs    *Bootstrap
	http  *http.Client
	token string
}

func newARMClient(ctx context.Context, bootstrapPath string) (*armClient, error) {
	return newClientFor(ctx, bootstrapPath, armScope)
}

// The token scopes of the clients: ARM and the directory's Graph API.
const (
	armScope   = "https://management.azure.com/.default"
	graphScope = "https://graph.microsoft.com/.default"
)

// newClientFor is newARMClient with a token for scope.
func newClientFor(ctx context.Context, bootstrapPath, scope string) (*armClient, error) {
	bs, err := readBootstrap(bootstrapPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s (start `mlgov serve` first, or pass --bootstrap): %w", bootstrapPath, err)
	}
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(bs.CACertFile); err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	return dialFor(ctx, bs, pool, scope)
}

// dialFor gets a token for scope for bs's service principal from its
// authority host and returns a client for its endpoint; roots nil means
// the system's.
func dialFor(ctx context.Context, bs *Bootstrap, roots *x509.CertPool, scope string) (*armClient, error) {
	c := &armClient{bs: bs, http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {bs.ClientID}, "client_secret": {bs.ClientSecret}, "scope": {scope}}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(bs.AuthorityHost, "/")+"/"+bs.TenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("getting a token: %w", err)
	}
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

// do sends one request (a path under the endpoint, or an absolute URL on
// the endpoint's host such as a nextLink) with the bearer token and a JSON
// body when body is not nil, and returns the status and the response body.
func (c *armClient) do(ctx context.Context, method, pathOrURL string, body []byte) (int, []byte, error) {
	st, _, b, err := c.doHeader(ctx, method, pathOrURL, body)
	return st, b, err
}

// doHeader is do that also returns the response headers (Location,
// Retry-After of an asynchronous operation).
func (c *armClient) doHeader(ctx context.Context, method, pathOrURL string, body []byte) (int, http.Header, []byte, error) {
	u := pathOrURL
	if strings.HasPrefix(u, "/") {
		u = strings.TrimRight(c.bs.Endpoint, "/") + u
	} else if pu, err := url.Parse(u); err != nil || !sameOrigin(pu, c.bs.Endpoint) {
		return 0, nil, nil, fmt.Errorf("%s %s: not a URL of the endpoint %s", method, arm.Clip(pathOrURL, 200), c.bs.Endpoint)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= 64<<20 {
		buf.Grow(int(n) + bytes.MinRead) // read at once, not by doubling: less memory to fault in
	}
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, buf.Bytes(), nil
}

// sameOrigin reports whether u has the scheme and host of endpoint (the
// token is sent nowhere else).
func sameOrigin(u *url.URL, endpoint string) bool {
	e, err := url.Parse(endpoint)
	return err == nil && strings.EqualFold(u.Scheme, e.Scheme) && strings.EqualFold(u.Host, e.Host)
}

func (c *armClient) get(ctx context.Context, pathOrURL string) ([]byte, error) {
	st, b, err := c.do(ctx, "GET", pathOrURL, nil)
	if err != nil {
		return nil, err
	}
	if st != 200 {
		return nil, fmt.Errorf("GET %s: %d %s: %s", pathOrURL, st, http.StatusText(st), strings.TrimSpace(string(b)))
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
