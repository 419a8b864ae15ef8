package resources

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mlgov/mlgov/activitylog"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/policy/value"
	"github.com/mlgov/mlgov/store"
)

// A job's outputs (docs/runner.md): the files the job wrote under its
// outputs directory, uploaded by its runner with the job's token, one
// PUT a file, while the job runs. They are kept in the store: an index
// per job (KindJobOutputs, the job's key) and one object per file
// (KindJobOutput, the job's key + "/outputs/" + the path), written
// together in one transaction, and deleted with the job. Users list and
// download them with an ARM token and both
// Microsoft.MachineLearningServices/workspaces/jobs/read and
// .../workspaces/metadata/artifacts/read (Azure ML's action for a run's
// artifacts, which its outputs are) on the job.

// Store object kinds of a job's outputs.
const (
	KindJobOutputs = "jobOutputs"
	KindJobOutput  = "jobOutput"
)

// Bounds of a job's outputs.
const (
	// MaxJobOutputFile is the largest file.
	MaxJobOutputFile = 4 << 20
	// MaxJobOutputTotal is the most a job's files hold together.
	MaxJobOutputTotal = 16 << 20
	// MaxJobOutputFiles is the most files a job has.
	MaxJobOutputFiles = 100
	// MaxJobOutputPath is the longest path (bytes).
	MaxJobOutputPath = 512
)

// actionArtifactsRead is the action that reads a job's outputs, besides
// jobs/read.
const actionArtifactsRead = mlNamespace + "/workspaces/metadata/artifacts/read"

// OutputFile is one file of a job's outputs, as listed.
type OutputFile struct {
	Path         string `json:"path"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	LastModified string `json:"lastModified"`
}

// outputIndex is the stored index of a job's outputs (sorted by path).
type outputIndex struct {
	Files []OutputFile `json:"files"`
}

func outputKey(job *arm.ID, path string) string { return job.Key() + "/outputs/" + path }

// ValidOutputPath checks the path of an output file: relative, with
// '/' between non-empty segments other than "." and "..", no
// backslash or control character, valid UTF-8, at most
// MaxJobOutputPath bytes.
func ValidOutputPath(p string) error {
	bad := func(why string) error {
		return statusErr(400, "InvalidOutputPath", "The output path '%s' is not valid: %s.", arm.Clip(p, 300), why)
	}
	switch {
	case p == "":
		return bad("it is empty")
	case len(p) > MaxJobOutputPath:
		return bad("it is longer than 512 bytes")
	case !utf8.ValidString(p):
		return bad("it is not UTF-8")
	case strings.HasPrefix(p, "/"):
		return bad("it is absolute; paths are relative to the outputs directory")
	case strings.ContainsRune(p, '\\'):
		return bad("it contains a backslash; segments are separated by '/'")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return bad("it contains a control character")
		}
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return bad("it has an empty segment")
		case ".", "..":
			return bad("it has a '" + seg + "' segment")
		}
	}
	return nil
}

// authorizeOutputs checks a user's read of a job's outputs.
func (m *Manager) authorizeOutputs(ctx context.Context, caller *activitylog.Caller, job *arm.ID) error {
	if err := m.Authorize(ctx, caller, typeJob+"/read", job.String()); err != nil {
		return err
	}
	return m.Authorize(ctx, caller, actionArtifactsRead, job.String())
}

// jobCallFor checks a call's credentials in the transaction tx: the
// job's token (then token is true), or else a user (c.Caller, already
// authorized); it returns the job.
func (m *Manager) jobCallFor(ctx context.Context, tx store.Tx, c JobCall, forUpdate bool, now time.Time) (*store.Resource, error) {
	id := c.Job
	res, err := tx.GetResource(ctx, id.Key(), forUpdate)
	if errors.Is(err, store.ErrNotFound) {
		if c.Caller == nil {
			return nil, statusErr(401, "AuthenticationFailed", "The token is not a token of the job '%s'.", id.Name())
		}
		return nil, statusErr(404, "ResourceNotFound", "The job '%s' does not exist.", id.Name())
	} else if err != nil {
		return nil, err
	}
	if c.Caller == nil {
		s, err := m.loadSecrets(ctx, tx, id.Parent())
		if err != nil {
			return nil, err
		}
		if !jobTokenValid(c.Bearer, id, s.Field("jobTokenKey").Str(), now) {
			return nil, statusErr(401, "AuthenticationFailed", "The token is not a valid token of the job '%s' (job tokens are valid for their job only, %s).", id.Name(), JobTokenLifetime)
		}
	}
	return res, nil
}

// jobOutputCaller checks who calls: the job's token, or a user allowed
// to read outputs (write false).
func (m *Manager) jobOutputCaller(ctx context.Context, c *JobCall, write bool) error {
	if strings.HasPrefix(c.Bearer, "amljob.") {
		c.Caller = nil
		return nil
	}
	if c.Caller == nil {
		return statusErr(401, "AuthenticationFailed", "The job API takes the job's token (or, to read, an ARM token).")
	}
	if write {
		return statusErr(403, "AuthorizationFailed", "Only the job itself (its token) uploads its outputs.")
	}
	return m.authorizeOutputs(ctx, c.Caller, c.Job)
}

func loadOutputIndex(ctx context.Context, tx store.Tx, job *arm.ID) (*outputIndex, error) {
	var idx outputIndex
	o, err := tx.GetObject(ctx, KindJobOutputs, job.Key())
	if errors.Is(err, store.ErrNotFound) {
		return &idx, nil
	} else if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(o.Body, &idx); err != nil {
		return nil, err
	}
	return &idx, nil
}

// PutJobOutput stores the file path of the job's outputs (replacing
// what was stored at that path), with the job's token, while the job
// has not finished.
func (m *Manager) PutJobOutput(ctx context.Context, c JobCall, path string, data []byte) (*OutputFile, error) {
	if err := m.jobOutputCaller(ctx, &c, true); err != nil {
		return nil, err
	}
	if err := ValidOutputPath(path); err != nil {
		return nil, err
	}
	if len(data) > MaxJobOutputFile {
		return nil, statusErr(413, "RequestEntityTooLarge", "The output '%s' is %d bytes; a file of a job's outputs is at most %d bytes.", arm.Clip(path, 300), len(data), MaxJobOutputFile)
	}
	now := m.cfg.Now()
	var out OutputFile
	err := m.st.Write(ctx, func(tx store.Tx) error {
		res, err := m.jobCallFor(ctx, tx, c, true, now)
		if err != nil {
			return err
		}
		body, err := value.Parse(res.Body)
		if err != nil {
			return err
		}
		if st := body.Field("properties").Field("status").Str(); finalStatus(st) {
			return statusErr(409, "Conflict", "The job has finished (%s): its outputs do not change.", st)
		}
		idx, err := loadOutputIndex(ctx, tx, c.Job)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out = OutputFile{Path: path, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), LastModified: now.UTC().Format(time.RFC3339Nano)}
		i, found := slices.BinarySearchFunc(idx.Files, path, func(f OutputFile, p string) int { return strings.Compare(f.Path, p) })
		total := out.Size
		for j, f := range idx.Files {
			if !(found && j == i) {
				total += f.Size
			}
		}
		if !found && len(idx.Files) >= MaxJobOutputFiles {
			return statusErr(413, "RequestEntityTooLarge", "The job has %d output files, the most a job has: '%s' is not stored.", MaxJobOutputFiles, arm.Clip(path, 300))
		}
		if total > MaxJobOutputTotal {
			return statusErr(413, "RequestEntityTooLarge", "With '%s', the job's outputs would hold %d bytes; a job's outputs hold at most %d bytes.", arm.Clip(path, 300), total, MaxJobOutputTotal)
		}
		if found {
			idx.Files[i] = out
		} else {
			idx.Files = slices.Insert(idx.Files, i, out)
		}
		b, err := json.Marshal(idx)
		if err != nil {
			return err
		}
		if err := tx.PutObject(ctx, &store.Object{Kind: KindJobOutput, Key: outputKey(c.Job, path), Body: data, UpdatedAt: now}); err != nil {
			return err
		}
		return tx.PutObject(ctx, &store.Object{Kind: KindJobOutputs, Key: c.Job.Key(), Body: b, UpdatedAt: now})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// JobOutputs lists the job's outputs, for the job's token or a user
// allowed to read them.
func (m *Manager) JobOutputs(ctx context.Context, c JobCall) ([]OutputFile, error) {
	out := []OutputFile{}
	err := m.readOutputs(ctx, c, nil, func(tx store.Tx, idx *outputIndex) error {
		if idx.Files != nil {
			out = idx.Files
		}
		return nil
	})
	return out, err
}

// JobOutput returns one file of the job's outputs, for the job's token
// or a user allowed to read them.
func (m *Manager) JobOutput(ctx context.Context, c JobCall, path string) (*OutputFile, []byte, error) {
	var f OutputFile
	var data []byte
	err := m.readOutputs(ctx, c, func() error { return ValidOutputPath(path) }, func(tx store.Tx, idx *outputIndex) error {
		i, found := slices.BinarySearchFunc(idx.Files, path, func(f OutputFile, p string) int { return strings.Compare(f.Path, p) })
		if !found {
			return statusErr(404, "OutputNotFound", "The job '%s' has no output '%s'.", c.Job.Name(), arm.Clip(path, 300))
		}
		o, err := tx.GetObject(ctx, KindJobOutput, outputKey(c.Job, path))
		if err != nil {
			return err // the index names it: it is there
		}
		f, data = idx.Files[i], o.Body
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return &f, data, nil
}

// readOutputs checks the caller of a read of a job's outputs, then the
// request (check, nil: nothing more), then runs fn with the job's output
// index in a read transaction.
func (m *Manager) readOutputs(ctx context.Context, c JobCall, check func() error, fn func(tx store.Tx, idx *outputIndex) error) error {
	if err := m.jobOutputCaller(ctx, &c, false); err != nil {
		return err
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	now := m.cfg.Now()
	return m.st.Read(ctx, func(tx store.Tx) error {
		if _, err := m.jobCallFor(ctx, tx, c, false, now); err != nil {
			return err
		}
		idx, err := loadOutputIndex(ctx, tx, c.Job)
		if err != nil {
			return err
		}
		return fn(tx, idx)
	})
}

// deleteJobOutputs deletes a job's output files (its index is one of
// the type's objects, deleted after).
func deleteJobOutputs(ctx context.Context, tx store.Tx, key string) error {
	o, err := tx.GetObject(ctx, KindJobOutputs, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	var idx outputIndex
	if err := json.Unmarshal(o.Body, &idx); err != nil {
		return err
	}
	for _, f := range idx.Files {
		if err := tx.DeleteObject(ctx, KindJobOutput, key+"/outputs/"+f.Path); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}
