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
// the suite's dialers, which never connect anywhere but the loopback
// servers and refuse any address they do not know. When the process may
// bind privileged ports (direct), each port is also served on the
// Gateway's address itself (127.x.y.z:port), for the tests that dial it
// without the suite's dialers (BackendTLSPolicyGRPCRoute).
type network struct {
	logger *slog.Logger
	direct bool

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
	// at serves the port on the Gateway's address (network.direct).
	at *podnet.Server
}

// close closes the port's servers.
func (ps *portServer) close() {
	ps.srv.Close()
	if ps.at != nil {
		ps.at.Close()
	}
}

// canBindGatewayAddresses reports whether this process may serve port 80
// on a loopback address other than 127.0.0.1 (root, or
// CAP_NET_BIND_SERVICE on Linux).
func canBindGatewayAddresses() bool { return canListen("127.254.254.254:80") }

// canListen reports whether this process can listen on addr now.
func canListen(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func newNetwork(logger *slog.Logger) *network {
	return &network{
		logger:   logger,
		direct:   canBindGatewayAddresses(),
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
	for {
		n.next++
		a := fmt.Sprintf("127.0.%d.%d", 1+n.next/250, 1+n.next%250)
		// Another process (a test binary of another package) may serve
		// Gateways on this address: take the next one.
		if n.direct && n.next < 60000 && !canListen(net.JoinHostPort(a, "80")) {
			continue
		}
		n.addrs[nn] = a
		return a
	}
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
				ps.close()
				delete(ports, p)
			}
		}
		for p, isTLS := range want {
			if ports[p] != nil {
				continue
			}
			// Each Gateway has an address of its own: serve only its
			// listeners, even when another Gateway declares the same port.
			gr := rt.Gateway(nn.Namespace, nn.Name)
			start := func(addr string) (*podnet.Server, error) {
				if isTLS {
					return podnet.StartServerAt(addr, gr.Port(p), false, gr.TLSConfig(p), n.logger)
				}
				return podnet.StartServerAt(addr, gr.Port(p), true, nil, n.logger)
			}
			srv, err := start("127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("gateway %s port %d: %w", nn, p, err)
			}
			ps := &portServer{tls: isTLS, srv: srv}
			if n.direct {
				if ps.at, err = start(net.JoinHostPort(n.addressLocked(nn), fmt.Sprint(p))); err != nil {
					n.logger.Warn("serving a Gateway port on the Gateway's address", "gateway", nn.String(), "port", p, "error", err)
				}
			}
			ports[p] = ps
		}
	}
	for nn, ports := range n.gateways {
		if seen[nn] {
			continue
		}
		for _, ps := range ports {
			ps.close()
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
			ps.close()
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
