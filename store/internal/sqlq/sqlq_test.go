package sqlq

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mlgov/mlgov/store"
)

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		prefix, want string
		ok           bool
	}{
		{"", "", false},
		{"/a/", "/a0", true},
		{"/a/b", "/a/c", true},
		{"/ä", "/å", true},
		{"/\uD7FF", "/\uE000", true},
		{"/\U0010FFFF", "0", true},
		{"\U0010FFFF\U0010FFFF", "", false},
		{"a\xff", "b", true},
		{"a\xfe", "a\xff", true},
	} {
		got, ok := PrefixEnd(tc.prefix)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PrefixEnd(%q) = %q, %v; want %q, %v", tc.prefix, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzPrefixEnd checks the defining property on valid UTF-8: s has the
// prefix p exactly when p <= s < PrefixEnd(p), and the bound is valid
// UTF-8 too.
func FuzzPrefixEnd(f *testing.F) {
	for _, s := range [][2]string{{"/a/", "/a/b"}, {"/a", "/a0"}, {"ä", "å"}, {"\U0010FFFF", "\U0010FFFFx"}, {"\uD7FF", "\uE000"}, {"x\xff", "y"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if !utf8.ValidString(p) || !utf8.ValidString(s) {
			return // keys are valid UTF-8 (the stores reject anything else)
		}
		end, ok := PrefixEnd(p)
		in := s >= p && (!ok || s < end)
		if in != strings.HasPrefix(s, p) {
			t.Errorf("p=%q s=%q end=%q ok=%v: range says %v, HasPrefix says %v", p, s, end, ok, in, !in)
		}
		if ok && !utf8.ValidString(end) {
			t.Errorf("PrefixEnd(%q) = %q, not valid UTF-8", p, end)
		}
	})
}

func TestListQueries(t *testing.T) {
	sqlite := Dialect{Time: func(t time.Time) any { return t.UnixMicro() }}
	pg := Dialect{Dollar: true, Time: func(t time.Time) any { return t }}
	q := store.ListQuery{ParentKey: "p", TypeKey: "t", KeyPrefix: "/a/", After: "/a/b", Limit: 10}
	for _, tc := range []struct {
		d    Dialect
		want string
	}{
		{sqlite, "SELECT key FROM resources WHERE 1=1 AND parent_key = ? AND type_key = ? AND key >= ? AND key < ? AND key > ? ORDER BY key LIMIT ?"},
		{pg, "SELECT key FROM resources WHERE 1=1 AND parent_key = $1 AND type_key = $2 AND key >= $3 AND key < $4 AND key > $5 ORDER BY key LIMIT $6"},
	} {
		got, args := ListResources(tc.d, "key", q)
		if got != tc.want || len(args) != 6 || args[3] != "/a0" {
			t.Errorf("ListResources(Dollar=%v) = %q %v,\nwant %q", tc.d.Dollar, got, args, tc.want)
		}
	}
	// With MaxBytes the rows past the byte bound are cut in the query.
	q.MaxBytes = 4096
	pg.ByteLength = "octet_length"
	got, args := ListResources(pg, "key, body", q)
	want := "SELECT key, body FROM (SELECT key, body, SUM(octet_length(body)) OVER (ORDER BY key ROWS UNBOUNDED PRECEDING) - octet_length(body) AS bytes_before FROM resources" +
		" WHERE 1=1 AND parent_key = $1 AND type_key = $2 AND key >= $3 AND key < $4 AND key > $5 ORDER BY key LIMIT $6) AS page WHERE bytes_before < $7 ORDER BY key"
	if got != want || len(args) != 7 || args[6] != 4096 {
		t.Errorf("ListResources with MaxBytes = %q %v,\nwant %q", got, args, want)
	}
	ts := time.Unix(100, 0)
	got, args = ListEvents(pg, "SELECT seq FROM events", store.EventQuery{SubscriptionKey: "s", AfterSeq: 7, Limit: 2},
		EventCursor{Seq: 7, TS: ts, Found: true})
	want = "SELECT seq FROM events WHERE 1=1 AND subscription_key = $1 AND ts >= $2 AND (ts > $3 OR seq > $4) ORDER BY ts, seq LIMIT $5"
	if got != want || len(args) != 5 {
		t.Errorf("ListEvents = %q %v,\nwant %q", got, args, want)
	}
}

func TestRebind(t *testing.T) {
	for _, c := range []struct {
		d        Dialect
		in, want string
	}{
		{Dialect{}, "SELECT a FROM t WHERE a = ? AND b = ?", "SELECT a FROM t WHERE a = ? AND b = ?"},
		{Dialect{Dollar: true}, "SELECT a FROM t WHERE a = ? AND b = ?", "SELECT a FROM t WHERE a = $1 AND b = $2"},
		{Dialect{Dollar: true}, "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"},
		{Dialect{Dollar: true}, "SELECT 1", "SELECT 1"},
	} {
		if got := c.d.Rebind(c.in); got != c.want {
			t.Errorf("Dialect{Dollar: %v}.Rebind(%q) = %q, want %q", c.d.Dollar, c.in, got, c.want)
		}
	}
}
