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
// (JobCallback: status, metrics, logs) for that workspace and that job
// only; the job's status answer says when a cancel was requested.

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

// JobIdentity returns the managed identity a job runs as: its
// compute's system-assigned identity (the resource and the principal).
// The call carries the job's token, checked as JobCallback checks it.
func (m *Manager) JobIdentity(ctx context.Context, c JobCall) (resourceID, objectID string, err error) {
	id := c.Job
	now := m.cfg.Now()
	err = m.st.Read(ctx, func(tx store.Tx) error {
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
		ident := cb.Field("identity")
		if !strings.Contains(strings.ToLower(ident.Field("type").Str()), "systemassigned") || ident.Field("principalId").Str() == "" {
			return statusErr(400, "NoManagedIdentity", "The compute '%s' has no system-assigned identity (identity.type SystemAssigned): its jobs get no managed-identity token.", cres.ID)
		}
		resourceID, objectID = cres.ID, ident.Field("principalId").Str()
		return nil
	})
	return resourceID, objectID, err
}

// HasManagedIdentity reports whether the resource has the managed
// identity objectID: its system-assigned identity, or, for a
// user-assigned identity, itself (authn.Config.ManagedIdentity).
func (m *Manager) HasManagedIdentity(ctx context.Context, resourceID, objectID string) (bool, error) {
	id, err := arm.ParseID(resourceID)
	if err != nil {
		return false, nil
	}
	rs, err := store.GetResources(ctx, m.st, id.Key())
	if err != nil || rs[0] == nil {
		return false, err
	}
	body, err := value.Parse(rs[0].Body)
	if err != nil {
		return false, err
	}
	pid := body.Field("identity").Field("principalId")
	if strings.EqualFold(id.Type(), "Microsoft.ManagedIdentity/userAssignedIdentities") {
		pid = body.Field("properties").Field("principalId")
	}
	return strings.EqualFold(pid.Str(), objectID), nil
}
