package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mlgov/mlgov/arm"
)

// plainErrors wraps the ResponseWriter of the non-ARM handlers (OAuth
// endpoints, health): an error they answer in plain text (http.Error,
// http.NotFound, a ServeMux's 404 and 405) is sent as a JSON error body
// instead, so that every answer of the server is machine-readable. Under
// the OAuth paths (/{tenant}/oauth2/..., /{tenant}/discovery/...,
// /{tenant}/v2.0/...) the body has the OAuth 2.0 error shape, elsewhere
// the ARM shape.
type plainErrors struct {
	http.ResponseWriter
	req      *http.Request
	replaced bool
}

func (p *plainErrors) WriteHeader(status int) {
	h := p.Header()
	if status < 400 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		p.ResponseWriter.WriteHeader(status)
		return
	}
	p.replaced = true
	h.Del("X-Content-Type-Options")
	bodyUnread(p.ResponseWriter, p.req)
	msg := http.StatusText(status)
	if status == http.StatusMethodNotAllowed {
		msg = "The method '" + p.req.Method + "' is not allowed on '" + arm.Clip(p.req.URL.Path, 300) + "'"
		if allow := h.Get("Allow"); allow != "" {
			msg += "; allowed: " + allow
		}
	} else if status == http.StatusNotFound {
		msg = "The path '" + arm.Clip(p.req.URL.Path, 300) + "' is not served"
	}
	if isOAuthPath(p.req.URL.Path) {
		code := "invalid_request"
		if status >= 500 {
			code = "server_error"
		}
		h.Set("Content-Type", "application/json; charset=utf-8")
		p.ResponseWriter.WriteHeader(status)
		json.NewEncoder(p.ResponseWriter).Encode(map[string]any{"error": code, "error_description": msg + "."})
		return
	}
	codes := map[int]string{404: "NotFound", 405: "MethodNotAllowed", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType"}
	code, ok := codes[status]
	if !ok {
		code = "BadRequest"
		if status >= 500 {
			code = "InternalServerError"
		}
	}
	writeError(p.ResponseWriter, status, &arm.Error{Code: code, Message: msg + "."})
}

func (p *plainErrors) Write(b []byte) (int, error) {
	if p.replaced {
		return len(b), nil // the plain-text body that was replaced
	}
	return p.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (p *plainErrors) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// isOAuthPath reports whether p is under a tenant's OAuth or OpenID paths.
func isOAuthPath(p string) bool {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) < 2 {
		return false
	}
	switch strings.ToLower(parts[1]) {
	case "oauth2", "discovery", "v2.0":
		return true
	}
	return false
}
