package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/store"
)

// Certificate credentials: an application's keyCredentials (Graph's
// AsymmetricX509Cert with usage Verify) and the client assertion that
// proves the private key (RFC 7523's private_key_jwt, as MSAL and
// @azure/identity's ClientCertificateCredential send it):
// client_assertion_type urn:ietf:params:oauth:client-assertion-type:jwt-bearer
// and a JWT whose header names the certificate by its thumbprint (x5t,
// SHA-1, or x5t#S256) and whose claims are iss = sub = the client id,
// aud = this tenant's token endpoint, exp (at most an hour ahead) and
// nbf. It is signed RS256 or PS256 (RSA keys) or ES256 (P-256).
//
// The certificate's key id is the credential of the tokens it gets, as a
// secret's is: removing the certificate refuses them. Only the public
// certificate is stored; a token never outlives it.

// certRecord is a certificate credential.
type certRecord struct {
	KeyID       string    `json:"keyId"`
	DisplayName string    `json:"displayName,omitempty"`
	DER         []byte    `json:"der"`
	SHA1        string    `json:"x5t"`     // hex, lower case
	SHA256      string    `json:"x5tS256"` // hex, lower case
	Start       time.Time `json:"startDateTime"`
	End         time.Time `json:"endDateTime"`
}

// KeyCredential is a certificate credential as Graph shows it (never
// more than the certificate, which is public).
type KeyCredential struct {
	KeyID       string
	DisplayName string
	// Thumbprint is the certificate's SHA-1 thumbprint (hex).
	Thumbprint string
	Start, End time.Time
}

// NewKeyCredential is a certificate to add: KeyID "" for a new one (Key
// its DER), or the id of one the application has (kept).
type NewKeyCredential struct {
	KeyID       string
	DisplayName string
	Key         []byte
}

// ErrCertInvalid marks a certificate mlgov refuses (the message says
// why).
var ErrCertInvalid = errors.New("authn: invalid certificate")

// maxCerts bounds an application's certificates.
const maxCerts = 16

// SetKeyCredentials replaces an application's certificates (Graph's
// PATCH of keyCredentials: the whole collection): entries with a KeyID
// keep that certificate, entries with a Key add one; those left out are
// removed, and the tokens they got are refused.
func (s *Service) SetKeyCredentials(ctx context.Context, tenantID, appID string, creds []NewKeyCredential) error {
	if len(creds) > maxCerts {
		return fmt.Errorf("%w: an application has at most %d certificates", ErrCertInvalid, maxCerts)
	}
	now := s.now()
	var added []certRecord
	for i, c := range creds {
		if c.KeyID != "" {
			continue
		}
		cert, err := x509.ParseCertificate(c.Key)
		if err != nil {
			return fmt.Errorf("%w: keyCredentials[%d].key is not a DER X.509 certificate (base64): %v", ErrCertInvalid, i, err)
		}
		switch k := cert.PublicKey.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < 2048 {
				return fmt.Errorf("%w: keyCredentials[%d]: an RSA key of %d bits; at least 2048", ErrCertInvalid, i, k.N.BitLen())
			}
		case *ecdsa.PublicKey:
			if k.Curve.Params().Name != "P-256" {
				return fmt.Errorf("%w: keyCredentials[%d]: an EC key on %s; only P-256 (ES256)", ErrCertInvalid, i, k.Curve.Params().Name)
			}
		default:
			return fmt.Errorf("%w: keyCredentials[%d]: the certificate's key is neither RSA nor EC P-256", ErrCertInvalid, i)
		}
		if !now.Before(cert.NotAfter) {
			return fmt.Errorf("%w: keyCredentials[%d]: the certificate expired on %s", ErrCertInvalid, i, cert.NotAfter.UTC().Format(time.RFC3339))
		}
		id, err := uuid.NewFrom(s.cfg.Rand)
		if err != nil {
			return err
		}
		h1, h256 := sha1.Sum(c.Key), sha256.Sum256(c.Key)
		added = append(added, certRecord{KeyID: id, DisplayName: clip(c.DisplayName), DER: c.Key, SHA1: hex.EncodeToString(h1[:]),
			SHA256: hex.EncodeToString(h256[:]), Start: cert.NotBefore.UTC(), End: cert.NotAfter.UTC()})
	}
	err := s.st.Write(ctx, func(tx store.Tx) error {
		rec, err := getSP(ctx, tx, tenantID, appID)
		if err != nil {
			return err
		}
		var kept []certRecord
		for i, c := range creds {
			if c.KeyID == "" {
				continue
			}
			j := slices.IndexFunc(rec.Certs, func(r certRecord) bool { return strings.EqualFold(r.KeyID, c.KeyID) })
			if j < 0 {
				return fmt.Errorf("%w: keyCredentials[%d]: the application has no certificate with keyId '%s' (a new one needs its key)", ErrCertInvalid, i, clip(c.KeyID))
			}
			kept = append(kept, rec.Certs[j])
		}
		for _, a := range added {
			if slices.ContainsFunc(kept, func(k certRecord) bool { return k.SHA1 == a.SHA1 }) {
				return fmt.Errorf("%w: the certificate %s is in the collection twice", ErrCertInvalid, strings.ToUpper(a.SHA1))
			}
			kept = append(kept, a)
		}
		rec.Certs = kept
		return putSP(ctx, tx, rec, now)
	})
	s.principals.invalidate(spKey(tenantID, appID))
	return err
}

func (r *certRecord) public() KeyCredential {
	return KeyCredential{KeyID: r.KeyID, DisplayName: r.DisplayName, Thumbprint: strings.ToUpper(r.SHA1), Start: r.Start, End: r.End}
}

// ClientAssertionType is the client_assertion_type of a JWT assertion.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxAssertionLifetime bounds how far ahead an assertion's exp may be: it
// is a bearer credential until then.
const maxAssertionLifetime = time.Hour

// assertionClaims are the claims of a client assertion.
type assertionClaims struct {
	Aud any    `json:"aud"`
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Jti string `json:"jti"`
	Exp *int64 `json:"exp"`
	Nbf *int64 `json:"nbf"`
}

// verifyAssertion checks a client assertion of rec and returns the
// certificate that signed it (as the credential the token names).
func (s *Service) verifyAssertion(rec *spRecord, assertion, tenantID string, now time.Time) (*secretRecord, *OAuthError) {
	bad := func(format string, args ...any) (*secretRecord, *OAuthError) {
		return nil, oauthErr("invalid_client", 700027, "Client assertion failed signature validation: %s", fmt.Sprintf(format, args...))
	}
	jws, err := jose.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return bad("it is not a JWT signed with RS256, PS256 or ES256.")
	}
	h := jws.Signatures[0].Protected
	// The thumbprints the header names: x5t#S256, x5t (base64url of the
	// hash), or a kid that is one of them, base64url or hex.
	var thumbs []string
	add := func(v string, b64, hx bool) {
		if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "=")); b64 && err == nil && len(b) > 0 {
			thumbs = append(thumbs, hex.EncodeToString(b))
		}
		if b, err := hex.DecodeString(v); hx && err == nil && len(b) > 0 {
			thumbs = append(thumbs, hex.EncodeToString(b))
		}
	}
	if v, ok := h.ExtraHeaders["x5t#S256"].(string); ok {
		add(v, true, false)
	}
	if v, ok := h.ExtraHeaders["x5t"].(string); ok {
		add(v, true, false)
	}
	if h.KeyID != "" {
		add(h.KeyID, true, true)
	}
	if len(thumbs) == 0 {
		return bad("its header names no certificate (x5t, x5t#S256 or kid: the certificate's thumbprint).")
	}
	i := slices.IndexFunc(rec.Certs, func(c certRecord) bool {
		return slices.Contains(thumbs, c.SHA1) || slices.Contains(thumbs, c.SHA256)
	})
	if i < 0 {
		return bad("no certificate of application '%s' has the thumbprint the header names.", rec.AppID)
	}
	c := rec.Certs[i]
	cert, err := x509.ParseCertificate(c.DER)
	if err != nil {
		return bad("the stored certificate cannot be read.")
	}
	payload, err := jws.Verify(cert.PublicKey)
	if err != nil {
		return bad("the signature does not verify with the certificate %s.", strings.ToUpper(c.SHA1))
	}
	var cl assertionClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return bad("its claims are not a JSON object.")
	}
	endpoint := strings.TrimSuffix(s.cfg.Issuer(tenantID), "/v2.0") + "/oauth2/v2.0/token"
	audOK := false
	switch a := cl.Aud.(type) {
	case string:
		audOK = strings.EqualFold(a, endpoint)
	case []any:
		audOK = len(a) == 1 && strings.EqualFold(fmt.Sprint(a[0]), endpoint)
	}
	switch {
	case !strings.EqualFold(cl.Iss, rec.AppID) || !strings.EqualFold(cl.Sub, rec.AppID):
		return nil, oauthErr("invalid_client", 700023, "Client assertion audience claim does not match Realm issuer: its iss and sub must be the client id '%s'.", rec.AppID)
	case !audOK:
		return nil, oauthErr("invalid_client", 700021, "Client assertion audience claim does not match the token endpoint: 'aud' must be %s.", endpoint)
	case cl.Exp == nil:
		return nil, oauthErr("invalid_client", 700024, "Client assertion is not within its valid time range: it has no 'exp'.")
	case !now.Before(time.Unix(*cl.Exp, 0).Add(s.cfg.Leeway)):
		return nil, oauthErr("invalid_client", 700024, "Client assertion is not within its valid time range: it expired at %s.", time.Unix(*cl.Exp, 0).UTC().Format(time.RFC3339))
	case time.Unix(*cl.Exp, 0).Sub(now) > maxAssertionLifetime+s.cfg.Leeway:
		return nil, oauthErr("invalid_client", 700024, "Client assertion is not within its valid time range: its 'exp' is more than an hour ahead.")
	case cl.Nbf != nil && now.Add(s.cfg.Leeway).Before(time.Unix(*cl.Nbf, 0)):
		return nil, oauthErr("invalid_client", 700024, "Client assertion is not within its valid time range: it is not valid before %s.", time.Unix(*cl.Nbf, 0).UTC().Format(time.RFC3339))
	case !now.Before(c.End):
		return nil, oauthErr("invalid_client", 700027, "Client assertion contains an invalid signature: the certificate %s of application '%s' expired on %s.", strings.ToUpper(c.SHA1), rec.AppID, c.End.Format(time.RFC3339))
	case now.Before(c.Start):
		return nil, oauthErr("invalid_client", 700027, "Client assertion contains an invalid signature: the certificate %s is not valid yet.", strings.ToUpper(c.SHA1))
	}
	return &secretRecord{KeyID: c.KeyID, Start: c.Start, End: c.End}, nil
}
