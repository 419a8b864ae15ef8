package cli

// mlgov policy definition|set-definition|assignment|exemption: the
// Microsoft.Authorization policy resources of a running server, in the
// style of `az policy`.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The api-versions the commands send: what @azure/arm-policy 7.x sends for
// definitions, initiatives and assignments; exemptions exist only in
// preview api-versions.
const (
	policyAPIVersion          = "2025-03-01"
	policyExemptionAPIVersion = "2024-12-01-preview"
)

const authz = "/providers/Microsoft.Authorization/"

// armError is an ARM error body {"error": {"code", "message", "target"}}.
type armError struct {
	Status  int
	Code    string
	Message string
	Target  string
}

func (e *armError) Error() string {
	s := e.Code + ": " + e.Message
	if e.Target != "" {
		s += " (target: " + e.Target + ")"
	}
	return s
}

// asARMError reads an error response; a body that is not an ARM error is
// quoted as it is.
func asARMError(method, path string, status int, body []byte) error {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		return &armError{Status: status, Code: env.Error.Code, Message: env.Error.Message, Target: env.Error.Target}
	}
	return fmt.Errorf("%s %s: status %d: %s", method, stripQuery(path), status, strings.TrimSpace(string(body)))
}

func stripQuery(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// connOptions are the flags every command talking to a server shares.
type connOptions struct {
	bootstrap, endpoint, credentials, subscription, output string
	// login: the signed-in user's session (mlgov login) in loginFile.
	login     bool
	loginFile string
}

func (o *connOptions) register(f *pflag.FlagSet) {
	o.registerConn(f)
	f.StringVarP(&o.output, "output", "o", "table", "table or json (the resource(s) as the server returned them)")
}

// registerConn registers the connection flags without --output (for a
// command that prints no resources); output is then table.
func (o *connOptions) registerConn(f *pflag.FlagSet) {
	o.output = "table"
	f.StringVar(&o.bootstrap, "bootstrap", filepath.Join("mlgov-data", "bootstrap.json"), "bootstrap.json written by mlgov serve (its endpoint, identity and subscription)")
	f.StringVar(&o.endpoint, "endpoint", "", "ARM endpoint URL of the server (with --credentials, instead of --bootstrap)")
	f.StringVar(&o.credentials, "credentials", "", `JSON file {"tenantId","clientId","clientSecret","authorityHost"?,"caCertFile"?,"subscriptionId"?} (with --endpoint)`)
	f.StringVar(&o.subscription, "subscription", "", "subscription id of the default scope (default: the bootstrap or credentials file's)")
	f.BoolVar(&o.login, "login", false, "as the user signed in with mlgov login (instead of --bootstrap's identity)")
	f.StringVar(&o.loginFile, "login-file", defaultLoginFile(), "the login file of mlgov login (with --login)")
}

func (o *connOptions) validate() error {
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("--output %q: expected table or json", o.output)
	}
	if (o.endpoint == "") != (o.credentials == "") {
		return errors.New("--endpoint and --credentials go together")
	}
	if o.login && o.endpoint != "" {
		return errors.New("--login uses the server of mlgov login: it does not go with --endpoint and --credentials")
	}
	if o.endpoint != "" {
		u, err := url.Parse(o.endpoint)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("--endpoint %q: expected an https URL", o.endpoint)
		}
	}
	return nil
}

// credentialsFile is the --credentials file.
type credentialsFile struct {
	TenantID       string `json:"tenantId"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
	AuthorityHost  string `json:"authorityHost"`
	CACertFile     string `json:"caCertFile"`
	SubscriptionID string `json:"subscriptionId"`
}

// connect gets a token and returns the client, its SubscriptionID set to
// the default scope's subscription.
// open checks the connection flags, then checks (the first error of
// them is returned), then connects: a command's flags are refused before
// any request.
func (o *connOptions) open(ctx context.Context, checks ...error) (*armClient, error) {
	return o.openFor(ctx, armScope, checks...)
}

// openFor is open with a token for scope (graphScope: the directory).
func (o *connOptions) openFor(ctx context.Context, scope string, checks ...error) (*armClient, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	for _, err := range checks {
		if err != nil {
			return nil, err
		}
	}
	return o.connect(ctx, scope)
}

func (o *connOptions) connect(ctx context.Context, scope string) (*armClient, error) {
	var c *armClient
	if o.login {
		var err error
		if c, err = loginClient(ctx, o.loginFile, scope); err != nil {
			return nil, err
		}
	} else if o.endpoint == "" {
		var err error
		if c, err = newClientFor(ctx, o.bootstrap, scope); err != nil {
			return nil, err
		}
	} else {
		raw, err := os.ReadFile(o.credentials)
		if err != nil {
			return nil, fmt.Errorf("--credentials: %w", err)
		}
		var cf credentialsFile
		if err := json.Unmarshal(raw, &cf); err != nil {
			return nil, fmt.Errorf("--credentials %s: not valid JSON: %w", o.credentials, err)
		}
		var missing []string
		for _, f := range []struct{ k, v string }{{"tenantId", cf.TenantID}, {"clientId", cf.ClientID}, {"clientSecret", cf.ClientSecret}} {
			if f.v == "" {
				missing = append(missing, f.k)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("--credentials %s: %s missing", o.credentials, strings.Join(missing, ", "))
		}
		bs := &Bootstrap{TenantID: cf.TenantID, ClientID: cf.ClientID, ClientSecret: cf.ClientSecret, Endpoint: strings.TrimRight(o.endpoint, "/"),
			AuthorityHost: cf.AuthorityHost, CACertFile: cf.CACertFile, SubscriptionID: cf.SubscriptionID}
		if bs.AuthorityHost == "" {
			bs.AuthorityHost = bs.Endpoint // mlgov serve is its own token service
		}
		var roots *x509.CertPool
		if cf.CACertFile != "" {
			pem, err := os.ReadFile(cf.CACertFile)
			if err != nil {
				return nil, fmt.Errorf("--credentials %s: caCertFile: %w", o.credentials, err)
			}
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--credentials %s: caCertFile %s holds no PEM certificate", o.credentials, cf.CACertFile)
			}
		}
		if c, err = dialFor(ctx, bs, roots, scope); err != nil {
			return nil, err
		}
	}
	if o.subscription != "" {
		c.bs.SubscriptionID = o.subscription
	}
	return c, nil
}

// subscriptionScope is the default scope, /subscriptions/{s}.
func (c *armClient) subscriptionScope() (string, error) {
	if c.bs.SubscriptionID == "" {
		return "", errors.New("no subscription: pass --subscription, or put subscriptionId in the --credentials file")
	}
	return "/subscriptions/" + c.bs.SubscriptionID, nil
}

// call sends a request and returns the body of a 2xx answer, or the ARM
// error.
func (c *armClient) call(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	st, b, err := c.do(ctx, method, path, body)
	if err != nil {
		return 0, nil, err
	}
	if st < 200 || st > 299 {
		return st, nil, asARMError(method, path, st, b)
	}
	return st, b, nil
}

// list follows nextLink from path and returns every item.
func (c *armClient) list(ctx context.Context, path string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	for next := path; next != ""; {
		_, b, err := c.call(ctx, "GET", next, nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("GET %s: the answer is not a list: %w", stripQuery(next), err)
		}
		all = append(all, page.Value...)
		next = page.NextLink
	}
	return all, nil
}

func isNotFound(err error) bool {
	var ae *armError
	return errors.As(err, &ae) && ae.Status == 404
}

// armCommand runs fn and turns its error into "error: ..." on stderr and
// exit status 1 (an ARM error: its code, message and target).
func armCommand(e *env, fn func(cmd *cobra.Command, args []string) error) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := fn(cmd, args)
		if err == nil {
			return nil
		}
		var ae *armError
		if errors.As(err, &ae) {
			fmt.Fprintf(e.stderr, "error: %s: %s\n", ae.Code, ae.Message)
			if ae.Target != "" {
				fmt.Fprintf(e.stderr, "target: %s\n", ae.Target)
			}
		} else {
			fmt.Fprintln(e.stderr, "error:", err)
		}
		return &exitError{1}
	}
}

// jsonArg reads a FILE|JSON flag value: inline JSON when it starts with
// '{' or '[', else a file. Errors name the flag.
func jsonArg(flag, v string) (json.RawMessage, error) {
	t := strings.TrimSpace(v)
	src := "the value"
	raw := []byte(t)
	if !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") {
		b, err := os.ReadFile(v)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("--%s: the file %s does not exist (give a file or inline JSON)", flag, v)
			}
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
		raw, src = b, v
	}
	if !json.Valid(raw) {
		var x any
		err := json.Unmarshal(raw, &x)
		return nil, fmt.Errorf("--%s: %s is not valid JSON: %v", flag, src, err)
	}
	return json.RawMessage(bytes.TrimSpace(raw)), nil
}

// jsonObject is jsonArg for a value that must be an object.
func jsonObject(flag, v string) (map[string]json.RawMessage, error) {
	raw, err := jsonArg(flag, v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("--%s: expected a JSON object", flag)
	}
	return m, nil
}

// jsonArray is jsonArg for a value that must be an array.
func jsonArray(flag, v string) (json.RawMessage, error) {
	raw, err := jsonArg(flag, v)
	if err != nil {
		return nil, err
	}
	if raw[0] != '[' {
		return nil, fmt.Errorf("--%s: expected a JSON array", flag)
	}
	return raw, nil
}

// ruleArg reads --rules: a bare rule {"if","then"}, or a definition's
// properties or a whole definition (its policyRule is taken); the
// definition's parameters come with it when the file has them.
func ruleArg(v string) (rule, params json.RawMessage, err error) {
	m, err := jsonObject("rules", v)
	if err != nil {
		return nil, nil, err
	}
	if p, ok := m["properties"]; ok {
		var pm map[string]json.RawMessage
		if json.Unmarshal(p, &pm) == nil && pm != nil {
			m = pm
		}
	}
	if r, ok := m["policyRule"]; ok {
		return r, m["parameters"], nil
	}
	_, hasIf := m["if"]
	_, hasThen := m["then"]
	if !hasIf || !hasThen {
		return nil, nil, errors.New(`--rules: expected a policy rule {"if": ..., "then": ...}`)
	}
	raw, _ := json.Marshal(m)
	return raw, nil, nil
}

// assignmentParams reads assignment parameter values: {"p": {"value": x}},
// an ARM parameters file ({"parameters": {...}}), or plain {"p": x}.
func assignmentParams(v string) (json.RawMessage, error) {
	m, err := jsonObject("params", v)
	if err != nil {
		return nil, err
	}
	if p, ok := m["parameters"]; ok && (m["$schema"] != nil || m["contentVersion"] != nil || len(m) == 1) {
		var pm map[string]json.RawMessage
		if json.Unmarshal(p, &pm) == nil && pm != nil {
			if _, isValue := pm["value"]; !isValue || len(pm) != 1 {
				m = pm
			}
		}
	}
	out := map[string]any{}
	for k, raw := range m {
		var w map[string]json.RawMessage
		if json.Unmarshal(raw, &w) == nil && len(w) == 1 && w["value"] != nil {
			out[k] = w
			continue
		}
		out[k] = map[string]json.RawMessage{"value": raw}
	}
	return json.Marshal(out)
}

// metadataArg reads --metadata: key=value pairs, or one JSON object.
func metadataArg(vs []string) (any, error) {
	if len(vs) == 1 && strings.HasPrefix(strings.TrimSpace(vs[0]), "{") {
		return jsonObject("metadata", vs[0])
	}
	md := map[string]string{}
	for _, kv := range vs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--metadata %q: expected key=value (or one JSON object)", kv)
		}
		md[k] = v
	}
	return md, nil
}

// scopeArg checks a --scope id: a subscription, resource group or
// resource id.
func scopeArg(flag, s string) (string, error) {
	s = strings.TrimRight(s, "/")
	parts := strings.Split(strings.TrimPrefix(s, "/"), "/")
	if !strings.HasPrefix(s, "/") || len(parts) < 2 || !strings.EqualFold(parts[0], "subscriptions") || parts[1] == "" {
		return "", fmt.Errorf("--%s %q: expected a subscription, resource group or resource id (/subscriptions/{id}[/resourceGroups/{name}[/providers/...]])", flag, s)
	}
	for _, p := range parts {
		if p == "" {
			return "", fmt.Errorf("--%s %q: empty segment", flag, s)
		}
	}
	return s, nil
}

// resolveScope picks --scope, else --resource-group in the subscription,
// else the subscription.
func (c *armClient) resolveScope(scope, rg string) (string, error) {
	if scope != "" {
		return scope, nil
	}
	sub, err := c.subscriptionScope()
	if err != nil {
		return "", err
	}
	if rg != "" {
		return sub + "/resourceGroups/" + url.PathEscape(rg), nil
	}
	return sub, nil
}

func checkName(flag, name string) error {
	if name == "" {
		return fmt.Errorf("--%s is required", flag)
	}
	if strings.ContainsAny(name, "/?#%") {
		return fmt.Errorf("--%s %q: a name cannot hold '/', '?', '#' or '%%'", flag, name)
	}
	return nil
}

// defKind is policyDefinitions or policySetDefinitions.
type defKind struct {
	collection string // policyDefinitions
	what       string // policy definition
}

var (
	kindDefinition    = defKind{"policyDefinitions", "policy definition"}
	kindSetDefinition = defKind{"policySetDefinitions", "policy set definition"}
)

func (k defKind) customPath(sub, name string) string {
	return sub + authz + k.collection + "/" + url.PathEscape(name)
}

func (k defKind) builtinPath(name string) string {
	return authz + k.collection + "/" + url.PathEscape(name)
}

// get returns a definition by name as az does: the subscription's custom
// one, else the built-in.
func (k defKind) get(ctx context.Context, c *armClient, name string) ([]byte, error) {
	sub, err := c.subscriptionScope()
	if err != nil {
		return nil, err
	}
	_, b, err := c.call(ctx, "GET", k.customPath(sub, name)+"?api-version="+policyAPIVersion, nil)
	if err == nil || !isNotFound(err) {
		return b, err
	}
	_, b, err = c.call(ctx, "GET", k.builtinPath(name)+"?api-version="+policyAPIVersion, nil)
	return b, err
}

// resolveID turns a name or id into an id: an id is taken as it is; a
// name is the subscription's custom definition, else the built-in, else
// (neither exists) the custom id, for the server to refuse.
func (k defKind) resolveID(ctx context.Context, c *armClient, nameOrID string) (string, error) {
	if strings.HasPrefix(nameOrID, "/") {
		return nameOrID, nil
	}
	b, err := k.get(ctx, c, nameOrID)
	if err != nil {
		if isNotFound(err) {
			sub, _ := c.subscriptionScope()
			return k.customPath(sub, nameOrID), nil
		}
		return "", err
	}
	var r struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(b, &r) != nil || r.ID == "" {
		return "", fmt.Errorf("the %s %s has no id", k.what, nameOrID)
	}
	return r.ID, nil
}

// printer writes resources as JSON (as the server returned them) or as a
// table.
type printer struct {
	w      io.Writer
	output string
	header []string
	row    func(r map[string]any) []string
}

func (p printer) one(raw []byte) error {
	if p.output == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("the server's answer is not JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := p.w.Write(buf.Bytes())
		return err
	}
	return p.table([]json.RawMessage{raw})
}

func (p printer) many(items []json.RawMessage) error {
	if p.output == "json" {
		if items == nil {
			items = []json.RawMessage{}
		}
		b, err := json.MarshalIndent(items, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	}
	return p.table(items)
}

func (p printer) table(items []json.RawMessage) error {
	tw := tabwriter.NewWriter(p.w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(p.header, "\t"))
	for _, raw := range items {
		var r map[string]any
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("the server's answer is not JSON: %w", err)
		}
		cells := p.row(r)
		for i, c := range cells {
			if c == "" {
				cells[i] = "-"
			}
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(cells[i])
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// field reads a string (or a number, bool) at a path of keys.
func field(r map[string]any, keys ...string) string {
	var v any = r
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// lastSegment is the name at the end of an id.
func lastSegment(id string) string {
	return id[strings.LastIndexByte(id, '/')+1:]
}

// scopeOf is the part of a policy resource id before
// /providers/Microsoft.Authorization/.
func scopeOf(id string) string {
	if i := strings.LastIndex(strings.ToLower(id), strings.ToLower(authz)); i >= 0 {
		if s := id[:i]; s != "" {
			return s
		}
		return "/"
	}
	return ""
}

// effectOf is the rule's effect as written; a parameter's effect shows
// its default value, as "Deny (parameter effect)".
func effectOf(r map[string]any) string {
	eff := field(r, "properties", "policyRule", "then", "effect")
	l := strings.ToLower(strings.ReplaceAll(eff, " ", ""))
	if strings.HasPrefix(l, "[parameters('") && strings.HasSuffix(l, "')]") {
		name := eff[strings.Index(eff, "'")+1 : strings.LastIndex(eff, "'")]
		params, _ := field2(r, "properties", "parameters").(map[string]any)
		for k, p := range params {
			if strings.EqualFold(k, name) {
				if d := field(map[string]any{"p": p}, "p", "defaultValue"); d != "" {
					return d + " (parameter " + k + ")"
				}
			}
		}
	}
	return eff
}

func field2(r map[string]any, keys ...string) any {
	var v any = r
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

var (
	definitionTable = func(w io.Writer, output string) printer {
		return printer{w: w, output: output, header: []string{"NAME", "DISPLAY NAME", "POLICY TYPE", "MODE", "EFFECT"},
			row: func(r map[string]any) []string {
				return []string{field(r, "name"), field(r, "properties", "displayName"), field(r, "properties", "policyType"), field(r, "properties", "mode"), effectOf(r)}
			}}
	}
	setDefinitionTable = func(w io.Writer, output string) printer {
		return printer{w: w, output: output, header: []string{"NAME", "DISPLAY NAME", "POLICY TYPE", "POLICIES"},
			row: func(r map[string]any) []string {
				n, _ := field2(r, "properties", "policyDefinitions").([]any)
				return []string{field(r, "name"), field(r, "properties", "displayName"), field(r, "properties", "policyType"), fmt.Sprint(len(n))}
			}}
	}
	assignmentTable = func(w io.Writer, output string) printer {
		return printer{w: w, output: output, header: []string{"NAME", "DISPLAY NAME", "SCOPE", "POLICY", "ENFORCEMENT"},
			row: func(r map[string]any) []string {
				scope := field(r, "properties", "scope")
				if scope == "" {
					scope = scopeOf(field(r, "id"))
				}
				return []string{field(r, "name"), field(r, "properties", "displayName"), scope, lastSegment(field(r, "properties", "policyDefinitionId")), field(r, "properties", "enforcementMode")}
			}}
	}
	exemptionTable = func(w io.Writer, output string) printer {
		return printer{w: w, output: output, header: []string{"NAME", "CATEGORY", "SCOPE", "ASSIGNMENT", "EXPIRES"},
			row: func(r map[string]any) []string {
				return []string{field(r, "name"), field(r, "properties", "exemptionCategory"), scopeOf(field(r, "id")), lastSegment(field(r, "properties", "policyAssignmentId")), field(r, "properties", "expiresOn")}
			}}
	}
)

// putBody marshals {"properties": props} plus the envelope's extra keys.
func putBody(extra map[string]any, props map[string]any) []byte {
	body := map[string]any{"properties": props}
	for k, v := range extra {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	return b
}

// ---- policy definition / set-definition ----

func newDefinitionCmd(e *env, k defKind) *cobra.Command {
	use, short := "definition", "Manage policy definitions of a running server (custom at the subscription, built-ins read-only)"
	table := definitionTable
	if k == kindSetDefinition {
		use, short = "set-definition", "Manage policy set definitions (initiatives) of a running server"
		table = setDefinitionTable
	}
	c := &cobra.Command{Use: use, Short: short}
	conn := new(connOptions)
	conn.register(c.PersistentFlags())

	// create
	var name, rules, params, mode, displayName, description, definitions, groups string
	var metadata []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create or update a custom " + k.what + " at the subscription",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			if err := conn.validate(); err != nil {
				return err
			}
			if err := checkName("name", name); err != nil {
				return err
			}
			props := map[string]any{}
			if k == kindDefinition {
				if rules == "" {
					return errors.New("--rules is required")
				}
				if mode != "All" && mode != "Indexed" && !strings.Contains(mode, ".") {
					return fmt.Errorf("--mode %q: expected All, Indexed or a resource provider mode such as Microsoft.KeyVault.Data", mode)
				}
				rule, fileParams, err := ruleArg(rules)
				if err != nil {
					return err
				}
				props["policyRule"], props["mode"] = rule, mode
				if fileParams != nil {
					props["parameters"] = fileParams
				}
			} else {
				if definitions == "" {
					return errors.New("--definitions is required")
				}
				defs, err := jsonArray("definitions", definitions)
				if err != nil {
					return err
				}
				props["policyDefinitions"] = defs
				if groups != "" {
					g, err := jsonArray("definition-groups", groups)
					if err != nil {
						return err
					}
					props["policyDefinitionGroups"] = g
				}
			}
			if params != "" {
				p, err := jsonObject("params", params)
				if err != nil {
					return err
				}
				props["parameters"] = p
			}
			if displayName != "" {
				props["displayName"] = displayName
			}
			if description != "" {
				props["description"] = description
			}
			if len(metadata) > 0 {
				md, err := metadataArg(metadata)
				if err != nil {
					return err
				}
				props["metadata"] = md
			}
			cl, err := conn.connect(cmd.Context(), armScope)
			if err != nil {
				return err
			}
			sub, err := cl.subscriptionScope()
			if err != nil {
				return err
			}
			_, b, err := cl.call(cmd.Context(), "PUT", k.customPath(sub, name)+"?api-version="+policyAPIVersion, putBody(nil, props))
			if err != nil {
				return err
			}
			return table(e.stdout, conn.output).one(b)
		}),
	}
	f := create.Flags()
	f.StringVarP(&name, "name", "n", "", "name of the "+k.what)
	if k == kindDefinition {
		f.StringVar(&rules, "rules", "", `policy rule {"if": ..., "then": ...}: a file or inline JSON (a definition file's policyRule and parameters are taken)`)
		f.StringVar(&params, "params", "", "parameter declarations: a file or inline JSON")
		f.StringVar(&mode, "mode", "Indexed", "All, Indexed or a resource provider mode (az's default: Indexed)")
	} else {
		f.StringVar(&definitions, "definitions", "", `member definitions [{"policyDefinitionId", "policyDefinitionReferenceId"?, "parameters"?, "groupNames"?}]: a file or inline JSON`)
		f.StringVar(&params, "params", "", "parameter declarations of the initiative: a file or inline JSON")
		f.StringVar(&groups, "definition-groups", "", `groups [{"name", "displayName"?, ...}]: a file or inline JSON`)
	}
	f.StringVar(&displayName, "display-name", "", "display name")
	f.StringVar(&description, "description", "", "description")
	f.StringArrayVar(&metadata, "metadata", nil, "metadata as key=value (repeatable) or one JSON object")

	// list
	var filter string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the built-in " + k.what + "s and the subscription's own",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			if err := conn.validate(); err != nil {
				return err
			}
			if filter != "" && filter != "builtin" && filter != "custom" {
				return fmt.Errorf("--filter %q: expected builtin or custom", filter)
			}
			cl, err := conn.connect(cmd.Context(), armScope)
			if err != nil {
				return err
			}
			// The subscription's list holds the built-ins and its own, as
			// Azure's does; $filter narrows it to one kind.
			sub, err := cl.subscriptionScope()
			if err != nil {
				return err
			}
			q := url.Values{"api-version": {policyAPIVersion}}
			switch filter {
			case "builtin":
				q.Set("$filter", "policyType eq 'BuiltIn'")
			case "custom":
				q.Set("$filter", "policyType eq 'Custom'")
			}
			items, err := cl.list(cmd.Context(), sub+authz+k.collection+"?"+q.Encode())
			if err != nil {
				return err
			}
			return table(e.stdout, conn.output).many(items)
		}),
	}
	list.Flags().StringVar(&filter, "filter", "", "builtin or custom (default: both)")

	// show
	var showName string
	show := &cobra.Command{
		Use:   "show",
		Short: "Show a " + k.what + " by name: the subscription's custom one, else the built-in",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			cl, err := conn.open(cmd.Context(), checkName("name", showName))
			if err != nil {
				return err
			}
			b, err := k.get(cmd.Context(), cl, showName)
			if err != nil {
				return err
			}
			return table(e.stdout, conn.output).one(b)
		}),
	}
	show.Flags().StringVarP(&showName, "name", "n", "", "name of the "+k.what)

	// delete
	var delName string
	del := &cobra.Command{
		Use:   "delete",
		Short: "Delete a custom " + k.what + " of the subscription",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			cl, err := conn.open(cmd.Context(), checkName("name", delName))
			if err != nil {
				return err
			}
			sub, err := cl.subscriptionScope()
			if err != nil {
				return err
			}
			_, _, err = cl.call(cmd.Context(), "DELETE", k.customPath(sub, delName)+"?api-version="+policyAPIVersion, nil)
			return err
		}),
	}
	del.Flags().StringVarP(&delName, "name", "n", "", "name of the "+k.what)

	c.AddCommand(create, list, show, del)
	return c
}

// ---- policy assignment ----

func newAssignmentCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "assignment", Short: "Manage policy assignments of a running server"}
	conn := new(connOptions)
	conn.register(c.PersistentFlags())
	path := func(scope, name string) string {
		return scope + authz + "policyAssignments/" + url.PathEscape(name) + "?api-version=" + policyAPIVersion
	}

	var name, policyRef, setRef, scope, rg, params, enforcement, displayName, description, location, message string
	var notScopes []string
	var systemMI, assignIdentity bool
	var identityScope string
	create := &cobra.Command{
		Use:   "create",
		Short: "Assign a policy definition or initiative at a scope (default: the subscription)",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			if err := conn.validate(); err != nil {
				return err
			}
			if err := checkName("name", name); err != nil {
				return err
			}
			if (policyRef == "") == (setRef == "") {
				return errors.New("give exactly one of --policy and --policy-set-definition")
			}
			if enforcement != "Default" && enforcement != "DoNotEnforce" {
				return fmt.Errorf("--enforcement-mode %q: expected Default or DoNotEnforce", enforcement)
			}
			if assignIdentity && location == "" {
				return errors.New("--assign-identity needs --location")
			}
			if systemMI && location == "" {
				return errors.New("--mi-system-assigned needs --location")
			}
			systemMI = systemMI || assignIdentity
			if identityScope != "" && !assignIdentity {
				return errors.New("--identity-scope goes with --assign-identity")
			}
			if err := checkScopeFlags(&scope, rg); err != nil {
				return err
			}
			for i, s := range notScopes {
				var err error
				if notScopes[i], err = scopeArg("not-scopes", s); err != nil {
					return err
				}
			}
			props := map[string]any{"enforcementMode": enforcement}
			if params != "" {
				p, err := assignmentParams(params)
				if err != nil {
					return err
				}
				props["parameters"] = json.RawMessage(p)
			}
			if len(notScopes) > 0 {
				props["notScopes"] = notScopes
			}
			if displayName != "" {
				props["displayName"] = displayName
			}
			if description != "" {
				props["description"] = description
			}
			if message != "" {
				props["nonComplianceMessages"] = []map[string]string{{"message": message}}
			}
			extra := map[string]any{}
			if location != "" {
				extra["location"] = location
			}
			if systemMI {
				extra["identity"] = map[string]string{"type": "SystemAssigned"}
			}
			ctx := cmd.Context()
			cl, err := conn.connect(ctx, armScope)
			if err != nil {
				return err
			}
			at, err := cl.resolveScope(scope, rg)
			if err != nil {
				return err
			}
			k, ref := kindDefinition, policyRef
			if setRef != "" {
				k, ref = kindSetDefinition, setRef
			}
			defID, err := k.resolveID(ctx, cl, ref)
			if err != nil {
				return err
			}
			props["policyDefinitionId"] = defID
			var roles []string
			grantAt := at
			if assignIdentity {
				if grantAt, err = scopeOrDefault(identityScope, at); err != nil {
					return err
				}
				if roles, err = definitionRoles(ctx, cl, defID); err != nil {
					return err
				}
				if err := checkRoles(ctx, cl, grantAt, roles); err != nil {
					return err
				}
			}
			_, b, err := cl.call(ctx, "PUT", path(at, name), putBody(extra, props))
			if err != nil {
				return err
			}
			if len(roles) > 0 {
				var created struct {
					ID       string `json:"id"`
					Identity struct {
						PrincipalID string `json:"principalId"`
					} `json:"identity"`
				}
				if err := json.Unmarshal(b, &created); err != nil || created.Identity.PrincipalID == "" {
					return fmt.Errorf("the assignment was made, but its answer names no identity to give the roles to: %s", strings.TrimSpace(string(b)))
				}
				made, err := grantRoles(ctx, cl, created.ID, created.Identity.PrincipalID, grantAt, roles)
				if err != nil {
					// The roles could not be given: take the assignment back rather than leave it without them.
					_, _, derr := cl.call(ctx, "DELETE", path(at, name), nil)
					return errors.Join(fmt.Errorf("giving the assignment's identity its roles: %w (the assignment was removed)", err), derr)
				}
				fmt.Fprintf(e.stderr, "gave the assignment's identity %s %d role(s) at %s: %s (%d new)\n", created.Identity.PrincipalID, len(roles), grantAt, strings.Join(roles, ", "), len(made))
			}
			return assignmentTable(e.stdout, conn.output).one(b)
		}),
	}
	f := create.Flags()
	f.StringVarP(&name, "name", "n", "", "name of the assignment")
	f.StringVar(&policyRef, "policy", "", "policy definition to assign: a name (the subscription's custom one, else the built-in) or an id")
	f.StringVar(&setRef, "policy-set-definition", "", "policy set definition to assign: a name or an id")
	addScopeFlags(f, &scope, &rg)
	f.StringVarP(&params, "params", "p", "", `parameter values {"name": {"value": ...}} (or {"name": value}): a file or inline JSON`)
	f.StringSliceVar(&notScopes, "not-scopes", nil, "scopes excluded from the assignment (repeatable, comma-separated)")
	f.StringVar(&enforcement, "enforcement-mode", "Default", "Default or DoNotEnforce")
	f.StringVar(&displayName, "display-name", "", "display name")
	f.StringVar(&description, "description", "", "description")
	f.BoolVar(&systemMI, "mi-system-assigned", false, "give the assignment a system-assigned managed identity (needs --location)")
	f.BoolVar(&assignIdentity, "assign-identity", false, "give the assignment a system-assigned identity and the roles its definition names (then.details.roleDefinitionIds of DeployIfNotExists and Modify), as the portal does (needs --location)")
	f.StringVar(&identityScope, "identity-scope", "", "where the identity's roles are given (with --assign-identity; default: the assignment's scope)")
	f.StringVarP(&location, "location", "l", "", "location of the assignment (for its managed identity)")
	f.StringVarP(&message, "non-compliance-message", "m", "", "message shown when a resource is refused or found non-compliant")

	list := scopedList(e, conn, "assignment", "policyAssignments", policyAPIVersion, assignmentTable)

	show, del := showDelete(e, conn, "assignment", func(scope, name string) string { return path(scope, name) },
		func(w io.Writer, o string) printer { return assignmentTable(w, o) })
	c.AddCommand(create, list, show, del)
	return c
}

func addScopeFlags(f *pflag.FlagSet, scope, rg *string) {
	f.StringVar(scope, "scope", "", "scope id: a subscription, resource group or resource (default: the subscription)")
	f.StringVarP(rg, "resource-group", "g", "", "resource group of the subscription (instead of --scope)")
}

func checkScopeFlags(scope *string, rg string) error {
	if *scope != "" && rg != "" {
		return errors.New("give --scope or --resource-group, not both")
	}
	if *scope != "" {
		s, err := scopeArg("scope", *scope)
		if err != nil {
			return err
		}
		*scope = s
	}
	if rg != "" {
		return checkName("resource-group", rg)
	}
	return nil
}

// showDelete makes the show and delete commands of a scoped policy
// resource (assignment, exemption).
// scopedList is the list command of the resources of a collection at a
// scope (--scope or -g; default: the subscription).
func scopedList(e *env, conn *connOptions, what, collection, apiVersion string, table func(io.Writer, string) printer) *cobra.Command {
	var listScope, listRG string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the policy " + what + "s at a scope (default: the subscription)",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			cl, err := conn.open(cmd.Context(), checkScopeFlags(&listScope, listRG))
			if err != nil {
				return err
			}
			at, err := cl.resolveScope(listScope, listRG)
			if err != nil {
				return err
			}
			items, err := cl.list(cmd.Context(), at+authz+collection+"?api-version="+apiVersion)
			if err != nil {
				return err
			}
			return table(e.stdout, conn.output).many(items)
		}),
	}
	addScopeFlags(list.Flags(), &listScope, &listRG)
	return list
}

func showDelete(e *env, conn *connOptions, what string, path func(scope, name string) string, table func(io.Writer, string) printer) (*cobra.Command, *cobra.Command) {
	mk := func(use, short string, run func(ctx context.Context, cl *armClient, p string) error) *cobra.Command {
		var name, scope, rg string
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
				cl, err := conn.open(cmd.Context(), checkName("name", name), checkScopeFlags(&scope, rg))
				if err != nil {
					return err
				}
				at, err := cl.resolveScope(scope, rg)
				if err != nil {
					return err
				}
				return run(cmd.Context(), cl, path(at, name))
			}),
		}
		c.Flags().StringVarP(&name, "name", "n", "", "name of the "+what)
		addScopeFlags(c.Flags(), &scope, &rg)
		return c
	}
	show := mk("show", "Show a policy "+what+" at a scope (default: the subscription)", func(ctx context.Context, cl *armClient, p string) error {
		_, b, err := cl.call(ctx, "GET", p, nil)
		if err != nil {
			return err
		}
		return table(e.stdout, conn.output).one(b)
	})
	del := mk("delete", "Delete a policy "+what+" at a scope (default: the subscription)", func(ctx context.Context, cl *armClient, p string) error {
		_, _, err := cl.call(ctx, "DELETE", p, nil)
		return err
	})
	return show, del
}

// ---- policy exemption ----

// expiresOnLayouts are the --expires-on forms accepted (az takes ISO 8601).
var expiresOnLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

func parseExpiresOn(s string) (time.Time, error) {
	for _, l := range expiresOnLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--expires-on %q: expected an ISO 8601 time such as 2026-12-31T23:59:00Z (UTC unless an offset is given)", s)
}

func newExemptionCmd(e *env) *cobra.Command {
	c := &cobra.Command{Use: "exemption", Short: "Manage policy exemptions of a running server"}
	conn := new(connOptions)
	conn.register(c.PersistentFlags())
	path := func(scope, name string) string {
		return scope + authz + "policyExemptions/" + url.PathEscape(name) + "?api-version=" + policyExemptionAPIVersion
	}

	var name, assignment, category, scope, rg, expiresOn, displayName, description string
	var refIDs []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Exempt a scope (default: the subscription) from a policy assignment",
		Args:  cobra.NoArgs,
		RunE: armCommand(e, func(cmd *cobra.Command, args []string) error {
			if err := conn.validate(); err != nil {
				return err
			}
			if err := checkName("name", name); err != nil {
				return err
			}
			if assignment == "" {
				return errors.New("--policy-assignment is required (the assignment's id)")
			}
			if !strings.HasPrefix(assignment, "/") || !strings.Contains(strings.ToLower(assignment), "/providers/microsoft.authorization/policyassignments/") {
				return fmt.Errorf("--policy-assignment %q: expected a policy assignment id ({scope}/providers/Microsoft.Authorization/policyAssignments/{name})", assignment)
			}
			if category != "Waiver" && category != "Mitigated" {
				return fmt.Errorf("--exemption-category %q: expected Waiver or Mitigated", category)
			}
			if err := checkScopeFlags(&scope, rg); err != nil {
				return err
			}
			props := map[string]any{"policyAssignmentId": assignment, "exemptionCategory": category}
			if expiresOn != "" {
				t, err := parseExpiresOn(expiresOn)
				if err != nil {
					return err
				}
				props["expiresOn"] = t.Format(time.RFC3339)
			}
			if len(refIDs) > 0 {
				props["policyDefinitionReferenceIds"] = refIDs
			}
			if displayName != "" {
				props["displayName"] = displayName
			}
			if description != "" {
				props["description"] = description
			}
			cl, err := conn.connect(cmd.Context(), armScope)
			if err != nil {
				return err
			}
			at, err := cl.resolveScope(scope, rg)
			if err != nil {
				return err
			}
			_, b, err := cl.call(cmd.Context(), "PUT", path(at, name), putBody(nil, props))
			if err != nil {
				return err
			}
			return exemptionTable(e.stdout, conn.output).one(b)
		}),
	}
	f := create.Flags()
	f.StringVarP(&name, "name", "n", "", "name of the exemption")
	f.StringVarP(&assignment, "policy-assignment", "a", "", "id of the policy assignment exempted from")
	f.StringVarP(&category, "exemption-category", "e", "", "Waiver or Mitigated")
	addScopeFlags(f, &scope, &rg)
	f.StringSliceVar(&refIDs, "policy-definition-reference-ids", nil, "only these members of an assigned initiative (repeatable, comma-separated)")
	f.StringVar(&expiresOn, "expires-on", "", "when the exemption ends (ISO 8601, UTC unless an offset is given)")
	f.StringVar(&displayName, "display-name", "", "display name")
	f.StringVar(&description, "description", "", "description")

	list := scopedList(e, conn, "exemption", "policyExemptions", policyExemptionAPIVersion, exemptionTable)

	show, del := showDelete(e, conn, "exemption", path, func(w io.Writer, o string) printer { return exemptionTable(w, o) })
	c.AddCommand(create, list, show, del)
	return c
}
