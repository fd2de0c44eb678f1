// Package endpointslice resolves backendRefs to Kubernetes Services the way
// a cluster's data plane does: a Service port is served by the ready
// endpoints of the Service's EndpointSlices, on the EndpointSlice port
// named like the Service port.
//
// A Resolver keeps one httproute.Upstream per Service port across Router
// builds, so that connections, balancing and passive-health state survive
// every Update; only its endpoints change. The cluster source (the kube
// module) feeds it from informers; a program can feed it Services and
// EndpointSlices read from files just as well.
package endpointslice

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/httproute/httproute"
)

// Resolver turns Service backendRefs into Upstreams. It is safe for
// concurrent use. The zero Resolver is ready to use and gives every
// Upstream the library's defaults.
type Resolver struct {
	// Upstream is the template of every Upstream the Resolver creates:
	// its Balancer, Health and Transport are used as they are; its
	// Endpoints and AppProtocol are set per Service port.
	Upstream httproute.UpstreamConfig
	// DialContext, when set and Upstream.Transport is not, connects the
	// Upstreams' own transports (httproute.NewTransport) in place of a
	// net.Dialer: a test network, a tunnel.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	mu        sync.Mutex
	upstreams map[upstreamKey]*httproute.Upstream
}

// upstreamKey identifies an Upstream: a Service port and the protocol it
// speaks. An appProtocol change makes a new Upstream (its transport
// differs); any other change keeps it.
type upstreamKey struct {
	port        httproute.ServicePort
	appProtocol string
}

// Snapshot is the ServiceResolver of one Router build: the Services and
// EndpointSlices it was made from, indexed.
type Snapshot struct {
	r        *Resolver
	services map[types.NamespacedName]*corev1.Service
	slices   map[types.NamespacedName][]*discoveryv1.EndpointSlice
}

var (
	_ httproute.ServiceResolver  = (*Snapshot)(nil)
	_ httproute.ServicePortNamer = (*Snapshot)(nil)
)

// For returns the ServiceResolver of a Config built from services and
// endpointSlices (an EndpointSlice belongs to the Service its
// kubernetes.io/service-name label names, in its namespace). It forgets
// the Upstreams of Service ports that no longer exist in services, closing
// their idle connections.
func (r *Resolver) For(services []*corev1.Service, endpointSlices []*discoveryv1.EndpointSlice) *Snapshot {
	s := &Snapshot{
		r:        r,
		services: make(map[types.NamespacedName]*corev1.Service, len(services)),
		slices:   map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
	}
	for _, svc := range services {
		if svc != nil {
			s.services[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] = svc
		}
	}
	for _, es := range endpointSlices {
		if es == nil {
			continue
		}
		if name := es.Labels[discoveryv1.LabelServiceName]; name != "" {
			nn := types.NamespacedName{Namespace: es.Namespace, Name: name}
			s.slices[nn] = append(s.slices[nn], es)
		}
	}
	r.prune(s.services)
	return s
}

// prune drops the Upstreams of Service ports that services no longer has.
func (r *Resolver) prune(services map[types.NamespacedName]*corev1.Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, u := range r.upstreams {
		svc := services[types.NamespacedName{Namespace: k.port.Namespace, Name: k.port.Name}]
		if svc == nil || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
			return p.Port == k.port.Port && appProtocol(&p) == k.appProtocol
		}) {
			u.CloseIdleConnections()
			delete(r.upstreams, k)
		}
	}
}

// ResolveService returns the Upstream of the referenced Service port, its
// endpoints set to the ready endpoints of the Service's EndpointSlices. A
// Service without ready endpoints resolves to an Upstream that answers
// 503. The endpoints of a port of appProtocol https (in any case) are
// dialed over TLS, verified with the system roots unless a
// BackendTLSPolicy covers the port. A missing Service or port is an error wrapping
// httproute.ErrNotFound; an ExternalName Service or an appProtocol the
// library does not speak, one wrapping httproute.ErrUnsupported.
func (s *Snapshot) ResolveService(ref httproute.BackendRef) (httproute.Backend, error) {
	nn := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	svc, err := s.service(nn)
	if err != nil {
		return nil, err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, fmt.Errorf("service %s: type ExternalName: %w", nn, httproute.ErrUnsupported)
	}
	sp, err := servicePort(svc, ref.Port)
	if err != nil {
		return nil, err
	}
	key := upstreamKey{httproute.ServicePort{Namespace: nn.Namespace, Name: nn.Name, Port: ref.Port}, appProtocol(sp)}
	eps := Endpoints(sp, s.slices[nn])
	if isHTTPS(key.appProtocol) {
		// A TLS port: its endpoints are dialed over TLS (with the system
		// roots, unless a BackendTLSPolicy says how to verify them).
		for i, e := range eps {
			eps[i] = "https://" + e
		}
	}
	return s.r.upstream(key, eps)
}

// ServicePortName returns the name of port port of Service
// namespace/name, so that BackendTLSPolicies can select Service ports by
// name (targetRefs[].sectionName). A missing Service or port is an error
// wrapping httproute.ErrNotFound.
func (s *Snapshot) ServicePortName(namespace, name string, port int32) (string, error) {
	svc, err := s.service(types.NamespacedName{Namespace: namespace, Name: name})
	if err != nil {
		return "", err
	}
	sp, err := servicePort(svc, port)
	if err != nil {
		return "", err
	}
	return sp.Name, nil
}

// service returns Service nn, or an error wrapping httproute.ErrNotFound.
func (s *Snapshot) service(nn types.NamespacedName) (*corev1.Service, error) {
	if svc := s.services[nn]; svc != nil {
		return svc, nil
	}
	return nil, fmt.Errorf("service %s: %w", nn, httproute.ErrNotFound)
}

// servicePort returns port port of svc, or an error wrapping
// httproute.ErrNotFound.
func servicePort(svc *corev1.Service, port int32) (*corev1.ServicePort, error) {
	i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == port })
	if i < 0 {
		return nil, fmt.Errorf("service %s/%s has no port %d: %w", svc.Namespace, svc.Name, port, httproute.ErrNotFound)
	}
	return &svc.Spec.Ports[i], nil
}

// Endpoints returns the "host:port" addresses that serve Service port sp:
// the ready endpoints of slices (an endpoint whose ready condition is
// unset counts as ready, as the EndpointSlice API says) on the slice port
// whose name is sp's name, sorted and without repeats. Slices of FQDN
// addresses contribute their host names. Addresses that are not valid for
// their slice's address type are left out.
func Endpoints(sp *corev1.ServicePort, endpointSlices []*discoveryv1.EndpointSlice) []string {
	var out []string
	for _, es := range endpointSlices {
		port, ok := slicePort(es, sp.Name)
		if !ok {
			continue
		}
		p := strconv.Itoa(int(port))
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				if validAddress(es.AddressType, a) {
					out = append(out, net.JoinHostPort(a, p))
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// slicePort returns the number of the EndpointSlice port named name, and
// whether the slice has one with a valid number.
func slicePort(es *discoveryv1.EndpointSlice, name string) (int32, bool) {
	for _, p := range es.Ports {
		n := ""
		if p.Name != nil {
			n = *p.Name
		}
		if n == name && p.Port != nil && *p.Port > 0 && *p.Port <= 65535 {
			return *p.Port, true
		}
	}
	return 0, false
}

// validAddress reports whether a is an address of type t.
func validAddress(t discoveryv1.AddressType, a string) bool {
	switch t {
	case discoveryv1.AddressTypeIPv4:
		ip, err := netip.ParseAddr(a)
		return err == nil && ip.Is4()
	case discoveryv1.AddressTypeIPv6:
		ip, err := netip.ParseAddr(a)
		return err == nil && ip.Is6() && ip.Zone() == ""
	case discoveryv1.AddressTypeFQDN:
		return len(validation.IsDNS1123Subdomain(a)) == 0
	default:
		return false
	}
}

// isHTTPS reports whether a Service port's appProtocol is HTTPS (IANA's
// "https", in any case): HTTP/1.1 over TLS.
func isHTTPS(appProtocol string) bool { return strings.EqualFold(appProtocol, "https") }

func appProtocol(sp *corev1.ServicePort) string {
	if sp.AppProtocol == nil {
		return ""
	}
	return *sp.AppProtocol
}

// upstream returns the Upstream of key with its endpoints set to eps,
// creating it the first time.
func (r *Resolver) upstream(key upstreamKey, eps []string) (*httproute.Upstream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u := r.upstreams[key]; u != nil {
		if err := u.SetEndpoints(eps); err != nil {
			return nil, fmt.Errorf("service %s/%s port %d: %w", key.port.Namespace, key.port.Name, key.port.Port, err)
		}
		return u, nil
	}
	cfg := r.Upstream
	cfg.Endpoints = eps
	cfg.AppProtocol = key.appProtocol
	if isHTTPS(cfg.AppProtocol) {
		cfg.AppProtocol = "" // HTTP/1.1 over the TLS the endpoints' scheme asks for
	}
	if cfg.Transport == nil && r.DialContext != nil {
		switch cfg.AppProtocol {
		case "", "http", "HTTP", httproute.AppProtocolWS, httproute.AppProtocolH2C:
			t := httproute.NewTransport(key.appProtocol == httproute.AppProtocolH2C)
			t.DialContext = r.DialContext
			cfg.Transport = t
		default:
			// NewUpstream refuses it, as it would without DialContext.
		}
	}
	u, err := httproute.NewUpstream(cfg)
	if err != nil {
		return nil, fmt.Errorf("service %s/%s port %d: %w", key.port.Namespace, key.port.Name, key.port.Port, err)
	}
	if r.upstreams == nil {
		r.upstreams = map[upstreamKey]*httproute.Upstream{}
	}
	r.upstreams[key] = u
	return u, nil
}
