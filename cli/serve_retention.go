package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/govern"
	"github.com/mlgov/mlgov/resources"
)

// inputOptions are the serve flags about what mlgov accepts and keeps:
// resources of types it does not serve, and activity-log retention.
type inputOptions struct {
	genericProviders  bool
	activityRetention retention
	historyRetention  retention
}

// register adds the flags to serve.
func (o *inputOptions) register(c *cobra.Command) {
	f := c.Flags()
	f.BoolVar(&o.genericProviders, "generic-providers", false,
		"store resources of namespaces and types mlgov does not serve, unvalidated (an emulator's choice; see docs/security.md)")
	o.activityRetention = retention(resources.DefaultActivityRetention)
	f.Var(&o.activityRetention, "activity-retention",
		"delete activity-log events older than this (0: keep them forever)")
	o.historyRetention = retention(govern.DefaultHistoryRetention)
	f.Var(&o.historyRetention, "compliance-history-retention",
		"delete earlier compliance records (policyStates/default) older than this (0: keep them forever)")
}

// apply sets the options on the resource manager's configuration (nil
// options leave it as it is).
func (o *inputOptions) apply(c resources.Config) resources.Config {
	if o == nil {
		return c
	}
	c.GenericProviders = o.genericProviders
	c.ActivityRetention = time.Duration(o.activityRetention)
	return c
}

// history is how long the earlier compliance records are kept (the
// default for nil options).
func (o *inputOptions) history() time.Duration {
	if o == nil {
		return govern.DefaultHistoryRetention
	}
	return time.Duration(o.historyRetention)
}

// retention is a flag value: a duration that is not negative.
type retention time.Duration

func (r *retention) String() string { return time.Duration(*r).String() }
func (r *retention) Type() string   { return "duration" }

func (r *retention) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 2160h (90 days), or 0 to keep them forever: %w", err)
	}
	if d < 0 {
		return fmt.Errorf("%s: want a positive duration, or 0 to keep them forever", s)
	}
	*r = retention(d)
	return nil
}
