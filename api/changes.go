package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
)

// The dashboard's change stream (docs/dashboard-api.md):
//
//	GET [/subscriptions/{s}[/resourceGroups/{rg}]]/providers/Mlgov.Governance/changes?api-version=2026-12-01
//
// answers text/event-stream: a comment line at once, then one
// "data: {json}" event per change the caller may read (package live
// decides which), a comment every changesHeartbeat so that proxies keep
// the connection, until the client goes, the hub drops it (its queue
// full: a slow client), or the caller's token expires.

// ChangesAPIVersion is the one api-version of the change stream.
const ChangesAPIVersion = "2026-12-01"

// Heartbeat and write bounds of the change stream.
const (
	changesHeartbeat = 15 * time.Second
	// changesWrite bounds one write to the client: a client that does
	// not read for that long is dropped (and the http.Server's
	// WriteTimeout, meant for answers, does not end the stream).
	changesWrite = 10 * time.Second
	// changesMaxLife ends a stream whose token names no expiry.
	changesMaxLife = time.Hour
)

// ChangeSubscription is one open stream's events (live.Subscription).
type ChangeSubscription interface {
	// Events are JSON objects, one per event.
	Events() <-chan []byte
	// Dropped is closed when the subscription ends on the hub's side.
	Dropped() <-chan struct{}
	Close()
}

// Changes opens a caller's subscription to the changes at and below
// scope (a resource id, "" for the tenant).
type Changes func(ctx context.Context, c *activitylog.Caller, scope string) (ChangeSubscription, error)

// changesScope reports whether id is the change stream's path, and its
// scope.
func changesScope(id *arm.ID) (string, bool) {
	if !strings.EqualFold(id.TrailingNamespace, "Mlgov.Governance") || !strings.EqualFold(id.Trailing, "changes") {
		return "", false
	}
	return (&arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts}).String(), true
}

// tokenExpiry is the exp claim of the caller's token (zero: none).
func tokenExpiry(c *activitylog.Caller) time.Time {
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if len(c.Claims) == 0 || json.Unmarshal(c.Claims, &claims) != nil {
		return time.Time{}
	}
	n, err := claims.Exp.Int64()
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// serveChanges serves the change stream; an error before the stream
// starts is answered as any other.
func (s *Server) serveChanges(w http.ResponseWriter, req *http.Request, caller *activitylog.Caller, id *arm.ID, scope string, q map[string][]string) error {
	if s.Changes == nil {
		return arm.Errorf("InvalidResourceType", "The change stream is not served by this server.")
	}
	if req.Method != "GET" {
		return arm.Errorf("MethodNotAllowed", "The method '%s' is not allowed on '%s'.", req.Method, arm.Clip(req.URL.Path, 300))
	}
	av := ""
	if v := q["api-version"]; len(v) > 0 {
		av = v[0]
	}
	switch {
	case av == "":
		return arm.Errorf("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	case av != ChangesAPIVersion:
		e := arm.Errorf("InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are '%s'.", arm.Clip(av, 64), ChangesAPIVersion)
		e.Target = "api-version"
		return e
	}
	if len(id.Parts) > 0 {
		e := arm.Errorf("InvalidRequestUri", "The change stream is served at the tenant, a subscription or a resource group, not at '%s'.", arm.Clip(scope, 300))
		e.Target = "scope"
		return e
	}
	sub, err := s.Changes(req.Context(), caller, scope)
	if err != nil {
		return err
	}
	defer sub.Close()
	end := tokenExpiry(caller)
	if end.IsZero() || time.Until(end) > changesMaxLife {
		end = time.Now().Add(changesMaxLife)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer
	rc := http.NewResponseController(w)
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(changesWrite))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	w.WriteHeader(200)
	if !write([]byte(": mlgov change stream\nretry: 3000\n\n")) {
		return nil
	}
	heartbeat := time.NewTicker(changesHeartbeat)
	defer heartbeat.Stop()
	expiry := time.NewTimer(time.Until(end))
	defer expiry.Stop()
	var buf []byte
	for {
		select {
		case <-req.Context().Done():
			return nil
		case <-sub.Dropped():
			return nil
		case <-expiry.C:
			write([]byte(": token expired\n\n"))
			return nil
		case <-heartbeat.C:
			if !write([]byte(": heartbeat\n\n")) {
				return nil
			}
		case ev := <-sub.Events():
			buf = append(append(append(buf[:0], "data: "...), ev...), "\n\n"...)
			// Whatever else is waiting goes in the same write.
			for more := true; more && len(buf) < 64<<10; {
				select {
				case ev := <-sub.Events():
					buf = append(append(append(buf, "data: "...), ev...), "\n\n"...)
				default:
					more = false
				}
			}
			if !write(buf) {
				return nil
			}
		}
	}
}
