package api

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/activitylog"
)

type anyCaller struct{}

func (anyCaller) Authenticate(context.Context, string) (*activitylog.Caller, error) {
	return &activitylog.Caller{ObjectID: "o", Claims: []byte(`{"exp":4102444800}`)}, nil
}

type chanSub struct {
	ch   chan []byte
	done chan struct{}
}

func (c *chanSub) Events() <-chan []byte    { return c.ch }
func (c *chanSub) Dropped() <-chan struct{} { return c.done }
func (c *chanSub) Close()                   {}

// TestChangesOutlivesTimeouts: the stream stays open, and delivers, past
// the http.Server's ReadTimeout and WriteTimeout; an event is flushed at
// once.
func TestChangesOutlivesTimeouts(t *testing.T) {
	sub := &chanSub{ch: make(chan []byte, 1), done: make(chan struct{})}
	var gotScope string
	srv := &Server{Auth: anyCaller{}, Changes: func(_ context.Context, _ *activitylog.Caller, scope string) (ChangeSubscription, error) {
		gotScope = scope
		return sub, nil
	}}
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ReadTimeout = 200 * time.Millisecond
	ts.Config.WriteTimeout = 200 * time.Millisecond
	ts.Start()
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/subscriptions/S1/providers/Mlgov.Governance/changes?api-version="+ChangesAPIVersion, nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if gotScope != "/subscriptions/S1" {
		t.Errorf("scope %q", gotScope)
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), ":") {
		t.Fatalf("first line %q", sc.Text())
	}
	time.Sleep(600 * time.Millisecond) // past both timeouts
	sub.ch <- []byte(`{"kind":"resource"}`)
	got := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data: ") {
				got <- sc.Text()
				return
			}
		}
		got <- "the stream ended: " + sc.Err().Error()
	}()
	select {
	case line := <-got:
		if line != `data: {"kind":"resource"}` {
			t.Errorf("got %q", line)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the event was not flushed")
	}
}
