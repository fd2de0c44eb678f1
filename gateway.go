package httproute

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// listener is one compiled Gateway listener, or one listener a
// ListenerSet contributes to its Gateway (listenerset.go).
type listener struct {
	gateway  types.NamespacedName
	gw       *gatewayv1.Gateway
	name     gatewayv1.SectionName
	port     int32
	protocol gatewayv1.ProtocolType
	hostname string // "" when the listener has none
	// implicit is the catch-all listener of a Config without Gateways.
	implicit bool

	// set is the ListenerSet that declares the listener, zero for the
	// Gateway's own; namespace is the declaring object's namespace, the
	// one allowedRoutes' Same admits.
	set       types.NamespacedName
	namespace string
	// conflicted reports whether the listener lost its port or hostname
	// to another listener of its Gateway (Conflicted True).
	conflicted bool

	from     gatewayv1.FromNamespaces
	selector labels.Selector
	// allowsHTTPRoute reports whether allowedRoutes.kinds admits HTTPRoute,
	// allowsGRPCRoute whether it admits GRPCRoute.
	allowsHTTPRoute bool
	allowsGRPCRoute bool
	// accepted reports whether routes may attach to the listener (it is
	// counted in attachedRoutes); ready whether it also serves them (its
	// references resolved, so it is programmed).
	accepted bool
	ready    bool
	certs    []tls.Certificate
	// clientTLS is the handshake configuration of an HTTPS listener whose
	// Gateway verifies client certificates on its port, nil otherwise.
	clientTLS *tls.Config

	supportedKinds []gatewayv1.RouteGroupKind
	conditions     []metav1.Condition
	// routes are the routes attached to the listener, until its index is
	// built from them (the compile then drops the list); attached counts
	// them for the listener's status.
	routes   []attachment
	attached int32

	// pre are the listener's compiled pre-routing filters, filters their
	// spec (listenerfilter.go).
	pre     []middleware
	filters *gatewayv1.ListenerFilters
}

var httpRouteKind = gatewayv1.RouteGroupKind{Group: ptr(gatewayv1.Group(gatewayv1.GroupName)), Kind: "HTTPRoute"}

func ptr[T any](v T) *T { return &v }

// listenerOwner is the object whose spec.listeners declares listeners: a
// Gateway, or a ListenerSet contributing them to its parent Gateway. The
// owner's kind and namespace are what ReferenceGrants are checked for
// (a Gateway's grants are not a ListenerSet's, GEP-1713).
type listenerOwner struct {
	kind            string // "Gateway" or "ListenerSet"
	namespace, name string
	generation      int64
	// gateway is the Gateway the listeners belong to.
	gateway *gatewayv1.Gateway
}

func gatewayOwner(gw *gatewayv1.Gateway) listenerOwner {
	return listenerOwner{kind: "Gateway", namespace: gw.Namespace, name: gw.Name, generation: gw.Generation, gateway: gw}
}

// compileListeners compiles the listeners of one Gateway and reports their
// conditions.
func (c *compiler) compileListeners(gw *gatewayv1.Gateway) []*listener {
	out := c.compileListenerList(gatewayOwner(gw), gw.Spec.Listeners)
	c.markConflicts(out)
	return out
}

// compileListenerList compiles the listeners an owner declares, each on
// its own: conflicts between them are the caller's to mark.
func (c *compiler) compileListenerList(o listenerOwner, listeners []gatewayv1.Listener) []*listener {
	gw := o.gateway
	gen := o.generation
	nn := types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
	var out []*listener
	for i := range listeners {
		ls := &listeners[i]
		l := &listener{
			gateway:  nn,
			gw:       gw,
			name:     ls.Name,
			port:     ls.Port,
			protocol: ls.Protocol,
			from:     gatewayv1.NamespacesFromSame,
		}
		l.namespace = o.namespace
		if o.kind == "ListenerSet" {
			l.set = types.NamespacedName{Namespace: o.namespace, Name: o.name}
		}
		if ls.Hostname != nil {
			l.hostname = strings.ToLower(string(*ls.Hostname))
		}
		accepted, acceptedReason, acceptedMsg := true, string(gatewayv1.ListenerReasonAccepted), ""
		resolved, resolvedReason, resolvedMsg := true, string(gatewayv1.ListenerReasonResolvedRefs), ""

		switch ls.Protocol {
		case gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType:
		default:
			accepted, acceptedReason = false, string(gatewayv1.ListenerReasonUnsupportedProtocol)
			acceptedMsg = fmt.Sprintf("protocol %q is not supported; this gateway serves HTTP and HTTPS", ls.Protocol)
		}

		// allowedRoutes.kinds: HTTPRoute and GRPCRoute are served, on HTTP
		// and HTTPS listeners (on TLS ones they are invalid kinds).
		if ar := ls.AllowedRoutes; ar != nil && len(ar.Kinds) > 0 {
			var bad []string
			httpish := ls.Protocol == gatewayv1.HTTPProtocolType || ls.Protocol == gatewayv1.HTTPSProtocolType
			for _, k := range ar.Kinds {
				g := gatewayv1.GroupName
				if k.Group != nil {
					g = string(*k.Group)
				}
				if g == gatewayv1.GroupName && k.Kind == "HTTPRoute" && httpish {
					l.allowsHTTPRoute = true
					l.supportedKinds = append(l.supportedKinds, httpRouteKind)
					continue
				}
				if g == gatewayv1.GroupName && k.Kind == "GRPCRoute" && httpish {
					l.allowsGRPCRoute = true
					l.supportedKinds = append(l.supportedKinds, grpcRouteKind)
					continue
				}
				bad = append(bad, g+"/"+string(k.Kind))
			}
			if len(bad) > 0 {
				resolved, resolvedReason = false, string(gatewayv1.ListenerReasonInvalidRouteKinds)
				resolvedMsg = "unsupported route kinds: " + strings.Join(bad, ", ")
			}
		} else if accepted {
			l.allowsHTTPRoute, l.allowsGRPCRoute = true, true
			l.supportedKinds = []gatewayv1.RouteGroupKind{httpRouteKind, grpcRouteKind}
		}
		if l.supportedKinds == nil {
			l.supportedKinds = []gatewayv1.RouteGroupKind{}
		}

		// allowedRoutes.namespaces
		if ar := ls.AllowedRoutes; ar != nil && ar.Namespaces != nil {
			if ar.Namespaces.From != nil {
				l.from = *ar.Namespaces.From
			}
			switch l.from {
			case gatewayv1.NamespacesFromSame, gatewayv1.NamespacesFromAll, gatewayv1.NamespacesFromNone:
			case gatewayv1.NamespacesFromSelector:
				if ar.Namespaces.Selector == nil {
					accepted, acceptedReason = false, string(gatewayv1.ListenerReasonUnsupportedValue)
					acceptedMsg = "allowedRoutes.namespaces.selector must be set when from is Selector"
					break
				}
				sel, err := metav1.LabelSelectorAsSelector(ar.Namespaces.Selector)
				if err != nil {
					accepted, acceptedReason = false, string(gatewayv1.ListenerReasonUnsupportedValue)
					acceptedMsg = "allowedRoutes.namespaces.selector: " + err.Error()
					break
				}
				l.selector = sel
			default:
				accepted, acceptedReason = false, string(gatewayv1.ListenerReasonUnsupportedValue)
				acceptedMsg = fmt.Sprintf("allowedRoutes.namespaces.from %q is not supported", l.from)
			}
		}

		// Pre-routing filters (GEP-5224).
		if accepted {
			pre, acc, res := c.compileListenerFilters(o, i, ls)
			l.pre, l.filters = pre, ls.Filters
			if acc.reason != "" {
				accepted, acceptedReason, acceptedMsg = false, acc.reason, acc.msg
			}
			if res.reason != "" && resolved {
				resolved, resolvedReason, resolvedMsg = false, res.reason, res.msg
			}
		}

		// TLS for HTTPS listeners.
		certsOK := true
		if ls.Protocol == gatewayv1.HTTPSProtocolType && accepted {
			ok, reason, msg := c.listenerCerts(o, ls, l)
			if !ok {
				certsOK = false
				resolved, resolvedReason, resolvedMsg = false, reason, msg
			}
		}
		// Client certificates (frontendtls.go).
		if ls.Protocol == gatewayv1.HTTPSProtocolType && accepted && certsOK {
			if fv := c.frontendValidationFor(gw, ls.Port); fv != nil {
				if p := fv.problem; p != nil && resolved {
					resolved, resolvedReason, resolvedMsg = false, p.reason, "tls.frontend: "+p.msg
				}
				if fv.pool == nil {
					accepted, acceptedReason, acceptedMsg = false, string(gatewayv1.ListenerReasonNoValidCACertificate), "tls.frontend: no usable CA certificate"
				} else {
					l.clientTLS = fv.serverConfig(&l.certs[0])
				}
			}
		}

		// Invalid route kinds alone do not stop a listener from serving the
		// HTTPRoutes it also allows; a listener that cannot terminate TLS
		// does not serve at all.
		l.accepted = accepted
		l.ready = accepted && certsOK
		programmedReason := string(gatewayv1.ListenerReasonProgrammed)
		if !l.ready {
			programmedReason = string(gatewayv1.ListenerReasonInvalid)
		}
		now := c.now
		l.conditions = []metav1.Condition{
			condition(string(gatewayv1.ListenerConditionAccepted), accepted, acceptedReason, acceptedMsg, gen, now),
			condition(string(gatewayv1.ListenerConditionResolvedRefs), resolved, resolvedReason, resolvedMsg, gen, now),
			condition(string(gatewayv1.ListenerConditionProgrammed), l.ready, programmedReason, "", gen, now),
			condition(string(gatewayv1.ListenerConditionConflicted), false, string(gatewayv1.ListenerReasonNoConflicts), "", gen, now),
		}
		if !l.ready {
			c.warn(o.kind, o.namespace, o.name, fmt.Sprintf("listener %q is not ready: %s %s", ls.Name, acceptedMsg, resolvedMsg))
		}
		out = append(out, l)
	}
	return out
}

// markConflicts flags listeners of one Gateway that share a port with a
// different protocol: neither can be served reliably.
func (c *compiler) markConflicts(ls []*listener) {
	for i, a := range ls {
		for _, b := range ls[:i] {
			if a.port != b.port || a.protocol == b.protocol {
				continue
			}
			for _, l := range []*listener{a, b} {
				l.accepted, l.ready, l.conflicted = false, false, true
				for j := range l.conditions {
					switch l.conditions[j].Type {
					case string(gatewayv1.ListenerConditionConflicted):
						l.conditions[j].Status = metav1.ConditionTrue
						l.conditions[j].Reason = string(gatewayv1.ListenerReasonProtocolConflict)
						l.conditions[j].Message = fmt.Sprintf("port %d is used with protocols %s and %s", a.port, a.protocol, b.protocol)
					case string(gatewayv1.ListenerConditionProgrammed):
						l.conditions[j].Status = metav1.ConditionFalse
						l.conditions[j].Reason = string(gatewayv1.ListenerReasonInvalid)
					}
				}
			}
		}
	}
}

// listenerCerts loads the certificates of an HTTPS listener. It reports
// whether all references resolved, and if not the reason and message.
func (c *compiler) listenerCerts(o listenerOwner, ls *gatewayv1.Listener, l *listener) (bool, string, string) {
	if ls.TLS == nil {
		return false, string(gatewayv1.ListenerReasonInvalidCertificateRef), "HTTPS listener has no tls configuration"
	}
	if ls.TLS.Mode != nil && *ls.TLS.Mode != gatewayv1.TLSModeTerminate {
		return false, string(gatewayv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("tls.mode %q is not supported on HTTPS listeners", *ls.TLS.Mode)
	}
	if len(ls.TLS.CertificateRefs) == 0 {
		return false, string(gatewayv1.ListenerReasonInvalidCertificateRef), "HTTPS listener has no certificateRefs"
	}
	for i, ref := range ls.TLS.CertificateRefs {
		group, kind := "", "Secret"
		if ref.Group != nil {
			group = string(*ref.Group)
		}
		if ref.Kind != nil {
			kind = string(*ref.Kind)
		}
		ns := o.namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		if group != "" || kind != "Secret" {
			return false, string(gatewayv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRefs[%d]: unsupported kind %s/%s", i, group, kind)
		}
		if !c.grants.allows(gatewayv1.GroupName, o.kind, o.namespace, "", "Secret", ns, string(ref.Name)) {
			return false, string(gatewayv1.ListenerReasonRefNotPermitted), fmt.Sprintf("certificateRefs[%d]: secret %s/%s is in another namespace and no ReferenceGrant allows it", i, ns, ref.Name)
		}
		sec := c.secrets[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}]
		if sec == nil {
			return false, string(gatewayv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRefs[%d]: secret %s/%s not found", i, ns, ref.Name)
		}
		cert, err := tls.X509KeyPair(sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey])
		if err != nil {
			return false, string(gatewayv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRefs[%d]: secret %s/%s: %v", i, ns, ref.Name, err)
		}
		l.certs = append(l.certs, cert)
	}
	return true, "", ""
}

// gatewayStatus assembles the status of one Gateway once routes are
// attached.
func (c *compiler) gatewayStatus(gw *gatewayv1.Gateway, ls []*listener) gatewayv1.GatewayStatus {
	gen := gw.Generation
	st := gatewayv1.GatewayStatus{}
	allReady, allResolved := true, true
	for _, l := range ls {
		st.Listeners = append(st.Listeners, l.status())
		if !l.ready {
			allReady = false
		}
		for _, cond := range l.conditions {
			if cond.Type == string(gatewayv1.ListenerConditionResolvedRefs) && cond.Status != metav1.ConditionTrue {
				allResolved = false
			}
		}
	}
	acceptedReason := string(gatewayv1.GatewayReasonAccepted)
	if !allReady {
		acceptedReason = string(gatewayv1.GatewayReasonListenersNotValid)
	}
	accepted := gatewayAccepted(ls)
	programmedReason := string(gatewayv1.GatewayReasonProgrammed)
	if !accepted {
		programmedReason = string(gatewayv1.GatewayReasonInvalid)
	}
	resolvedReason := string(gatewayv1.GatewayReasonResolvedRefs)
	if !allResolved {
		resolvedReason = string(gatewayv1.GatewayReasonListenersNotResolved)
	}
	resolvedMsg := ""
	if p, ok := c.tls.gatewayErr(gw); ok {
		allResolved, resolvedReason, resolvedMsg = false, p.reason, "spec.tls.backend.clientCertificateRef: "+p.msg
	}
	st.Conditions = []metav1.Condition{
		condition(string(gatewayv1.GatewayConditionAccepted), accepted, acceptedReason, "", gen, c.now),
		condition(string(gatewayv1.GatewayConditionProgrammed), accepted, programmedReason, "", gen, c.now),
		condition(string(gatewayv1.GatewayConditionResolvedRefs), allResolved, resolvedReason, resolvedMsg, gen, c.now),
	}
	if insecureFrontend(gw) {
		st.Conditions = append(st.Conditions, condition(string(gatewayv1.GatewayConditionInsecureFrontendValidationMode), true,
			string(gatewayv1.GatewayReasonConfigurationChanged), "spec.tls.frontend: a client certificate validation mode is AllowInsecureFallback", gen, c.now))
	}
	for _, a := range gw.Spec.Addresses {
		st.Addresses = append(st.Addresses, gatewayv1.GatewayStatusAddress{Type: a.Type, Value: a.Value})
	}
	return st
}

// status is the listener's entry in its Gateway's (or ListenerSet's)
// status.listeners.
func (l *listener) status() gatewayv1.ListenerStatus {
	return gatewayv1.ListenerStatus{
		Name:           l.name,
		SupportedKinds: l.supportedKinds,
		AttachedRoutes: l.attached,
		Conditions:     l.conditions,
	}
}

// gatewayAccepted reports whether a Gateway with the listeners ls is
// Accepted: it has no listeners or at least one that serves. Its
// ListenerSets' listeners do not count (GEP-1713: the Gateway's
// conditions reflect its own configuration).
func gatewayAccepted(ls []*listener) bool {
	if len(ls) == 0 {
		return true
	}
	for _, l := range ls {
		if l.ready {
			return true
		}
	}
	return false
}

// admits reports whether the listener admits HTTPRoutes from namespace ns
// (the namespace tier of allowedRoutes).
func (l *listener) admitsNamespace(ns string, nsLabels map[string]map[string]string) bool {
	switch l.from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSame:
		return l.implicit || ns == l.namespace
	case gatewayv1.NamespacesFromSelector:
		return l.selector != nil && l.selector.Matches(labels.Set(nsLabels[ns]))
	default:
		return false
	}
}

// TLSConfig returns the TLS configuration for serving the HTTPS listeners
// on port p (0: on every port) from the Router's current table. The
// certificate is chosen by SNI among the listeners of the port, the most
// specific listener hostname first (exact, then the longest wildcard, then
// a listener without hostname); a ClientHello without SNI gets the
// certificate of the listener without hostname. Because it reads the
// current table on every handshake, certificates follow Update.
//
// Serve the listener port with it:
//
//	ln, _ := tls.Listen("tcp", ":443", router.TLSConfig(443))
//	http.Serve(ln, router)
//
// A request whose Host selects a different listener of the port than the
// one whose certificate the handshake used gets 421 Misdirected Request,
// with or without SNI (without, that is the listener without hostname);
// one whose Host no listener of the port matches gets 404.
//
// The Config offers h2 and http/1.1 (NextProtos). A listener that verifies
// client certificates answers its handshakes with a Config of its own,
// which offers what the returned Config's NextProtos hold when the
// handshake starts, not what an http.Server offers on its copy of it: a
// server that does not speak HTTP/2 (http.Server.Protocols without
// HTTP2) must set NextProtos to []string{"http/1.1"} on the returned
// Config, or clients that offer h2 get it on those listeners and fail.
func (rt *Router) TLSConfig(p int32) *tls.Config { return rt.tlsConfig(p, nil) }

func (rt *Router) tlsConfig(p int32, gw *types.NamespacedName) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			l := rt.tlsListener(p, gw, hello.ServerName)
			if l == nil {
				return nil, fmt.Errorf("httproute: no HTTPS listener on port %d for server name %q", p, hello.ServerName)
			}
			return &l.certs[0], nil
		},
	}
	// A listener whose Gateway verifies client certificates on its port
	// has a configuration of its own (frontendtls.go), which offers the
	// application protocols cfg offers when the host has changed them.
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		l := rt.tlsListener(p, gw, hello.ServerName)
		if l == nil || l.clientTLS == nil {
			return nil, nil
		}
		if slices.Equal(l.clientTLS.NextProtos, cfg.NextProtos) {
			return l.clientTLS, nil
		}
		own := l.clientTLS.Clone()
		own.NextProtos = cfg.NextProtos
		return own, nil
	}
	return cfg
}

// tlsListener returns the HTTPS listener of the current table whose
// certificate serves a handshake for serverName on port p (0: any port)
// of Gateway gw (nil: any Gateway), nil when there is none.
func (rt *Router) tlsListener(p int32, gw *types.NamespacedName, serverName string) *listener {
	t := rt.table.Load()
	if t == nil {
		return nil
	}
	set := &t.listenerSet
	if gw != nil && t.gateways[*gw] != nil {
		set = t.gateways[*gw]
	}
	pi := set.all
	if p != 0 && set.ports[p] != nil {
		pi = set.ports[p]
	}
	g := pi.listenerFor(requestHost(serverName))
	if g == nil {
		return nil
	}
	for _, l := range g.listeners {
		if len(l.certs) > 0 {
			return l
		}
	}
	return nil
}
