package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlgov/mlgov/api"
	"github.com/mlgov/mlgov/arm"
	"github.com/mlgov/mlgov/egress"
	"github.com/mlgov/mlgov/resources"
	"github.com/mlgov/mlgov/store"
	"github.com/mlgov/mlgov/store/feed"
)

// serve's egress proxy (docs/egress.md): --egress-listen starts it, jobs
// reach it through their runner; its decisions are the egress log.
type egressOptions struct {
	listen    string // --egress-listen
	hostsFile string // --egress-hosts: static host mapping, hosts-file format
	tagsFile  string // --egress-service-tags: Azure's Service Tags JSON
}

func (o *egressOptions) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.listen, "egress-listen", "", "address of the egress proxy jobs go out through (e.g. 127.0.0.1:3128; empty: none); see docs/egress.md")
	f.StringVar(&o.hostsFile, "egress-hosts", "", "static host mapping of the egress proxy, consulted before DNS (hosts-file format: \"IP name...\" lines)")
	f.StringVar(&o.tagsFile, "egress-service-tags", "", "the address prefixes of service tags, in the format of Azure's Service Tags JSON download, for ServiceTag outbound rules")
}

// egressServer is serve's running egress proxy (proxy nil: none).
type egressServer struct {
	proxy *egress.Proxy
	url   string // what runners dial: http://host:port
	st    store.Store
	log   *slog.Logger
}

// startEgress starts the proxy when --egress-listen is given.
func (o *egressOptions) start(ctx context.Context, st store.Store, mgr *resources.Manager, fd *feed.Feed, endpoint string, tlsCfg *tls.Config, log *slog.Logger) (*egressServer, error) {
	es := &egressServer{st: st, log: log}
	if o == nil || o.listen == "" {
		return es, nil
	}
	var hosts map[string][]netip.Addr
	if o.hostsFile != "" {
		data, err := os.ReadFile(o.hostsFile)
		if err != nil {
			return nil, fmt.Errorf("--egress-hosts: %w", err)
		}
		if hosts, err = parseHosts(data); err != nil {
			return nil, fmt.Errorf("--egress-hosts %s: %w", o.hostsFile, err)
		}
	}
	var tags egress.ServiceTags
	if o.tagsFile != "" {
		data, err := os.ReadFile(o.tagsFile)
		if err == nil {
			tags, err = egress.ParseServiceTags(data)
		}
		if err != nil {
			return nil, fmt.Errorf("--egress-service-tags %s: %w", o.tagsFile, err)
		}
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return nil, fmt.Errorf("--egress-listen: %w", err)
	}
	h, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip, err := netip.ParseAddr(h); err == nil && ip.IsUnspecified() {
		h = publicHost(endpoint)
	}
	// TLS, as every listener of serve: the server's certificate (reloaded
	// with it), HTTP/1.1 (CONNECT); runners relay their jobs to it.
	pc := tlsCfg.Clone()
	pc.NextProtos = []string{"http/1.1"}
	ln = tls.NewListener(ln, pc)
	es.url = "https://" + net.JoinHostPort(h, port)
	var always []string
	if u := endpoint; u != "" {
		eh := publicHost(u)
		ep := "443"
		if _, p, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")); err == nil {
			ep = p
		}
		always = append(always, net.JoinHostPort(eh, ep))
	}
	lg := egress.NewLog(st, log)
	go lg.Run(ctx)
	es.proxy = egress.New(egress.Config{
		Jobs:     egressJobs{mgr},
		Recorder: lg,
		Workspace: func(ctx context.Context, id string) ([]byte, error) {
			rs, err := store.GetResources(ctx, st, arm.KeyOf(id))
			if err != nil || len(rs) == 0 || rs[0] == nil {
				return nil, err
			}
			return rs[0].Body, nil
		},
		Tags: tags, Hosts: hosts, Always: always, Log: log,
	})
	// A change of a workspace or of one of its rules: its compiled rules
	// are read again (on every replica, from the change feed).
	fd.Subscribe(func(ctx context.Context, batch []*store.Change) {
		for _, c := range batch {
			switch {
			case strings.HasSuffix(c.TypeKey, "/workspaces/outboundrules"):
				if i := strings.LastIndex(c.Key, "/outboundrules/"); i > 0 {
					es.proxy.Forget(c.Key[:i])
				}
			case strings.HasSuffix(c.TypeKey, "machinelearningservices/workspaces"):
				es.proxy.Forget(c.Key)
			}
		}
	})
	srv := &http.Server{Handler: es.proxy, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		<-ctx.Done()
		srv.Close()
		es.proxy.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("egress proxy stopped", "error", err)
		}
	}()
	log.Info("egress proxy listening", "address", ln.Addr().String(), "url", es.url, "hosts", len(hosts), "serviceTags", len(tags))
	return es, nil
}

// register serves the egress log's REST API.
func (es *egressServer) register(mux *http.ServeMux, mgr *resources.Manager, auth api.Authenticator, endpoint string) {
	(&api.EgressLog{Manager: mgr, Auth: auth, PublicURL: endpoint, Log: es.log, List: func(ctx context.Context, q egress.Query) ([]*egress.Record, int64, error) {
		return egress.List(ctx, es.st, q)
	}}).Register(mux)
}

// claimInfo is what a runner is told with a claimed job: the proxy and
// the workspace's isolation mode.
func (es *egressServer) claimInfo(ctx context.Context, ws *arm.ID) (string, string) {
	if es.proxy == nil {
		mode := egress.ModeDisabled
		if rs, err := store.GetResources(ctx, es.st, ws.Key()); err != nil {
			mode = egress.ModeAllowOnlyApprovedOutbound
		} else if len(rs) == 1 && rs[0] != nil {
			if p, err := egress.Compile(rs[0].Body, nil); err == nil {
				mode = p.Mode
			}
		}
		return "", mode
	}
	p, err := es.proxy.Policy(ctx, ws.String())
	if err != nil {
		es.log.Error("egress: reading a workspace's rules for a claim", "workspace", ws.String(), "error", err)
		return es.url, egress.ModeAllowOnlyApprovedOutbound
	}
	return es.url, p.Mode
}

type egressJobs struct{ mgr *resources.Manager }

func (j egressJobs) VerifyJob(ctx context.Context, jobID, token string) (string, error) {
	ws, err := j.mgr.VerifyJobToken(ctx, jobID, token)
	if errors.Is(err, resources.ErrNotJobToken) {
		return "", egress.ErrBadCredentials
	} else if err != nil {
		return "", err
	}
	return ws.String(), nil
}

// parseHosts reads hosts-file lines: an address, then names; # starts a
// comment.
func parseHosts(data []byte) (map[string][]netip.Addr, error) {
	out := map[string][]netip.Addr{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil || len(f) < 2 {
			return nil, fmt.Errorf("line %d: want an IP address and host names", n)
		}
		for _, name := range f[1:] {
			h := egress.NormalizeHost(name)
			if h == "" {
				return nil, fmt.Errorf("line %d: %s is not an ASCII host name", n, strconv.Quote(name))
			}
			out[h] = append(out[h], a.Unmap())
		}
	}
	return out, sc.Err()
}
