package sqlq

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mlgov/mlgov/store"
)

// Dialect is what the shared builders need to know about a database.
type Dialect struct {
	// Dollar selects PostgreSQL's numbered placeholders ($1, $2, ...)
	// instead of SQLite's ?.
	Dollar bool
	// Time encodes a timestamp argument the way the dialect stores it.
	Time func(time.Time) any
	// ByteLength is the function giving a body's length in bytes without
	// reading the body (PostgreSQL's octet_length reads the TOAST header
	// only). Empty: ListResources leaves ListQuery.MaxBytes to the caller,
	// which stops scanning instead (SQLite: rows are read as they are
	// stepped, and its length() inside a window function reads the blob).
	ByteLength string
	// CountBySubquery: CountPolicyStates counts distinct resources by
	// grouping per resource in a subquery (hash aggregation) instead of
	// COUNT(DISTINCT resource_key), which PostgreSQL computes by sorting
	// every group; SQLite counts distinct values faster itself, along
	// the index.
	CountBySubquery bool
}

// Rebind returns text, written with ? placeholders, in the dialect's
// placeholder style: unchanged, or with the placeholders numbered $1, $2,
// ... in order. text must have no ? other than placeholders (none in a
// string literal or an identifier).
func (d Dialect) Rebind(text string) string {
	if !d.Dollar || !strings.Contains(text, "?") {
		return text
	}
	var sb strings.Builder
	sb.Grow(len(text) + 16)
	n := 0
	for i := 0; i < len(text); i++ {
		if c := text[i]; c != '?' {
			sb.WriteByte(c)
			continue
		}
		n++
		sb.WriteByte('$')
		sb.WriteString(strconv.Itoa(n))
	}
	return sb.String()
}

// Builder accumulates SQL text and its arguments.
type Builder struct {
	d    Dialect
	sb   strings.Builder
	args []any
}

// NewBuilder starts a statement with the given text.
func NewBuilder(d Dialect, text string) *Builder {
	b := &Builder{d: d}
	b.sb.Grow(len(text) + 128)
	b.sb.WriteString(text)
	return b
}

// Write appends SQL text.
func (b *Builder) Write(text string) { b.sb.WriteString(text) }

// Arg binds v and appends its placeholder.
func (b *Builder) Arg(v any) {
	b.args = append(b.args, v)
	if b.d.Dollar {
		b.sb.WriteByte('$')
		b.sb.WriteString(strconv.Itoa(len(b.args)))
		return
	}
	b.sb.WriteByte('?')
}

// And appends " AND " + expr followed by the placeholder of v; expr ends
// with the comparison operator ("key > ").
func (b *Builder) And(expr string, v any) {
	b.sb.WriteString(" AND ")
	b.sb.WriteString(expr)
	b.Arg(v)
}

// SQL returns the statement text and its arguments.
func (b *Builder) SQL() (string, []any) { return b.sb.String(), b.args }

// Eq adds "AND col = ?" for each (col, value) pair whose value is not
// empty: the optional equality filters of a query.
func (b *Builder) Eq(pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			b.And(pairs[i]+" = ", pairs[i+1])
		}
	}
}

// Prefix adds the range of the keys of col that start with prefix (none
// when prefix is empty).
func (b *Builder) Prefix(col, prefix string) {
	if prefix == "" {
		return
	}
	b.And(col+" >= ", prefix)
	if end, ok := PrefixEnd(prefix); ok {
		b.And(col+" < ", end)
	}
}

// ListResources builds the query for q, selecting cols (which include
// body) from resources, with WHERE, ORDER BY key and LIMIT. With
// q.MaxBytes and a Dialect.ByteLength, the rows after the one at which the bodies reach MaxBytes
// are cut in the query itself, from the bodies' lengths, so that the
// database does not send (PostgreSQL) or read what a page will not hold:
//
//	SELECT cols FROM (SELECT cols, SUM(len(body)) OVER (ORDER BY key) - len(body) AS before
//	                  FROM resources WHERE ... ORDER BY key LIMIT n) AS page
//	WHERE before < MaxBytes ORDER BY key
func ListResources(d Dialect, cols string, q store.ListQuery) (string, []any) {
	var b *Builder
	cut := q.MaxBytes > 0 && d.ByteLength != ""
	if cut {
		length := d.ByteLength + "(body)"
		b = NewBuilder(d, "SELECT "+cols+" FROM (SELECT "+cols+", SUM("+length+") OVER (ORDER BY key ROWS UNBOUNDED PRECEDING) - "+length+" AS bytes_before FROM resources")
	} else {
		b = NewBuilder(d, "SELECT "+cols+" FROM resources")
	}
	b.Write(" WHERE 1=1")
	b.Eq("parent_key", q.ParentKey, "type_key", q.TypeKey, "subscription_key", q.SubscriptionKey, "resource_group_key", q.ResourceGroupKey)
	b.Prefix("key", q.KeyPrefix)
	if q.After != "" {
		b.And("key > ", q.After)
	}
	b.Write(" ORDER BY key")
	if q.Limit > 0 {
		b.Write(" LIMIT ")
		b.Arg(q.Limit)
	}
	if cut {
		b.Write(") AS page WHERE bytes_before < ")
		b.Arg(q.MaxBytes)
		b.Write(" ORDER BY key")
	}
	return b.SQL()
}

// EventCursor is the position of the event named by EventQuery.AfterSeq.
// Found is false when no such event exists; paging then continues with
// the events of a higher Seq.
type EventCursor struct {
	Seq   int64
	TS    time.Time
	Found bool
}

// ListEvents builds the query for q, ordered by (ts, seq). selectFrom is
// the statement up to and including "FROM events".
func ListEvents(d Dialect, selectFrom string, q store.EventQuery, c EventCursor) (string, []any) {
	b := NewBuilder(d, selectFrom)
	b.Write(" WHERE 1=1")
	if q.SubscriptionKey != "" {
		b.And("subscription_key = ", q.SubscriptionKey)
	}
	if !q.From.IsZero() {
		b.And("ts >= ", d.Time(q.From))
	}
	if !q.To.IsZero() {
		b.And("ts <= ", d.Time(q.To))
	}
	if q.ResourceGroup != "" {
		b.And("resource_group = ", q.ResourceGroup)
	}
	if q.ResourceKey != "" {
		b.And("resource_key = ", q.ResourceKey)
	}
	if q.CorrelationID != "" {
		b.And("correlation_id = ", q.CorrelationID)
	}
	if q.AfterSeq > 0 {
		if c.Found {
			// (ts, seq) > (c.TS, c.Seq), written so that the ts bound
			// is usable as an index range.
			ts := d.Time(c.TS)
			b.And("ts >= ", ts)
			b.And("(ts > ", ts)
			b.Write(" OR seq > ")
			b.Arg(c.Seq)
			b.Write(")")
		} else {
			b.And("seq > ", q.AfterSeq)
		}
	}
	b.Write(" ORDER BY ts, seq")
	if q.Limit > 0 {
		b.Write(" LIMIT ")
		b.Arg(q.Limit)
	}
	return b.SQL()
}

// PrefixEnd returns the least string, in byte order, that is greater than
// every string beginning with prefix, so that "key >= prefix AND key < end"
// selects exactly the keys with that prefix. ok is false when no such
// bound exists (an empty prefix, or one made only of U+10FFFF and 0xFF
// bytes).
//
// Byte order of UTF-8 is code point order, so incrementing the last code
// point (skipping the surrogate range, carrying past U+10FFFF) gives the
// bound and keeps the result valid UTF-8 (PostgreSQL rejects anything
// else). The bound is exact for valid UTF-8 keys, which is why the stores
// reject other keys; an invalid trailing byte in prefix is incremented as
// a byte.
func PrefixEnd(prefix string) (end string, ok bool) {
	for prefix != "" {
		r, size := utf8.DecodeLastRuneInString(prefix)
		head := prefix[:len(prefix)-size]
		if r == utf8.RuneError && size == 1 {
			if c := prefix[len(prefix)-1]; c < 0xFF {
				return head + string([]byte{c + 1}), true
			}
			prefix = head
			continue
		}
		r++
		if r >= 0xD800 && r <= 0xDFFF {
			r = 0xE000
		}
		if r > utf8.MaxRune {
			prefix = head
			continue
		}
		return head + string(r), true
	}
	return "", false
}
