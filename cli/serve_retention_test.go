package cli

import (
	"testing"
	"time"

	"github.com/mlgov/mlgov/resources"
)

func TestActivityRetentionFlag(t *testing.T) {
	tests := []struct {
		args    []string
		want    time.Duration
		generic bool
		wantErr bool
	}{
		{nil, resources.DefaultActivityRetention, false, false},
		{[]string{"--activity-retention", "0"}, 0, false, false},
		{[]string{"--activity-retention", "720h", "--generic-providers"}, 720 * time.Hour, true, false},
		{[]string{"--activity-retention", "-1h"}, 0, false, true},
		{[]string{"--activity-retention", "90d"}, 0, false, true},
	}
	for _, tc := range tests {
		c := newServeCmd(&env{})
		err := c.ParseFlags(tc.args)
		if (err != nil) != tc.wantErr {
			t.Errorf("%v: error %v, want error %v", tc.args, err, tc.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		d, _ := time.ParseDuration(c.Flags().Lookup("activity-retention").Value.String())
		g := c.Flags().Lookup("generic-providers").Value.String() == "true"
		if d != tc.want || g != tc.generic {
			t.Errorf("%v: retention %v, generic %v; want %v, %v", tc.args, d, g, tc.want, tc.generic)
		}
	}
}
