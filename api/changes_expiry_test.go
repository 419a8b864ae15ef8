package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
)

type expiringCaller struct{ exp time.Time }

func (e expiringCaller) Authenticate(context.Context, string) (*activitylog.Caller, error) {
	return &activitylog.Caller{ObjectID: "o", Claims: []byte(`{"exp":` + strconv.FormatInt(e.exp.Unix(), 10) + `}`)}, nil
}

// TestChangesEndAtTokenExpiry: the stream ends when the caller's token
// expires, saying so.
func TestChangesEndAtTokenExpiry(t *testing.T) {
	sub := &chanSub{ch: make(chan []byte), done: make(chan struct{})}
	srv := &Server{Auth: expiringCaller{exp: time.Now().Add(2 * time.Second)}, Changes: func(context.Context, *activitylog.Caller, string) (ChangeSubscription, error) {
		return sub, nil
	}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/providers/Mlgov.Governance/changes?api-version="+ChangesAPIVersion, nil)
	req.Header.Set("Authorization", "Bearer x")
	start := time.Now()
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body) // until the server ends the stream
	if err != nil {
		t.Fatalf("the stream did not end at the token's expiry: %v (read %q)", err, b)
	}
	if took := time.Since(start); took < time.Second || took > 5*time.Second || !strings.Contains(string(b), ": token expired") {
		t.Errorf("the stream ended after %v with %q", took, b)
	}
}
