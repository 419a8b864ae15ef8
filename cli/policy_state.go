package cli

// mlgov policy state list|summarize and mlgov policy scan: the
// Microsoft.PolicyInsights API of a running server, in the style of
// `az policy state list|summarize|trigger-scan`.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// insightsAPIVersion is what @azure/arm-policyinsights 6.x sends.
const insightsAPIVersion = "2024-10-01"

const insights = "/providers/Microsoft.PolicyInsights/"

// stateScope are the scope flags of `policy state`: at most one of
// --scope, --resource and --policy-assignment, and -g alone or with an
// assignment name (the assignment at that resource group).
type stateScope struct {
	scope, rg, resource, assignment string
}

func (s *stateScope) check() error {
	n := 0
	for _, v := range []string{s.scope, s.resource, s.assignment} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return errors.New("give one of --scope, --resource and --policy-assignment")
	}
	if s.rg != "" && (s.scope != "" || s.resource != "") {
		return errors.New("--resource-group goes with --policy-assignment NAME only, not with --scope or --resource")
	}
	if s.rg != "" {
		if err := checkName("resource-group", s.rg); err != nil {
			return err
		}
	}
	if s.scope != "" {
		v, err := scopeArg("scope", s.scope)
		if err != nil {
			return err
		}
		s.scope = v
	}
	if s.resource != "" {
		v, err := scopeArg("resource", s.resource)
		if err != nil {
			return err
		}
		if !strings.Contains(strings.ToLower(v), "/providers/") {
			return fmt.Errorf("--resource %q: expected a resource id (/subscriptions/{id}/resourceGroups/{name}/providers/{namespace}/{type}/{name})", s.resource)
		}
		s.resource = v
	}
	if a := s.assignment; a != "" {
		if strings.HasPrefix(a, "/") {
			if s.rg != "" {
				return errors.New("--resource-group goes with an assignment name, not an id")
			}
			v, err := scopeArg("policy-assignment", a)
			if err != nil {
				return err
			}
			if !strings.Contains(strings.ToLower(v), strings.ToLower(authz+"policyAssignments/")) || strings.HasSuffix(strings.ToLower(v), "/policyassignments") {
				return fmt.Errorf("--policy-assignment %q: expected a name or a policy assignment id ({scope}/providers/Microsoft.Authorization/policyAssignments/{name})", a)
			}
			s.assignment = v
		} else if err := checkName("policy-assignment", a); err != nil {
			return err
		}
	}
	return nil
}

// resolve returns the scope id the query is sent at.
func (s *stateScope) resolve(c *armClient) (string, error) {
	switch {
	case s.scope != "":
		return s.scope, nil
	case s.resource != "":
		return s.resource, nil
	case strings.HasPrefix(s.assignment, "/"):
		return s.assignment, nil
	}
	at, err := c.resolveScope("", s.rg)
	if err != nil {
		return "", err
	}
	if s.assignment != "" {
		return at + authz + "policyAssignments/" + url.PathEscape(s.assignment), nil
	}
	return at, nil
}

// statesPath is {scope}/providers/Microsoft.PolicyInsights/policyStates/{which}/{action}
// with the api-version and the query's OData parameters.
func statesPath(scope, which, action string, q url.Values) string {
	v := url.Values{"api-version": {insightsAPIVersion}}
	for k, vs := range q {
		for _, x := range vs {
			if x != "" {
				v.Add(k, x)
			}
		}
	}
	return scope + insights + "policyStates/" + which + "/" + action + "?" + v.Encode()
}

// queryAll POSTs a queryResults path and GETs every @odata.nextLink (as
// the SDKs do); top > 0 stops once that many records are read.
func (c *armClient) queryAll(ctx context.Context, path string, top int) ([]json.RawMessage, error) {
	var all []json.RawMessage
	method := "POST"
	for next, pages := path, 0; next != ""; pages++ {
		if pages > 100000 {
			return nil, errors.New("queryResults: the server's @odata.nextLink does not end")
		}
		_, b, err := c.call(ctx, method, next, nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Value     []json.RawMessage `json:"value"`
			NextLink  string            `json:"@odata.nextLink"`
			NextLink2 string            `json:"nextLink"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("%s %s: the answer is not a list: %w", method, stripQuery(next), err)
		}
		all = append(all, page.Value...)
		if top > 0 && len(all) >= top {
			return all[:top], nil
		}
		next, method = page.NextLink, "GET"
		if next == "" {
			next = page.NextLink2
		}
	}
	return all, nil
}

// shortResourceID is a record's resource id without its subscription: the
// resource group and the path after the provider namespace
// (rg1/workspaces/ws1/computes/ci1).
func shortResourceID(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) < 2 || !strings.EqualFold(parts[0], "subscriptions") {
		return id
	}
	var out []string
	rest := parts[2:]
	if len(rest) >= 2 && strings.EqualFold(rest[0], "resourceGroups") {
		out = append(out, rest[1])
		rest = rest[2:]
	}
	if len(rest) >= 2 && strings.EqualFold(rest[0], "providers") {
		rest = rest[2:]
	}
	out = append(out, rest...)
	if len(out) == 0 {
		return parts[1]
	}
	return strings.Join(out, "/")
}

// stateTable prints policy state records: the default columns, or, for
// --select and --apply, the fields the records have.
func stateTable(w io.Writer, output string, selected []string) printer {
	if len(selected) > 0 {
		return printer{w: w, output: output, header: upper(selected), row: func(r map[string]any) []string {
			cells := make([]string, len(selected))
			for i, f := range selected {
				cells[i] = field(r, f)
			}
			return cells
		}}
	}
	return printer{w: w, output: output, header: []string{"RESOURCE", "TYPE", "ASSIGNMENT", "DEFINITION", "STATE", "EFFECT"},
		row: func(r map[string]any) []string {
			def := field(r, "policyDefinitionReferenceId")
			if def == "" {
				def = field(r, "policyDefinitionName")
			}
			if def == "" {
				def = lastSegment(field(r, "policyDefinitionId"))
			}
			asg := field(r, "policyAssignmentName")
			if asg == "" {
				asg = lastSegment(field(r, "policyAssignmentId"))
			}
			return []string{shortResourceID(field(r, "resourceId")), field(r, "resourceType"), asg, def, field(r, "complianceState"), field(r, "policyDefinitionAction")}
		}}
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}

// recordKeys is the sorted union of the records' keys (without @odata
// annotations), for the table of $apply rows.
func recordKeys(items []json.RawMessage) []string {
	seen := map[string]bool{}
	for _, raw := range items {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			for k := range m {
				if !strings.HasPrefix(k, "@") {
					seen[k] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// selectFields splits a $select list.
func selectFields(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func addStateScopeFlags(c *cobra.Command, s *stateScope, withResource bool) {
	f := c.Flags()
	f.StringVar(&s.scope, "scope", "", "scope id: a subscription, resource group, resource or policy assignment (default: the subscription)")
	f.StringVarP(&s.rg, "resource-group", "g", "", "resource group of the subscription (with --policy-assignment NAME: the assignment's)")
	if withResource {
		f.StringVar(&s.resource, "resource", "", "resource id: the records of that resource")
	}
	f.StringVarP(&s.assignment, "policy-assignment", "a", "", "policy assignment: an id, or a name at the subscription (or at -g)")
}

func newStateCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "state", Short: "Query the compliance records of a running server (Microsoft.PolicyInsights policyStates)"}
	conn := new(connOptions)
	conn.register(c.PersistentFlags())

	var ls stateScope
	var filter, orderBy, sel, apply, expand string
	var top int
	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the policy states at a scope (default: the subscription), every page",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			if err := conn.validate(); err != nil {
				return err
			}
			if err := ls.check(); err != nil {
				return err
			}
			if top < 0 {
				return fmt.Errorf("--top %d: expected a positive number", top)
			}
			if expand != "" && !strings.EqualFold(expand, "PolicyEvaluationDetails") {
				return fmt.Errorf("--expand %q: expected PolicyEvaluationDetails", expand)
			}
			q := url.Values{"$filter": {filter}, "$orderby": {orderBy}, "$select": {sel}, "$apply": {apply}, "$expand": {expand}}
			if top > 0 {
				q.Set("$top", strconv.Itoa(top))
			}
			which := "latest"
			if all {
				which = "default"
			}
			ctx := cmd.Context()
			cl, err := conn.connect(ctx, armScope)
			if err != nil {
				return err
			}
			at, err := ls.resolve(cl)
			if err != nil {
				return err
			}
			items, err := cl.queryAll(ctx, statesPath(at, which, "queryResults", q), top)
			if err != nil {
				return err
			}
			cols := selectFields(sel)
			if apply != "" {
				cols = recordKeys(items)
			}
			return stateTable(e.stdout, conn.output, cols).many(items)
		}),
	}
	addStateScopeFlags(list, &ls, true)
	f := list.Flags()
	f.StringVar(&filter, "filter", "", "OData $filter, e.g. \"complianceState eq 'NonCompliant'\"")
	f.IntVar(&top, "top", 0, "at most this many records (default: every record, every page)")
	f.StringVar(&orderBy, "order-by", "", "OData $orderby, e.g. \"timestamp desc, policyAssignmentName asc\"")
	f.StringVar(&sel, "select", "", "OData $select: the fields of each record (the table's columns)")
	f.StringVar(&apply, "apply", "", "OData $apply, e.g. \"groupby((complianceState), aggregate($count as count))\"")
	f.BoolVar(&all, "all", false, "the default policyStates resource (the latest records and those a change of state replaced) instead of latest")
	f.StringVar(&expand, "expand", "", "PolicyEvaluationDetails: each record's evaluated expressions and reason")

	var ss stateScope
	var sumFilter string
	summarize := &cobra.Command{
		Use:   "summarize",
		Short: "Summarize the latest policy states at a scope (default: the subscription)",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			if err := conn.validate(); err != nil {
				return err
			}
			if err := ss.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			cl, err := conn.connect(ctx, armScope)
			if err != nil {
				return err
			}
			at, err := ss.resolve(cl)
			if err != nil {
				return err
			}
			_, b, err := cl.call(ctx, "POST", statesPath(at, "latest", "summarize", url.Values{"$filter": {sumFilter}}), nil)
			if err != nil {
				return err
			}
			if conn.output == "json" {
				return printer{w: e.stdout, output: "json"}.one(b)
			}
			return summaryTable(e.stdout, b)
		}),
	}
	addStateScopeFlags(summarize, &ss, false)
	summarize.Flags().StringVar(&sumFilter, "filter", "", "OData $filter on the indexed properties, e.g. \"resourceType eq 'Microsoft.MachineLearningServices/workspaces/computes'\"")

	c.AddCommand(list, summarize)
	return c
}

// summary is the part of a summarize answer the table shows.
type summary struct {
	Value []struct {
		Results summaryResults `json:"results"`
		Assign  []struct {
			ID      string         `json:"policyAssignmentId"`
			SetID   string         `json:"policySetDefinitionId"`
			Results summaryResults `json:"results"`
		} `json:"policyAssignments"`
	} `json:"value"`
}

type summaryResults struct {
	NonCompliantResources int `json:"nonCompliantResources"`
	NonCompliantPolicies  int `json:"nonCompliantPolicies"`
	ResourceDetails       []struct {
		State string `json:"complianceState"`
		Count int    `json:"count"`
	} `json:"resourceDetails"`
}

// summaryTable prints one row per assignment and the totals.
func summaryTable(w io.Writer, body []byte) error {
	var s summary
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("the server's summary is not JSON: %w", err)
	}
	if len(s.Value) == 0 {
		return errors.New("the server's summary has no value")
	}
	sum := s.Value[0]
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ASSIGNMENT\tSCOPE\tNON-COMPLIANT RESOURCES\tNON-COMPLIANT POLICIES")
	for _, a := range sum.Assign {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", lastSegment(a.ID), scopeOf(a.ID), a.Results.NonCompliantResources, a.Results.NonCompliantPolicies)
	}
	fmt.Fprintf(tw, "TOTAL\t\t%d\t%d\n", sum.Results.NonCompliantResources, sum.Results.NonCompliantPolicies)
	if err := tw.Flush(); err != nil {
		return err
	}
	var parts []string
	for _, d := range sum.Results.ResourceDetails {
		parts = append(parts, fmt.Sprintf("%s %d", d.State, d.Count))
	}
	if len(parts) > 0 {
		_, err := fmt.Fprintf(w, "resources: %s\n", strings.Join(parts, ", "))
		return err
	}
	return nil
}

// ---- policy scan ----

// scanScopeArg checks a --scope of triggerEvaluation: a subscription or a
// resource group.
func scanScopeArg(s string) (string, error) {
	v, err := scopeArg("scope", s)
	if err != nil {
		return "", err
	}
	parts := strings.Split(strings.TrimPrefix(v, "/"), "/")
	if len(parts) == 2 || len(parts) == 4 && strings.EqualFold(parts[2], "resourceGroups") {
		return v, nil
	}
	return "", fmt.Errorf("--scope %q: a scan runs at a subscription or a resource group", s)
}

// isTerminal reports whether w is a character device (a terminal); a
// variable for the tests.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// scanPoll is the interval between polls of the operation when the server
// sends no Retry-After, and the bounds of one it sends.
var (
	scanPoll    = 500 * time.Millisecond
	scanPollMin = 100 * time.Millisecond
	scanPollMax = 10 * time.Second
)

func retryAfter(h map[string][]string) time.Duration {
	d := scanPoll
	if vs := h["Retry-After"]; len(vs) > 0 {
		if n, err := strconv.Atoi(strings.TrimSpace(vs[0])); err == nil && n >= 0 {
			d = time.Duration(n) * time.Second
		}
	}
	return min(max(d, scanPollMin), scanPollMax)
}

func newScanCmd(e *env) *cobra.Command {
	conn := new(connOptions)
	var scope, rg string
	var noWait bool
	c := &cobra.Command{
		Use:   "scan",
		Short: "Evaluate the compliance of a subscription or resource group now (triggerEvaluation) and wait for the end",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			if err := conn.validate(); err != nil {
				return err
			}
			if scope != "" && rg != "" {
				return errors.New("give --scope or --resource-group, not both")
			}
			if scope != "" {
				v, err := scanScopeArg(scope)
				if err != nil {
					return err
				}
				scope = v
			}
			if rg != "" {
				if err := checkName("resource-group", rg); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			cl, err := conn.connect(ctx, armScope)
			if err != nil {
				return err
			}
			at, err := cl.resolveScope(scope, rg)
			if err != nil {
				return err
			}
			return scan(ctx, cl, e, at, noWait)
		}),
	}
	conn.registerConn(c.Flags())
	c.Flags().StringVar(&scope, "scope", "", "subscription or resource group id (default: the subscription)")
	c.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group of the subscription (instead of --scope)")
	c.Flags().BoolVar(&noWait, "no-wait", false, "do not wait: print the operation's URL")
	return c
}

// scan triggers the evaluation of scope and polls its operation to the
// end; a terminal on stderr shows a progress line with the elapsed time.
func scan(ctx context.Context, cl *armClient, e *env, scope string, noWait bool) error {
	start := time.Now()
	trigger := scope + insights + "policyStates/latest/triggerEvaluation?api-version=" + insightsAPIVersion
	st, h, b, err := cl.doHeader(ctx, "POST", trigger, nil)
	if err != nil {
		return err
	}
	if st < 200 || st > 299 {
		return asARMError("POST", trigger, st, b)
	}
	loc := h.Get("Location")
	if st == 202 && loc == "" {
		return errors.New("triggerEvaluation: 202 without a Location to poll")
	}
	if noWait {
		if loc == "" {
			fmt.Fprintf(e.stdout, "evaluation of %s: done (%d)\n", scope, st)
			return nil
		}
		fmt.Fprintln(e.stdout, loc)
		return nil
	}
	// Interrupted, the scan goes on at the server: say where to look.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	tty := isTerminal(e.stderr)
	progress := func() {
		if tty {
			fmt.Fprintf(e.stderr, "\r\033[Kevaluating %s ... %s", scope, time.Since(start).Round(100*time.Millisecond))
		}
	}
	clearLine := func() {
		if tty {
			fmt.Fprint(e.stderr, "\r\033[K")
		}
	}
	for st == 202 {
		progress()
		wait := retryAfter(h)
		tick := time.NewTicker(200 * time.Millisecond)
		timer := time.NewTimer(wait)
	sleep:
		for {
			select {
			case <-ctx.Done():
				tick.Stop()
				timer.Stop()
				clearLine()
				return fmt.Errorf("interrupted after %s; the evaluation goes on at the server: %s", time.Since(start).Round(100*time.Millisecond), loc)
			case <-tick.C:
				progress()
			case <-timer.C:
				break sleep
			}
		}
		tick.Stop()
		st, h, b, err = cl.doHeader(ctx, "GET", loc, nil)
		if err != nil {
			clearLine()
			return err
		}
		if st < 200 || st > 299 {
			clearLine()
			return asARMError("GET", loc, st, b)
		}
		if st == 202 {
			if l := h.Get("Location"); l != "" {
				loc = l
			}
		}
	}
	clearLine()
	status := "Succeeded"
	var res struct {
		Status string `json:"status"`
		Error  *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if len(b) > 0 && json.Unmarshal(b, &res) == nil && res.Status != "" {
		status = res.Status
	}
	if !strings.EqualFold(status, "Succeeded") {
		if res.Error != nil && res.Error.Code != "" {
			return &armError{Status: st, Code: res.Error.Code, Message: res.Error.Message}
		}
		return fmt.Errorf("evaluation of %s ended %s", scope, status)
	}
	fmt.Fprintf(e.stdout, "evaluation of %s: %s in %s\n", scope, status, time.Since(start).Round(100*time.Millisecond))
	return nil
}
