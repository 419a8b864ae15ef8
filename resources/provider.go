package resources

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// What other packages' resource providers use besides requests (the
// deployment engine): their own writes of the resources they keep, the
// secrets kept with them, and waiting for a long-running operation a
// request started.

// ReadSecrets returns the stored secrets of a resource of a Secrets type
// (Undefined when none are stored), opened when sealed.
func (m *Manager) ReadSecrets(ctx context.Context, id *arm.ID) (value.Value, error) {
	var v value.Value
	err := m.st.Read(ctx, func(tx store.Tx) error {
		var err error
		v, err = m.loadSecrets(ctx, tx, id)
		return err
	})
	return v, err
}

// ProviderTx is a resource provider's own write: the state it records
// of resources it keeps (a deployment's progress, its operations), which
// no caller requested, so no authorization, admission or activity-log
// event. Each Put stores a new ETag and, as every write, a change in the
// change feed.
type ProviderTx struct {
	m   *Manager
	ctx context.Context
	tx  store.Tx
	now time.Time
}

// ProviderWrite runs fn in one write transaction; the Committers are
// told after the commit (as for completed long-running operations).
func (m *Manager) ProviderWrite(ctx context.Context, fn func(p *ProviderTx) error) error {
	err := m.st.Write(ctx, func(tx store.Tx) error {
		return fn(&ProviderTx{m: m, ctx: ctx, tx: tx, now: m.cfg.Now()})
	})
	if err == nil {
		m.notify(nil)
	}
	return err
}

// Now is the time of the write.
func (p *ProviderTx) Now() time.Time { return p.now }

// Get reads a resource with its row locked; ok is false when it does not
// exist.
func (p *ProviderTx) Get(id *arm.ID) (body value.Value, ok bool, err error) {
	r, err := p.tx.GetResource(p.ctx, id.Key(), true)
	if errors.Is(err, store.ErrNotFound) {
		return value.Value{}, false, nil
	} else if err != nil {
		return value.Value{}, false, err
	}
	v, err := value.Parse(r.Body)
	if err != nil {
		return value.Value{}, false, errors.New("a stored resource could not be parsed")
	}
	return v, true, nil
}

// Put stores a resource's body as it is (the caller builds its id, name,
// type and properties).
func (p *ProviderTx) Put(id *arm.ID, body value.Value) error {
	existing, err := p.tx.GetResource(p.ctx, id.Key(), true)
	if errors.Is(err, store.ErrNotFound) {
		existing = nil
	} else if err != nil {
		return err
	}
	r := p.m.storeResource(id, body, p.m.cfg.NewID(), p.now, existing)
	r.Body = []byte(body.JSON())
	return p.tx.PutResource(p.ctx, r)
}

// Children lists the resources of type typ directly below parent.
func (p *ProviderTx) Children(parent *arm.ID, typ string) ([]*store.Resource, error) {
	return p.tx.ListResources(p.ctx, store.ListQuery{ParentKey: parent.Key(), TypeKey: arm.KeyOf(typ)})
}

// Delete deletes a resource and what is below it.
func (p *ProviderTx) Delete(id *arm.ID) error { return p.m.deleteTree(p.ctx, p.tx, id) }

// WaitOperation waits for a long-running operation a request started
// (Response.Operation) to end, checking every poll, and returns its
// error (nil when it succeeded).
func (m *Manager) WaitOperation(ctx context.Context, op *AsyncOperation, poll time.Duration) (*arm.Error, error) {
	key := arm.KeyOf(op.ID)
	for {
		if err := m.completeIfDue(ctx, key); err != nil {
			return nil, err
		}
		var rec opRecord
		err := m.st.Read(ctx, func(tx store.Tx) error {
			o, err := tx.GetOperation(ctx, key)
			if err != nil {
				return err
			}
			return json.Unmarshal(o.Body, &rec)
		})
		if err != nil {
			return nil, err
		}
		if rec.Status != "InProgress" {
			if rec.Error != nil {
				return &arm.Error{Code: rec.Error.Code, Message: rec.Error.Message}, nil
			}
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}
