package resources

import (
	"context"
	"errors"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// Mirror is an update of another resource that a write makes to keep it
// in step (TypeSpec.Mirrors): Update gets that resource as stored
// (Undefined when it does not exist) and returns it as it is to be
// (Undefined: deleted, with what is under it).
type Mirror struct {
	ID     *arm.ID
	Update func(cur value.Value) value.Value
}

// mirror applies the type's mirrors of a write in the persist stage:
// from the resource as stored, after admission (obj; Undefined for a
// delete), and as it was. Each mirrored resource is read locked in the
// write transaction, so a concurrent write of it is neither lost nor
// overwritten. Mirrored writes are the resource provider's own: they do
// not go through admission again (ARM evaluates the request, not what
// the provider does to carry it out), and they mirror nothing further.
func (m *Manager) mirror(ctx context.Context, tx store.Tx, a *Attributes, obj value.Value) error {
	if a.Spec.Mirrors == nil {
		return nil
	}
	for _, mr := range a.Spec.Mirrors(m.hookCtx(ctx, a), obj, a.OldObject) {
		res, err := tx.GetResource(ctx, mr.ID.Key(), true)
		if errors.Is(err, store.ErrNotFound) {
			res = nil
		} else if err != nil {
			return err
		}
		var cur value.Value
		if res != nil {
			if cur, err = value.Parse(res.Body); err != nil {
				return err
			}
		}
		next := mr.Update(cur)
		switch {
		case next.IsUndefined() && res != nil:
			if err := m.deleteTree(ctx, tx, mr.ID); err != nil {
				return err
			}
		case next.IsUndefined(), res != nil && next.JSON() == cur.JSON():
		default:
			put := m.storeResource(mr.ID, next, m.cfg.NewID(), a.Now, res)
			put.Body = []byte(next.JSON())
			if err := tx.PutResource(ctx, put); err != nil {
				return err
			}
		}
	}
	return nil
}
