package conformance

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/podnet"
)

// backends runs the echo backends of the cluster's Pods (podnet) and
// resolves Services to them.
type backends struct {
	*podnet.Pods

	mu sync.Mutex
	// upstreams are kept across Router rebuilds, keyed by Service port,
	// so that a Service's connections and round robin survive them.
	upstreams map[upstreamKey]*httproute.Upstream
}

type upstreamKey struct {
	service     httproute.ServicePort
	appProtocol string
}

func newBackends(logger *slog.Logger) *backends {
	pods := podnet.New(logger)
	pods.GRPCEcho = startGRPCEcho
	return &backends{
		Pods:      pods,
		upstreams: map[upstreamKey]*httproute.Upstream{},
	}
}

// resolver returns the ServiceResolver of one Router build, over the
// cluster's Services, EndpointSlices and running Pods at that moment.
func (b *backends) resolver(services []corev1.Service, eps []discoveryv1.EndpointSlice, pods []*corev1.Pod) httproute.ServiceResolver {
	r := &serviceResolver{
		b:        b,
		services: map[types.NamespacedName]*corev1.Service{},
		slices:   map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		pods:     pods,
	}
	for i := range services {
		s := &services[i]
		r.services[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	for i := range eps {
		s := &eps[i]
		if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
			nn := types.NamespacedName{Namespace: s.Namespace, Name: svc}
			r.slices[nn] = append(r.slices[nn], s)
		}
	}
	return r
}

// serviceResolver resolves a Service port to an Upstream over the echo
// servers of the Pods behind it: the Pods its selector picks or, for a
// Service without selector, the addresses of its EndpointSlices.
type serviceResolver struct {
	b        *backends
	services map[types.NamespacedName]*corev1.Service
	slices   map[types.NamespacedName][]*discoveryv1.EndpointSlice
	pods     []*corev1.Pod
}

func (r *serviceResolver) ResolveService(ref httproute.BackendRef) (httproute.Backend, error) {
	nn := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	svc := r.services[nn]
	if svc == nil {
		return nil, fmt.Errorf("service %s: %w", nn, httproute.ErrNotFound)
	}
	i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == ref.Port })
	if i < 0 {
		return nil, fmt.Errorf("service %s has no port %d: %w", nn, ref.Port, httproute.ErrNotFound)
	}
	sp := &svc.Spec.Ports[i]
	appProtocol := ""
	if sp.AppProtocol != nil {
		appProtocol = *sp.AppProtocol
	}
	var endpoints []string
	if len(svc.Spec.Selector) > 0 {
		endpoints = r.selectorEndpoints(svc, sp)
	} else {
		endpoints = r.sliceEndpoints(svc, sp)
	}
	return r.b.upstream(upstreamKey{httproute.ServicePort{Namespace: nn.Namespace, Name: nn.Name, Port: ref.Port}, appProtocol}, endpoints)
}

// selectorEndpoints returns the loopback addresses serving port sp on the
// Ready Pods the Service's selector picks.
func (r *serviceResolver) selectorEndpoints(svc *corev1.Service, sp *corev1.ServicePort) []string {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var out []string
	for _, p := range r.pods {
		if p.Namespace != svc.Namespace || !sel.Matches(labels.Set(p.Labels)) || !podnet.Ready(p) {
			continue
		}
		if addr := r.b.Addr(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, podnet.TargetPort(sp, p)); addr != "" {
			out = append(out, addr)
		}
	}
	return out
}

// sliceEndpoints returns the loopback addresses of the ready endpoints of
// the Service's EndpointSlices, on the slice port named like sp.
func (r *serviceResolver) sliceEndpoints(svc *corev1.Service, sp *corev1.ServicePort) []string {
	var out []string
	for _, s := range r.slices[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] {
		port := int32(0)
		for _, p := range s.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name == sp.Name && p.Port != nil {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, ip := range ep.Addresses {
				if addr := r.b.AddrByIP(ip, port); addr != "" {
					out = append(out, addr)
				}
			}
		}
	}
	return out
}

// upstream returns the Upstream of a Service port with its endpoints set
// to eps, creating it the first time. An appProtocol the library does not
// serve fails here, with an error wrapping httproute.ErrUnsupported.
func (b *backends) upstream(key upstreamKey, eps []string) (httproute.Backend, error) {
	slices.Sort(eps)
	b.mu.Lock()
	defer b.mu.Unlock()
	if u := b.upstreams[key]; u != nil {
		if err := u.SetEndpoints(eps); err != nil {
			return nil, err
		}
		return u, nil
	}
	u, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: eps, AppProtocol: key.appProtocol})
	if err != nil {
		return nil, err
	}
	b.upstreams[key] = u
	return u, nil
}
