package armtest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// SelfSigned makes a certificate of key, valid from notBefore to
// notAfter.
func SelfSigned(t testing.TB, key any, notBefore, notAfter time.Time) []byte {
	t.Helper()
	var pub any
	switch k := key.(type) {
	case *rsa.PrivateKey:
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mlgov test"},
		NotBefore: notBefore, NotAfter: notAfter}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mlgov test"}}, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// ClientAssertion signs a client assertion with key, naming the certificate
// der by its thumbprint in header (x5t or x5t#S256).
func ClientAssertion(t testing.TB, key any, alg jose.SignatureAlgorithm, der []byte, header string, claims map[string]any) string {
	t.Helper()
	var thumb []byte
	if header == "x5t#S256" {
		h := sha256.Sum256(der)
		thumb = h[:]
	} else {
		h := sha1.Sum(der)
		thumb = h[:]
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey(header), base64.RawURLEncoding.EncodeToString(thumb))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}
