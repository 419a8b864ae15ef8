package resources

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// Customer-managed keys of workspaces (docs/encryption.md). A workspace
// created with properties.encryption.status Enabled gets a data key of
// its own, kept only wrapped by the vault key its keyVaultProperties
// name (a store object of kind KindWorkspaceKey, the workspace's key);
// the secrets of the workspace and of every resource under it are
// sealed under that data key instead of the store's. The one flow:
//
//   - the persist stage of a workspace write makes or re-wraps the data
//     key (cmkStage), and that of a key's rotation re-wraps the data keys
//     of the workspaces that follow the key's newest version, in the
//     write's transaction;
//   - loadSecrets and putSecrets seal and open through sealerFor, which
//     reads the workspace's wrapped key and the state of the vault key
//     version wrapping it in the same transaction: a disabled or expired
//     version refuses (409 KeyVaultKeyDisabled, KeyVaultKeyExpired),
//     never falling back to the store's key. The RSA unwrap is cached per
//     wrap (the record's Rev), so a rotation or revocation is seen by
//     the next transaction on every replica.

// KindWorkspaceKey is the store object kind of workspaces' wrapped data
// keys (key: the workspace's key).
const KindWorkspaceKey = "workspaceKey"

// KeyWrapper is the cryptography of customer-managed keys; a Sealer that
// implements it (authn.DataKey) enables them.
type KeyWrapper interface {
	// NewKeyPair makes an RSA private key (PKCS #8) of bits.
	NewKeyPair(bits int) ([]byte, error)
	// NewWorkspaceKey makes a data key and the id its sealed values name.
	NewWorkspaceKey() (id string, key []byte, err error)
	// WrapKey and UnwrapKey wrap a data key with RSA-OAEP-256 under the
	// public half of private, and unwrap it.
	WrapKey(private, key []byte) ([]byte, error)
	UnwrapKey(private, wrapped []byte) ([]byte, error)
	// SealWith and OpenWith are Seal and Open under a data key (id, key).
	SealWith(id string, key, plain []byte, aad string) ([]byte, error)
	OpenWith(id string, key, sealed []byte, aad string) ([]byte, error)
}

// workspaceKey is the stored form of a workspace's data key.
type workspaceKey struct {
	// ID is the data key's id, which its sealed values name.
	ID string `json:"id"`
	// Vault and Key are the ids of the vault and of the vault key;
	// Version is the key version wrapping the data key now.
	Vault   string `json:"vault"`
	Key     string `json:"key"`
	Version string `json:"version"`
	// Pinned: the workspace's keyIdentifier names the version (a
	// rotation of the key does not re-wrap it).
	Pinned bool `json:"pinned"`
	// Wrapped is the data key wrapped under Version.
	Wrapped []byte `json:"wrapped"`
	// Rev changes with every wrap (the unwrap cache's key).
	Rev       string    `json:"rev"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// keyWrapper returns the configured KeyWrapper (nil: none).
func (m *Manager) keyWrapper() KeyWrapper {
	kw, _ := m.cfg.Sealer.(KeyWrapper)
	return kw
}

// workspaceOf returns the workspace a resource id is, or is under (nil
// for none).
func workspaceOf(id *arm.ID) *arm.ID {
	if len(id.Parts) == 0 || !strings.EqualFold(id.Parts[0].Namespace, "Microsoft.MachineLearningServices") || !strings.EqualFold(id.Parts[0].Type, "workspaces") {
		return nil
	}
	return &arm.ID{SubscriptionID: id.SubscriptionID, ResourceGroup: id.ResourceGroup, Parts: id.Parts[:1]}
}

func getWorkspaceKey(ctx context.Context, tx store.Tx, wsKey string) (*workspaceKey, error) {
	o, err := tx.GetObject(ctx, KindWorkspaceKey, wsKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var rec workspaceKey
	if err := json.Unmarshal(o.Body, &rec); err != nil {
		return nil, fmt.Errorf("the wrapped data key of %s could not be parsed: %w", wsKey, err)
	}
	return &rec, nil
}

func putWorkspaceKey(ctx context.Context, tx store.Tx, wsKey string, rec *workspaceKey) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.PutObject(ctx, &store.Object{Kind: KindWorkspaceKey, Key: wsKey, Body: b, UpdatedAt: rec.UpdatedAt})
}

// sealer seals and opens one resource's secrets.
type sealer interface {
	Seal(plain []byte, aad string) ([]byte, error)
	Open(sealed []byte, aad string) ([]byte, error)
}

// workspaceSealer is a workspace's unwrapped data key.
type workspaceSealer struct {
	kw  KeyWrapper
	id  string
	key []byte
}

func (s *workspaceSealer) Seal(plain []byte, aad string) ([]byte, error) {
	return s.kw.SealWith(s.id, s.key, plain, aad)
}

func (s *workspaceSealer) Open(sealed []byte, aad string) ([]byte, error) {
	return s.kw.OpenWith(s.id, s.key, sealed, aad)
}

// unwrapCache keeps workspaces' unwrapped data keys by workspace, valid
// for one wrap (workspaceKey.Rev).
type unwrapCache struct {
	mu sync.Mutex
	m  map[string]*cachedKey
}

type cachedKey struct {
	rev string
	s   *workspaceSealer
}

func (c *unwrapCache) get(ws, rev string) *workspaceSealer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[ws]; e != nil && e.rev == rev {
		return e.s
	}
	return nil
}

func (c *unwrapCache) put(ws, rev string, s *workspaceSealer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*cachedKey{}
	}
	c.m[ws] = &cachedKey{rev: rev, s: s}
}

// sealerFor returns what seals and opens the secrets of id in tx: the
// data key of the workspace it is (or is under) when that workspace has
// a customer-managed key, whose vault key version must be usable now;
// else the store's data key (nil when none is configured).
func (m *Manager) sealerFor(ctx context.Context, tx store.Tx, id *arm.ID) (sealer, error) {
	ws := workspaceOf(id)
	if ws == nil || m.cfg.Sealer == nil {
		return m.storeSealer(), nil
	}
	rec, err := getWorkspaceKey(ctx, tx, ws.Key())
	if err != nil || rec == nil {
		return m.storeSealer(), err
	}
	if err := m.usableKeyVersion(ctx, tx, rec.Key, rec.Version, ws); err != nil {
		return nil, err
	}
	if s := m.unwrapped.get(ws.Key(), rec.Rev); s != nil {
		return s, nil
	}
	kw := m.keyWrapper()
	if kw == nil {
		return nil, fmt.Errorf("the secrets of %s are under a customer-managed key, and the configured sealer cannot unwrap keys", ws)
	}
	key, err := m.unwrapWorkspaceKey(ctx, tx, kw, rec)
	if err != nil {
		return nil, err
	}
	s := &workspaceSealer{kw: kw, id: rec.ID, key: key}
	m.unwrapped.put(ws.Key(), rec.Rev, s)
	return s, nil
}

// storeSealer is the store's data key as a sealer (nil: none configured).
func (m *Manager) storeSealer() sealer {
	if m.cfg.Sealer == nil {
		return nil
	}
	return m.cfg.Sealer
}

// unwrapWorkspaceKey unwraps rec's data key with the private key of its
// vault key version (from the key's secrets, under the store's key).
func (m *Manager) unwrapWorkspaceKey(ctx context.Context, tx store.Tx, kw KeyWrapper, rec *workspaceKey) ([]byte, error) {
	priv, err := m.keyVersionPrivate(ctx, tx, rec.Key, rec.Version)
	if err != nil {
		return nil, err
	}
	return kw.UnwrapKey(priv, rec.Wrapped)
}

// keyVersionPrivate returns the private key of one version of a vault
// key.
func (m *Manager) keyVersionPrivate(ctx context.Context, tx store.Tx, keyID, version string) ([]byte, error) {
	kid, err := arm.ParseID(keyID)
	if err != nil {
		return nil, err
	}
	s, err := m.loadSecrets(ctx, tx, kid)
	if err != nil {
		return nil, err
	}
	mat, err := keyMaterial(s)
	if err != nil {
		return nil, err
	}
	b64, ok := mat[version]
	if !ok {
		return nil, arm.Errorf("KeyVaultKeyNotFound", "The key material of version '%s' of '%s' is missing.", version, keyID)
	}
	return base64.StdEncoding.DecodeString(b64)
}

// usableKeyVersion checks that a vault key version exists, is enabled
// and is within its nbf and exp; ws names the workspace whose secrets it
// guards, for the error.
func (m *Manager) usableKeyVersion(ctx context.Context, tx store.Tx, keyID, version string, ws *arm.ID) error {
	r, err := tx.GetResource(ctx, arm.KeyOf(keyID+"/versions/"+version), false)
	if errors.Is(err, store.ErrNotFound) {
		return arm.Errorf("KeyVaultKeyNotFound", "The secrets of '%s' are encrypted with version '%s' of the key '%s', which does not exist.", ws.Name(), version, keyID)
	} else if err != nil {
		return err
	}
	v, err := value.Parse(r.Body)
	if err != nil {
		return err
	}
	a := get(v, "properties", "attributes")
	now := m.cfg.Now().Unix()
	switch {
	case !a.Field("enabled").Bool():
		return arm.Errorf("KeyVaultKeyDisabled", "The customer-managed key of '%s' (version '%s' of '%s') is disabled: its secrets cannot be read or written until the key is enabled again.", ws.Name(), version, keyID)
	case a.Field("exp").Kind() == value.Int && now >= a.Field("exp").Int():
		return arm.Errorf("KeyVaultKeyExpired", "The customer-managed key of '%s' (version '%s' of '%s') expired at %s.", ws.Name(), version, keyID, time.Unix(a.Field("exp").Int(), 0).UTC().Format(time.RFC3339))
	case a.Field("nbf").Kind() == value.Int && now < a.Field("nbf").Int():
		return arm.Errorf("KeyVaultKeyExpired", "The customer-managed key of '%s' (version '%s' of '%s') is not valid before %s.", ws.Name(), version, keyID, time.Unix(a.Field("nbf").Int(), 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// cmkStage is the customer-managed-key part of the persist stage: a
// workspace's data key made or re-wrapped by its writes, and the data
// keys following a vault key re-wrapped by its rotation.
func (m *Manager) cmkStage(ctx context.Context, tx store.Tx, a *Attributes) error {
	switch {
	case arm.KeyOf(a.Spec.Type) == "microsoft.machinelearningservices/workspaces" && a.out.res != nil && (a.Operation == OpCreate || a.Operation == OpUpdate):
		return m.workspaceKeyWrite(ctx, tx, a)
	case strings.EqualFold(a.Spec.Type, typeVaultKey) && a.Operation == OpAction && a.out.secrets != nil:
		return m.rewrapFollowers(ctx, tx, a)
	}
	return nil
}

// cmkTarget is the vault key version a workspace's encryption names.
type cmkTarget struct {
	vault, key, version string // ids, and the version's name
	pinned              bool
}

func encryptionEnabled(ws value.Value) bool {
	return strings.EqualFold(get(ws, "properties", "encryption", "status").Str(), "Enabled")
}

// resolveCMK finds the vault key version properties.encryption names.
func (m *Manager) resolveCMK(ctx context.Context, tx store.Tx, ws value.Value) (*cmkTarget, error) {
	kv := get(ws, "properties", "encryption", "keyVaultProperties")
	vaultID, err := arm.ParseID(kv.Field("keyVaultArmId").Str())
	if err != nil || len(vaultID.Parts) != 1 || !strings.EqualFold(vaultID.Type(), "Microsoft.KeyVault/vaults") {
		e := arm.Errorf("InvalidKeyVaultArmId", "properties.encryption.keyVaultProperties.keyVaultArmId '%s' is not the id of a Microsoft.KeyVault/vaults resource.", arm.Clip(kv.Field("keyVaultArmId").Str(), 300))
		e.Target = "properties.encryption.keyVaultProperties.keyVaultArmId"
		return nil, e
	}
	vr, err := tx.GetResource(ctx, vaultID.Key(), false)
	if errors.Is(err, store.ErrNotFound) {
		e := arm.Errorf("KeyVaultNotFound", "The key vault '%s' of properties.encryption.keyVaultProperties.keyVaultArmId does not exist.", vaultID)
		e.Target = "properties.encryption.keyVaultProperties.keyVaultArmId"
		return nil, e
	} else if err != nil {
		return nil, err
	}
	kid := kv.Field("keyIdentifier").Str()
	name, version, err := parseKeyIdentifier(kid, vaultID.Name())
	if err != nil {
		return nil, err
	}
	keyID := vaultID.Child("keys", name)
	kr, err := tx.GetResource(ctx, keyID.Key(), false)
	if errors.Is(err, store.ErrNotFound) {
		e := arm.Errorf("KeyVaultKeyNotFound", "The key '%s' of properties.encryption.keyVaultProperties.keyIdentifier does not exist in the key vault '%s'.", name, vaultID.Name())
		e.Target = "properties.encryption.keyVaultProperties.keyIdentifier"
		return nil, e
	} else if err != nil {
		return nil, err
	}
	kb, err := value.Parse(kr.Body)
	if err != nil {
		return nil, err
	}
	ops := map[string]bool{}
	for _, o := range get(kb, "properties", "keyOps").Elems() {
		ops[o.Str()] = true
	}
	if !ops["wrapKey"] || !ops["unwrapKey"] {
		e := arm.Errorf("KeyVaultKeyOperationsNotAllowed", "The key '%s' does not allow the operations wrapKey and unwrapKey (keyOps %s), which a customer-managed key needs.", name, get(kb, "properties", "keyOps").JSON())
		e.Target = "properties.encryption.keyVaultProperties.keyIdentifier"
		return nil, e
	}
	t := &cmkTarget{vault: vr.ID, key: kr.ID, version: version, pinned: version != ""}
	if version == "" {
		u := get(kb, "properties", "keyUriWithVersion").Str()
		t.version = u[strings.LastIndexByte(u, '/')+1:]
	}
	return t, nil
}

// parseKeyIdentifier reads https://{vault}.vault.azure.net[:443]/keys/{name}[/{version}].
func parseKeyIdentifier(kid, vault string) (name, version string, err error) {
	bad := func(why string) error {
		e := arm.Errorf("InvalidKeyIdentifier", "properties.encryption.keyVaultProperties.keyIdentifier '%s' is not valid: %s.", arm.Clip(kid, 300), why)
		e.Target = "properties.encryption.keyVaultProperties.keyIdentifier"
		return e
	}
	u, err := url.Parse(kid)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", bad("it must be https://{vault}.vault.azure.net/keys/{name}[/{version}]")
	}
	if (u.Port() != "" && u.Port() != "443") || !strings.EqualFold(u.Hostname(), vault+".vault.azure.net") {
		return "", "", bad(fmt.Sprintf("its host must be the key vault's, %s.vault.azure.net", strings.ToLower(vault)))
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 || len(segs) > 3 || !strings.EqualFold(segs[0], "keys") || segs[1] == "" || (len(segs) == 3 && segs[2] == "") {
		return "", "", bad("its path must be /keys/{name} or /keys/{name}/{version}")
	}
	if len(segs) == 3 {
		version = segs[2]
	}
	return segs[1], version, nil
}

// workspaceKeyWrite: a workspace created with a customer-managed key gets
// its data key, wrapped; one whose keyIdentifier changes (another key of
// the same vault, or a version) has it re-wrapped. Encryption is chosen
// at creation: it cannot be turned on or off later, nor moved to another
// vault (Azure Machine Learning's rule).
func (m *Manager) workspaceKeyWrite(ctx context.Context, tx store.Tx, a *Attributes) error {
	rec, err := getWorkspaceKey(ctx, tx, a.ID.Key())
	if err != nil {
		return err
	}
	on := encryptionEnabled(a.Object)
	switch {
	case !on && rec == nil:
		return nil
	case !on:
		return encryptionChange("Customer-managed key encryption cannot be turned off: the workspace's secrets are under its key vault key.")
	case rec == nil && a.Existing != nil:
		return encryptionChange("Customer-managed key encryption can only be set when the workspace is created.")
	}
	kw := m.keyWrapper()
	if kw == nil {
		return arm.Errorf("OperationNotSupported", "Customer-managed keys need sealed secrets, which this server is not configured for.")
	}
	t, err := m.resolveCMK(ctx, tx, a.Object)
	if err != nil {
		return err
	}
	if rec != nil && !strings.EqualFold(rec.Vault, t.vault) {
		return encryptionChange(fmt.Sprintf("The key vault of a customer-managed key cannot be changed (from '%s' to '%s'); another key of the same vault can be named.", rec.Vault, t.vault))
	}
	if rec != nil && strings.EqualFold(rec.Key, t.key) && rec.Version == t.version {
		if rec.Pinned != t.pinned {
			rec.Pinned, rec.UpdatedAt = t.pinned, a.Now
			return putWorkspaceKey(ctx, tx, a.ID.Key(), rec)
		}
		return nil
	}
	if err := m.usableKeyVersion(ctx, tx, t.key, t.version, a.ID); err != nil {
		return err
	}
	var id string
	var key []byte
	if rec == nil {
		if id, key, err = kw.NewWorkspaceKey(); err != nil {
			return err
		}
	} else {
		// Re-wrap: the data key stays, so no secret is sealed again.
		if err := m.usableKeyVersion(ctx, tx, rec.Key, rec.Version, a.ID); err != nil {
			return err
		}
		if key, err = m.unwrapWorkspaceKey(ctx, tx, kw, rec); err != nil {
			return err
		}
		id = rec.ID
	}
	priv, err := m.keyVersionPrivate(ctx, tx, t.key, t.version)
	if err != nil {
		return err
	}
	wrapped, err := kw.WrapKey(priv, key)
	if err != nil {
		return err
	}
	return putWorkspaceKey(ctx, tx, a.ID.Key(), &workspaceKey{ID: id, Vault: t.vault, Key: t.key, Version: t.version, Pinned: t.pinned,
		Wrapped: wrapped, Rev: m.cfg.NewID(), UpdatedAt: a.Now})
}

func encryptionChange(msg string) error {
	e := arm.Errorf("InvalidEncryptionChange", "%s", msg)
	e.Target = "properties.encryption"
	return e
}

// rewrapFollowers re-wraps, after a rotation of a vault key, the data
// keys of the workspaces that follow its newest version (their
// keyIdentifier names no version) with the new version.
func (m *Manager) rewrapFollowers(ctx context.Context, tx store.Tx, a *Attributes) error {
	kw := m.keyWrapper()
	if kw == nil {
		return nil
	}
	os, err := tx.ListObjects(ctx, KindWorkspaceKey)
	if err != nil {
		return err
	}
	s, err := value.Parse(a.out.secrets.Body)
	if err != nil {
		return err
	}
	mat, err := keyMaterial(s)
	if err != nil {
		return err
	}
	u := get(a.Object, "properties", "keyUriWithVersion").Str()
	ver := u[strings.LastIndexByte(u, '/')+1:]
	priv, err := base64.StdEncoding.DecodeString(mat[ver])
	if err != nil || len(priv) == 0 {
		return fmt.Errorf("the new version %s of %s has no key material", ver, a.ID)
	}
	for _, o := range os {
		var rec workspaceKey
		if err := json.Unmarshal(o.Body, &rec); err != nil {
			return fmt.Errorf("the wrapped data key of %s could not be parsed: %w", o.Key, err)
		}
		if rec.Pinned || arm.KeyOf(rec.Key) != a.ID.Key() || rec.Version == ver {
			continue
		}
		old, err := base64.StdEncoding.DecodeString(mat[rec.Version])
		if err != nil || len(old) == 0 {
			return fmt.Errorf("version %s of %s, which wraps the data key of %s, has no key material", rec.Version, a.ID, o.Key)
		}
		key, err := kw.UnwrapKey(old, rec.Wrapped)
		if err != nil {
			return fmt.Errorf("the data key of %s: %w", o.Key, err)
		}
		if rec.Wrapped, err = kw.WrapKey(priv, key); err != nil {
			return err
		}
		rec.Version, rec.Rev, rec.UpdatedAt = ver, m.cfg.NewID(), a.Now
		if err := putWorkspaceKey(ctx, tx, o.Key, &rec); err != nil {
			return err
		}
	}
	return nil
}

// checkKeysInUse refuses to delete a vault key, or what holds one (its
// vault, resource group), while it wraps the data key of a workspace
// that is not deleted with it: the workspace's secrets would be lost for
// good. Azure Machine Learning requires purge protection on the vault
// for the same reason; revoking a key is disabling it.
func (m *Manager) checkKeysInUse(ctx context.Context, tx store.Tx, id *arm.ID) error {
	os, err := tx.ListObjects(ctx, KindWorkspaceKey)
	if err != nil || len(os) == 0 {
		return err
	}
	del := id.Key()
	under := func(k string) bool { return k == del || strings.HasPrefix(k, del+"/") }
	for _, o := range os {
		var rec workspaceKey
		if err := json.Unmarshal(o.Body, &rec); err != nil {
			return fmt.Errorf("the wrapped data key of %s could not be parsed: %w", o.Key, err)
		}
		if under(arm.KeyOf(rec.Key)) && !under(o.Key) {
			return arm.Errorf("KeyVaultKeyInUse", "'%s' cannot be deleted: the key '%s' holds the customer-managed key of the workspace '%s', whose secrets would be lost. Delete the workspace first, or disable the key to revoke its access.", id.Name(), rec.Key, o.Key)
		}
	}
	return nil
}
