package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/sqlite"
)

const crashEnv = "MLGOV_SQLITE_CRASH_DB"

// TestCrashDurability checks the durability claim of the package docs: with
// WAL and synchronous=NORMAL, every Write that returned survives a SIGKILL
// of the process. A child process (this test binary) writes resources in a
// loop and reports each committed Seq on stdout; the parent kills it with
// SIGKILL mid-stream, reopens the database and looks for every reported
// write.
func TestCrashDurability(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed := map[string]int64{}
	sc := bufio.NewScanner(out)
	const kill = 2000
	for sc.Scan() && len(committed) < kill {
		key, seq, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(seq, 10, 64)
		if err != nil {
			t.Fatalf("child wrote %q", sc.Text())
		}
		committed[key] = n
	}
	// SIGKILL: no deferred Close, no checkpoint, no clean shutdown.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(committed) < kill {
		t.Fatalf("child reported only %d commits before it stopped", len(committed))
	}
	if fi, err := os.Stat(path + "-wal"); err == nil {
		t.Logf("killed writer after %d acknowledged commits; WAL left behind: %d bytes", len(committed), fi.Size())
	}

	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer db.Close()
	err = db.Read(t.Context(), func(tx store.Tx) error {
		for key, seq := range committed {
			r, err := tx.GetResource(t.Context(), key, false)
			if err != nil {
				return fmt.Errorf("acknowledged write of %s lost: %w", key, err)
			}
			if r.Seq < seq {
				return fmt.Errorf("%s: Seq %d, want >= %d", key, r.Seq, seq)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The child kept the sequence counter in memory and never stored it:
	// the next number still comes after every committed one.
	var last int64
	for _, seq := range committed {
		last = max(last, seq)
	}
	r := &store.Resource{Key: "/after-crash", ID: "/after-crash", TypeKey: "t", Body: []byte("{}"), ETag: "e"}
	if err := db.Write(t.Context(), func(tx store.Tx) error { return tx.PutResource(t.Context(), r) }); err != nil {
		t.Fatalf("write after reopening: %v", err)
	}
	if r.Seq <= last {
		t.Errorf("write after reopening: Seq %d, want > %d", r.Seq, last)
	}
}

// crashChild writes until it is killed, printing "key seq" after each
// Write has returned.
func crashChild(path string) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	deadline := time.Now().Add(time.Minute)
	for i := 0; time.Now().Before(deadline); i++ {
		key := fmt.Sprintf("/crash/%06d", i)
		r := &store.Resource{Key: key, ID: key, TypeKey: "t", Body: []byte(`{"n":` + strconv.Itoa(i) + `}`), ETag: "e"}
		if err := db.Write(ctx, func(tx store.Tx) error { return tx.PutResource(ctx, r) }); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		// os.Stdout is unbuffered: the parent sees the line as soon as
		// the commit has returned.
		fmt.Printf("%s %d\n", key, r.Seq)
	}
	os.Exit(3)
}
