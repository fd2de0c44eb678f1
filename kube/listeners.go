package kube

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// Listeners serves the HTTP and HTTPS listener ports of Gateways on local
// addresses and follows the Gateways: Sync opens a server for each port a
// Gateway serves (its own listeners' and those of the ListenerSets it
// accepts, httproute.GatewayRouter.Ports) and closes the servers of ports
// none serves any more.
// A port with an HTTPS listener is served over TLS with the certificates
// of the Router's current table; an HTTP port serves HTTP/1.1 and h2c.
// Use Sync as Options.OnUpdate.
type Listeners struct {
	// Host is the local address every Gateway's ports are served on, ""
	// for all interfaces. The Gateways share the servers: the Router
	// merges the listeners of Gateways that declare the same port.
	Host string
	// GatewayHost, when set, gives each Gateway a local address of its
	// own instead; each server then serves one Gateway's listeners
	// (Router.Gateway). Two Gateways given the same address conflict on
	// the ports they share: the second is not served there.
	GatewayHost func(gw types.NamespacedName) string
	// Wrap wraps each port's handler: the Controller's Gate, typically.
	// Nil serves the Router's handlers as they are.
	Wrap func(http.Handler) http.Handler
	// Logger receives servers' errors. Nil discards them.
	Logger *slog.Logger

	mu      sync.Mutex
	servers map[string]*portServer // by "host:port"
}

// portServer serves one port of one address.
type portServer struct {
	gateway *types.NamespacedName // nil when shared by every Gateway
	tls     bool
	srv     *http.Server
}

// want is what Sync wants served on one "host:port".
type want struct {
	gateway *types.NamespacedName
	port    int32
	tls     bool
}

// Sync makes the servers follow gateways; rt is the Router they serve. It
// returns the errors of ports it could not open, after opening the others.
func (l *Listeners) Sync(rt *httproute.Router, gateways []*gatewayv1.Gateway) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.servers == nil {
		l.servers = map[string]*portServer{}
	}
	wanted := map[string]*want{}
	var errs []error
	for _, gw := range gateways {
		nn := types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
		host := l.Host
		var owner *types.NamespacedName
		if l.GatewayHost != nil {
			host, owner = l.GatewayHost(nn), &nn
		}
		for _, p := range rt.Gateway(nn.Namespace, nn.Name).Ports() {
			addr := net.JoinHostPort(host, strconv.Itoa(int(p.Port)))
			w := wanted[addr]
			switch {
			case w == nil:
				wanted[addr] = &want{gateway: owner, port: p.Port, tls: p.TLS}
			case !sameGateway(w.gateway, owner):
				errs = append(errs, fmt.Errorf("kube: gateway %s port %d: address %s is taken by gateway %s", nn, p.Port, addr, w.gateway))
			default:
				w.tls = w.tls || p.TLS // HTTPS wins when both share the port
			}
		}
	}
	for addr, s := range l.servers {
		if w := wanted[addr]; w == nil || w.tls != s.tls || !sameGateway(w.gateway, s.gateway) {
			_ = s.srv.Close()
			delete(l.servers, addr)
		}
	}
	for addr, w := range wanted {
		if l.servers[addr] != nil {
			continue
		}
		s, err := l.start(rt, addr, w)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.servers[addr] = s
	}
	return errors.Join(errs...)
}

func sameGateway(a, b *types.NamespacedName) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// start opens the server of one address.
func (l *Listeners) start(rt *httproute.Router, addr string, w *want) (*portServer, error) {
	var h http.Handler
	var tlsConfig *tls.Config
	if w.gateway != nil {
		g := rt.Gateway(w.gateway.Namespace, w.gateway.Name)
		h, tlsConfig = g.Port(w.port), g.TLSConfig(w.port)
	} else {
		h, tlsConfig = rt.Port(w.port), rt.TLSConfig(w.port)
	}
	if l.Wrap != nil {
		h = l.Wrap(h)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kube: listen %s: %w", addr, err)
	}
	logger := l.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          log.New(debugWriter{logger}, "", 0),
	}
	if w.tls {
		srv.TLSConfig = tlsConfig
		go func() { _ = srv.ServeTLS(ln, "", "") }()
	} else {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		go func() { _ = srv.Serve(ln) }()
	}
	return &portServer{gateway: w.gateway, tls: w.tls, srv: srv}, nil
}

// Addrs returns the addresses served, sorted.
func (l *Listeners) Addrs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.servers))
	for a := range l.servers {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Close closes every server.
func (l *Listeners) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for addr, s := range l.servers {
		_ = s.srv.Close()
		delete(l.servers, addr)
	}
}

// debugWriter turns http.Server's error log (TLS handshake failures,
// client resets) into debug records.
type debugWriter struct{ l *slog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.l.Debug(strings.TrimSpace(string(p)))
	return len(p), nil
}
