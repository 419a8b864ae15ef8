package netns

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestNamespaces: each namespace reaches a listener on the host, which
// sees the namespace's own address as the peer.
func TestNamespaces(t *testing.T) {
	nt := New(t, 2)
	ln, err := net.Listen("tcp", nt.Host(0).String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan string, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			peers <- host
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		// bash's /dev/tcp: no client program needed.
		out, err := nt.Command(ctx, i, "bash", "-c", "exec 3<>/dev/tcp/"+nt.Host(0).String()+"/"+port).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("namespace %d: %v %s", i, err, out)
		}
		select {
		case p := <-peers:
			if p != nt.Addr(i).String() {
				t.Errorf("namespace %d connected from %s, want %s", i, p, nt.Addr(i))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("namespace %d: no connection", i)
		}
	}
}
