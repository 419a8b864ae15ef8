package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/internal/uuid"
	"github.com/mlgov/mlgov/landingzone"
)

// newLandingZoneCmd is `mlgov landingzone create|show`: a landing zone
// template (docs/landing-zones.md) vended for a team by a running server
// (Mlgov.Governance/landingZones).
func newLandingZoneCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "landingzone", Short: "Landing zones: a subscription for a team, in its management group, with its guardrails and resources"}
	var conn connOptions
	conn.register(c.PersistentFlags())
	var tmplFile, team, display string
	var noWait bool
	var timeout time.Duration
	create := &cobra.Command{Use: "create NAME", Short: "Vend a landing zone for a team and wait for it", Args: cobra.ExactArgs(1),
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			if tmplFile == "" {
				return fmt.Errorf("--template is required: a landing zone template (examples/landingzones/ml-data-landing-zone.json)")
			}
			if team == "" {
				return fmt.Errorf("--team is required: the team's group (its object id or display name)")
			}
			raw, err := os.ReadFile(tmplFile)
			if err != nil {
				return fmt.Errorf("--template: %w", err)
			}
			// The template is checked here first, so that a mistake names
			// the file and its pointer before anything is sent.
			if _, err := landingzone.Parse(raw); err != nil {
				return fmt.Errorf("--template %s: %w", tmplFile, err)
			}
			ctx := cmd.Context()
			groupID, err := resolveGroup(ctx, &conn, team)
			if err != nil {
				return err
			}
			cl, err := conn.open(ctx)
			if err != nil {
				return err
			}
			path := "/providers/" + landingzone.Type + "/" + url.PathEscape(args[0]) + "?api-version=" + landingzone.APIVersion
			body, _ := json.Marshal(map[string]any{"properties": map[string]any{"template": json.RawMessage(raw), "team": groupID, "displayName": display}})
			st, b, err := cl.do(ctx, "PUT", path, body)
			if err != nil {
				return err
			}
			if st != 200 && st != 201 {
				return deploymentError(e.stderr, "landingzone create", st, b)
			}
			if noWait {
				return writeJSON(e.stdout, b)
			}
			return waitProvisioned(ctx, e, cl, path, b, timeout, "the landing zone "+args[0], "mlgov landingzone show "+args[0])
		})}
	create.Flags().StringVarP(&tmplFile, "template", "t", "", "the landing zone template, a JSON file (required)")
	create.Flags().StringVar(&team, "team", "", "the team's group: its object id, or its display name looked up in the directory (required)")
	create.Flags().StringVar(&display, "display-name", "", "the subscription's display name (default: the zone's name)")
	create.Flags().BoolVar(&noWait, "no-wait", false, "return once the landing zone is accepted")
	create.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait for the landing zone")
	show := &cobra.Command{Use: "show NAME", Short: "Show a landing zone: its state, subscription, assignments, roles and outputs", Args: cobra.ExactArgs(1),
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			cl, err := conn.open(cmd.Context())
			if err != nil {
				return err
			}
			st, b, err := cl.do(cmd.Context(), "GET", "/providers/"+landingzone.Type+"/"+url.PathEscape(args[0])+"?api-version="+landingzone.APIVersion, nil)
			if err != nil {
				return err
			}
			if st != 200 {
				return deploymentError(e.stderr, "landingzone show", st, b)
			}
			return writeJSON(e.stdout, b)
		})}
	c.AddCommand(create, show)
	return c
}

// resolveGroup is a group's object id: the GUID given, or the one group
// of that display name in the directory (Microsoft Graph).
func resolveGroup(ctx context.Context, conn *connOptions, team string) (string, error) {
	if uuid.Valid(team) {
		return strings.ToLower(team), nil
	}
	cl, err := conn.openFor(ctx, graphScope)
	if err != nil {
		return "", err
	}
	q := url.Values{"$filter": {"displayName eq '" + strings.ReplaceAll(team, "'", "''") + "'"}}
	st, b, err := cl.do(ctx, "GET", "/v1.0/groups?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	var out struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if st != 200 || json.Unmarshal(b, &out) != nil {
		return "", fmt.Errorf("--team %q: the directory's groups could not be read (status %d): %s", team, st, strings.TrimSpace(string(b)))
	}
	switch len(out.Value) {
	case 0:
		return "", fmt.Errorf("--team %q: no group has that display name; give the group's object id", team)
	case 1:
		return out.Value[0].ID, nil
	}
	return "", fmt.Errorf("--team %q: %d groups have that display name; give the group's object id", team, len(out.Value))
}
