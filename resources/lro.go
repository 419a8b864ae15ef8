package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// operationPath reports whether id is an operation's status or result,
// and which ("operationstatuses" or "operationresults").
func operationPath(id *arm.ID) (string, bool) {
	if len(id.Parts) != 2 || id.ResourceGroup != "" || !strings.EqualFold(id.Parts[0].Type, "locations") || id.Trailing != "" {
		return "", false
	}
	kind := strings.ToLower(id.Parts[1].Type)
	return kind, kind == "operationstatuses" || kind == "operationresults"
}

// mayReadOperation: see operationStatus.
func (m *Manager) mayReadOperation(ctx context.Context, r *Request, rec *opRecord) bool {
	if r.Caller.ObjectID != "" && strings.EqualFold(rec.Activity.Caller.ObjectID, r.Caller.ObjectID) {
		return true
	}
	id, err := arm.ParseID(rec.ResourceID)
	if err != nil {
		return false
	}
	d, err := m.authz.Decider(ctx, &r.Caller)
	return err == nil && d.Allowed(RBACAction(typeOf(id)+"/read"), id.String())
}

// operationStatus serves the Azure-AsyncOperation and Location URLs:
// /subscriptions/{s}/providers/{ns}/locations/{loc}/operationStatuses/{id}
// and .../operationResults/{id}.
//
// Who may read an operation: the caller that started it, and whoever
// may read the resource it acts on ({type}/read there); to anyone else
// it does not exist (its id is a random GUID, and an operation is no
// resource with a role of its own).
func (m *Manager) operationStatus(ctx context.Context, r *Request) (bool, *Response, error) {
	id := r.ID
	kind, ok := operationPath(id)
	if !ok {
		return false, nil, nil
	}
	if r.Method != "GET" {
		return true, nil, methodNotAllowed(r)
	}
	opID := arm.KeyOf(id.Parts[1].Name)
	if err := m.completeIfDue(ctx, opID); err != nil {
		return true, nil, err
	}
	var op *store.Operation
	err := m.st.Read(ctx, func(tx store.Tx) error {
		var err error
		op, err = tx.GetOperation(ctx, opID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return true, nil, arm.Errorf("OperationNotFound", "The operation '%s' was not found.", id.Parts[1].Name)
	} else if err != nil {
		return true, nil, err
	}
	var rec opRecord
	if err := json.Unmarshal(op.Body, &rec); err != nil {
		return true, nil, err
	}
	if !strings.EqualFold(rec.Activity.SubscriptionID, id.SubscriptionID) || !m.mayReadOperation(ctx, r, &rec) {
		return true, nil, arm.Errorf("OperationNotFound", "The operation '%s' was not found.", id.Parts[1].Name)
	}
	if kind == "operationstatuses" {
		st := map[string]any{"id": r.Path, "name": rec.ID, "status": rec.Status, "startTime": rec.StartTime}
		if rec.EndTime != "" {
			st["endTime"] = rec.EndTime
			st["percentComplete"] = 100
		}
		if rec.Error != nil {
			st["error"] = rec.Error
		}
		b, _ := json.Marshal(st)
		return true, &Response{Body: b}, nil
	}
	// operationResults: 202 while running, then the final result.
	if rec.Status == "InProgress" {
		return true, &Response{Outcome: Accepted}, nil
	}
	if rec.Error != nil {
		return true, nil, &arm.Error{Code: rec.Error.Code, Message: rec.Error.Message}
	}
	switch rec.Kind {
	case "delete":
		return true, &Response{Outcome: NoContent}, nil
	case "action":
		if len(rec.Response) > 0 {
			return true, &Response{Body: rec.Response}, nil
		}
		return true, &Response{Outcome: NoContent}, nil
	}
	rid, err := arm.ParseID(rec.ResourceID)
	if err != nil {
		return true, nil, err
	}
	resp, err := m.getOne(ctx, rid, false)
	return true, resp, err
}

// completeIfDue completes one operation if its time has come.
func (m *Manager) completeIfDue(ctx context.Context, opID string) error {
	now := m.cfg.Now()
	completed := false
	err := m.st.Write(ctx, func(tx store.Tx) error {
		op, err := tx.GetOperation(ctx, opID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if op.Status != "InProgress" || op.NotBefore.After(now) {
			return nil
		}
		completed = true
		return m.completeSafely(ctx, tx, op, now)
	})
	if err == nil && completed {
		m.notify(nil)
	}
	return err
}

// completeBatch is how many operations one CompleteDue transaction
// completes while completions keep up: small, so that the requests
// waiting for the store's write lock get it between batches (with
// SQLite's group commit the batches still share commits with them). With
// 16, PUT p99 at 1,000 computes/s was 46-162 ms; with 4 (and the server
// calling CompleteDue every 20ms, not 100ms, so that completions come in
// small steady batches) 32-58 ms.
//
// When they fall behind, the batch grows with the lag, up to
// completeBatchMax: each CompleteDue transaction waits its turn for the
// write lock behind every request queued for it, so with a fixed batch
// of 4 a flat-out PUT load (2,100 computes/s on two cores) left
// operations 10 s overdue after 10 s, completing about 60 a second.
const (
	completeBatch    = 4
	completeBatchMax = 64
	completeLagFree  = 100 * time.Millisecond
	completeLagStep  = 10 * time.Millisecond
)

// completeBatchFor is the batch for a backlog whose oldest due operation
// has been due for lag: completeBatch, plus one per completeLagStep over
// completeLagFree (the lag of the 20ms ticks and of waiting for the write
// lock at a load the completions keep up with, which the batch must not
// react to).
func completeBatchFor(lag time.Duration) int {
	over := lag - completeLagFree
	if over <= 0 {
		return completeBatch
	}
	return int(min(int64(completeBatch)+int64(over/completeLagStep), completeBatchMax))
}

// CompleteDue completes every operation due when it starts (run
// periodically by the server): completeBatch in the first transaction,
// then completeBatchFor the lag of the last one's oldest. It returns how
// many it completed.
func (m *Manager) CompleteDue(ctx context.Context) (int, error) {
	now := m.cfg.Now()
	total := 0
	batch := completeBatch
	for {
		n := 0
		var lag time.Duration
		var failed string
		err := m.st.Write(ctx, func(tx store.Tx) error {
			ops, err := tx.DueOperations(ctx, now, batch)
			if err != nil {
				return err
			}
			n, lag, failed = 0, 0, ""
			if len(ops) > 0 {
				lag = now.Sub(ops[0].NotBefore)
			}
			for _, op := range ops {
				if err := m.completeSafely(ctx, tx, op, now); err != nil {
					failed = op.ID
					return err
				}
				n++
			}
			return nil
		})
		if err != nil && failed != "" && ctx.Err() == nil {
			// One operation could not be completed (and the batch rolled
			// back). It is tried once more alone; if it fails again it is
			// marked Failed, so that it does not stop every operation due
			// after it, tick after tick.
			if err = m.completeIfDue(ctx, failed); err != nil {
				if ferr := m.failOperation(ctx, failed, now); ferr != nil {
					return total, errors.Join(err, ferr)
				}
				return total, fmt.Errorf("operation %s could not be completed and is marked Failed: %w", failed, err)
			}
			continue
		}
		if err != nil {
			return total, err
		}
		if n > 0 {
			m.notify(nil)
		}
		total += n
		if n < batch {
			return total, nil
		}
		batch = completeBatchFor(lag)
	}
}

// completeSafely is complete with a panic (a bug in a type's hook)
// turned into an error naming the operation, with its stack.
func (m *Manager) completeSafely(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("completing operation %s panicked: %v\n%s", op.ID, p, debug.Stack())
		}
	}()
	return m.complete(ctx, tx, op, now)
}

// failOperation marks an operation that cannot be completed Failed
// (InternalServerError; its resource's provisioningState Failed when it
// was a PUT or PATCH), with a Failed activity event: its poller gets an
// answer instead of InProgress for ever.
func (m *Manager) failOperation(ctx context.Context, opID string, now time.Time) error {
	return m.st.Write(ctx, func(tx store.Tx) error {
		op, err := tx.GetOperation(ctx, opID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if op.Status != "InProgress" {
			return nil
		}
		var rec opRecord
		readable := json.Unmarshal(op.Body, &rec) == nil
		if !readable {
			rec = opRecord{ID: opID, Name: opID}
		}
		rec.Status, rec.EndTime = "Failed", timestamp(now).Str()
		rec.Error = &opError{Code: "InternalServerError", Message: "The operation could not be completed: the server failed to finish it (the error is in its log, with the operation's id)."}
		if rec.Kind == "put" || rec.Kind == "patch" {
			if rid, err := arm.ParseID(rec.ResourceID); err == nil {
				if res, err := tx.GetResource(ctx, rid.Key(), true); err == nil {
					if cur, err := value.Parse(res.Body); err == nil {
						res.Body, res.UpdatedAt = []byte(set(cur, str("Failed"), "properties", "provisioningState").JSON()), now
						if err := tx.PutResource(ctx, res); err != nil {
							return err
						}
					}
				}
			}
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		op.Body, op.Status, op.UpdatedAt = b, rec.Status, now
		if err := tx.PutOperation(ctx, op); err != nil || !readable {
			return err
		}
		return tx.AppendEvents(ctx, activitylog.Event(rec.Activity, activitylog.Failed, 500, m.cfg.NewID(), now, nil))
	})
}

// complete finishes an operation inside a transaction.
func (m *Manager) complete(ctx context.Context, tx store.Tx, op *store.Operation, now time.Time) error {
	var rec opRecord
	if err := json.Unmarshal(op.Body, &rec); err != nil {
		return err
	}
	rid, err := arm.ParseID(rec.ResourceID)
	if err != nil {
		return err
	}
	status := 200
	var failure error
	switch rec.Kind {
	case "delete":
		// What the resource's mirrors keep in step goes with it (a
		// workspace identity's role assignments outside its tree).
		if spec, _ := m.spec(rid); spec.Mirrors != nil {
			if res, err := tx.GetResource(ctx, rid.Key(), true); err == nil {
				cur, err := value.Parse(res.Body)
				if err != nil {
					return err
				}
				a := &Attributes{Operation: OpDelete, ID: rid, Spec: spec, OldObject: cur, Now: now, Principal: rec.Activity.Caller,
					Request: &Request{Method: "DELETE", ID: rid, Caller: rec.Activity.Caller}}
				if err := m.mirror(ctx, tx, a, value.Value{}); err != nil {
					return err
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := m.deleteTree(ctx, tx, rid); err != nil {
			return err
		}
	default:
		res, err := tx.GetResource(ctx, rid.Key(), true)
		if errors.Is(err, store.ErrNotFound) {
			failure = notFound(rid)
			break
		} else if err != nil {
			return err
		}
		cur, err := value.Parse(res.Body)
		if err != nil {
			return err
		}
		if rec.Kind == "action" {
			spec, _ := m.spec(rid)
			as := spec.Actions[rec.Action]
			var body value.Value
			if len(rec.ActionBody) > 0 {
				body, _ = value.Parse(rec.ActionBody)
			}
			if as == nil {
				failure = arm.Errorf("InvalidAction", "The action '%s' is no longer supported.", rec.Action)
				break
			}
			nr, out, err := as.Run(&Ctx{ID: rid, Now: now, NewID: m.cfg.NewID, TenantID: m.cfg.TenantID}, cur, body)
			if err != nil {
				failure = err
				break
			}
			if !out.IsUndefined() {
				rec.Response = json.RawMessage(out.JSON())
			}
			if !nr.IsUndefined() {
				// What the action changed, its mirrors keep in step (a
				// provisioned network's rules, as children).
				if spec.Mirrors != nil {
					a := &Attributes{Operation: OpAction, ID: rid, Spec: spec, OldObject: cur, Now: now, Principal: rec.Activity.Caller,
						Request: &Request{Method: "POST", ID: rid, Caller: rec.Activity.Caller}}
					if err := m.mirror(ctx, tx, a, nr); err != nil {
						return err
					}
				}
				cur = nr
			}
		} else {
			cur = set(cur, str("Succeeded"), "properties", "provisioningState")
		}
		res.Body, res.UpdatedAt = []byte(cur.JSON()), now
		if rec.Kind != "action" {
			res.ETag = m.cfg.NewID()
		}
		if err := tx.PutResource(ctx, res); err != nil {
			return err
		}
	}
	rec.EndTime = timestamp(now).Str()
	evStatus := activitylog.Succeeded
	if failure != nil {
		rec.Status, evStatus, status = "Failed", activitylog.Failed, 400
		var ae *arm.Error
		if errors.As(failure, &ae) {
			rec.Error = &opError{Code: ae.Code, Message: ae.Message}
		} else {
			rec.Error = &opError{Code: "InternalServerError", Message: "The operation failed."}
		}
	} else {
		rec.Status = "Succeeded"
	}
	b, _ := json.Marshal(rec)
	op.Body, op.Status, op.UpdatedAt = b, rec.Status, now
	if err := tx.PutOperation(ctx, op); err != nil {
		return err
	}
	return tx.AppendEvents(ctx, activitylog.Event(rec.Activity, evStatus, status, m.cfg.NewID(), now, nil))
}

// listEvents serves the activity-log query API.
func (m *Manager) listEvents(ctx context.Context, r *Request) (*Response, error) {
	q := store.EventQuery{SubscriptionKey: arm.KeyOf(r.ID.SubscriptionID)}
	if err := activitylog.ParseFilter(r.Query.Get("$filter"), &q); err != nil {
		return nil, err
	}
	limit, err := ParseTop(r.Query.Get("$top"), r.Query.Has("$top"), m.cfg.PageSize)
	if err != nil {
		return nil, err
	}
	if r.Query.Has("$skipToken") {
		t := r.Query.Get("$skipToken")
		n, err := strconv.ParseUint(t, 10, 63)
		if err != nil {
			return nil, arm.Errorf("InvalidSkipToken", "The $skipToken '%s' is not valid: use the nextLink of the previous page as it is.", arm.Clip(t, 64))
		}
		q.AfterSeq = int64(n)
	}
	q.Limit = limit + 1
	var evs []*store.Event
	if err := m.st.Read(ctx, func(tx store.Tx) error {
		var err error
		evs, err = tx.ListEvents(ctx, q)
		return err
	}); err != nil {
		return nil, err
	}
	more := len(evs) > limit
	if more {
		evs = evs[:limit]
	}
	page := &Response{List: true, Items: make([][]byte, len(evs))}
	for i, e := range evs {
		page.Items[i] = e.Body
	}
	if more {
		page.Next = strconv.FormatInt(evs[len(evs)-1].Seq, 10)
	}
	return page, nil
}
