package graph

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mlgov/mlgov/authn"
	"github.com/mlgov/mlgov/internal/uuid"
)

// ---- groups ----

func (s *Server) groupJSON(g *authn.Group) map[string]any {
	return map[string]any{"id": g.ObjectID, "displayName": g.DisplayName, "description": nilIfEmpty(g.Description),
		"mailEnabled": false, "mailNickname": g.MailNickname, "securityEnabled": true, "groupTypes": []string{},
		"createdDateTime": timeJSON(g.CreatedAt)}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) groups(ctx context.Context, r *http.Request, method string, seg []string) (any, int, error) {
	switch {
	case len(seg) == 0 && method == "GET":
		field, val, err := filter(r.URL.Query(), false)
		if err != nil {
			return nil, 0, err
		}
		gs, err := s.dir.Groups(ctx, s.cfg.TenantID)
		if err != nil {
			return nil, 0, err
		}
		var out []map[string]any
		for _, g := range gs {
			if field == "" || g.DisplayName == val {
				out = append(out, s.groupJSON(g))
			}
		}
		return s.collection("groups", out), 200, nil
	case len(seg) == 0 && method == "POST":
		var body struct {
			DisplayName     string   `json:"displayName"`
			Description     string   `json:"description"`
			MailEnabled     bool     `json:"mailEnabled"`
			MailNickname    string   `json:"mailNickname"`
			SecurityEnabled *bool    `json:"securityEnabled"`
			GroupTypes      []string `json:"groupTypes"`
		}
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		switch {
		case strings.TrimSpace(body.DisplayName) == "":
			return nil, 0, badRequest("Invalid value specified for property 'displayName' of resource 'Group'.")
		case strings.TrimSpace(body.MailNickname) == "":
			return nil, 0, badRequest("Invalid value specified for property 'mailNickname' of resource 'Group'.")
		case body.MailEnabled || len(body.GroupTypes) > 0 || (body.SecurityEnabled != nil && !*body.SecurityEnabled):
			return nil, 0, badRequest("mlgov serves security groups only: mailEnabled false, securityEnabled true, groupTypes empty.")
		}
		g, err := s.dir.CreateGroupFrom(ctx, s.cfg.TenantID, authn.Group{DisplayName: body.DisplayName, Description: body.Description, MailNickname: body.MailNickname})
		if err != nil {
			return nil, 0, err
		}
		return s.entity("groups", s.groupJSON(g)), 201, nil
	}
	if len(seg) == 0 {
		return nil, 0, errf(405, "Request_BadRequest", "The method %s is not served on groups.", method)
	}
	id := seg[0]
	g, err := s.dir.Group(ctx, s.cfg.TenantID, id)
	if err != nil || !uuid.Valid(id) {
		return nil, 0, notFound(id)
	}
	switch {
	case len(seg) == 1 && method == "GET":
		return s.entity("groups", s.groupJSON(g)), 200, nil
	case len(seg) == 1 && method == "DELETE":
		return nil, 204, directoryError(s.dir.DeleteGroup(ctx, s.cfg.TenantID, g.ObjectID), id)
	case len(seg) == 2 && seg[1] == "members" && method == "GET":
		var out []map[string]any
		for _, m := range g.Members {
			if o, err := s.object(ctx, m); err == nil {
				out = append(out, o)
			}
		}
		return s.collection("directoryObjects", out), 200, nil
	case len(seg) == 3 && seg[1] == "members" && seg[2] == "$ref" && method == "POST":
		var body struct {
			ID string `json:"@odata.id"`
		}
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		mid := body.ID[strings.LastIndexByte(body.ID, '/')+1:]
		if !uuid.Valid(mid) {
			return nil, 0, badRequest("Invalid object identifier '%s'.", clip(body.ID))
		}
		for _, m := range g.Members {
			if strings.EqualFold(m, mid) {
				return nil, 0, badRequest("One or more added object references already exist for the following modified properties: 'members'.")
			}
		}
		if err := s.dir.AddMember(ctx, s.cfg.TenantID, g.ObjectID, mid); err != nil {
			return nil, 0, directoryError(err, mid)
		}
		return nil, 204, nil
	case len(seg) == 4 && seg[1] == "members" && seg[3] == "$ref" && method == "DELETE":
		mid := seg[2]
		found := false
		for _, m := range g.Members {
			found = found || strings.EqualFold(m, mid)
		}
		if !found {
			return nil, 0, notFound(mid)
		}
		return nil, 204, directoryError(s.dir.RemoveMember(ctx, s.cfg.TenantID, g.ObjectID, mid), mid)
	}
	return nil, 0, errf(405, "Request_BadRequest", "%s %s is not served.", method, clip(r.URL.Path))
}

// object is a directory object by id (a service principal or a group),
// with its @odata.type.
func (s *Server) object(ctx context.Context, id string) (map[string]any, error) {
	if g, err := s.dir.Group(ctx, s.cfg.TenantID, id); err == nil {
		o := s.groupJSON(g)
		o["@odata.type"] = "#microsoft.graph.group"
		return o, nil
	}
	if u, err := s.dir.GetUser(ctx, s.cfg.TenantID, id); err == nil && uuid.Valid(id) {
		o := userJSON(u)
		o["@odata.type"] = "#microsoft.graph.user"
		return o, nil
	}
	sps, err := s.dir.ServicePrincipals(ctx, s.cfg.TenantID)
	if err != nil {
		return nil, err
	}
	for _, sp := range sps {
		if sp.HasServicePrincipal && strings.EqualFold(sp.ObjectID, id) {
			o := s.spJSON(sp)
			o["@odata.type"] = "#microsoft.graph.servicePrincipal"
			return o, nil
		}
	}
	return nil, notFound(id)
}

// ---- applications ----

func credentialsJSON(cs []authn.PasswordCredential) []map[string]any {
	out := []map[string]any{}
	for _, c := range cs {
		out = append(out, map[string]any{"keyId": c.KeyID, "displayName": nilIfEmpty(c.DisplayName), "hint": c.Hint,
			"startDateTime": timeJSON(c.Start), "endDateTime": timeJSON(c.End), "secretText": nil, "customKeyIdentifier": nil})
	}
	return out
}

func (s *Server) appJSON(sp *authn.ServicePrincipal) map[string]any {
	list := func(l []string) map[string]any {
		if l == nil {
			l = []string{}
		}
		return map[string]any{"redirectUris": l}
	}
	return map[string]any{"id": sp.AppObjectID, "appId": sp.AppID, "displayName": sp.DisplayName, "signInAudience": "AzureADMyOrg",
		"createdDateTime": timeJSON(sp.CreatedAt), "passwordCredentials": credentialsJSON(sp.PasswordCredentials),
		"publicClient": list(sp.RedirectURIs), "spa": list(sp.SPARedirectURIs), "web": list(nil), "isFallbackPublicClient": sp.PublicClient,
		"keyCredentials": keyCredentialsJSON(sp.KeyCredentials)}
}

func (s *Server) spJSON(sp *authn.ServicePrincipal) map[string]any {
	return map[string]any{"id": sp.ObjectID, "appId": sp.AppID, "displayName": sp.DisplayName, "accountEnabled": sp.AccountEnabled,
		"servicePrincipalType": "Application", "appOwnerOrganizationId": s.cfg.TenantID, "appRoles": []any{},
		"passwordCredentials": []any{}, "createdDateTime": timeJSON(sp.CreatedAt)}
}

// find returns the application (or service principal) that keep picks.
func (s *Server) find(ctx context.Context, id string, keep func(*authn.ServicePrincipal) bool) (*authn.ServicePrincipal, error) {
	sps, err := s.dir.ServicePrincipals(ctx, s.cfg.TenantID)
	if err != nil {
		return nil, err
	}
	for _, sp := range sps {
		if keep(sp) {
			return sp, nil
		}
	}
	return nil, notFound(id)
}

func (s *Server) spByAppID(ctx context.Context, appID string) (*authn.ServicePrincipal, error) {
	return s.find(ctx, appID, func(sp *authn.ServicePrincipal) bool {
		return sp.HasServicePrincipal && strings.EqualFold(sp.AppID, appID)
	})
}

func (s *Server) listApps(ctx context.Context, r *http.Request, sps bool) ([]map[string]any, error) {
	field, val, err := filter(r.URL.Query(), true)
	if err != nil {
		return nil, err
	}
	all, err := s.dir.ServicePrincipals(ctx, s.cfg.TenantID)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, sp := range all {
		switch {
		case sps && !sp.HasServicePrincipal:
		case field == "displayName" && sp.DisplayName != val:
		case field == "appId" && !strings.EqualFold(sp.AppID, val):
		case sps:
			out = append(out, s.spJSON(sp))
		default:
			out = append(out, s.appJSON(sp))
		}
	}
	return out, nil
}

func (s *Server) applications(ctx context.Context, r *http.Request, method string, seg []string) (any, int, error) {
	switch {
	case len(seg) == 0 && method == "GET":
		out, err := s.listApps(ctx, r, false)
		if err != nil {
			return nil, 0, err
		}
		return s.collection("applications", out), 200, nil
	case len(seg) == 0 && method == "POST":
		var body struct {
			DisplayName    string `json:"displayName"`
			SignInAudience string `json:"signInAudience"`
			appClient
		}
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		if strings.TrimSpace(body.DisplayName) == "" {
			return nil, 0, badRequest("Invalid value specified for property 'displayName' of resource 'Application'.")
		}
		if body.SignInAudience != "" && body.SignInAudience != "AzureADMyOrg" {
			return nil, 0, badRequest("signInAudience '%s' is not served: applications are of this directory only (AzureADMyOrg).", clip(body.SignInAudience))
		}
		c, err := body.settings()
		if err != nil {
			return nil, 0, err
		}
		sp, err := s.dir.CreateApplication(ctx, s.cfg.TenantID, body.DisplayName)
		if err != nil {
			return nil, 0, err
		}
		if c.RedirectURIs != nil || c.SPARedirectURIs != nil || c.PublicClient != nil || body.KeyCredentials != nil {
			err := s.dir.SetPublicClient(ctx, s.cfg.TenantID, sp.AppID, c)
			if err == nil {
				err = s.setKeys(ctx, sp.AppID, &body.appClient)
			}
			if err != nil {
				// The application was made: take it back rather than keep half of the request.
				return nil, 0, errors.Join(appError(err), s.dir.DeleteServicePrincipal(ctx, s.cfg.TenantID, sp.AppID))
			}
			appID := sp.AppID
			if sp, err = s.find(ctx, appID, func(x *authn.ServicePrincipal) bool { return strings.EqualFold(x.AppID, appID) }); err != nil {
				return nil, 0, err
			}
		}
		return s.entity("applications", s.appJSON(sp)), 201, nil
	}
	if len(seg) == 0 {
		return nil, 0, errf(405, "Request_BadRequest", "The method %s is not served on applications.", method)
	}
	id := seg[0]
	app, err := s.find(ctx, id, func(sp *authn.ServicePrincipal) bool { return strings.EqualFold(sp.AppObjectID, id) })
	if err != nil {
		return nil, 0, err
	}
	switch {
	case len(seg) == 1 && method == "GET":
		return s.entity("applications", s.appJSON(app)), 200, nil
	case len(seg) == 1 && method == "DELETE":
		return nil, 204, directoryError(s.dir.DeleteServicePrincipal(ctx, s.cfg.TenantID, app.AppID), id)
	case len(seg) == 1 && method == "PATCH":
		var body appClient
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		c, err := body.settings()
		if err != nil {
			return nil, 0, err
		}
		// Everything is checked before anything is written.
		if err := appError(c.Validate()); err != nil {
			return nil, 0, err
		}
		if err := s.setKeys(ctx, app.AppID, &body); err != nil {
			return nil, 0, err
		}
		return nil, 204, appError(s.dir.SetPublicClient(ctx, s.cfg.TenantID, app.AppID, c))
	case len(seg) == 2 && seg[1] == "addPassword" && method == "POST":
		var body struct {
			PasswordCredential struct {
				DisplayName   string     `json:"displayName"`
				EndDateTime   *time.Time `json:"endDateTime"`
				StartDateTime *time.Time `json:"startDateTime"`
			} `json:"passwordCredential"`
		}
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		opt := authn.SecretOptions{Keep: true, DisplayName: body.PasswordCredential.DisplayName}
		if body.PasswordCredential.StartDateTime != nil {
			return nil, 0, badRequest("startDateTime is not served: a secret is valid from its creation.")
		}
		if end := body.PasswordCredential.EndDateTime; end != nil {
			if opt.Lifetime = time.Until(*end); opt.Lifetime <= 0 {
				return nil, 0, badRequest("endDateTime '%s' is not in the future.", end.UTC().Format(time.RFC3339))
			}
		}
		secret, cred, err := s.dir.ResetClientSecret(ctx, s.cfg.TenantID, app.AppID, opt)
		if err != nil {
			return nil, 0, directoryError(err, id)
		}
		out := credentialsJSON([]authn.PasswordCredential{cred})[0]
		out["secretText"] = secret
		out["@odata.context"] = s.cfg.PublicURL + "/v1.0/$metadata#microsoft.graph.passwordCredential"
		return out, 200, nil
	case len(seg) == 2 && seg[1] == "removePassword" && method == "POST":
		var body struct {
			KeyID string `json:"keyId"`
		}
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		if err := s.dir.RemoveClientSecret(ctx, s.cfg.TenantID, app.AppID, body.KeyID); err != nil {
			return nil, 0, directoryError(err, body.KeyID)
		}
		return nil, 204, nil
	}
	return nil, 0, errf(405, "Request_BadRequest", "%s %s is not served.", method, clip(r.URL.Path))
}

// ---- service principals ----

func (s *Server) servicePrincipals(ctx context.Context, r *http.Request, method string, seg []string) (any, int, error) {
	switch {
	case len(seg) == 0 && method == "GET":
		out, err := s.listApps(ctx, r, true)
		if err != nil {
			return nil, 0, err
		}
		return s.collection("servicePrincipals", out), 200, nil
	case len(seg) == 0 && method == "POST":
		var body struct {
			AppID          string `json:"appId"`
			AccountEnabled *bool  `json:"accountEnabled"`
		}
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		if !uuid.Valid(body.AppID) {
			return nil, 0, badRequest("Invalid value specified for property 'appId' of resource 'ServicePrincipal'.")
		}
		app, err := s.find(ctx, body.AppID, func(sp *authn.ServicePrincipal) bool { return strings.EqualFold(sp.AppID, body.AppID) })
		if err != nil {
			return nil, 0, err
		}
		if app.HasServicePrincipal {
			return nil, 0, errf(409, "Request_MultipleObjectsWithSameKeyValue", "The service principal for application '%s' already exists.", app.AppID)
		}
		sp, err := s.dir.CreateServicePrincipalFor(ctx, s.cfg.TenantID, app.AppID)
		if err != nil {
			return nil, 0, directoryError(err, body.AppID)
		}
		if body.AccountEnabled != nil && !*body.AccountEnabled {
			if err := s.dir.SetAccountEnabled(ctx, s.cfg.TenantID, app.AppID, false); err != nil {
				return nil, 0, err
			}
			sp.AccountEnabled = false
		}
		return s.entity("servicePrincipals", s.spJSON(sp)), 201, nil
	}
	if len(seg) != 1 {
		return nil, 0, errf(405, "Request_BadRequest", "%s %s is not served.", method, clip(r.URL.Path))
	}
	id := seg[0]
	sp, err := s.find(ctx, id, func(sp *authn.ServicePrincipal) bool {
		return sp.HasServicePrincipal && strings.EqualFold(sp.ObjectID, id)
	})
	if err != nil {
		return nil, 0, err
	}
	switch method {
	case "GET":
		return s.entity("servicePrincipals", s.spJSON(sp)), 200, nil
	case "PATCH":
		var body struct {
			AccountEnabled *bool `json:"accountEnabled"`
		}
		if err := readBody(r, &body); err != nil {
			return nil, 0, err
		}
		if body.AccountEnabled != nil {
			if err := s.dir.SetAccountEnabled(ctx, s.cfg.TenantID, sp.AppID, *body.AccountEnabled); err != nil {
				return nil, 0, directoryError(err, id)
			}
		}
		return nil, 204, nil
	case "DELETE":
		return nil, 204, directoryError(s.dir.DeleteServicePrincipalOf(ctx, s.cfg.TenantID, sp.AppID), id)
	}
	return nil, 0, errf(405, "Request_BadRequest", "The method %s is not served on a service principal.", method)
}

// appClient are the sign-in settings of an application: the redirect
// URIs of its authorization code flow (publicClient and spa; web, a
// confidential client's, is not served) and whether it may use the
// device code flow.
type appClient struct {
	PublicClient           *redirectList `json:"publicClient"`
	Spa                    *redirectList `json:"spa"`
	Web                    *redirectList `json:"web"`
	IsFallbackPublicClient *bool         `json:"isFallbackPublicClient"`
	KeyCredentials         *[]keyCred    `json:"keyCredentials"`
}

// keyCred is Graph's keyCredential as a request names it: a new
// certificate (type AsymmetricX509Cert, usage Verify, key: base64 of its
// DER) or one the application has (its keyId).
type keyCred struct {
	KeyID               string  `json:"keyId"`
	Type                string  `json:"type"`
	Usage               string  `json:"usage"`
	Key                 *string `json:"key"`
	DisplayName         string  `json:"displayName"`
	CustomKeyIdentifier *string `json:"customKeyIdentifier"`
	StartDateTime       *string `json:"startDateTime"`
	EndDateTime         *string `json:"endDateTime"`
}

// keyCredentials returns the certificates of a request (ok false: none
// named).
func (a *appClient) keyCredentials() ([]authn.NewKeyCredential, bool, error) {
	if a.KeyCredentials == nil {
		return nil, false, nil
	}
	out := []authn.NewKeyCredential{}
	for i, k := range *a.KeyCredentials {
		if k.Key == nil || *k.Key == "" {
			if k.KeyID == "" {
				return nil, false, badRequest("keyCredentials[%d] has neither a key (a new certificate) nor the keyId of one the application has.", i)
			}
			out = append(out, authn.NewKeyCredential{KeyID: k.KeyID})
			continue
		}
		if k.Type != "AsymmetricX509Cert" || k.Usage != "Verify" {
			return nil, false, badRequest("keyCredentials[%d]: only type AsymmetricX509Cert with usage Verify (a certificate whose private key signs client assertions) is served.", i)
		}
		if k.StartDateTime != nil || k.EndDateTime != nil {
			return nil, false, badRequest("keyCredentials[%d]: startDateTime and endDateTime are the certificate's own: leave them out.", i)
		}
		der, err := base64.StdEncoding.DecodeString(*k.Key)
		if err != nil {
			return nil, false, badRequest("keyCredentials[%d].key is not base64.", i)
		}
		out = append(out, authn.NewKeyCredential{Key: der, DisplayName: k.DisplayName})
	}
	return out, true, nil
}

// setKeys replaces an application's certificates when the request names
// them.
func (s *Server) setKeys(ctx context.Context, appID string, a *appClient) error {
	keys, ok, err := a.keyCredentials()
	if err != nil || !ok {
		return err
	}
	if err := s.dir.SetKeyCredentials(ctx, s.cfg.TenantID, appID, keys); err != nil {
		if errors.Is(err, authn.ErrCertInvalid) {
			return badRequest("%s", strings.TrimPrefix(err.Error(), authn.ErrCertInvalid.Error()+": "))
		}
		return err
	}
	return nil
}

type redirectList struct {
	RedirectURIs []string `json:"redirectUris"`
}

// settings returns the request's settings (nil fields: not in it).
func (a *appClient) settings() (authn.AppClient, error) {
	if a.Web != nil && len(a.Web.RedirectURIs) > 0 {
		return authn.AppClient{}, badRequest("web.redirectUris is not served: mlgov's applications are public clients (publicClient or spa redirect URIs, with PKCE).")
	}
	c := authn.AppClient{PublicClient: a.IsFallbackPublicClient}
	if a.PublicClient != nil {
		c.RedirectURIs = append([]string{}, a.PublicClient.RedirectURIs...)
	}
	if a.Spa != nil {
		c.SPARedirectURIs = append([]string{}, a.Spa.RedirectURIs...)
	}
	return c, nil
}

func appError(err error) error {
	if errors.Is(err, authn.ErrAppInvalid) {
		return badRequest("%s", strings.TrimPrefix(err.Error(), authn.ErrAppInvalid.Error()+": "))
	}
	return err
}

// keyCredentialsJSON shows certificates as Graph does: no key, the
// thumbprint as customKeyIdentifier.
func keyCredentialsJSON(ks []authn.KeyCredential) []map[string]any {
	out := []map[string]any{}
	for _, k := range ks {
		out = append(out, map[string]any{"keyId": k.KeyID, "displayName": nilIfEmpty(k.DisplayName), "type": "AsymmetricX509Cert",
			"usage": "Verify", "key": nil, "customKeyIdentifier": k.Thumbprint,
			"startDateTime": timeJSON(k.Start), "endDateTime": timeJSON(k.End)})
	}
	return out
}
