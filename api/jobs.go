package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/resources"
)

// Jobs is the job runtime API (docs/runner.md), beside ARM:
//
//	POST /jobs/{sub}/{rg}/{ws}/claim  {"compute": name}   ARM token: the next queued job and its token
//	GET|POST /jobs/{sub}/{rg}/{ws}/{job}/status|metrics|logs  the job's token (or, to GET, an ARM token)
//	PUT /jobs/{sub}/{rg}/{ws}/{job}/outputs?path=P            the job's token: a file of its outputs
//	GET /jobs/{sub}/{rg}/{ws}/{job}/outputs[?path=P]          the job's token or an ARM token: the list, a file
//	GET /jobs/{sub}/{rg}/{ws}/{job}/identity?resource=R       the job's token: a token of its compute's managed identity
//	    [&client_id=|object_id=|principal_id=|msi_res_id=|mi_res_id=]  (which one)
type Jobs struct {
	Manager *resources.Manager
	Auth    Authenticator
	// IssueToken issues a token of a managed identity for a resource
	// ("https://management.azure.com/"); nil: jobs get none.
	IssueToken func(ctx context.Context, mi *resources.ManagedIdentity, resource string) (token string, expiresOn time.Time, err error)
	Log        *slog.Logger
	// Inbound checks each call against the workspace's network settings
	// before its credentials (nil: none).
	Inbound Inbound
	// Egress, when set, tells a runner the egress proxy its jobs go
	// through and their workspace's isolation mode (docs/egress.md),
	// with each claimed job ("egress": {"proxy", "isolationMode"}).
	// (A workspace it cannot read answers AllowOnlyApprovedOutbound: the
	// runner isolates the job, the proxy decides.)
	Egress func(ctx context.Context, ws *arm.ID) (proxy, isolationMode string)
}

// Register serves the API under /jobs/ of mux.
func (j *Jobs) Register(mux *http.ServeMux) { mux.Handle("/jobs/", j) }

// maxJobBody bounds a call's body (a log chunk).
const maxJobBody = 256 << 10

// ServeHTTP implements http.Handler.
func (j *Jobs) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	seg := strings.Split(strings.TrimPrefix(req.URL.Path, "/jobs/"), "/")
	if len(seg) >= 4 && !slicesContainsEmpty(seg[:4]) {
		ws := &arm.ID{SubscriptionID: seg[0], ResourceGroup: seg[1], Parts: []arm.Part{{Namespace: "Microsoft.MachineLearningServices", Type: "workspaces", Name: seg[2]}}}
		if inboundRefused(w, req, j.Inbound, ws, "", j.logError, func(aerr *arm.Error, rule string) {
			id, op := ws.Child("jobs", seg[3]), "Microsoft.MachineLearningServices/workspaces/jobs/"
			if len(seg) == 4 { // claim
				id = ws
				op += arm.Clip(seg[3], 100) + "/action"
			} else {
				op += arm.Clip(seg[4], 100) + "/action"
			}
			refusalEvent(req, w, j.Manager, id, op, aerr, rule)
		}) {
			return
		}
	}
	if len(seg) >= 5 && seg[4] == "outputs" && !slicesContainsEmpty(seg) {
		j.outputs(w, req, seg)
		return
	}
	if len(seg) < 4 || len(seg) > 5 || slicesContainsEmpty(seg) {
		writeError(w, 404, arm.Errorf("NotFound", "The path '%s' is not a job API path (/jobs/{subscription}/{resourceGroup}/{workspace}/claim or /jobs/.../{job}/status|metrics|logs).", arm.Clip(req.URL.Path, 300)))
		return
	}
	ws := &arm.ID{SubscriptionID: seg[0], ResourceGroup: seg[1], Parts: []arm.Part{{Namespace: "Microsoft.MachineLearningServices", Type: "workspaces", Name: seg[2]}}}
	var body []byte
	if req.Method == "POST" {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxJobBody+1))
		if err != nil || len(b) > maxJobBody {
			writeError(w, 413, arm.Errorf("RequestEntityTooLarge", "A job API call's body is at most %d bytes.", maxJobBody))
			return
		}
		body = b
	} else if req.Method != "GET" {
		writeError(w, 405, arm.Errorf("MethodNotAllowed", "The job API takes GET and POST."))
		return
	}
	bearer, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	bearer = strings.TrimSpace(bearer)
	var out any
	var err error
	switch {
	case len(seg) == 4 && seg[3] == "claim" && req.Method == "POST":
		caller, aerr := j.Auth.Authenticate(req.Context(), req.Header.Get("Authorization"))
		if aerr != nil {
			writeError(w, 401, arm.Errorf("AuthenticationFailed", "Claiming a job takes an ARM token: %s", arm.Clip(aerr.Error(), 300)))
			return
		}
		var in struct {
			Compute string `json:"compute"`
		}
		if json.Unmarshal(body, &in) != nil || in.Compute == "" {
			writeError(w, 400, arm.Errorf("InvalidRequestContent", "A claim is {\"compute\": \"{compute name}\"}."))
			return
		}
		var c *resources.ClaimedJob
		if c, err = j.Manager.ClaimJob(req.Context(), caller, ws, in.Compute); err == nil && c == nil {
			w.WriteHeader(204)
			return
		}
		out = c
		if err == nil && j.Egress != nil {
			proxy, mode := j.Egress(req.Context(), ws)
			out = struct {
				*resources.ClaimedJob
				Egress map[string]string `json:"egress"`
			}{c, map[string]string{"proxy": proxy, "isolationMode": mode}}
		}
	case len(seg) == 5 && seg[4] == "identity" && req.Method == "GET" && j.IssueToken != nil:
		// The job's managed identity, in the shape of Azure's managed
		// identity endpoints (the runner's local endpoint relays it),
		// chosen as they choose it.
		q := req.URL.Query()
		sel := resources.IdentitySelector{ClientID: q.Get("client_id"), ObjectID: q.Get("object_id"), ResourceID: q.Get("msi_res_id")}
		for _, alias := range []struct {
			to   *string
			name string
		}{{&sel.ObjectID, "principal_id"}, {&sel.ResourceID, "mi_res_id"}} {
			if v := q.Get(alias.name); v != "" {
				if *alias.to != "" {
					writeError(w, 400, arm.Errorf("InvalidIdentitySelector", "Choose the identity with one of client_id, object_id (principal_id) or msi_res_id (mi_res_id), not several."))
					return
				}
				*alias.to = v
			}
		}
		call := resources.JobCall{Job: ws.Child("jobs", seg[3]), Bearer: bearer}
		mi, ierr := j.Manager.JobIdentity(req.Context(), call, sel)
		if ierr == nil {
			resource := q.Get("resource")
			var tok string
			var exp time.Time
			if tok, exp, ierr = j.IssueToken(req.Context(), mi, resource); ierr == nil {
				clientID := mi.ClientID
				if clientID == "" {
					clientID = mi.ObjectID
				}
				out = map[string]string{"access_token": tok, "token_type": "Bearer", "resource": resource, "client_id": clientID,
					"expires_on": strconv.FormatInt(exp.Unix(), 10), "expires_in": strconv.FormatInt(int64(time.Until(exp).Seconds()), 10)}
				break
			}
			var oe *authn.OAuthError
			if errors.As(ierr, &oe) {
				writeError(w, 400, arm.Errorf("InvalidResource", "%s", oe.Description))
				return
			}
		}
		err = ierr
	case len(seg) == 5:
		call := resources.JobCall{Job: ws.Child("jobs", seg[3]), Bearer: bearer, What: seg[4], Body: body}
		if !strings.HasPrefix(bearer, "amljob.") && bearer != "" {
			if caller, aerr := j.Auth.Authenticate(req.Context(), req.Header.Get("Authorization")); aerr == nil {
				call.Caller = caller
			}
		}
		var raw json.RawMessage
		raw, err = j.Manager.JobCallback(req.Context(), call)
		out = raw
	default:
		writeError(w, 404, arm.Errorf("NotFound", "The path '%s' is not a job API path.", arm.Clip(req.URL.Path, 300)))
		return
	}
	if err != nil {
		j.fail(w, req, err)
		return
	}
	writeJSON(w, 200, out)
}

// fail writes the error of a job API call.
func (j *Jobs) fail(w http.ResponseWriter, req *http.Request, err error) {
	var je *resources.StatusError
	var ae *arm.Error
	switch {
	case errors.As(err, &je):
		writeError(w, je.Status, je.Err)
	case errors.As(err, &ae):
		writeError(w, statusFor(ae.Code), ae)
	default:
		if j.Log != nil {
			j.Log.Error("job API", "path", req.URL.Path, "error", err)
		}
		writeError(w, 500, arm.Errorf("InternalServerError", "The job API call failed."))
	}
}

func (j *Jobs) logError(msg string, args ...any) {
	if j.Log != nil {
		j.Log.Error(msg, args...)
	}
}

func slicesContainsEmpty(ss []string) bool {
	for _, s := range ss {
		if s == "" {
			return true
		}
	}
	return false
}

// outputs serves a job's outputs: PUT (the job's token) and GET of a
// file, GET of the list.
func (j *Jobs) outputs(w http.ResponseWriter, req *http.Request, seg []string) {
	ws := &arm.ID{SubscriptionID: seg[0], ResourceGroup: seg[1], Parts: []arm.Part{{Namespace: "Microsoft.MachineLearningServices", Type: "workspaces", Name: seg[2]}}}
	call := resources.JobCall{Job: ws.Child("jobs", seg[3]), What: "outputs"}
	bearer, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	call.Bearer = strings.TrimSpace(bearer)
	if !strings.HasPrefix(call.Bearer, "amljob.") && call.Bearer != "" {
		caller, aerr := j.Auth.Authenticate(req.Context(), req.Header.Get("Authorization"))
		if aerr != nil {
			writeError(w, 401, arm.Errorf("AuthenticationFailed", "The job API takes the job's token (or, to read, an ARM token): %s", arm.Clip(aerr.Error(), 300)))
			return
		}
		call.Caller = caller
	}
	// The file's path is a query parameter, so that no cleaning of URL
	// paths (a mux's, a proxy's) changes it before it is checked.
	q := req.URL.Query()
	paths, has := q["path"]
	if len(seg) != 5 || has && len(paths) != 1 {
		writeError(w, 400, arm.Errorf("InvalidOutputPath", "A job's outputs are {job}/outputs (the list) and {job}/outputs?path={path} (a file), with one path."))
		return
	}
	path := q.Get("path")
	if has {
		if err := resources.ValidOutputPath(path); err != nil {
			j.fail(w, req, err)
			return
		}
	}
	var err error
	switch {
	case req.Method == "PUT" && has:
		var b []byte
		b, err = io.ReadAll(io.LimitReader(req.Body, resources.MaxJobOutputFile+1))
		if err == nil && len(b) > resources.MaxJobOutputFile {
			writeError(w, 413, arm.Errorf("RequestEntityTooLarge", "A file of a job's outputs is at most %d bytes; '%s' is larger.", resources.MaxJobOutputFile, arm.Clip(path, 300)))
			return
		}
		if err == nil {
			var f *resources.OutputFile
			if f, err = j.Manager.PutJobOutput(req.Context(), call, path, b); err == nil {
				writeJSON(w, 200, f)
				return
			}
		}
	case req.Method == "GET" && !has:
		var files []resources.OutputFile
		if files, err = j.Manager.JobOutputs(req.Context(), call); err == nil {
			writeJSON(w, 200, map[string]any{"value": files})
			return
		}
	case req.Method == "GET":
		var f *resources.OutputFile
		var data []byte
		if f, data, err = j.Manager.JobOutput(req.Context(), call, path); err == nil {
			h := w.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Content-Length", strconv.Itoa(len(data)))
			h.Set("X-Content-SHA256", f.SHA256)
			h.Set("Last-Modified", lastModified(f.LastModified))
			w.WriteHeader(200)
			w.Write(data)
			return
		}
	case req.Method == "PUT":
		err = &resources.StatusError{Status: 400, Err: arm.Errorf("InvalidOutputPath", "PUT {job}/outputs?path={path}: the path of the file is missing.")}
	default:
		writeError(w, 405, arm.Errorf("MethodNotAllowed", "A job's outputs take PUT (a file, with the job's token) and GET (the list, or a file)."))
		return
	}
	j.fail(w, req, err)
}

// lastModified is an RFC 3339 time as an HTTP date ("" when it is not
// one).
func lastModified(t string) string {
	tm, err := time.Parse(time.RFC3339Nano, t)
	if err != nil {
		return ""
	}
	return tm.UTC().Format(http.TimeFormat)
}
