package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// A job's way out (docs/egress.md): the egress proxy serve names with
// each claim, given to the job as its proxy variables (with the job's id
// and token as the proxy credentials); on Linux as root, a network
// namespace per job whose only way out is the proxy: inside it the
// runner listens on the namespace's own 127.0.0.1 and relays to the
// proxy, to the mlgov endpoint (when it is a loopback address) and serves
// the managed-identity endpoint; the namespace has no other interface,
// so a direct connection has no route.

// Isolation settings (--isolate).
const (
	isolateAuto   = "auto"   // a namespace when possible; required for AllowOnlyApprovedOutbound
	isolateAlways = "always" // a namespace, or the job fails
	isolateNever  = "never"  // proxy variables only
)

// egressInfo is what a claim says of the job's way out.
type egressInfo struct {
	Proxy         string `json:"proxy"`
	IsolationMode string `json:"isolationMode"`
}

// jobNet is a job's network set-up: environment, the command's prefix
// (ip netns exec NAME) and what to undo.
type jobNet struct {
	env      []string
	prefix   []string
	listen   func() (net.Listener, error) // where the identity endpoint listens
	closers  []io.Closer
	cleanups []func()
}

func (n *jobNet) close() {
	for _, c := range n.closers {
		c.Close()
	}
	for i := len(n.cleanups) - 1; i >= 0; i-- {
		n.cleanups[i]()
	}
}

// nsProxyPort is the relay to the proxy inside a job's namespace.
const nsProxyPort = 3128

// jobNetwork sets up the job's way out, or says why the job cannot run.
func (r *runner) jobNetwork(ctx context.Context, c *claimed) (*jobNet, error) {
	n := &jobNet{listen: func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }}
	eg := c.Egress
	if eg == nil {
		eg = &egressInfo{} // a server without egress information
	}
	strict := strings.EqualFold(eg.IsolationMode, "AllowOnlyApprovedOutbound")
	if eg.Proxy == "" {
		if strict {
			return nil, errors.New("the workspace allows only approved outbound connections, but the server has no egress proxy (mlgov serve --egress-listen): the job is not run")
		}
		if r.cfg.isolate != isolateAlways {
			return n, nil
		}
		// --isolate always without a proxy: a namespace with no way
		// out but the mlgov endpoint.
		if err := r.isolate(ctx, c, n, "", nil); err != nil {
			n.close()
			return nil, fmt.Errorf("the job's network namespace could not be made: %w", err)
		}
		return n, nil
	}
	pu, err := url.Parse(eg.Proxy)
	if err != nil || pu.Host == "" {
		return nil, fmt.Errorf("the server's egress proxy %q is not a URL", eg.Proxy)
	}
	useNS := false
	switch r.cfg.isolate {
	case isolateAlways:
		useNS = true
	case isolateAuto:
		if m := eg.IsolationMode; m == "" || strings.EqualFold(m, "Disabled") {
			// No managed network isolation: the proxy variables only
			// (what goes through the proxy is logged).
			break
		}
		if why := netnsUnavailable(); why != "" {
			if strict {
				return nil, fmt.Errorf("the workspace allows only approved outbound connections and the job cannot be isolated (%s): the job is not run (mlgov runner --isolate never runs it with the proxy variables only)", why)
			}
			fmt.Fprintf(r.e.stderr, "runner: job %s: no network namespace (%s): the job gets the proxy variables only and could go around the proxy\n", c.Job.Name, why)
		} else {
			useNS = true
		}
	case isolateNever:
		if strict {
			fmt.Fprintf(r.e.stderr, "runner: job %s: --isolate never: the job gets the proxy variables only and could go around the proxy of its AllowOnlyApprovedOutbound workspace\n", c.Job.Name)
		}
	}
	proxyHost := pu.Host
	// The proxy's listener is TLS (https): the job talks to a relay of
	// the runner's on a loopback address, which carries its connection
	// to the proxy over TLS (the server's certificate, as for the API).
	dial := plainDial(pu.Host)
	if strings.EqualFold(pu.Scheme, "https") {
		dial = r.tlsDial(pu.Host)
	}
	switch {
	case useNS:
		if err := r.isolate(ctx, c, n, pu.Host, dial); err != nil {
			n.close()
			return nil, fmt.Errorf("the job's network namespace could not be made: %w", err)
		}
		proxyHost = fmt.Sprintf("127.0.0.1:%d", nsProxyPort)
	case strings.EqualFold(pu.Scheme, "https"):
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("the relay to the egress proxy: %w", err)
		}
		n.closers = append(n.closers, ln)
		go relayTCP(ln, dial)
		proxyHost = ln.Addr().String()
	}
	p := url.URL{Scheme: "http", Host: proxyHost, User: url.UserPassword(c.Job.ID, c.Token)}
	ps := p.String()
	n.env = append(n.env, "HTTP_PROXY="+ps, "HTTPS_PROXY="+ps, "http_proxy="+ps, "https_proxy="+ps, "ALL_PROXY=", "all_proxy=",
		"NO_PROXY=127.0.0.1,localhost,::1", "no_proxy=127.0.0.1,localhost,::1")
	return n, nil
}

// plainDial dials addr over TCP.
func plainDial(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 10*time.Second) }
}

// tlsDial dials the egress proxy at addr over TLS, trusting what the
// runner trusts for the mlgov endpoint and checking the certificate
// for the endpoint's host name: the proxy is the server, under its own
// certificate, whatever address it listens on.
func (r *runner) tlsDial(addr string) func() (net.Conn, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t, ok := r.cl.http.Transport.(*http.Transport); ok && t.TLSClientConfig != nil {
		cfg = t.TLSClientConfig.Clone()
	}
	if eu, err := url.Parse(r.cl.bs.Endpoint); err == nil {
		cfg.ServerName = eu.Hostname()
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cfg}
	return func() (net.Conn, error) { return d.Dial("tcp", addr) }
}

// isolate makes the job's namespace and its relays (dial: to the egress
// proxy at proxyAddr; nil: none).
func (r *runner) isolate(ctx context.Context, c *claimed, n *jobNet, proxyAddr string, dial func() (net.Conn, error)) error {
	name, err := newNetns()
	if err != nil {
		return err
	}
	n.cleanups = append(n.cleanups, func() { deleteNetns(name) })
	n.prefix = []string{"ip", "netns", "exec", name}
	inNS := func(addr string) (net.Listener, error) { return listenInNetns(name, addr) }
	relay := func(listenAddr string, dial func() (net.Conn, error)) error {
		ln, err := inNS(listenAddr)
		if err != nil {
			return err
		}
		n.closers = append(n.closers, ln)
		go relayTCP(ln, dial)
		return nil
	}
	if dial != nil {
		if err := relay(fmt.Sprintf("127.0.0.1:%d", nsProxyPort), dial); err != nil {
			return err
		}
	}
	// The mlgov endpoint at a loopback address: the same address inside.
	if eu, err := url.Parse(r.cl.bs.Endpoint); err == nil {
		h, port := eu.Hostname(), eu.Port()
		if port == "" {
			port = "443"
		}
		if a, err := netip.ParseAddr(h); err == nil && a.IsLoopback() || h == "localhost" {
			lh := h
			if h == "localhost" {
				lh = "127.0.0.1"
			}
			if err := relay(net.JoinHostPort(lh, port), plainDial(net.JoinHostPort(lh, port))); err != nil {
				return err
			}
		}
	}
	n.listen = func() (net.Listener, error) { return inNS("127.0.0.1:0") }
	if proxyAddr == "" {
		fmt.Fprintf(r.e.stderr, "runner: job %s: in network namespace %s, with no way out (the server has no egress proxy)\n", c.Job.Name, name)
	} else {
		fmt.Fprintf(r.e.stderr, "runner: job %s: in network namespace %s, out through the egress proxy %s only\n", c.Job.Name, name, proxyAddr)
	}
	return nil
}

// relayTCP relays each connection ln accepts to what dial connects to
// (from the runner's own network).
func relayTCP(ln net.Listener, dial func() (net.Conn, error)) {
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			out, err := dial()
			if err != nil {
				return
			}
			defer out.Close()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(out, in)
				if t, ok := out.(interface{ CloseWrite() error }); ok {
					t.CloseWrite() // a *tls.Conn sends close_notify
				}
			}()
			io.Copy(in, out)
			if t, ok := in.(*net.TCPConn); ok {
				t.CloseWrite()
			}
			wg.Wait()
		}()
	}
}
