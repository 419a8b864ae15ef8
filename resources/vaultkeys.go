package resources

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
)

// Keys of Microsoft.KeyVault/vaults that mlgov holds: the customer-managed
// keys of workspaces (cmk.go, docs/encryption.md). ARM's key API
// (Keys_CreateIfNotExist, Get, List, GetVersion, ListVersions):
//
//   - PUT creates the key's first version. On an existing key ARM makes
//     no new version and changes nothing ("This API does not create
//     subsequent versions, and does not update existing keys"), so a
//     template deployed again is a no-op: mlgov answers the key as it is
//     when the body asks for the same key, changes the current version's
//     attributes (enabled, exp, nbf) when those differ (what Key Vault's
//     data plane does with an update of the key), and refuses a
//     different kty, keySize or keyOps with 409.
//   - POST {key}/rotate makes a new version (Key Vault's data-plane
//     rotate, served on the ARM path); workspaces whose keyIdentifier
//     names no version are re-wrapped with it in the same transaction.
//   - The versions are read-only children ({key}/versions/{version}).
//
// The RSA private key of each version is generated here and kept only
// in the key's secrets ({"versions": {version: PKCS #8, base64}}),
// sealed under the store's data key like every secret; no GET, list or
// action returns it.

const (
	typeVaultKey        = "Microsoft.KeyVault/vaults/keys"
	typeVaultKeyVersion = "Microsoft.KeyVault/vaults/keys/versions"
)

var vaultKeyOps = []string{"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "release"}

// KeyVault api-versions with the keys API.
var keyVaultAPIVersions = []string{"2019-09-01", "2021-10-01", "2022-07-01", "2023-02-01", "2023-07-01", "2024-11-01", "2025-05-01"}

func vaultKeySpecs() []*TypeSpec {
	return []*TypeSpec{
		{Type: typeVaultKey, APIVersions: keyVaultAPIVersions, NoProvisioningState: true, Secrets: true,
			Build: vaultKeyBuild, Mirrors: vaultKeyVersionMirror,
			Actions: map[string]*ActionSpec{"rotate": {Name: "rotate", Run: rotateVaultKey}}},
		{Type: typeVaultKeyVersion, APIVersions: keyVaultAPIVersions, NoProvisioningState: true,
			ReadOnly: "Key versions are read-only: a key's first version is made by its PUT, the next ones by POST {key}/rotate; they are deleted with their key."},
	}
}

func keyError(target, format string, args ...any) error {
	e := arm.Errorf("InvalidRequestContent", format, args...)
	e.Target = target
	return e
}

// vaultKeyBuild: a new key (its first version, with its private key in
// the key's secrets), the same key again, or new attributes.
func vaultKeyBuild(c *Ctx, obj, body, existing value.Value) (value.Value, error) {
	p := body.Field("properties")
	if p.Kind() != value.Object {
		return value.Value{}, keyError("properties", "A key needs 'properties' with its 'kty' (RSA or RSA-HSM).")
	}
	for _, k := range []string{"rotationPolicy", "release_policy", "curveName"} {
		if !p.Field(k).IsNullish() {
			what := map[string]string{"rotationPolicy": "mlgov rotates keys only when asked (POST {key}/rotate), not on a schedule",
				"release_policy": "mlgov does not release keys", "curveName": "mlgov holds RSA keys only"}[k]
			return value.Value{}, keyError("properties."+k, "properties.%s is not supported: %s.", k, what)
		}
	}
	kty := p.Field("kty")
	switch {
	case kty.IsNullish():
		if existing.IsUndefined() {
			return value.Value{}, keyError("properties.kty", "properties.kty is required: RSA or RSA-HSM.")
		}
		kty = get(existing, "properties", "kty")
	case kty.Kind() != value.String || !(kty.Str() == "RSA" || kty.Str() == "RSA-HSM"):
		return value.Value{}, keyError("properties.kty", "properties.kty %s is not supported: mlgov holds RSA keys (RSA, RSA-HSM), not EC or oct keys.", kty.JSON())
	}
	size := p.Field("keySize")
	switch {
	case size.IsNullish():
		size = value.IntValue(2048)
		if !existing.IsUndefined() {
			size = get(existing, "properties", "keySize")
		}
	case size.Kind() != value.Int || !slices.Contains([]int64{2048, 3072, 4096}, size.Int()):
		return value.Value{}, keyError("properties.keySize", "properties.keySize %s is not valid: 2048, 3072 or 4096.", size.JSON())
	}
	ops := p.Field("keyOps")
	switch {
	case ops.IsNullish():
		ops = jsonOf([]any{"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"})
		if !existing.IsUndefined() {
			ops = get(existing, "properties", "keyOps")
		}
	case ops.Kind() != value.Array:
		return value.Value{}, keyError("properties.keyOps", "properties.keyOps must be an array of operations.")
	default:
		for i, o := range ops.Elems() {
			if o.Kind() != value.String || !slices.Contains(vaultKeyOps, o.Str()) {
				return value.Value{}, keyError(fmt.Sprintf("properties.keyOps[%d]", i), "The key operation %s is not valid: %s.", o.JSON(), strings.Join(vaultKeyOps, ", "))
			}
		}
	}
	attrs, err := keyAttributes(p.Field("attributes"), get(existing, "properties", "attributes"), c)
	if err != nil {
		return value.Value{}, err
	}
	vault := c.ID.Parent()
	vr, err := c.Get(vault.Key())
	if err != nil {
		return value.Value{}, err
	}
	if vr == nil {
		return value.Value{}, arm.Errorf("ParentResourceNotFound", "Can not perform requested operation on nested resource. Parent resource '%s' not found.", vault.FullName())
	}
	vb, _ := value.Parse(vr.Body)
	if !existing.IsUndefined() {
		ep := existing.Field("properties")
		if ep.Field("kty").Str() != kty.Str() || ep.Field("keySize").Int() != size.Int() || ep.Field("keyOps").JSON() != ops.JSON() {
			return value.Value{}, arm.Errorf("Conflict", "The key '%s' exists (kty %s, keySize %d, keyOps %s): a PUT does not change a key nor make a new version. Make a new version with POST %s/rotate.",
				c.ID.Name(), ep.Field("kty").Str(), ep.Field("keySize").Int(), ep.Field("keyOps").JSON(), c.ID.String())
		}
		out := obj.With("location", vb.Field("location"))
		return out.With("properties", ep.With("attributes", attrs)), nil
	}
	if c.cmk == nil {
		return value.Value{}, arm.Errorf("OperationNotSupported", "Keys need sealed secrets, which this server is not configured for.")
	}
	priv, err := c.cmk.NewKeyPair(int(size.Int()))
	if err != nil {
		return value.Value{}, err
	}
	ver := newKeyVersion(c)
	c.SetSecrets(jsonOf(map[string]any{"versions": map[string]any{ver: base64.StdEncoding.EncodeToString(priv)}}))
	uri := vaultKeyURI(vault.Name(), c.ID.Name())
	props := value.ObjectValue(
		value.Member{Key: "attributes", Value: attrs},
		value.Member{Key: "kty", Value: kty},
		value.Member{Key: "keySize", Value: size},
		value.Member{Key: "keyOps", Value: ops},
		value.Member{Key: "keyUri", Value: str(uri)},
		value.Member{Key: "keyUriWithVersion", Value: str(uri + "/" + ver)})
	return obj.With("location", vb.Field("location")).With("properties", props), nil
}

func newKeyVersion(c *Ctx) string { return strings.ReplaceAll(strings.ToLower(c.NewID()), "-", "") }

// vaultKeyURI is Key Vault's identifier of a key (without a version).
func vaultKeyURI(vault, key string) string {
	return "https://" + strings.ToLower(vault) + ".vault.azure.net/keys/" + key
}

// keyAttributes validates a key's attributes (enabled, exp and nbf in
// Unix seconds; the rest is the server's) and completes them.
func keyAttributes(in, existing value.Value, c *Ctx) (value.Value, error) {
	if !in.IsNullish() && in.Kind() != value.Object {
		return value.Value{}, keyError("properties.attributes", "properties.attributes must be an object.")
	}
	now := value.IntValue(c.Now.Unix())
	out := existing
	if out.Kind() != value.Object {
		out = value.ObjectValue(value.Member{Key: "enabled", Value: value.BoolValue(true)}, value.Member{Key: "created", Value: now},
			value.Member{Key: "updated", Value: now}, value.Member{Key: "recoveryLevel", Value: str("Purgeable")})
	}
	changed := false
	if e := in.Field("enabled"); !e.IsNullish() {
		if e.Kind() != value.Bool {
			return value.Value{}, keyError("properties.attributes.enabled", "properties.attributes.enabled must be true or false.")
		}
		changed = changed || out.Field("enabled").Bool() != e.Bool()
		out = out.With("enabled", e)
	}
	for _, k := range []string{"exp", "nbf"} {
		v, ok := in.Get(k)
		if !ok {
			continue
		}
		switch {
		case v.Kind() == value.Null:
			changed = changed || !out.Field(k).IsUndefined()
			out = out.Without(k)
		case v.Kind() == value.Int && v.Int() > 0:
			changed = changed || out.Field(k).Int() != v.Int()
			out = out.With(k, v)
		default:
			return value.Value{}, keyError("properties.attributes."+k, "properties.attributes.%s must be a time in Unix seconds.", k)
		}
	}
	if x := in.Field("exportable"); x.Kind() == value.Bool && x.Bool() {
		return value.Value{}, keyError("properties.attributes.exportable", "Exportable keys are not supported: mlgov never releases key material.")
	}
	if changed && existing.Kind() == value.Object {
		out = out.With("updated", now)
	}
	return out, nil
}

// vaultKeyVersionMirror keeps the current version's resource in step
// with the key (its attributes; a new one on create and rotate).
func vaultKeyVersionMirror(c *Ctx, obj, old value.Value) []Mirror {
	if obj.IsUndefined() {
		return nil // deleted with the key
	}
	uri := get(obj, "properties", "keyUriWithVersion").Str()
	ver := uri[strings.LastIndexByte(uri, '/')+1:]
	if ver == "" {
		return nil
	}
	id := c.ID.Child("versions", ver)
	return []Mirror{{ID: id, Update: func(value.Value) value.Value {
		return value.ObjectValue(
			value.Member{Key: "id", Value: str(obj.Field("id").Str() + "/versions/" + ver)},
			value.Member{Key: "name", Value: str(ver)},
			value.Member{Key: "type", Value: str(typeVaultKeyVersion)},
			value.Member{Key: "location", Value: obj.Field("location")},
			value.Member{Key: "properties", Value: obj.Field("properties")})
	}}}
}

// rotateVaultKey makes a new version of the key, enabled, with the key's
// kty, size and operations.
func rotateVaultKey(c *Ctx, r, body value.Value) (value.Value, value.Value, error) {
	p := r.Field("properties")
	if !p.Field("attributes").Field("enabled").Bool() {
		return value.Value{}, value.Value{}, arm.Errorf("KeyVaultKeyDisabled", "The key '%s' is disabled: enable it (PUT with properties.attributes.enabled true) before rotating it.", c.ID.Name())
	}
	if c.cmk == nil {
		return value.Value{}, value.Value{}, arm.Errorf("OperationNotSupported", "Keys need sealed secrets, which this server is not configured for.")
	}
	mat, err := keyMaterial(c.Secrets)
	if err != nil {
		return value.Value{}, value.Value{}, err
	}
	priv, err := c.cmk.NewKeyPair(int(p.Field("keySize").Int()))
	if err != nil {
		return value.Value{}, value.Value{}, err
	}
	ver := newKeyVersion(c)
	mat[ver] = base64.StdEncoding.EncodeToString(priv)
	c.SetSecrets(jsonOf(map[string]any{"versions": anyMap(mat)}))
	now := value.IntValue(c.Now.Unix())
	attrs := value.ObjectValue(value.Member{Key: "enabled", Value: value.BoolValue(true)}, value.Member{Key: "created", Value: now},
		value.Member{Key: "updated", Value: now}, value.Member{Key: "recoveryLevel", Value: p.Field("attributes").Field("recoveryLevel")})
	p = p.With("attributes", attrs).With("keyUriWithVersion", str(p.Field("keyUri").Str()+"/"+ver))
	nr := r.With("properties", p)
	return nr, nr, nil
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// keyMaterial reads a key's secrets: its versions' private keys (PKCS
// #8, base64) by version.
func keyMaterial(s value.Value) (map[string]string, error) {
	var rec struct {
		Versions map[string]string `json:"versions"`
	}
	if s.Kind() == value.Object {
		if err := json.Unmarshal([]byte(s.JSON()), &rec); err != nil {
			return nil, fmt.Errorf("the key material could not be parsed: %w", err)
		}
	}
	if rec.Versions == nil {
		rec.Versions = map[string]string{}
	}
	return rec.Versions, nil
}
