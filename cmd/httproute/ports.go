package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// listenerPorts returns the ports the HTTP and HTTPS listeners of gateways
// declare, each true when an HTTPS listener declares it (a port is served
// over TLS when any of its listeners is HTTPS). Listeners of other
// protocols are not served by the Router.
func listenerPorts(gateways []*gatewayv1.Gateway) map[int32]bool {
	ports := map[int32]bool{}
	for _, gw := range gateways {
		for _, l := range gw.Spec.Listeners {
			switch l.Protocol {
			case gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType:
				ports[l.Port] = ports[l.Port] || l.Protocol == gatewayv1.HTTPSProtocolType
			default:
			}
		}
	}
	return ports
}

// ports serves listener ports of a Router, one http.Server each, and
// follows the ports across reloads: sync opens the servers of new ports
// and drains those of ports no longer declared. An HTTPS port is served
// with the Router's TLS configuration (its certificates follow Update);
// an HTTP port serves HTTP/1.1 and h2c.
type ports struct {
	// host is the local address of a port bind does not name, "" for
	// every interface.
	host string
	// bind maps a listener port to the local address that serves it.
	bind map[int32]string
	// wrap wraps each port's handler (the cluster source's readiness
	// gate); nil serves the Router's handlers as they are.
	wrap func(http.Handler) http.Handler
	// grace bounds how long the server of a port that a reload removes
	// lets its requests finish.
	grace  time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	servers map[int32]*portServer
	// failed are the ports the last sync could not open, with why.
	failed map[int32]listenerStatus
	closed bool
	// retiring counts the servers of removed ports still draining.
	retiring sync.WaitGroup
}

// portServer serves one listener port.
type portServer struct {
	port int32
	tls  bool
	ln   net.Listener
	srv  *http.Server
}

// listenerStatus is one served port, for /status.
type listenerStatus struct {
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	Address  string `json:"address,omitempty"`
	Error    string `json:"error,omitempty"`
}

// addr is the local address port is served on.
func (p *ports) addr(port int32) string {
	if a, ok := p.bind[port]; ok {
		return a
	}
	return net.JoinHostPort(p.host, strconv.Itoa(int(port)))
}

// sync serves want (port: whether over TLS) with rt and stops serving
// the other ports. It returns the errors of the ports it could not open,
// after opening the others; a later sync tries them again.
func (p *ports) sync(rt *httproute.Router, want map[int32]bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	if p.servers == nil {
		p.servers = map[int32]*portServer{}
	}
	for port, s := range p.servers {
		if isTLS, ok := want[port]; !ok || isTLS != s.tls {
			p.retire(s)
			delete(p.servers, port)
		}
	}
	p.failed = map[int32]listenerStatus{}
	var errs []error
	for _, port := range slices.Sorted(maps.Keys(want)) {
		if p.servers[port] != nil {
			continue
		}
		s, err := p.open(rt, port, want[port])
		if err != nil {
			p.failed[port] = listenerStatus{Port: port, Protocol: protocol(want[port]), Address: p.addr(port), Error: err.Error()}
			errs = append(errs, err)
			continue
		}
		p.servers[port] = s
	}
	return errors.Join(errs...)
}

// open starts the server of one port.
func (p *ports) open(rt *httproute.Router, port int32, isTLS bool) (*portServer, error) {
	var h http.Handler = rt.Port(port)
	if p.wrap != nil {
		h = p.wrap(h)
	}
	ln, err := net.Listen("tcp", p.addr(port))
	if err != nil {
		return nil, fmt.Errorf("listener port %d: %w", port, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		// Handshake failures and client resets are not the operator's
		// problem: debug records.
		ErrorLog: slog.NewLogLogger(p.logger.Handler(), slog.LevelDebug),
	}
	s := &portServer{port: port, tls: isTLS, ln: ln, srv: srv}
	serve := func() error { return srv.Serve(ln) }
	if isTLS {
		srv.TLSConfig = rt.TLSConfig(port)
		serve = func() error { return srv.ServeTLS(ln, "", "") }
	} else {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	go func() {
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			p.logger.Error("serving a listener port", "port", port, "error", err)
		}
	}()
	p.logger.Info("listening", "port", port, "protocol", protocol(isTLS), "address", ln.Addr().String())
	return s, nil
}

func protocol(isTLS bool) string {
	if isTLS {
		return string(gatewayv1.HTTPSProtocolType)
	}
	return string(gatewayv1.HTTPProtocolType)
}

// retire stops the server of a port no longer served: its address is
// free at once, its requests finish within grace. Called with mu held.
func (p *ports) retire(s *portServer) {
	_ = s.ln.Close()
	p.logger.Info("listener port closed", "port", s.port, "address", s.ln.Addr().String())
	p.retiring.Add(1)
	go func() {
		defer p.retiring.Done()
		ctx, cancel := context.WithTimeout(context.Background(), p.grace)
		defer cancel()
		drain(ctx, s.srv)
	}()
}

// drain shuts srv down, letting its requests finish until ctx is done and
// closing the connections left then. It reports whether every request
// finished.
func drain(ctx context.Context, srv *http.Server) bool {
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return false
	}
	return true
}

// shutdown stops accepting connections on every port at once, then lets
// the requests in flight finish until ctx is done; connections still open
// then are closed. Later syncs open nothing. It reports whether every
// request finished in time.
func (p *ports) shutdown(ctx context.Context) bool {
	p.mu.Lock()
	p.closed = true
	servers := make([]*portServer, 0, len(p.servers))
	for _, s := range p.servers {
		_ = s.ln.Close()
		servers = append(servers, s)
	}
	p.servers = nil
	p.mu.Unlock()

	var wg sync.WaitGroup
	var mu sync.Mutex
	all := true
	for _, s := range servers {
		wg.Go(func() {
			if !drain(ctx, s.srv) {
				mu.Lock()
				all = false
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	p.retiring.Wait()
	return all
}

// status lists the ports served and those that could not be opened, by
// port.
func (p *ports) status() []listenerStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []listenerStatus{}
	for _, s := range p.servers {
		out = append(out, listenerStatus{Port: s.port, Protocol: protocol(s.tls), Address: s.ln.Addr().String()})
	}
	for _, f := range p.failed {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b listenerStatus) int { return cmp.Compare(a.Port, b.Port) })
	return out
}
