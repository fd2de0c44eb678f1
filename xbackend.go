package httproute

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
)

// XBackendGroup is the API group of XBackend, Gateway API's
// vendor-neutral backend object (experimental in v1.7).
const XBackendGroup = "gateway.networking.x-k8s.io"

// An EndpointResolver resolves the endpoints of an XBackend of type
// EndpointSelector: the "host:port" addresses, on port, of the ready
// endpoints in namespace whose labels match selector. Errors wrap
// ErrNotFound when nothing can be resolved. A host fills it from what it
// knows: Pods or EndpointSlices in a cluster, a static table in a test.
type EndpointResolver interface {
	ResolveEndpoints(namespace string, selector map[string]string, port int32) ([]string, error)
}

// EndpointResolverFunc adapts a function to an EndpointResolver.
type EndpointResolverFunc func(namespace string, selector map[string]string, port int32) ([]string, error)

// ResolveEndpoints calls f.
func (f EndpointResolverFunc) ResolveEndpoints(namespace string, selector map[string]string, port int32) ([]string, error) {
	return f(namespace, selector, port)
}

// xbackendCache keeps the Upstream of each XBackend across Updates, so
// that passive-health state and pooled connections survive a reload. An
// entry is reused when everything its transport was built from (the spec
// and the certificates it references) is unchanged; only its endpoints
// are replaced then.
type xbackendCache struct {
	mu      sync.Mutex
	entries map[types.NamespacedName]*xbackendEntry
}

type xbackendEntry struct {
	fingerprint [sha256.Size]byte
	upstream    *Upstream
}

// swap installs the entries a compile used and closes the idle
// connections of those it no longer uses.
func (xc *xbackendCache) swap(next map[types.NamespacedName]*xbackendEntry) {
	xc.mu.Lock()
	defer xc.mu.Unlock()
	for nn, e := range xc.entries {
		if n := next[nn]; n == nil || n.upstream != e.upstream {
			e.upstream.CloseIdleConnections()
		}
	}
	xc.entries = next
}

// discard closes what a failed compile built and the cache does not hold.
func (xc *xbackendCache) discard(next map[types.NamespacedName]*xbackendEntry) {
	xc.mu.Lock()
	defer xc.mu.Unlock()
	for nn, n := range next {
		if e := xc.entries[nn]; e == nil || e.upstream != n.upstream {
			n.upstream.CloseIdleConnections()
		}
	}
}

func (xc *xbackendCache) get(nn types.NamespacedName) *xbackendEntry {
	xc.mu.Lock()
	defer xc.mu.Unlock()
	return xc.entries[nn]
}

// resolvedXBackend is an XBackend ready to serve: its Upstream and the
// session persistence configured on it.
type resolvedXBackend struct {
	backend Backend
	session *sessionPolicy
	err     error
}

// xbackend resolves the XBackend ns/name, once per compile.
func (c *compiler) xbackend(nn types.NamespacedName) *resolvedXBackend {
	if r, ok := c.xresolved[nn]; ok {
		return r
	}
	r := &resolvedXBackend{}
	c.xresolved[nn] = r
	x := c.xbackends[nn]
	if x == nil {
		r.err = fmt.Errorf("XBackend %s: %w", nn, ErrNotFound)
		return r
	}
	up, sess, err := c.buildXBackend(x)
	if err != nil {
		r.err = fmt.Errorf("XBackend %s: %w", nn, err)
		return r
	}
	r.backend, r.session = up, sess
	return r
}

// buildXBackend builds (or reuses) the Upstream of an XBackend.
func (c *compiler) buildXBackend(x *xv1alpha1.XBackend) (*Upstream, *sessionPolicy, error) {
	spec := &x.Spec
	nn := types.NamespacedName{Namespace: x.Namespace, Name: x.Name}
	port := int32(spec.Port.Number)
	if port < 1 || port > 65535 {
		return nil, nil, fmt.Errorf("spec.port.number: must be between 1 and 65535: %w", ErrUnsupported)
	}
	var endpoints []string
	switch spec.Type {
	case xv1alpha1.BackendTypeExternalHostname:
		if spec.ExternalHostname == nil || spec.ExternalHostname.Hostname == "" {
			return nil, nil, fmt.Errorf("spec.externalHostname.hostname is required for type ExternalHostname: %w", ErrUnsupported)
		}
		host := string(spec.ExternalHostname.Hostname)
		if msg := checkHostname(host); msg != "" || host[0] == '*' {
			return nil, nil, fmt.Errorf("spec.externalHostname.hostname %q: must be a DNS name: %w", host, ErrUnsupported)
		}
		endpoints = []string{net.JoinHostPort(host, strconv.Itoa(int(port)))}
	case xv1alpha1.BackendTypeEndpointSelector:
		if spec.EndpointSelector == nil {
			return nil, nil, fmt.Errorf("spec.endpointSelector is required for type EndpointSelector: %w", ErrUnsupported)
		}
		if c.cfg.Endpoints == nil {
			return nil, nil, fmt.Errorf("no EndpointResolver configured for endpointSelector: %w", ErrNotFound)
		}
		sel := make(map[string]string, len(spec.EndpointSelector.MatchLabels))
		for k, v := range spec.EndpointSelector.MatchLabels {
			sel[string(k)] = string(v)
		}
		eps, err := c.resolveEndpoints(x.Namespace, sel, port)
		if err != nil {
			return nil, nil, err
		}
		endpoints = eps
	default:
		return nil, nil, fmt.Errorf("spec.type: unsupported value %q: %w", spec.Type, ErrUnsupported)
	}

	tlsCfg, fingerprintExtra, err := c.xbackendTLS(x)
	if err != nil {
		return nil, nil, err
	}
	transport, scheme, err := xbackendTransport(spec.Protocol, tlsCfg)
	if err != nil {
		return nil, nil, err
	}
	if scheme == "https" {
		for i, e := range endpoints {
			endpoints[i] = "https://" + e
		}
	}

	var sess *sessionPolicy
	if sp := spec.SessionPersistence; sp != nil {
		if spec.Type != xv1alpha1.BackendTypeEndpointSelector {
			return nil, nil, fmt.Errorf("spec.sessionPersistence: can only be set when type is EndpointSelector: %w", ErrUnsupported)
		}
		p, fe := compileSessionPolicy(sp, field.NewPath("spec", "sessionPersistence"), c.sessionKey, "XBackend/"+nn.String())
		if fe != nil {
			return nil, nil, fmt.Errorf("%s: %w", fe.Error(), ErrUnsupported)
		}
		sess = p
	}

	fp := xbackendFingerprint(spec, fingerprintExtra)
	if prev := c.xcache.get(nn); prev != nil && prev.fingerprint == fp {
		if err := prev.upstream.SetEndpoints(endpoints); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", err, ErrUnsupported)
		}
		c.xnext[nn] = prev
		return prev.upstream, sess, nil
	}
	up, err := NewUpstream(UpstreamConfig{Endpoints: endpoints, Transport: transport})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", err, ErrUnsupported)
	}
	c.xnext[nn] = &xbackendEntry{fingerprint: fp, upstream: up}
	return up, sess, nil
}

// resolveEndpoints asks the host's EndpointResolver, turning a panic into
// an error: a resolver is host code and must not crash a compile.
func (c *compiler) resolveEndpoints(ns string, sel map[string]string, port int32) (eps []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			eps, err = nil, fmt.Errorf("EndpointResolver panicked: %v: %w", p, ErrNotFound)
		}
	}()
	eps, err = c.cfg.Endpoints.ResolveEndpoints(ns, sel, port)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), eps...), nil
}

// xbackendTLS returns the client TLS configuration of an XBackend (nil
// for mode None) and the bytes of the certificates it was built from, for
// the cache fingerprint.
func (c *compiler) xbackendTLS(x *xv1alpha1.XBackend) (*tls.Config, []byte, error) {
	t := x.Spec.TLS
	if t == nil || t.Mode == "" || t.Mode == xv1alpha1.BackendTLSModeNone {
		if t != nil && (t.Validation != nil || t.ClientCertificateRef != nil) {
			return nil, nil, fmt.Errorf("spec.tls: validation and clientCertificateRef must be unset when mode is None: %w", ErrUnsupported)
		}
		return nil, nil, nil
	}
	var extra []byte
	var client *tls.Certificate
	switch t.Mode {
	case xv1alpha1.BackendTLSModeServerOnly:
		if t.ClientCertificateRef != nil {
			return nil, nil, fmt.Errorf("spec.tls.clientCertificateRef: must be unset unless mode is ClientAndServer: %w", ErrUnsupported)
		}
	case xv1alpha1.BackendTLSModeClientAndServer:
		ref := t.ClientCertificateRef
		if ref == nil {
			return nil, nil, fmt.Errorf("spec.tls.clientCertificateRef: required when mode is ClientAndServer: %w", ErrUnsupported)
		}
		if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
			return nil, nil, fmt.Errorf("spec.tls.clientCertificateRef: only Secrets are supported: %w", ErrUnsupported)
		}
		ns := x.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		s, err := c.secretLookup(XBackendGroup, "XBackend", x.Namespace)(ns, string(ref.Name))
		if err != nil {
			return nil, nil, fmt.Errorf("spec.tls.clientCertificateRef: %w", err)
		}
		if client, err = clientKeyPair(s); err != nil {
			return nil, nil, fmt.Errorf("spec.tls.clientCertificateRef: %v: %w", err, ErrUnsupported)
		}
		extra = append(extra, s.Data["tls.crt"]...)
		extra = append(extra, s.Data["tls.key"]...)
	default:
		return nil, nil, fmt.Errorf("spec.tls.mode: unsupported value %q: %w", t.Mode, ErrUnsupported)
	}
	cfg, te := c.backendTLSConfig(x.Namespace, t.Validation, client)
	if te != nil {
		return nil, nil, fmt.Errorf("spec.tls.validation: %s: %w", te.msg, ErrNotFound)
	}
	if t.Validation != nil {
		for _, ref := range t.Validation.CACertificateRefs {
			b, _ := c.caBundle(x.Namespace, ref)
			extra = append(extra, b...)
		}
	}
	return cfg, extra, nil
}

// xbackendTransport returns the transport for an XBackend's protocol and
// TLS configuration, and the scheme of its endpoints.
func xbackendTransport(p *xv1alpha1.BackendProtocol, tlsCfg *tls.Config) (http.RoundTripper, string, error) {
	proto := xv1alpha1.BackendProtocolHTTP
	if p != nil && *p != "" {
		proto = *p
	}
	secure := tlsCfg != nil
	switch proto {
	case xv1alpha1.BackendProtocolHTTP, xv1alpha1.BackendProtocolHTTP11, xv1alpha1.BackendProtocolWSS:
		if proto == xv1alpha1.BackendProtocolWSS && !secure {
			return nil, "", fmt.Errorf("spec.protocol WSS needs tls: %w", ErrUnsupported)
		}
		if !secure {
			return nil, "http", nil // the Upstream's own transport
		}
		t := NewTransport(false)
		t.TLSClientConfig = tlsCfg
		// HTTP/1.1 only: WebSocket upgrades and HTTP11 need it, and HTTP
		// is served as HTTP/1.1 to every other backend as well.
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP1(true)
		return t, "https", nil
	case xv1alpha1.BackendProtocolH2C:
		if secure {
			return nil, "", fmt.Errorf("spec.protocol H2C needs tls mode None: %w", ErrUnsupported)
		}
		return NewTransport(true), "http", nil
	case xv1alpha1.BackendProtocolHTTP2, xv1alpha1.BackendProtocolGRPC:
		if !secure {
			if proto == xv1alpha1.BackendProtocolHTTP2 {
				return nil, "", fmt.Errorf("spec.protocol HTTP2 needs tls (use H2C for cleartext): %w", ErrUnsupported)
			}
			return NewTransport(true), "http", nil // gRPC over h2c
		}
		t := NewTransport(false)
		t.TLSClientConfig = tlsCfg
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP2(true)
		return t, "https", nil
	default:
		return nil, "", fmt.Errorf("spec.protocol %s is not served by an HTTP gateway: %w", proto, ErrUnsupported)
	}
}

// xbackendFingerprint hashes what an XBackend's Upstream is built from,
// except the endpoints, which an Upstream can change in place.
func xbackendFingerprint(spec *xv1alpha1.BackendSpec, extra []byte) [sha256.Size]byte {
	h := sha256.New()
	b, _ := json.Marshal(struct {
		Type     xv1alpha1.BackendType
		Port     xv1alpha1.BackendPort
		Protocol *xv1alpha1.BackendProtocol
		TLS      *xv1alpha1.BackendTLS
		Host     *xv1alpha1.ExternalHostnameBackend
	}{spec.Type, spec.Port, spec.Protocol, spec.TLS, spec.ExternalHostname})
	h.Write(b)
	h.Write(extra)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// xbackendStatus computes the status of every XBackend: one ancestor per
// Gateway whose routes reference it, Accepted with the reason of the
// first problem found, or True.
func (c *compiler) xbackendStatus(routes []*cachedRoute) map[types.NamespacedName]xv1alpha1.BackendStatus {
	out := make(map[types.NamespacedName]xv1alpha1.BackendStatus, len(c.xbackends))
	if len(c.xbackends) == 0 {
		return out
	}
	// The routes that reference each XBackend, in Config order.
	referrers := map[types.NamespacedName][]*cachedRoute{}
	for _, cr := range routes {
		seen := map[types.NamespacedName]bool{}
		for _, ru := range cr.route.rules {
			for _, b := range ru.backends {
				if b.Ref.Group != XBackendGroup || b.Ref.Kind != "XBackend" {
					continue
				}
				nn := types.NamespacedName{Namespace: b.Ref.Namespace, Name: b.Ref.Name}
				if !seen[nn] {
					seen[nn] = true
					referrers[nn] = append(referrers[nn], cr)
				}
			}
		}
	}
	for nn, x := range c.xbackends {
		st := xv1alpha1.BackendStatus{}
		seen := map[gatewayv1.ParentReference]bool{}
		r := c.xresolved[nn]
		for _, cr := range referrers[nn] {
			for _, ps := range cr.parents {
				if ps.ParentRef.Name == "" {
					continue // the implicit listener has no Gateway to name
				}
				ref := gatewayv1.ParentReference{Group: ps.ParentRef.Group, Kind: ps.ParentRef.Kind,
					Namespace: ps.ParentRef.Namespace, Name: ps.ParentRef.Name}
				if ref.Namespace == nil {
					ref.Namespace = ptr(gatewayv1.Namespace(cr.obj.Namespace))
				}
				key := gatewayv1.ParentReference{Name: ref.Name, Namespace: ref.Namespace}
				if seen[key] {
					continue
				}
				seen[key] = true
				ok, reason, msg := true, string(xv1alpha1.BackendReasonAccepted), ""
				if r != nil && r.err != nil {
					ok, reason, msg = false, "Invalid", r.err.Error()
				}
				st.Ancestors = append(st.Ancestors, xv1alpha1.BackendAncestorStatus{
					ControllerName: c.controller,
					AncestorRef:    ref,
					Conditions:     []metav1.Condition{condition(string(xv1alpha1.BackendConditionAccepted), ok, reason, msg, x.Generation, c.now)},
				})
			}
		}
		out[nn] = st
	}
	return out
}
