package resources

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// Online endpoints' scoring: the endpoint's scoringUri is mlgov's
// scoring gateway ({Config.ScoringURL}/endpoints/{subscription}/{resource
// group}/{workspace}/{endpoint}/score). Each call is authenticated by the
// endpoint's authMode:
//   - Key: the bearer is the endpoint's primary or secondary key;
//   - AMLToken: the bearer is a token of the endpoint's token action
//     (an HMAC of the endpoint and the expiry under a key of the
//     endpoint's secrets, valid an hour);
//   - AADToken: the bearer is an Entra token for https://ml.azure.com
//     (verified by the transport), whose caller needs
//     Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action
//     on the endpoint.
// The call then goes to a deployment: the one named by the
// azureml-model-deployment header, else one drawn by the endpoint's
// traffic; it is forwarded to the deployment's target,
// properties.properties["mlgov.targetUrl"] (an http or https URL).

// TargetURLProperty is the deployment property that names where its
// scoring calls go.
const TargetURLProperty = "mlgov.targetUrl"

// amlTokenLifetime is how long an AMLToken is valid.
const amlTokenLifetime = time.Hour

// ScoringPath returns the gateway path of an endpoint.
func ScoringPath(id *arm.ID) string {
	ws := id.Parent()
	return "/endpoints/" + id.SubscriptionID + "/" + id.ResourceGroup + "/" + ws.Name() + "/" + id.Name() + "/score"
}

// ParseScoringPath returns the endpoint a gateway path names.
func ParseScoringPath(p string) (*arm.ID, bool) {
	seg := strings.Split(strings.TrimPrefix(p, "/endpoints/"), "/")
	if !strings.HasPrefix(p, "/endpoints/") || len(seg) != 5 || seg[4] != "score" {
		return nil, false
	}
	for _, s := range seg[:4] {
		if s == "" {
			return nil, false
		}
	}
	id := &arm.ID{SubscriptionID: seg[0], ResourceGroup: seg[1], Parts: []arm.Part{
		{Namespace: mlNamespace, Type: "workspaces", Name: seg[2]}, {Type: "onlineEndpoints", Name: seg[3]}}}
	return id, true
}

// ScoreRequest is one scoring call as the gateway received it.
type ScoreRequest struct {
	Endpoint *arm.ID
	// Bearer is the Authorization header's token ("" : none).
	Bearer string
	// Caller is the verified Entra caller when Bearer is an Entra token
	// for https://ml.azure.com (nil otherwise).
	Caller *activitylog.Caller
	// Deployment is the azureml-model-deployment header ("" : none).
	Deployment string
}

// ScoreTarget is where a scoring call goes.
type ScoreTarget struct {
	URL        *url.URL
	Deployment string
}

// StatusError is a refusal of the APIs beside ARM (the scoring gateway,
// the job API) with its own HTTP status, outside ARM's table of codes.
type StatusError struct {
	Status int
	Err    *arm.Error
}

func (e *StatusError) Error() string { return e.Err.Error() }

func statusErr(status int, code, format string, args ...any) *StatusError {
	return &StatusError{Status: status, Err: arm.Errorf(code, format, args...)}
}

// Score authenticates a scoring call and picks its target.
func (m *Manager) Score(ctx context.Context, r ScoreRequest) (*ScoreTarget, error) {
	id := r.Endpoint
	var ep value.Value
	var secrets value.Value
	var deployments []*store.Resource
	err := m.st.Read(ctx, func(tx store.Tx) error {
		res, err := tx.GetResource(ctx, id.Key(), false)
		if err != nil {
			return err
		}
		if ep, err = value.Parse(res.Body); err != nil {
			return err
		}
		if secrets, err = m.loadSecrets(ctx, tx, id); err != nil {
			return err
		}
		deployments, err = tx.ListResources(ctx, store.ListQuery{TypeKey: arm.KeyOf(mlNamespace + "/workspaces/onlineEndpoints/deployments"), ParentKey: id.Key(), Limit: 1000})
		return err
	})
	var ae *arm.Error
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, statusErr(404, "EndpointNotFound", "The online endpoint '%s' does not exist.", id.Name())
	case errors.As(err, &ae) && strings.HasPrefix(ae.Code, "KeyVaultKey"):
		// The workspace's customer-managed key is revoked (cmk.go).
		return nil, &StatusError{Status: 409, Err: ae}
	case err != nil:
		return nil, err
	}
	props := ep.Field("properties")
	mode := props.Field("authMode").Str()
	switch {
	case strings.EqualFold(mode, "Key"):
		if !keyMatches(r.Bearer, secrets.Field("primaryKey").Str(), secrets.Field("secondaryKey").Str()) {
			return nil, statusErr(401, "AuthenticationFailed", "The key is not a key of the endpoint '%s' (authMode Key: send 'Authorization: Bearer {primaryKey or secondaryKey}').", id.Name())
		}
	case strings.EqualFold(mode, "AMLToken"):
		if !amlTokenValid(r.Bearer, id, secrets.Field("tokenKey").Str(), m.cfg.Now()) {
			return nil, statusErr(401, "AuthenticationFailed", "The token is not a valid token of the endpoint '%s' (authMode AMLToken: get one with its token action; tokens last an hour).", id.Name())
		}
	case strings.EqualFold(mode, "AADToken"):
		if r.Caller == nil {
			return nil, statusErr(401, "AuthenticationFailed", "The endpoint '%s' takes Microsoft Entra tokens for https://ml.azure.com (authMode AADToken).", id.Name())
		}
		if err := m.Authorize(ctx, r.Caller, mlNamespace+"/workspaces/onlineEndpoints/score/action", id.String()); err != nil {
			var ae *arm.Error
			errors.As(err, &ae)
			if ae == nil {
				return nil, err
			}
			return nil, &StatusError{Status: 403, Err: ae}
		}
	default:
		return nil, statusErr(401, "AuthenticationFailed", "The endpoint '%s' has no authMode mlgov serves.", id.Name())
	}
	return pickDeployment(props.Field("traffic"), deployments, r.Deployment, id)
}

// keyMatches compares a key with the endpoint's, in constant time.
func keyMatches(got string, keys ...string) bool {
	ok := 0
	for _, k := range keys {
		if k != "" {
			ok |= subtle.ConstantTimeCompare([]byte(got), []byte(k))
		}
	}
	return ok == 1
}

// amlToken is an endpoint's AMLToken expiring at exp.
func amlToken(id *arm.ID, key string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(id.Key() + "\n" + e))
	return "amltoken." + e + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func amlTokenValid(tok string, id *arm.ID, key string, now time.Time) bool {
	parts := strings.Split(tok, ".")
	if key == "" || len(parts) != 3 || parts[0] != "amltoken" {
		return false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return false
	}
	return hmac.Equal([]byte(tok), []byte(amlToken(id, key, time.Unix(exp, 0))))
}

// endpointToken is the token action of an AMLToken endpoint.
func endpointToken(c *Ctx, r, _ value.Value) (value.Value, error) {
	if am := get(r, "properties", "authMode"); !strings.EqualFold(am.Str(), "AMLToken") {
		return value.Value{}, badRequest("OperationNotSupported", "The endpoint's authMode is %s: tokens exist only for authMode AMLToken.", am.Str())
	}
	s := ensureSecrets(c, "tokenKey")
	exp := c.Now.Add(amlTokenLifetime).Truncate(time.Second)
	return jsonOf(map[string]any{"accessToken": amlToken(c.ID, s.Field("tokenKey").Str(), exp), "tokenType": "Bearer",
		"expiryTimeUtc": exp.Unix(), "refreshAfterTimeUtc": exp.Add(-amlTokenLifetime / 2).Unix()}), nil
}

// pickDeployment chooses the deployment of a call.
func pickDeployment(traffic value.Value, deployments []*store.Resource, named string, id *arm.ID) (*ScoreTarget, error) {
	byName := map[string]value.Value{}
	for _, d := range deployments {
		v, err := value.Parse(d.Body)
		if err == nil {
			byName[strings.ToLower(v.Field("name").Str())] = v
		}
	}
	name := named
	if name == "" {
		total := int64(0)
		for _, mem := range traffic.Members() {
			total += max(mem.Value.Int(), 0)
		}
		if total == 0 {
			return nil, statusErr(424, "NoTraffic", "The endpoint '%s' sends no traffic to any deployment: set its traffic, or name a deployment with the azureml-model-deployment header.", id.Name())
		}
		n, err := rand.Int(rand.Reader, big.NewInt(total))
		if err != nil {
			return nil, err
		}
		pick := n.Int64()
		for _, mem := range traffic.Members() {
			if pick -= max(mem.Value.Int(), 0); pick < 0 {
				name = mem.Key
				break
			}
		}
	}
	d, ok := byName[strings.ToLower(name)]
	if !ok {
		return nil, statusErr(404, "DeploymentNotFound", "The deployment '%s' of the endpoint '%s' does not exist.", name, id.Name())
	}
	raw := d.Field("properties").Field("properties").Field(TargetURLProperty).Str()
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, statusErr(424, "DeploymentHasNoTarget", "The deployment '%s' has no target: set properties.properties[%q] to the http(s) URL its scoring calls go to.", name, TargetURLProperty)
	}
	return &ScoreTarget{URL: u, Deployment: d.Field("name").Str()}, nil
}
