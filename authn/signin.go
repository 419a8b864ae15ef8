package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mlgov/mlgov/store"
)

// The sign-in log: every client-credentials attempt at the token
// endpoint (ClientCredentials) against a tenant that exists (successful,
// failed, throttled or locked out) is recorded before it is answered, in the shape of Microsoft Graph's
// signIn resource (a service-principal sign-in). Records are store
// events (store.Event) of the pseudo-subscription SignInLogKey(tenant):
// an indexed, paged table with the activity log's retention, that no
// subscription's activity-log query can reach (subscription keys are
// GUIDs). The event's ResourceKey is the client id (lower-cased), its
// CorrelationID the client's request id.
//
// Attempts arriving together are written together (group commit: one
// write transaction for all records waiting), so a flood of attempts
// costs the store a few transactions, not one each. If the record
// cannot be written the attempt fails (an internal error): no token is
// issued unlogged.

// SignInLogKey is the store.Event SubscriptionKey of a tenant's sign-in
// records.
func SignInLogKey(tenantID string) string { return "signins/" + strings.ToLower(tenantID) }

// ARM's application as Entra names it (resourceId and
// resourceDisplayName of sign-ins to ARM).
const (
	armAppID          = "797f4846-ba00-4fd7-ba43-dac1f8f63013"
	armAppDisplayName = "Windows Azure Service Management API"
	// graphAppID is Microsoft Graph's application id.
	graphAppID = "00000003-0000-0000-c000-000000000000"
)

// SignIn is one record of the sign-in log (Graph's signIn, the fields a
// service-principal sign-in has).
type SignIn struct {
	ID              string    `json:"id"`
	CreatedDateTime time.Time `json:"createdDateTime"`
	// AppID is the client id as sent (clipped to 128 characters).
	AppID          string `json:"appId"`
	AppDisplayName string `json:"appDisplayName,omitempty"`
	// ServicePrincipalID is the object id of the client, when it exists.
	ServicePrincipalID string `json:"servicePrincipalId,omitempty"`
	IPAddress          string `json:"ipAddress"`
	CorrelationID      string `json:"correlationId,omitempty"`
	// ClientCredentialType is "clientSecret", or "none" when no secret
	// was sent.
	ClientCredentialType string `json:"clientCredentialType"`
	// ServicePrincipalCredentialKeyID is the keyId of the secret that
	// matched (successful sign-ins and expired secrets).
	ServicePrincipalCredentialKeyID string `json:"servicePrincipalCredentialKeyId,omitempty"`
	ResourceID                      string `json:"resourceId,omitempty"`
	ResourceDisplayName             string `json:"resourceDisplayName,omitempty"`
	HomeTenantID                    string `json:"homeTenantId"`
	ResourceTenantID                string `json:"resourceTenantId"`
	// UniqueTokenIdentifier is the uti of the token issued.
	UniqueTokenIdentifier   string       `json:"uniqueTokenIdentifier,omitempty"`
	Status                  SignInStatus `json:"status"`
	SignInEventTypes        []string     `json:"signInEventTypes"`
	IsInteractive           bool         `json:"isInteractive"`
	ConditionalAccessStatus string       `json:"conditionalAccessStatus"`
	// AuthenticationRequirement is singleFactorAuthentication or
	// multiFactorAuthentication (users' interactive sign-ins).
	AuthenticationRequirement string `json:"authenticationRequirement,omitempty"`
	// UserPrincipalName and UserID name the user of a user's sign-in.
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	UserID            string `json:"userId,omitempty"`
	// AppliedConditionalAccessPolicies are the policies evaluated and
	// their results (conditional.go).
	AppliedConditionalAccessPolicies []AppliedPolicy `json:"appliedConditionalAccessPolicies"`
}

// SignInStatus is the outcome: ErrorCode 0 for success, else the AADSTS
// number the client got (50196 throttled, 50053 locked out, 50000 an
// internal error).
type SignInStatus struct {
	ErrorCode         int    `json:"errorCode"`
	FailureReason     string `json:"failureReason,omitempty"`
	AdditionalDetails string `json:"additionalDetails,omitempty"`
}

// SignInQuery selects sign-in records of a tenant. Zero fields do not
// filter.
type SignInQuery struct {
	AppID    string    // client id (case-insensitive)
	From, To time.Time // inclusive
	// CorrelationID: the records of one request (case-insensitive).
	CorrelationID string
	// UserPrincipalName and UserID: a user's records
	// (case-insensitive); Failed: the failed (true) or successful
	// (false) ones. These are matched on the records read, at most
	// maxSignInScan of them a call (SignInsPage says where it stopped).
	UserPrincipalName, UserID string
	Failed                    *bool
	// AfterSeq continues after the record of that Seq (paging).
	AfterSeq int64
	Limit    int
}

// maxSignInScan bounds the records one SignInsPage call reads to match
// the fields the log is not indexed by.
const maxSignInScan = 20000

// matches reports whether a record has the fields q matches on the
// records read.
func (q *SignInQuery) matches(si *SignIn) bool {
	return (q.UserPrincipalName == "" || strings.EqualFold(si.UserPrincipalName, q.UserPrincipalName)) &&
		(q.UserID == "" || strings.EqualFold(si.UserID, q.UserID)) &&
		(q.Failed == nil || *q.Failed == (si.Status.ErrorCode != 0))
}

// SignInRecord is a stored sign-in and its position in the log.
type SignInRecord struct {
	SignIn
	Seq int64 `json:"-"`
}

// SignIns returns sign-in records of a tenant, oldest first (at most
// q.Limit; fewer when the records matched on reading ran out, see
// SignInsPage).
func (s *Service) SignIns(ctx context.Context, tenantID string, q SignInQuery) ([]*SignInRecord, error) {
	out, _, err := s.SignInsPage(ctx, tenantID, q)
	return out, err
}

// SignInsPage returns up to q.Limit sign-in records of a tenant (every
// one when it is 0), oldest first, and the Seq to continue after for the next page (0: none is
// left). Records are read in pages of the index (app, correlation id,
// time) and matched on the other fields, up to maxSignInScan records a
// call: a page may then hold fewer than q.Limit with more to come.
func (s *Service) SignInsPage(ctx context.Context, tenantID string, q SignInQuery) ([]*SignInRecord, int64, error) {
	eq := store.EventQuery{SubscriptionKey: SignInLogKey(tenantID), From: q.From, To: q.To, AfterSeq: q.AfterSeq, Limit: q.Limit,
		CorrelationID: strings.ToLower(q.CorrelationID)}
	if q.AppID != "" {
		eq.ResourceKey = signInAppKey(q.AppID)
	}
	var out []*SignInRecord
	decode := func(e *store.Event) (*SignInRecord, error) {
		r := &SignInRecord{Seq: e.Seq}
		if err := json.Unmarshal(e.Body, &r.SignIn); err != nil {
			return nil, fmt.Errorf("authn: sign-in record %s: %w", e.ID, err)
		}
		return r, nil
	}
	if q.Limit <= 0 { // every record (the tests' and tools' reads)
		err := s.st.Read(ctx, func(tx store.Tx) error {
			evs, err := tx.ListEvents(ctx, eq)
			for _, e := range evs {
				r, err := decode(e)
				if err != nil {
					return err
				}
				if q.matches(&r.SignIn) {
					out = append(out, r)
				}
			}
			return err
		})
		return out, 0, err
	}
	for scanned := 0; ; {
		var evs []*store.Event
		err := s.st.Read(ctx, func(tx store.Tx) error {
			var err error
			evs, err = tx.ListEvents(ctx, eq)
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		for i, e := range evs {
			r, err := decode(e)
			if err != nil {
				return nil, 0, err
			}
			if !q.matches(&r.SignIn) {
				continue
			}
			out = append(out, r)
			if len(out) == q.Limit {
				if i == len(evs)-1 && len(evs) < eq.Limit {
					return out, 0, nil // the last record of the log
				}
				return out, e.Seq, nil
			}
		}
		scanned += len(evs)
		if len(evs) < eq.Limit {
			return out, 0, nil
		}
		eq.AfterSeq = evs[len(evs)-1].Seq
		if scanned >= maxSignInScan {
			return out, eq.AfterSeq, nil
		}
	}
}

func signInAppKey(appID string) string {
	if len(appID) > 64 {
		appID = appID[:64]
	}
	return strings.ToLower(appID)
}

// maxSignInBatch bounds the records one transaction writes.
const maxSignInBatch = 500

// signInWriter writes sign-in records with group commit: a record is
// queued, a flusher goroutine (started when there is none) writes
// everything queued in one transaction, again until the queue is empty,
// and each caller waits for the write of its own record.
type signInWriter struct {
	mu       sync.Mutex
	pending  []pendingSignIn
	flushing bool
}

type pendingSignIn struct {
	ev   *store.Event
	done chan error
}

// logSignIn records si and returns once it is written (or ctx ends: the
// record is then still written).
func (s *Service) logSignIn(ctx context.Context, si *SignIn) error {
	ev, err := si.event()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	w := &s.signIns
	w.mu.Lock()
	w.pending = append(w.pending, pendingSignIn{ev: ev, done: done})
	if !w.flushing {
		w.flushing = true
		go s.flushSignIns(context.WithoutCancel(ctx))
	}
	w.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// event is the store event of a sign-in record.
func (si *SignIn) event() (*store.Event, error) {
	body, err := json.Marshal(si)
	if err != nil {
		return nil, err
	}
	return &store.Event{ID: si.ID, SubscriptionKey: SignInLogKey(si.ResourceTenantID), Timestamp: si.CreatedDateTime,
		ResourceKey: signInAppKey(si.AppID), CorrelationID: strings.ToLower(si.CorrelationID), Body: body}, nil
}

func (s *Service) flushSignIns(ctx context.Context) {
	w := &s.signIns
	w.mu.Lock()
	for len(w.pending) > 0 {
		n := min(len(w.pending), maxSignInBatch)
		batch := w.pending[:n:n]
		w.pending = w.pending[n:]
		w.mu.Unlock()
		evs := make([]*store.Event, len(batch))
		for i, p := range batch {
			evs[i] = p.ev
		}
		err := s.st.Write(ctx, func(tx store.Tx) error { return tx.AppendEvents(ctx, evs...) })
		if err != nil {
			err = fmt.Errorf("authn: writing the sign-in log: %w", err)
		}
		for _, p := range batch {
			p.done <- err
		}
		w.mu.Lock()
	}
	w.pending = nil
	w.flushing = false
	w.mu.Unlock()
}
