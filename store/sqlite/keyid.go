package sqlite

import (
	"database/sql/driver"
	"fmt"

	msqlite "modernc.org/sqlite"

	"github.com/mlgov/mlgov/store"
)

// mlgov_key_id(key) is store.PolicyKeyID in SQL, for the migration that turns
// the keys of the compliance records into ids (0009).
func init() {
	msqlite.MustRegisterDeterministicScalarFunction("mlgov_key_id", 1, func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch k := args[0].(type) {
		case string:
			return store.PolicyKeyID(k), nil
		case []byte:
			return store.PolicyKeyID(string(k)), nil
		}
		return nil, fmt.Errorf("mlgov_key_id: %T is not a key", args[0])
	})
}
