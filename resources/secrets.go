package resources

import (
	"context"
	"errors"
	"fmt"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// Sealer encrypts secrets at rest (authn.DataKey: AES-256-GCM under the
// store's data key). aad names the holder (the resource's key): a sealed
// value moved to another resource does not open.
type Sealer interface {
	Seal(plain []byte, aad string) ([]byte, error)
	Open(sealed []byte, aad string) ([]byte, error)
}

// loadSecrets reads a resource's secrets (Undefined when none are
// stored), opening them if sealed. Secrets stored before sealing was
// configured are JSON objects, taken as they are (they are sealed when
// next written).
func (m *Manager) loadSecrets(ctx context.Context, tx store.Tx, id *arm.ID) (value.Value, error) {
	o, err := tx.GetObject(ctx, KindSecrets, id.Key())
	if errors.Is(err, store.ErrNotFound) {
		return value.Value{}, nil
	} else if err != nil {
		return value.Value{}, err
	}
	body := o.Body
	if len(body) > 0 && body[0] != '{' {
		s, err := m.sealerFor(ctx, tx, id)
		if err != nil {
			return value.Value{}, err
		}
		if s == nil {
			return value.Value{}, fmt.Errorf("the secrets of %s are sealed, and no key to open them is configured", id)
		}
		if body, err = s.Open(body, id.Key()); err != nil {
			return value.Value{}, err
		}
	}
	v, err := value.Parse(body)
	if err != nil {
		return value.Value{}, errors.New("stored secrets could not be parsed")
	}
	return v, nil
}

// putSecrets writes a resource's secrets (o.Body: the JSON object),
// sealed when a Sealer is configured: under the data key of the
// workspace they are in when it has a customer-managed key (cmk.go),
// else under the store's.
func (m *Manager) putSecrets(ctx context.Context, tx store.Tx, o *store.Object) error {
	if m.cfg.Sealer != nil {
		id, err := arm.ParseID(o.Key)
		if err != nil {
			return err
		}
		s, err := m.sealerFor(ctx, tx, id)
		if err != nil {
			return err
		}
		sealed, err := s.Seal(o.Body, o.Key)
		if err != nil {
			return err
		}
		c := *o
		c.Body = sealed
		o = &c
	}
	return tx.PutObject(ctx, o)
}

// SealStoredSecrets seals the secrets stored in plain form (written
// before a Sealer was configured), a migration run at start, and returns
// how many it sealed. Without a Sealer it does nothing.
func (m *Manager) SealStoredSecrets(ctx context.Context) (int, error) {
	if m.cfg.Sealer == nil {
		return 0, nil
	}
	n := 0
	err := m.st.Write(ctx, func(tx store.Tx) error {
		n = 0
		os, err := tx.ListObjects(ctx, KindSecrets)
		if err != nil {
			return err
		}
		for _, o := range os {
			if len(o.Body) == 0 || o.Body[0] != '{' {
				continue
			}
			if err := m.putSecrets(ctx, tx, o); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
