package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"golang.org/x/net/websocket"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/roundtripper"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/podnet"
)

// network gives every Gateway an address and serves each of its listener
// ports on a loopback server, then maps "address:port" to that server for
// the suite's dialers. Gateway addresses are names only: the dialer never
// connects anywhere but the loopback servers, and refuses any address it
// does not know.
type network struct {
	logger *slog.Logger

	mu       sync.Mutex
	next     int
	addrs    map[types.NamespacedName]string
	gateways map[types.NamespacedName]map[int32]*portServer
	// routes maps a Gateway's "address:port" to its loopback server.
	routes map[string]string
}

// portServer serves one listener port of one Gateway.
type portServer struct {
	tls bool
	srv *podnet.Server
}

func newNetwork(logger *slog.Logger) *network {
	return &network{
		logger:   logger,
		addrs:    map[types.NamespacedName]string{},
		gateways: map[types.NamespacedName]map[int32]*portServer{},
		routes:   map[string]string{},
	}
}

// address returns the address of a Gateway, giving it one the first time.
func (n *network) address(nn types.NamespacedName) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addressLocked(nn)
}

func (n *network) addressLocked(nn types.NamespacedName) string {
	if a, ok := n.addrs[nn]; ok {
		return a
	}
	n.next++
	a := fmt.Sprintf("127.0.%d.%d", 1+n.next/250, 1+n.next%250)
	n.addrs[nn] = a
	return a
}

// sync makes the servers follow the Gateways: one server per Gateway and
// listener port (router.Gateway(ns, name).Ports: its own listeners' and
// those its ListenerSets contribute), serving
// router.Gateway(ns, name).Port(port), over TLS with that Gateway's
// TLSConfig(port) when a listener of the port is HTTPS. Servers of ports
// and Gateways that are gone are closed.
func (n *network) sync(rt *httproute.Router, gateways []*gatewayv1.Gateway) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	seen := map[types.NamespacedName]bool{}
	for _, gw := range gateways {
		nn := types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
		seen[nn] = true
		want := map[int32]bool{} // port -> TLS
		for _, p := range rt.Gateway(nn.Namespace, nn.Name).Ports() {
			want[p.Port] = p.TLS
		}
		ports := n.gateways[nn]
		if ports == nil {
			ports = map[int32]*portServer{}
			n.gateways[nn] = ports
		}
		for p, ps := range ports {
			if isTLS, ok := want[p]; !ok || isTLS != ps.tls {
				ps.srv.Close()
				delete(ports, p)
			}
		}
		for p, isTLS := range want {
			if ports[p] != nil {
				continue
			}
			var srv *podnet.Server
			var err error
			// Each Gateway has an address of its own: serve only its
			// listeners, even when another Gateway declares the same port.
			gr := rt.Gateway(nn.Namespace, nn.Name)
			if isTLS {
				srv, err = podnet.StartServer(gr.Port(p), false, gr.TLSConfig(p), n.logger)
			} else {
				srv, err = podnet.StartServer(gr.Port(p), true, nil, n.logger)
			}
			if err != nil {
				return fmt.Errorf("gateway %s port %d: %w", nn, p, err)
			}
			ports[p] = &portServer{tls: isTLS, srv: srv}
		}
	}
	for nn, ports := range n.gateways {
		if seen[nn] {
			continue
		}
		for _, ps := range ports {
			ps.srv.Close()
		}
		delete(n.gateways, nn)
	}
	n.routes = map[string]string{}
	for nn, ports := range n.gateways {
		addr := n.addressLocked(nn)
		for p, ps := range ports {
			n.routes[net.JoinHostPort(addr, fmt.Sprint(p))] = ps.srv.Addr
		}
	}
	return nil
}

func (n *network) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ports := range n.gateways {
		for _, ps := range ports {
			ps.srv.Close()
		}
	}
	n.gateways = map[types.NamespacedName]map[int32]*portServer{}
	n.routes = map[string]string{}
}

// lookup returns the loopback server of a Gateway's "address:port".
func (n *network) lookup(hostport string) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if target, ok := n.routes[hostport]; ok {
		return target, nil
	}
	return "", fmt.Errorf("no Gateway listener at %s in the in-process cluster", hostport)
}

// DialContext connects to the loopback server of a Gateway's
// "address:port". It is the suite's RoundTripper's CustomDialContext.
func (n *network) DialContext(ctx context.Context, network, hostport string) (net.Conn, error) {
	target, err := n.lookup(hostport)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", target)
}

// roundTripper is the suite's RoundTripper. HTTP/1.1 and HTTPS requests
// dial through the DefaultRoundTripper's CustomDialContext; its HTTP/2
// transports (h2c with prior knowledge, and h2) dial the URL's host
// themselves, so for those the URL is pointed at the loopback server
// while the Host header keeps the Gateway's address.
type roundTripper struct {
	inner *roundtripper.DefaultRoundTripper
	net   *network
}

func (rt *roundTripper) CaptureRoundTrip(req roundtripper.Request) (*roundtripper.CapturedRequest, *roundtripper.CapturedResponse, error) {
	switch req.Protocol {
	case roundtripper.H2CPriorKnowledgeProtocol, roundtripper.H2Protocol:
		target, err := rt.net.lookup(hostPort(&req.URL))
		if err != nil {
			return nil, nil, err
		}
		if req.Host == "" {
			req.Host = req.URL.Host
		}
		req.URL.Host = target
	default:
	}
	return rt.inner.CaptureRoundTrip(req)
}

// hostPort returns the "host:port" a URL connects to.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	switch u.Scheme {
	case "https", "wss":
		return net.JoinHostPort(u.Hostname(), "443")
	default:
		return net.JoinHostPort(u.Hostname(), "80")
	}
}

// wsDialer is the suite's WebSocket dialer: x/net/websocket's handshake
// over a connection to the Gateway's loopback server.
type wsDialer struct {
	net     *network
	timeout time.Duration
}

func (d *wsDialer) Dial(rawURL, protocol, origin string) (*websocket.Conn, error) {
	cfg, err := websocket.NewConfig(rawURL, origin)
	if err != nil {
		return nil, err
	}
	if protocol != "" {
		cfg.Protocol = []string{protocol}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	conn, err := d.net.DialContext(ctx, "tcp", hostPort(cfg.Location))
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(d.timeout))
	ws, err := websocket.NewClient(cfg, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ws, nil
}
