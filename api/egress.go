package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/egress"
	"github.com/mlgov/mlgov/resources"
)

// EgressLog serves a workspace's egress log (docs/egress.md), beside ARM:
//
//	GET /egress/{sub}/{rg}/{ws}/log[?job=NAME][&decision=Allowed|Denied][&host=H]
//	    [&from=RFC3339][&to=RFC3339][&$top=N][&$skiptoken=T]
//
// with an ARM token whose caller has
// Microsoft.MachineLearningServices/workspaces/read on the workspace;
// the answer is {"value": [records], "nextLink"?}, oldest first.
type EgressLog struct {
	Manager *resources.Manager
	Auth    Authenticator
	List    func(ctx context.Context, q egress.Query) ([]*egress.Record, int64, error)
	// PublicURL is the base of nextLink.
	PublicURL string
	Log       *slog.Logger
}

// Register serves the API under /egress/ of mux.
func (e *EgressLog) Register(mux *http.ServeMux) { mux.Handle("/egress/", e) }

// maxEgressTop bounds a page.
const maxEgressTop = 1000

// ServeHTTP implements http.Handler.
func (e *EgressLog) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	seg := strings.Split(strings.TrimPrefix(req.URL.Path, "/egress/"), "/")
	if len(seg) != 4 || seg[3] != "log" || slicesContainsEmpty(seg) {
		writeError(w, 404, arm.Errorf("NotFound", "The path '%s' is not an egress log path (/egress/{subscription}/{resourceGroup}/{workspace}/log).", arm.Clip(req.URL.Path, 300)))
		return
	}
	if req.Method != "GET" {
		writeError(w, 405, arm.Errorf("MethodNotAllowed", "The egress log takes GET."))
		return
	}
	caller, err := e.Auth.Authenticate(req.Context(), req.Header.Get("Authorization"))
	if err != nil {
		writeError(w, 401, arm.Errorf("AuthenticationFailed", "The egress log takes an ARM token: %s", arm.Clip(err.Error(), 300)))
		return
	}
	ws := &arm.ID{SubscriptionID: seg[0], ResourceGroup: seg[1], Parts: []arm.Part{{Namespace: "Microsoft.MachineLearningServices", Type: "workspaces", Name: seg[2]}}}
	if err := e.Manager.Authorize(req.Context(), caller, "Microsoft.MachineLearningServices/workspaces/read", ws.String()); err != nil {
		(&Jobs{Log: e.Log}).fail(w, req, err)
		return
	}
	v := req.URL.Query()
	q := egress.Query{WorkspaceID: ws.String(), Host: v.Get("host"), Top: 100}
	if j := v.Get("job"); j != "" {
		if strings.Contains(j, "/") {
			writeError(w, 400, arm.Errorf("InvalidQueryParameterValue", "The parameter 'job' is a job's name in the workspace, not '%s'.", arm.Clip(j, 200)))
			return
		}
		q.JobID = ws.Child("jobs", j).String()
	}
	switch d := v.Get("decision"); {
	case d == "":
	case strings.EqualFold(d, egress.Allowed):
		q.Decision = egress.Allowed
	case strings.EqualFold(d, egress.Denied):
		q.Decision = egress.Denied
	default:
		writeError(w, 400, arm.Errorf("InvalidQueryParameterValue", "The parameter 'decision' is Allowed or Denied, not '%s'.", arm.Clip(d, 100)))
		return
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(t.name); s != "" {
			tm, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				writeError(w, 400, arm.Errorf("InvalidQueryParameterValue", "The parameter '%s' is an RFC 3339 time, not '%s'.", t.name, arm.Clip(s, 100)))
				return
			}
			*t.to = tm
		}
	}
	if s := v.Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxEgressTop {
			writeError(w, 400, arm.Errorf("InvalidQueryParameterValue", "The parameter '$top' is a number from 1 to %d, not '%s'.", maxEgressTop, arm.Clip(s, 100)))
			return
		}
		q.Top = n
	}
	if s := v.Get("$skiptoken"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			writeError(w, 400, arm.Errorf("InvalidQueryParameterValue", "The parameter '$skiptoken' is not one this API gave."))
			return
		}
		q.After = n
	}
	recs, next, err := e.List(req.Context(), q)
	if err != nil {
		(&Jobs{Log: e.Log}).fail(w, req, err)
		return
	}
	out := struct {
		Value    []*egress.Record `json:"value"`
		NextLink string           `json:"nextLink,omitempty"`
	}{Value: recs}
	if out.Value == nil {
		out.Value = []*egress.Record{}
	}
	if next > 0 {
		v.Set("$skiptoken", strconv.FormatInt(next, 10))
		out.NextLink = strings.TrimRight(e.PublicURL, "/") + req.URL.Path + "?" + v.Encode()
	}
	writeJSON(w, 200, out)
}
