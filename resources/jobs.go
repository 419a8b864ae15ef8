package resources

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// Jobs at run time (the runner's contract, docs/runner.md). A job is
// created Queued. A runner serving a compute claims the next queued
// command job of that compute (ClaimJob: the caller needs
// Microsoft.MachineLearningServices/workspaces/jobs/write on the
// workspace) and gets, with it, the job's service token: an HMAC of the
// job and its expiry under a key of the workspace's secrets, valid
// JobTokenLifetime. The token is accepted by the job's call-back API
// (JobCallback: status, metrics, logs; joboutputs.go: outputs) for that
// workspace and that job only; the job's status answer says when a
// cancel was requested. With it the job also gets tokens of its
// compute's managed identities (JobIdentity).

// JobTokenLifetime is how long a job's service token is valid.
const JobTokenLifetime = 24 * time.Hour

// Store object kinds kept per job (deleted with it).
const (
	KindJobMetrics = "jobMetrics"
	KindJobLogs    = "jobLogs"
	// maxJobLog bounds a job's stored log: the tail is kept.
	maxJobLog = 1 << 20
)

const typeJob = mlNamespace + "/workspaces/jobs"

// ClaimedJob is a job a runner claimed.
type ClaimedJob struct {
	Job       json.RawMessage `json:"job"`
	Token     string          `json:"token"`
	ExpiresOn int64           `json:"expiresOn"`
}

// ClaimJob claims the oldest queued command job of a compute of the
// workspace ws for the caller, and returns it with its token (nil, nil
// when there is none).
func (m *Manager) ClaimJob(ctx context.Context, caller *activitylog.Caller, ws *arm.ID, compute string) (*ClaimedJob, error) {
	if err := m.Authorize(ctx, caller, typeJob+"/write", ws.String()); err != nil {
		return nil, err
	}
	computeID := ws.String() + "/computes/" + compute
	now := m.cfg.Now()
	var out *ClaimedJob
	err := m.st.Write(ctx, func(tx store.Tx) error {
		out = nil
		if _, err := tx.GetResource(ctx, arm.KeyOf(computeID), false); errors.Is(err, store.ErrNotFound) {
			return statusErr(404, "ResourceNotFound", "The compute '%s' does not exist.", computeID)
		} else if err != nil {
			return err
		}
		jobs, err := tx.ListResources(ctx, store.ListQuery{TypeKey: arm.KeyOf(typeJob), ParentKey: ws.Key(), Limit: 10000})
		if err != nil {
			return err
		}
		var pick *store.Resource
		var body value.Value
		for _, j := range jobs {
			v, err := value.Parse(j.Body)
			if err != nil {
				continue
			}
			p := v.Field("properties")
			if strings.EqualFold(p.Field("status").Str(), "Queued") && strings.EqualFold(p.Field("jobType").Str(), "Command") &&
				strings.EqualFold(strings.TrimRight(p.Field("computeId").Str(), "/"), computeID) && (pick == nil || j.CreatedAt.Before(pick.CreatedAt)) {
				pick, body = j, v
			}
		}
		if pick == nil {
			return nil
		}
		jid, err := arm.ParseID(pick.ID)
		if err != nil {
			return err
		}
		body = set(body, str("Running"), "properties", "status")
		if err := m.putJob(ctx, tx, jid, pick, body, caller, now); err != nil {
			return err
		}
		key, err := m.jobTokenKey(ctx, tx, ws, now)
		if err != nil {
			return err
		}
		exp := now.Add(JobTokenLifetime).Truncate(time.Second)
		out = &ClaimedJob{Job: json.RawMessage(body.JSON()), Token: jobToken(jid, key, exp), ExpiresOn: exp.Unix()}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out != nil {
		m.notify(nil)
	}
	return out, nil
}

// putJob writes a job's new body, as the resource provider's own write
// (with its activity-log events, by the caller that caused it).
func (m *Manager) putJob(ctx context.Context, tx store.Tx, id *arm.ID, old *store.Resource, body value.Value, caller *activitylog.Caller, now time.Time) error {
	res := m.storeResource(id, body, m.cfg.NewID(), now, old)
	res.Body = []byte(body.JSON())
	if err := tx.PutResource(ctx, res); err != nil {
		return err
	}
	op := activitylog.Op{OperationName: typeJob + "/write", ResourceID: id.String(), ResourceType: typeJob, SubscriptionID: id.SubscriptionID,
		ResourceGroup: id.ResourceGroup, CorrelationID: m.cfg.NewID(), OperationID: m.cfg.NewID(), Method: "POST", Caller: *caller}
	a := &Attributes{Now: now}
	return tx.AppendEvents(ctx, m.events(a, op, activitylog.Succeeded, 200)...)
}

// jobTokenKey is the workspace's key of job tokens (made on first use).
func (m *Manager) jobTokenKey(ctx context.Context, tx store.Tx, ws *arm.ID, now time.Time) (string, error) {
	s, err := m.loadSecrets(ctx, tx, ws)
	if err != nil {
		return "", err
	}
	if k := s.Field("jobTokenKey").Str(); k != "" {
		return k, nil
	}
	if s.Kind() != value.Object {
		s = value.ObjectValue()
	}
	k := newSecret()
	s = s.With("jobTokenKey", str(k))
	return k, m.putSecrets(ctx, tx, &store.Object{Kind: KindSecrets, Key: ws.Key(), Body: []byte(s.JSON()), UpdatedAt: now})
}

func jobToken(job *arm.ID, key string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte("job\n" + job.Key() + "\n" + e))
	return "amljob." + e + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// JobCall is one call of a job's call-back API.
type JobCall struct {
	Job *arm.ID
	// Bearer is the job's token; or Caller, a user's verified ARM
	// caller (reads only: workspaces/jobs/read).
	Bearer string
	Caller *activitylog.Caller
	// What is status, metrics or logs; Body is a POST's body (nil: a
	// GET).
	What string
	Body []byte
}

// jobStatuses a runner may report, and the final ones.
var jobStatuses = map[string]string{"running": "Running", "completed": "Completed", "failed": "Failed", "canceled": "Canceled"}

func finalStatus(s string) bool {
	switch strings.ToLower(s) {
	case "completed", "failed", "canceled":
		return true
	}
	return false
}

// JobCallback serves the job's call-back API and answers its JSON.
func (m *Manager) JobCallback(ctx context.Context, c JobCall) (json.RawMessage, error) {
	id := c.Job
	ws := id.Parent()
	now := m.cfg.Now()
	write := c.Body != nil
	if c.Bearer == "" || !strings.HasPrefix(c.Bearer, "amljob.") {
		if c.Caller == nil {
			return nil, statusErr(401, "AuthenticationFailed", "The job API takes the job's token (or, to read, an ARM token).")
		}
		if write {
			return nil, statusErr(403, "AuthorizationFailed", "Only the job itself (its token) reports its %s.", c.What)
		}
		if err := m.Authorize(ctx, c.Caller, typeJob+"/read", id.String()); err != nil {
			return nil, err
		}
	}
	var out json.RawMessage
	err := m.st.Write(ctx, func(tx store.Tx) error {
		res, err := tx.GetResource(ctx, id.Key(), true)
		if errors.Is(err, store.ErrNotFound) {
			if c.Caller == nil {
				return statusErr(401, "AuthenticationFailed", "The token is not a token of the job '%s'.", id.Name())
			}
			return statusErr(404, "ResourceNotFound", "The job '%s' does not exist.", id.Name())
		} else if err != nil {
			return err
		}
		if strings.HasPrefix(c.Bearer, "amljob.") {
			s, err := m.loadSecrets(ctx, tx, ws)
			if err != nil {
				return err
			}
			if !jobTokenValid(c.Bearer, id, s.Field("jobTokenKey").Str(), now) {
				return statusErr(401, "AuthenticationFailed", "The token is not a valid token of the job '%s' (job tokens are valid for their job only, %s).", id.Name(), JobTokenLifetime)
			}
		}
		body, err := value.Parse(res.Body)
		if err != nil {
			return err
		}
		switch c.What {
		case "status":
			if write {
				var in struct {
					Status   string `json:"status"`
					ExitCode *int   `json:"exitCode"`
					Error    string `json:"error"`
				}
				if err := json.Unmarshal(c.Body, &in); err != nil {
					return statusErr(400, "InvalidRequestContent", "The status report is not valid JSON: %s.", err)
				}
				st, ok := jobStatuses[strings.ToLower(in.Status)]
				if !ok {
					return statusErr(400, "InvalidRequestContent", "The status '%s' is not one a runner reports: Running, Completed, Failed or Canceled.", arm.Clip(in.Status, 64))
				}
				cur := body.Field("properties").Field("status").Str()
				if finalStatus(cur) {
					return statusErr(409, "Conflict", "The job has finished (%s): its status does not change.", cur)
				}
				if strings.EqualFold(cur, "CancelRequested") && st == "Running" {
					st = cur
				}
				body = set(body, str(st), "properties", "status")
				if in.ExitCode != nil {
					body = set(body, str(strconv.Itoa(*in.ExitCode)), "properties", "properties", "mlgov.exitCode")
				}
				if in.Error != "" {
					body = set(body, str(arm.Clip(in.Error, 1000)), "properties", "properties", "mlgov.error")
				}
				if err := m.putJob(ctx, tx, id, res, body, &activitylog.Caller{Name: "job " + id.Name(), Type: "Job"}, now); err != nil {
					return err
				}
			}
			st := body.Field("properties").Field("status").Str()
			out, _ = json.Marshal(map[string]any{"status": st, "cancelRequested": strings.EqualFold(st, "CancelRequested")})
		case "metrics":
			o, err := tx.GetObject(ctx, KindJobMetrics, id.Key())
			metrics := map[string][]float64{}
			if err == nil {
				json.Unmarshal(o.Body, &metrics)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if write {
				var in struct {
					Metrics map[string]float64 `json:"metrics"`
				}
				if err := json.Unmarshal(c.Body, &in); err != nil || len(in.Metrics) == 0 {
					return statusErr(400, "InvalidRequestContent", "A metrics report is {\"metrics\": {\"name\": number, ...}}.")
				}
				for k, v := range in.Metrics {
					if len(metrics[k]) < 100000 {
						metrics[k] = append(metrics[k], v)
					}
				}
				b, _ := json.Marshal(metrics)
				if err := tx.PutObject(ctx, &store.Object{Kind: KindJobMetrics, Key: id.Key(), Body: b, UpdatedAt: now}); err != nil {
					return err
				}
			}
			out, _ = json.Marshal(map[string]any{"metrics": metrics})
		case "logs":
			o, err := tx.GetObject(ctx, KindJobLogs, id.Key())
			var log []byte
			if err == nil {
				log = o.Body
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if write {
				log = append(log, c.Body...)
				if len(log) > maxJobLog {
					log = log[len(log)-maxJobLog:]
				}
				if err := tx.PutObject(ctx, &store.Object{Kind: KindJobLogs, Key: id.Key(), Body: log, UpdatedAt: now}); err != nil {
					return err
				}
			}
			out, _ = json.Marshal(map[string]any{"logs": string(log)})
		default:
			return statusErr(404, "NotFound", "The job API serves status, metrics and logs, not '%s'.", arm.Clip(c.What, 64))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if write {
		m.notify(nil)
	}
	return out, nil
}

func jobTokenValid(tok string, job *arm.ID, key string, now time.Time) bool {
	parts := strings.Split(tok, ".")
	if key == "" || len(parts) != 3 {
		return false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return false
	}
	return hmac.Equal([]byte(tok), []byte(jobToken(job, key, time.Unix(exp, 0))))
}

// typeUserAssignedIdentity is the type of user-assigned identities.
const typeUserAssignedIdentity = "Microsoft.ManagedIdentity/userAssignedIdentities"

// ManagedIdentity is a managed identity a job runs as.
type ManagedIdentity struct {
	// ResourceID is the identity's resource: the compute for its
	// system-assigned identity, else the userAssignedIdentities resource
	// (a token's xms_mirid).
	ResourceID string
	// ObjectID is its principal id (a token's oid); ClientID its client
	// id ("" for a system-assigned identity: its object id).
	ObjectID, ClientID string
	// Host is the resource that has a user-assigned identity (the
	// compute); "" for a system-assigned identity.
	Host string
}

// IdentitySelector chooses one of a compute's identities, as the query
// parameters of Azure's managed-identity endpoints do (IMDS's client_id,
// object_id, msi_res_id; App Service's client_id, principal_id,
// mi_res_id). At most one is set; none chooses the system-assigned
// identity, or else the only user-assigned one.
type IdentitySelector struct {
	ClientID, ObjectID, ResourceID string
}

// JobIdentity returns the managed identity a job runs as, one of its
// compute's (sel). The call carries the job's token, checked as
// JobCallback checks it.
func (m *Manager) JobIdentity(ctx context.Context, c JobCall, sel IdentitySelector) (*ManagedIdentity, error) {
	id := c.Job
	now := m.cfg.Now()
	n := 0
	for _, v := range []string{sel.ClientID, sel.ObjectID, sel.ResourceID} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return nil, statusErr(400, "InvalidIdentitySelector", "Choose the identity with one of client_id, object_id (principal_id) or msi_res_id (mi_res_id), not several.")
	}
	var out *ManagedIdentity
	err := m.st.Read(ctx, func(tx store.Tx) error {
		res, err := tx.GetResource(ctx, id.Key(), false)
		if errors.Is(err, store.ErrNotFound) {
			return statusErr(401, "AuthenticationFailed", "The token is not a token of the job '%s'.", id.Name())
		} else if err != nil {
			return err
		}
		s, err := m.loadSecrets(ctx, tx, id.Parent())
		if err != nil {
			return err
		}
		if !jobTokenValid(c.Bearer, id, s.Field("jobTokenKey").Str(), now) {
			return statusErr(401, "AuthenticationFailed", "The token is not a valid token of the job '%s'.", id.Name())
		}
		body, err := value.Parse(res.Body)
		if err != nil {
			return err
		}
		compute := strings.TrimRight(body.Field("properties").Field("computeId").Str(), "/")
		cres, err := tx.GetResource(ctx, arm.KeyOf(compute), false)
		if errors.Is(err, store.ErrNotFound) {
			return statusErr(400, "NoManagedIdentity", "The job '%s' has no compute, so no managed identity.", id.Name())
		} else if err != nil {
			return err
		}
		cb, err := value.Parse(cres.Body)
		if err != nil {
			return err
		}
		out, err = pickIdentity(cres.ID, cb.Field("identity"), sel)
		if err != nil || out.Host == "" {
			return err
		}
		// A user-assigned identity: it must still exist, as the
		// compute names it (a new identity of the same name is
		// another principal).
		ures, err := tx.GetResource(ctx, arm.KeyOf(out.ResourceID), false)
		if errors.Is(err, store.ErrNotFound) {
			return statusErr(400, "IdentityNotFound", "The user-assigned identity '%s' of the compute '%s' does not exist.", out.ResourceID, cres.ID)
		} else if err != nil {
			return err
		}
		ub, err := value.Parse(ures.Body)
		if err != nil {
			return err
		}
		if !strings.EqualFold(ub.Field("properties").Field("principalId").Str(), out.ObjectID) {
			return statusErr(400, "IdentityNotFound", "The user-assigned identity '%s' is not the one the compute '%s' was given (it was made again): write the compute again with it.", out.ResourceID, cres.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pickIdentity chooses sel among the identities of the compute (its
// identity object), as Azure's managed-identity endpoints do.
func pickIdentity(compute string, ident value.Value, sel IdentitySelector) (*ManagedIdentity, error) {
	t := strings.ToLower(ident.Field("type").Str())
	var sys *ManagedIdentity
	if strings.Contains(t, "systemassigned") && ident.Field("principalId").Str() != "" {
		sys = &ManagedIdentity{ResourceID: compute, ObjectID: ident.Field("principalId").Str()}
	}
	var users []*ManagedIdentity
	if uais := ident.Field("userAssignedIdentities"); strings.Contains(t, "userassigned") && uais.Kind() == value.Object {
		for i := 0; i < uais.Len(); i++ {
			k, v := uais.MemberAt(i)
			if pid := v.Field("principalId").Str(); pid != "" {
				users = append(users, &ManagedIdentity{ResourceID: k, ObjectID: pid, ClientID: v.Field("clientId").Str(), Host: compute})
			}
		}
	}
	if sys == nil && len(users) == 0 {
		return nil, statusErr(400, "NoManagedIdentity", "The compute '%s' has no managed identity (identity.type SystemAssigned or UserAssigned): its jobs get no managed-identity token.", compute)
	}
	if sel == (IdentitySelector{}) {
		switch {
		case sys != nil:
			return sys, nil
		case len(users) == 1:
			return users[0], nil
		}
		return nil, statusErr(400, "MultipleUserAssignedIdentities", "The compute '%s' has %d user-assigned identities and no system-assigned one: choose one with client_id, object_id (principal_id) or msi_res_id (mi_res_id).", compute, len(users))
	}
	if sys != nil && strings.EqualFold(sel.ObjectID, sys.ObjectID) {
		return sys, nil
	}
	for _, u := range users {
		if sel.ClientID != "" && strings.EqualFold(sel.ClientID, u.ClientID) || sel.ObjectID != "" && strings.EqualFold(sel.ObjectID, u.ObjectID) ||
			sel.ResourceID != "" && strings.EqualFold(strings.TrimRight(sel.ResourceID, "/"), u.ResourceID) {
			return u, nil
		}
	}
	what, v := "client id", sel.ClientID
	if sel.ObjectID != "" {
		what, v = "object id", sel.ObjectID
	} else if sel.ResourceID != "" {
		what, v = "resource id", sel.ResourceID
	}
	return nil, statusErr(400, "IdentityNotFound", "The compute '%s' has no managed identity with the %s '%s'.", compute, what, arm.Clip(v, 300))
}

// HasManagedIdentity reports whether the resource resourceID has the
// managed identity objectID (authn.Config.ManagedIdentity): its
// system-assigned identity (host "" or resourceID), or, for a
// user-assigned identity, itself; and, with a host, whether the host
// still names that user-assigned identity as its own.
func (m *Manager) HasManagedIdentity(ctx context.Context, host, resourceID, objectID string) (bool, error) {
	id, err := arm.ParseID(resourceID)
	if err != nil {
		return false, nil
	}
	uai := strings.EqualFold(id.Type(), typeUserAssignedIdentity)
	keys := []string{id.Key()}
	if host != "" && !strings.EqualFold(host, resourceID) {
		if !uai {
			return false, nil
		}
		keys = append(keys, arm.KeyOf(host))
	}
	rs, err := store.GetResources(ctx, m.st, keys...)
	if err != nil {
		return false, err
	}
	for _, r := range rs {
		if r == nil {
			return false, nil
		}
	}
	body, err := value.Parse(rs[0].Body)
	if err != nil {
		return false, err
	}
	pid := body.Field("identity").Field("principalId")
	if uai {
		pid = body.Field("properties").Field("principalId")
	} else if !strings.Contains(strings.ToLower(body.Field("identity").Field("type").Str()), "systemassigned") {
		return false, nil
	}
	if !strings.EqualFold(pid.Str(), objectID) {
		return false, nil
	}
	if len(rs) == 1 {
		return true, nil
	}
	hb, err := value.Parse(rs[1].Body)
	if err != nil {
		return false, err
	}
	ident := hb.Field("identity")
	if !strings.Contains(strings.ToLower(ident.Field("type").Str()), "userassigned") {
		return false, nil
	}
	uais := ident.Field("userAssignedIdentities")
	for i := 0; i < uais.Len(); i++ {
		k, v := uais.MemberAt(i)
		if strings.EqualFold(strings.TrimRight(k, "/"), strings.TrimRight(resourceID, "/")) {
			return strings.EqualFold(v.Field("principalId").Str(), objectID), nil
		}
	}
	return false, nil
}

// ChangesManagedIdentities reports whether a committed write (nil: a
// background one) may change which managed identities resources have:
// a cache of them (authn's) is then dropped.
func ChangesManagedIdentities(a *Attributes) bool {
	if a == nil || a.Spec == nil {
		return true
	}
	switch strings.ToLower(a.Spec.Type) {
	case strings.ToLower(typeUserAssignedIdentity), strings.ToLower(mlNamespace + "/workspaces"), strings.ToLower(mlNamespace + "/workspaces/computes"):
		return true
	}
	return !a.Object.Field("identity").IsUndefined() || !a.OldObject.Field("identity").IsUndefined()
}
