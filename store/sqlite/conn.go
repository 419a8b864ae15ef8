package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/mlgov/mlgov/store/internal/generic"
)

// maxStmts bounds the prepared statements one connection keeps. The
// store's statements, the dynamic WHERE clauses of ListResources and
// ListEvents included, come in far fewer shapes.
const maxStmts = 256

// conn is one connection held for the DB's life, with its prepared
// statements: parsing SQL costs more than running most of these
// statements. A conn is used by one goroutine at a time.
type conn struct {
	c     *sql.Conn
	stmts map[string]*sql.Stmt
	// buf is the statement buffer of the transactions on this
	// connection, one at a time.
	buf generic.Buf
}

func newConn(c *sql.Conn) *conn { return &conn{c: c, stmts: map[string]*sql.Stmt{}} }

// stmt returns the prepared statement for text, preparing it once.
func (c *conn) stmt(ctx context.Context, text string) (*sql.Stmt, error) {
	if s, ok := c.stmts[text]; ok {
		return s, nil
	}
	s, err := c.c.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= maxStmts {
		for k, old := range c.stmts {
			old.Close()
			delete(c.stmts, k)
		}
	}
	c.stmts[text] = s
	return s, nil
}

func (c *conn) exec(ctx context.Context, text string, args ...any) error {
	s, err := c.stmt(ctx, text)
	if err != nil {
		return err
	}
	_, err = s.ExecContext(ctx, args...)
	return err
}

func (c *conn) close() error {
	var errs []error
	for _, s := range c.stmts {
		errs = append(errs, s.Close())
	}
	c.stmts = nil
	return errors.Join(append(errs, c.c.Close())...)
}
