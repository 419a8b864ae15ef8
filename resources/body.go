package resources

import (
	"time"

	"github.com/mlgov/mlgov/policy/value"
)

// Small helpers over immutable JSON values.

func str(s string) value.Value { return value.StringValue(s) }

// get follows keys (case-insensitive) from v.
func get(v value.Value, keys ...string) value.Value {
	for _, k := range keys {
		v = v.Field(k)
	}
	return v
}

// set returns v with the value at keys replaced (objects created on the way).
func set(v value.Value, val value.Value, keys ...string) value.Value {
	if len(keys) == 0 {
		return val
	}
	child := v.Field(keys[0])
	if child.Kind() != value.Object {
		child = value.ObjectValue()
	}
	return v.With(keys[0], set(child, val, keys[1:]...))
}

// setDefault sets keys to val only when absent (or null).
func setDefault(v value.Value, val value.Value, keys ...string) value.Value {
	if get(v, keys...).IsNullish() {
		return set(v, val, keys...)
	}
	return v
}

// keep copies a server-generated value from the existing resource (so it
// is stable across updates), else sets a new one.
func keep(v, existing value.Value, gen func() value.Value, keys ...string) value.Value {
	if e := get(existing, keys...); !e.IsNullish() {
		return set(v, e, keys...)
	}
	if get(v, keys...).IsNullish() {
		return set(v, gen(), keys...)
	}
	return v
}

func timestamp(t time.Time) value.Value {
	return value.StringValue(t.UTC().Format("2006-01-02T15:04:05.0000000Z"))
}

// mergePatch applies an RFC 7396 JSON merge patch (keys matched
// case-insensitively).
func mergePatch(target, patch value.Value) value.Value {
	if patch.Kind() != value.Object {
		return patch
	}
	if target.Kind() != value.Object {
		target = value.ObjectValue()
	}
	for i := 0; i < patch.Len(); i++ {
		k, pv := patch.MemberAt(i)
		if pv.Kind() == value.Null {
			target = target.Without(k)
			continue
		}
		target = target.With(k, mergePatch(target.Field(k), pv))
	}
	return target
}
