package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/resources"
)

// Scoring is the scoring gateway of online endpoints:
// {endpoint}/endpoints/{subscription}/{resource group}/{workspace}/{endpoint}/score
// (the endpoints' scoringUri). It authenticates each call by the
// endpoint's authMode and forwards it to a deployment's target
// (resources.Manager.Score), without the caller's Authorization header;
// the answer carries the deployment's name in azureml-model-deployment.
type Scoring struct {
	Manager *resources.Manager
	// VerifyML verifies an Entra token for https://ml.azure.com and
	// returns its caller (AADToken endpoints); an error refuses it.
	VerifyML func(ctx context.Context, token string) (*activitylog.Caller, error)
	// Transport sends the forwarded calls (nil: http.DefaultTransport).
	Transport http.RoundTripper
	Log       *slog.Logger
	// Inbound checks each call against the workspace's and the
	// endpoint's network settings before its credentials (nil: none).
	Inbound Inbound
}

// Register serves the gateway under /endpoints/ of mux.
func (g *Scoring) Register(mux *http.ServeMux) { mux.Handle("/endpoints/", g) }

// ServeHTTP implements http.Handler.
func (g *Scoring) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	id, ok := resources.ParseScoringPath(req.URL.Path)
	if !ok {
		writeError(w, 404, arm.Errorf("NotFound", "The path '%s' is not an endpoint's scoring path (/endpoints/{subscription}/{resourceGroup}/{workspace}/{endpoint}/score).", arm.Clip(req.URL.Path, 300)))
		return
	}
	if req.Method != "POST" {
		writeError(w, 405, arm.Errorf("MethodNotAllowed", "Scoring calls are POSTs."))
		return
	}
	if inboundRefused(w, req, g.Inbound, id.Parent(), id.Name(), g.logError, func(aerr *arm.Error, rule string) {
		refusalEvent(req, w, g.Manager, id, "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action", aerr, rule)
	}) {
		return
	}
	bearer, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	sr := resources.ScoreRequest{Endpoint: id, Bearer: strings.TrimSpace(bearer), Deployment: req.Header.Get("azureml-model-deployment")}
	if g.VerifyML != nil && strings.Count(sr.Bearer, ".") == 2 && !strings.HasPrefix(sr.Bearer, "amltoken.") {
		if c, err := g.VerifyML(req.Context(), sr.Bearer); err == nil {
			sr.Caller = c
		}
	}
	target, err := g.Manager.Score(req.Context(), sr)
	if err != nil {
		var se *resources.StatusError
		if errors.As(err, &se) {
			if se.Status == 401 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+id.Name()+`"`)
			}
			writeError(w, se.Status, se.Err)
			return
		}
		if g.Log != nil {
			g.Log.Error("scoring", "endpoint", id.String(), "error", err)
		}
		writeError(w, 500, arm.Errorf("InternalServerError", "The scoring call could not be routed."))
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.URL.Path, pr.Out.URL.RawPath = target.URL.Scheme, target.URL.Host, target.URL.Path, target.URL.RawPath
			pr.Out.URL.RawQuery = target.URL.RawQuery
			pr.Out.Host = target.URL.Host
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Set("azureml-model-deployment", target.Deployment)
		},
		Transport: g.Transport,
		ModifyResponse: func(r *http.Response) error {
			r.Header.Set("azureml-model-deployment", target.Deployment)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, 502, arm.Errorf("BadGateway", "The deployment '%s' did not answer: %s.", target.Deployment, arm.Clip(err.Error(), 200)))
		},
	}
	if proxy.Transport == nil {
		proxy.Transport = &http.Transport{ResponseHeaderTimeout: 90 * time.Second}
	}
	proxy.ServeHTTP(w, req)
}

func (g *Scoring) logError(msg string, args ...any) {
	if g.Log != nil {
		g.Log.Error(msg, args...)
	}
}

// refusalEvent records a data-plane call refused by its network check:
// the resource called, the operation, the client's address and the rule.
func refusalEvent(req *http.Request, w http.ResponseWriter, m *resources.Manager, id *arm.ID, operation string, aerr *arm.Error, rule string) {
	r := &resources.Request{Method: req.Method, ID: id, CorrelationID: w.Header().Get("x-ms-correlation-request-id"),
		ClientRequestID: arm.Clip(req.Header.Get("x-ms-client-request-id"), MaxClientRequestID), ClientIP: clientString(requestClient(req))}
	m.RecordRefusal(context.WithoutCancel(req.Context()), r, operation, 403, aerr, map[string]string{"networkRule": rule})
}
