package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/mlgov/mlgov/authn"
)

// Users: /v1.0/users[/{id or userPrincipalName}] GET, POST
// (accountEnabled, displayName, mailNickname, userPrincipalName,
// passwordProfile.password), PATCH (accountEnabled,
// passwordProfile.password), DELETE.

func userJSON(u *authn.User) map[string]any {
	return map[string]any{"id": u.ObjectID, "userPrincipalName": u.UserPrincipalName, "displayName": u.DisplayName,
		"mailNickname": nilIfEmpty(u.MailNickname), "accountEnabled": u.AccountEnabled, "createdDateTime": timeJSON(u.CreatedAt)}
}

func userError(err error, id string) error {
	if errors.Is(err, authn.ErrUserInvalid) {
		return badRequest("%s", strings.TrimPrefix(err.Error(), authn.ErrUserInvalid.Error()+": "))
	}
	return directoryError(err, id)
}

type passwordProfile struct {
	Password                      string `json:"password"`
	ForceChangePasswordNextSignIn bool   `json:"forceChangePasswordNextSignIn"`
}

func (s *Server) users(ctx context.Context, r *http.Request, method string, seg []string) (any, int, error) {
	switch {
	case len(seg) == 0 && method == "GET":
		field, val, err := filter(r.URL.Query(), false)
		if err != nil {
			return nil, 0, err
		}
		us, err := s.dir.Users(ctx, s.cfg.TenantID)
		if err != nil {
			return nil, 0, err
		}
		var out []map[string]any
		for i := range us {
			if field == "" || us[i].DisplayName == val {
				out = append(out, userJSON(&us[i]))
			}
		}
		return s.collection("users", out), 200, nil
	case len(seg) == 0 && method == "POST":
		var body struct {
			AccountEnabled    *bool            `json:"accountEnabled"`
			DisplayName       string           `json:"displayName"`
			MailNickname      string           `json:"mailNickname"`
			UserPrincipalName string           `json:"userPrincipalName"`
			PasswordProfile   *passwordProfile `json:"passwordProfile"`
		}
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		if body.PasswordProfile == nil || body.PasswordProfile.Password == "" {
			return nil, 0, badRequest("Invalid value specified for property 'passwordProfile' of resource 'User'.")
		}
		if body.PasswordProfile.ForceChangePasswordNextSignIn {
			return nil, 0, badRequest("forceChangePasswordNextSignIn is not served: no sign-in mlgov serves can change a password.")
		}
		u, err := s.dir.CreateUser(ctx, s.cfg.TenantID, authn.User{DisplayName: body.DisplayName, MailNickname: body.MailNickname, UserPrincipalName: body.UserPrincipalName}, body.PasswordProfile.Password)
		if err != nil {
			return nil, 0, userError(err, body.UserPrincipalName)
		}
		if body.AccountEnabled != nil && !*body.AccountEnabled {
			if err := s.dir.UpdateUser(ctx, s.cfg.TenantID, u.ObjectID, "", body.AccountEnabled); err != nil {
				return nil, 0, err
			}
			u.AccountEnabled = false
		}
		return s.entity("users", userJSON(u)), 201, nil
	case len(seg) >= 2:
		return s.userMethods(ctx, r, method, seg)
	case len(seg) == 1:
		u, err := s.dir.GetUser(ctx, s.cfg.TenantID, seg[0])
		if err != nil {
			return nil, 0, userError(err, seg[0])
		}
		switch method {
		case "GET":
			return s.entity("users", userJSON(u)), 200, nil
		case "DELETE":
			return nil, 204, userError(s.dir.DeleteUser(ctx, s.cfg.TenantID, u.ObjectID), seg[0])
		case "PATCH":
			var body struct {
				AccountEnabled  *bool            `json:"accountEnabled"`
				PasswordProfile *passwordProfile `json:"passwordProfile"`
			}
			if err := readBody(r, &body); err != nil {
				return nil, 0, err
			}
			pw := ""
			if body.PasswordProfile != nil {
				pw = body.PasswordProfile.Password
			}
			return nil, 204, userError(s.dir.UpdateUser(ctx, s.cfg.TenantID, u.ObjectID, pw, body.AccountEnabled), seg[0])
		}
	}
	return nil, 0, errf(405, "Request_BadRequest", "%s %s is not served.", method, clip(r.URL.Path))
}

// userMethods serves a user's authentication methods (the authenticator
// app: list and delete, never its secret) and revokeSignInSessions.
func (s *Server) userMethods(ctx context.Context, r *http.Request, method string, seg []string) (any, int, error) {
	u, err := s.dir.GetUser(ctx, s.cfg.TenantID, seg[0])
	if err != nil {
		return nil, 0, userError(err, seg[0])
	}
	switch {
	case len(seg) == 2 && seg[1] == "revokeSignInSessions" && method == "POST":
		if err := s.dir.RevokeSignInSessions(ctx, s.cfg.TenantID, u.ObjectID); err != nil {
			return nil, 0, userError(err, seg[0])
		}
		return map[string]any{"@odata.context": s.cfg.PublicURL + "/v1.0/$metadata#Edm.Boolean", "value": true}, 200, nil
	case len(seg) == 4 && seg[1] == "authentication" && seg[2] == "softwareOathMethods" && method == "DELETE":
		return nil, 204, userError(s.dir.DeleteSoftwareOathMethod(ctx, s.cfg.TenantID, u.ObjectID, seg[3]), seg[3])
	case len(seg) == 3 && seg[1] == "authentication" && (seg[2] == "softwareOathMethods" || seg[2] == "methods") && method == "GET":
		ms, err := s.dir.SoftwareOathMethods(ctx, s.cfg.TenantID, u.ObjectID)
		if err != nil {
			return nil, 0, err
		}
		var out []map[string]any
		for _, m := range ms {
			out = append(out, map[string]any{"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod", "id": m.ID,
				"secretKey": nil, "createdDateTime": timeJSON(m.CreatedAt)})
		}
		return s.collection("users('"+u.ObjectID+"')/authentication/"+seg[2], out), 200, nil
	}
	return nil, 0, errf(405, "Request_BadRequest", "%s %s is not served.", method, clip(r.URL.Path))
}
