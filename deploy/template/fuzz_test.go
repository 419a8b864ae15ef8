package template

import (
	"context"
	"testing"

	"github.com/mlgov/mlgov/policy/value"
)

// FuzzParsePlan: parsing and planning any input never panics, and every
// failure is an ErrorList.
func FuzzParsePlan(f *testing.F) {
	f.Add([]byte(bench200))
	for _, cs := range loadCases(f) {
		for _, c := range cs {
			if c.Raw != "" {
				f.Add([]byte(c.Raw))
			} else {
				f.Add([]byte(c.Template))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tmpl, err := Parse(data)
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("Parse error %T", err)
			}
			return
		}
		p, err := tmpl.Plan(context.Background(), value.Value{}, testContext(), testStore())
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("Plan error %T: %v", err, err)
			}
			return
		}
		if _, err := p.Outputs(context.Background(), testStore()); err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("Outputs error %T", err)
			}
		}
	})
}
