// Package graph serves the directory as Microsoft Graph does (v1.0), so
// that the official @microsoft/microsoft-graph-client drives it with a
// custom base URL and a Graph-audience token:
//
//	/v1.0/users[/{id or upn}]                  GET, POST, PATCH, DELETE (users.go)
//	/v1.0/groups[/{id}]                        GET, POST, DELETE
//	/v1.0/groups/{id}/members                  GET
//	/v1.0/groups/{id}/members/$ref             POST {"@odata.id": ".../directoryObjects/{id}"}
//	/v1.0/groups/{id}/members/{memberId}/$ref  DELETE
//	/v1.0/applications[/{id}]                  GET, POST, DELETE
//	/v1.0/applications/{id}/addPassword        POST
//	/v1.0/applications/{id}/removePassword     POST
//	/v1.0/servicePrincipals[/{id}]             GET, POST {appId}, PATCH {accountEnabled}, DELETE
//	/v1.0/servicePrincipals(appId='{appId}')   GET
//	/v1.0/auditLogs/signIns                    GET ($filter appId eq '…', $top, $skiptoken)
//	/v1.0/identity/conditionalAccess/policies|namedLocations  (conditional.go)
//
// Lists take $filter displayName eq '…' (and appId eq '…' for
// applications and service principals); other query options are
// refused. The directory is managed by its administrators (Config.Admins:
// the bootstrap administrator, a Global Administrator's part); other
// callers are refused with Authorization_RequestDenied, as Graph refuses
// an application without the directory permissions. Errors have Graph's
// shape: {"error": {"code", "message", "innerError": {...}}}.
package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Config configures a Server.
type Config struct {
	Directory *authn.Service
	TenantID  string
	// PublicURL is https://host[:port]: the @odata.context and
	// @odata.id links are built from it.
	PublicURL string
	// Admins are the object ids that manage the directory.
	Admins []string
	Log    *slog.Logger
}

// Server serves the Graph API.
type Server struct {
	cfg Config
	dir *authn.Service
}

// New returns a Server.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.TenantID = strings.ToLower(cfg.TenantID)
	return &Server{cfg: cfg, dir: cfg.Directory}
}

// Register serves the API under /v1.0/ of mux.
func (s *Server) Register(mux *http.ServeMux) { mux.Handle("/v1.0/", s) }

// maxBody bounds a request body.
const maxBody = 64 << 10

// gerr is a Graph error.
type gerr struct {
	status        int
	code, message string
}

func (e *gerr) Error() string { return e.code + ": " + e.message }

func errf(status int, code, format string, args ...any) *gerr {
	return &gerr{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func notFound(id string) *gerr {
	return errf(404, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried reference-property objects are not present.", clip(id))
}

func badRequest(format string, args ...any) *gerr {
	return errf(400, "Request_BadRequest", format, args...)
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := uuid.New()
	w.Header().Set("request-id", reqID)
	w.Header().Set("client-request-id", cmpOr(r.Header.Get("client-request-id"), reqID))
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Log.Error("panic serving a Graph request", "path", r.URL.Path, "panic", fmt.Sprint(p))
			s.writeError(w, reqID, errf(500, "generalException", "An internal error occurred."))
		}
	}()
	out, status, err := s.serve(r)
	if err != nil {
		var ge *gerr
		if !errors.As(err, &ge) {
			s.cfg.Log.Error("Graph request failed", "path", r.URL.Path, "error", err)
			ge = errf(500, "generalException", "An internal error occurred. Request id: %s.", reqID)
		}
		s.writeError(w, reqID, ge)
		return
	}
	if out == nil {
		w.WriteHeader(status)
		return
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) writeError(w http.ResponseWriter, reqID string, e *gerr) {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": e.code, "message": e.message,
		"innerError": map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": reqID, "client-request-id": reqID}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	w.Write(b)
}

// authenticate verifies the caller's Graph token and that it may manage
// the directory.
func (s *Server) authenticate(r *http.Request) (*authn.Principal, error) {
	tok, err := authn.BearerToken(r.Header.Get("Authorization"))
	if err == nil {
		var p *authn.Principal
		if p, err = s.dir.VerifyFor(r.Context(), tok, authn.GraphAudiences); err == nil {
			if err = s.dir.CheckTenant(p, s.cfg.TenantID); err == nil {
				admin := slices.ContainsFunc(s.cfg.Admins, func(a string) bool { return strings.EqualFold(a, p.ObjectID) })
				if !admin {
					if admin, err = s.dir.HasDirectoryRole(r.Context(), s.cfg.TenantID, p.ObjectID, authn.GlobalAdministratorRole); err != nil {
						return nil, err
					}
				}
				if !admin {
					return nil, errf(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
				}
				return p, nil
			}
		}
	}
	var te *authn.TokenError
	if errors.As(err, &te) {
		return nil, errf(401, "InvalidAuthenticationToken", "%s", te.Message)
	}
	return nil, err
}

// serve routes a request; a nil body with a status is an answer
// without one.
func (s *Server) serve(r *http.Request) (any, int, error) {
	if _, err := s.authenticate(r); err != nil {
		return nil, 0, err
	}
	rest := strings.TrimPrefix(r.URL.Path, "/v1.0/")
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	q := r.URL.Query()
	signIns := len(seg) == 2 && seg[0] == "auditLogs" && seg[1] == "signIns"
	for k := range q {
		if k != "$filter" && !(signIns && (k == "$top" || k == "$skiptoken")) {
			return nil, 0, errf(400, "Request_UnsupportedQuery", "The query option '%s' is not supported here.", clip(k))
		}
	}
	ctx := r.Context()
	method := r.Method
	switch {
	case signIns && method == "GET":
		return s.signIns(ctx, q)
	case len(seg) >= 2 && seg[0] == "identity" && seg[1] == "conditionalAccess":
		return s.conditionalAccess(ctx, r, method, seg[2:])
	case seg[0] == "users":
		return s.users(ctx, r, method, seg[1:])
	case len(seg) >= 3 && seg[0] == "roleManagement" && seg[1] == "directory" && seg[2] == "roleAssignments":
		return s.roleAssignments(ctx, r, method, seg[3:])
	case seg[0] == "groups":
		return s.groups(ctx, r, method, seg[1:])
	case seg[0] == "applications":
		return s.applications(ctx, r, method, seg[1:])
	case seg[0] == "servicePrincipals":
		return s.servicePrincipals(ctx, r, method, seg[1:])
	case strings.HasPrefix(seg[0], "servicePrincipals(appId="):
		appID := strings.Trim(strings.TrimSuffix(strings.TrimPrefix(seg[0], "servicePrincipals(appId="), ")"), "'")
		if len(seg) != 1 || method != "GET" {
			return nil, 0, errf(405, "Request_BadRequest", "Only GET is served on servicePrincipals(appId='…').")
		}
		sp, err := s.spByAppID(ctx, appID)
		if err != nil {
			return nil, 0, err
		}
		return s.entity("servicePrincipals", s.spJSON(sp)), 200, nil
	}
	return nil, 0, errf(400, "BadRequest", "Resource not found for the segment '%s'.", clip(seg[0]))
}

// entity adds the @odata.context of one entity of a set.
func (s *Server) entity(set string, v map[string]any) map[string]any {
	v["@odata.context"] = s.cfg.PublicURL + "/v1.0/$metadata#" + set + "/$entity"
	return v
}

func (s *Server) collection(set string, items []map[string]any) map[string]any {
	if items == nil {
		items = []map[string]any{}
	}
	return map[string]any{"@odata.context": s.cfg.PublicURL + "/v1.0/$metadata#" + set, "value": items}
}

// readRaw reads a request body, bounded.
func readRaw(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, errf(413, "Request_EntityTooLarge", "The request body is larger than %d bytes.", maxBody)
	}
	return b, nil
}

// readBody decodes a JSON object body into v, refusing properties it
// does not know.
func readBody(r *http.Request, v any) error {
	b, err := readRaw(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if f, ok := strings.CutPrefix(msg, "unknown field "); ok {
			return badRequest("Property %s is not served on this type by mlgov.", f)
		}
		return badRequest("Invalid request body: %s.", msg)
	}
	return nil
}

// filter compiles $filter: displayName eq '…' or, where appIDs, appId
// eq '…'.
func filter(q url.Values, appIDs bool) (field, value string, err error) {
	f := strings.TrimSpace(q.Get("$filter"))
	if f == "" {
		return "", "", nil
	}
	bad := errf(400, "Request_UnsupportedQuery", "The $filter '%s' is not supported: use displayName eq 'value'%s.", clip(f), map[bool]string{true: " or appId eq 'value'", false: ""}[appIDs])
	name, rest, ok := strings.Cut(f, " ")
	op, lit, ok2 := strings.Cut(strings.TrimSpace(rest), " ")
	lit = strings.TrimSpace(lit)
	if !ok || !ok2 || op != "eq" || len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return "", "", bad
	}
	if name != "displayName" && !(appIDs && name == "appId") {
		return "", "", bad
	}
	return name, strings.ReplaceAll(lit[1:len(lit)-1], "''", "'"), nil
}

func timeJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// directoryError maps the directory's errors.
func directoryError(err error, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(id)
	case errors.Is(err, store.ErrConflict):
		return badRequest("%s", strings.TrimPrefix(err.Error(), "authn: "))
	}
	return err
}
