package resources

import (
	"context"
	"errors"
	"strings"

	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// ErrNotJobToken is VerifyJobToken's answer for a token that is not the
// job's, a job that does not exist or has finished.
var ErrNotJobToken = errors.New("not a valid token of a running job")

// VerifyJobToken checks a job's token (as the job API checks it) for the
// egress proxy, which a job authenticates to with its id and token, and
// returns the job's workspace. A job that has finished (Completed,
// Failed, Canceled) is refused: its token opens no more connections.
func (m *Manager) VerifyJobToken(ctx context.Context, jobID, token string) (*arm.ID, error) {
	id, err := arm.ParseID(jobID)
	if err != nil || len(id.Parts) != 2 || !strings.EqualFold(id.Type(), typeJob) || !strings.HasPrefix(token, "amljob.") {
		return nil, ErrNotJobToken
	}
	ws := id.Parent()
	now := m.cfg.Now()
	err = m.st.Read(ctx, func(tx store.Tx) error {
		res, err := tx.GetResource(ctx, id.Key(), false)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotJobToken
		} else if err != nil {
			return err
		}
		s, err := m.loadSecrets(ctx, tx, ws)
		if err != nil {
			return err
		}
		if !jobTokenValid(token, id, s.Field("jobTokenKey").Str(), now) {
			return ErrNotJobToken
		}
		body, err := value.Parse(res.Body)
		if err != nil {
			return err
		}
		if finalStatus(body.Field("properties").Field("status").Str()) {
			return ErrNotJobToken
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ws, nil
}
