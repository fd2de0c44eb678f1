package httproute

import (
	"cmp"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TLS to Services: BackendTLSPolicy (GEP-1897).
//
// A BackendTLSPolicy targets Services, or one port of a Service by its
// name (sectionName). The Router applies it where a backendRef resolves:
// the ServiceResolver returns the Service port's Backend as usual, and
// when a policy covers the port that Backend must be an *Upstream, whose
// endpoints the Router then dials over TLS with the policy's settings
// (validation.hostname as SNI and, without subjectAltNames, as the name
// the certificate must carry; the CA certificates of its
// caCertificateRefs or the system pool). Resolvers therefore know nothing
// of TLS; they only name ports: a policy with a sectionName needs a
// ServiceResolver that also implements ServicePortNamer. The TLS
// transport is a clone of the Upstream's *http.Transport (its dialer and
// limits), offering HTTP/2 and HTTP/1.1 by ALPN; it shares the Upstream's
// endpoints, balancing and passive health.
//
// A Gateway's spec.tls.backend.clientCertificateRef is the certificate
// presented on those connections for requests that arrived through that
// Gateway.
//
// When two policies target the same Service port (both with the same
// sectionName, or both without), the older one wins (creation time, then
// namespace/name), and the other is reported Accepted False with reason
// Conflicted. A policy with a sectionName takes precedence over one
// without for its port. An invalid policy (no valid CA certificate, a
// hostname or subjectAltName that cannot be used) still covers its ports:
// their requests answer 500 rather than go out in cleartext.

// A ServicePortNamer names the ports of Services. A ServiceResolver that
// implements it lets BackendTLSPolicies select a Service port by name
// (targetRefs[].sectionName).
type ServicePortNamer interface {
	// ServicePortName returns the name of port of Service
	// namespace/name; an error wraps ErrNotFound when there is no such
	// Service or port.
	ServicePortName(namespace, name string, port int32) (string, error)
}

// policyTarget is one Service, or one named port of it, a policy targets.
type policyTarget struct {
	namespace, service, section string
}

// tlsPolicy is one compiled BackendTLSPolicy.
type tlsPolicy struct {
	obj *gatewayv1.BackendTLSPolicy
	// cfg is the client configuration, nil when the policy cannot be
	// applied (err says why); err with cfg set is a reference problem that
	// leaves other references usable (ResolvedRefs False, Accepted True).
	cfg *tls.Config
	err *tlsRefError
	// conflicted reports whether another policy won one of its targets.
	conflicted bool
	// fingerprint hashes what cfg is built from.
	fingerprint [sha256.Size]byte
}

// backendTLS is what a compile knows of TLS to Services: the policies and
// the Gateways' client certificates.
type backendTLS struct {
	policies []*tlsPolicy
	byTarget map[policyTarget]*tlsPolicy
	// sections reports whether a policy with a sectionName targets the
	// Service: its ports must then be named.
	sections map[types.NamespacedName]bool
	// clientCerts are the Gateways' valid backend client certificates,
	// clientFingerprint hashes them; gatewayErrs are the problems with
	// the Gateways' clientCertificateRefs, by Gateway.
	clientCerts       map[types.NamespacedName]*tls.Certificate
	clientFingerprint [sha256.Size]byte
	gatewayErrs       map[types.NamespacedName]gatewayRefProblem
}

// gatewayRefProblem is a Gateway-level reference that did not resolve.
type gatewayRefProblem struct {
	reason, msg string
}

// compileBackendTLS compiles the BackendTLSPolicies and the backend client
// certificates of gateways.
func (c *compiler) compileBackendTLS(gateways []*gatewayv1.Gateway) *backendTLS {
	bt := &backendTLS{
		byTarget:    map[policyTarget]*tlsPolicy{},
		sections:    map[types.NamespacedName]bool{},
		clientCerts: map[types.NamespacedName]*tls.Certificate{},
		gatewayErrs: map[types.NamespacedName]gatewayRefProblem{},
	}
	h := sha256.New()
	for _, gw := range gateways {
		if gw.Spec.TLS == nil || gw.Spec.TLS.Backend == nil || gw.Spec.TLS.Backend.ClientCertificateRef == nil {
			continue
		}
		nn := types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
		cert, s, p := c.gatewayClientCert(gw)
		if p != nil {
			bt.gatewayErrs[nn] = *p
			c.warn("Gateway", gw.Namespace, gw.Name, "spec.tls.backend.clientCertificateRef: "+p.msg)
			continue
		}
		bt.clientCerts[nn] = cert
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00%d\x00%s\x00", nn, len(s.Data[corev1.TLSCertKey]), s.Data[corev1.TLSCertKey], len(s.Data[corev1.TLSPrivateKeyKey]), s.Data[corev1.TLSPrivateKeyKey])
	}
	h.Sum(bt.clientFingerprint[:0])

	for _, p := range c.cfg.BackendTLSPolicies {
		tp := c.compileTLSPolicy(p)
		bt.policies = append(bt.policies, tp)
	}
	// The winner of each target: the oldest, then by namespace/name
	// (GEP-713 conflict resolution).
	order := slices.Clone(bt.policies)
	slices.SortStableFunc(order, func(a, b *tlsPolicy) int {
		if c := a.obj.CreationTimestamp.Compare(b.obj.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.obj.Namespace, b.obj.Namespace), cmp.Compare(a.obj.Name, b.obj.Name))
	})
	for _, tp := range order {
		for _, ref := range tp.obj.Spec.TargetRefs {
			if ref.Group != "" || ref.Kind != "Service" {
				continue
			}
			k := policyTarget{tp.obj.Namespace, string(ref.Name), ""}
			if ref.SectionName != nil {
				k.section = string(*ref.SectionName)
				bt.sections[types.NamespacedName{Namespace: k.namespace, Name: k.service}] = true
			}
			if bt.byTarget[k] != nil {
				tp.conflicted = true
				continue
			}
			bt.byTarget[k] = tp
		}
	}
	return bt
}

// compileTLSPolicy checks one policy and builds its client configuration.
func (c *compiler) compileTLSPolicy(p *gatewayv1.BackendTLSPolicy) *tlsPolicy {
	tp := &tlsPolicy{obj: p}
	for i, ref := range p.Spec.TargetRefs {
		if ref.Group != "" || ref.Kind != "Service" {
			tp.err = &tlsRefError{string(gatewayv1.PolicyReasonInvalid),
				fmt.Sprintf("spec.targetRefs[%d]: unsupported kind %s (group %q): a BackendTLSPolicy targets Services", i, ref.Kind, ref.Group)}
		}
	}
	if len(p.Spec.Options) > 0 {
		// No option is implemented: refuse rather than ignore one. The
		// first in key order is named, so that the message is the same on
		// every compile.
		k := slices.Min(slices.Collect(maps.Keys(p.Spec.Options)))
		tp.err = &tlsRefError{string(gatewayv1.PolicyReasonInvalid), fmt.Sprintf("spec.options: unsupported option %q", k)}
	}
	h := sha256.New()
	b, _ := json.Marshal(p.Spec.Validation)
	h.Write(b)
	for _, ref := range p.Spec.Validation.CACertificateRefs {
		pem, _ := c.caBundle(p.Namespace, ref)
		fmt.Fprintf(h, "\x00%d\x00%s", len(pem), pem)
	}
	h.Sum(tp.fingerprint[:0])
	if tp.err != nil {
		return tp
	}
	tp.cfg, tp.err = c.backendTLSConfig(p.Namespace, &p.Spec.Validation, nil)
	if tp.err != nil {
		c.warn("BackendTLSPolicy", p.Namespace, p.Name, tp.err.msg)
	}
	return tp
}

// gatewayClientCert loads a Gateway's spec.tls.backend.clientCertificateRef.
func (c *compiler) gatewayClientCert(gw *gatewayv1.Gateway) (*tls.Certificate, *corev1.Secret, *gatewayRefProblem) {
	ref := gw.Spec.TLS.Backend.ClientCertificateRef
	invalid := func(msg string) (*tls.Certificate, *corev1.Secret, *gatewayRefProblem) {
		return nil, nil, &gatewayRefProblem{string(gatewayv1.GatewayReasonInvalidClientCertificateRef), msg}
	}
	if ref.Group != nil && *ref.Group != "" {
		return invalid(fmt.Sprintf("unsupported group %q: use a Secret", *ref.Group))
	}
	if ref.Kind != nil && *ref.Kind != "Secret" {
		return invalid(fmt.Sprintf("unsupported kind %q: use a Secret", *ref.Kind))
	}
	ns := gw.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	if !c.grants.allows(gatewayv1.GroupName, "Gateway", gw.Namespace, "", "Secret", ns, string(ref.Name)) {
		return nil, nil, &gatewayRefProblem{string(gatewayv1.GatewayReasonRefNotPermitted),
			fmt.Sprintf("secret %s/%s is in another namespace and no ReferenceGrant allows it", ns, ref.Name)}
	}
	s := c.secrets[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}]
	if s == nil {
		return invalid(fmt.Sprintf("secret %s/%s not found", ns, ref.Name))
	}
	cert, err := clientKeyPair(s)
	if err != nil {
		return invalid(err.Error())
	}
	return cert, s, nil
}

// policyFor returns the policy that covers Service port ref, nil when none
// does.
func (bt *backendTLS) policyFor(c *compiler, ref BackendRef) (*tlsPolicy, error) {
	if bt == nil || len(bt.byTarget) == 0 {
		return nil, nil
	}
	svc := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	if bt.sections[svc] {
		namer, ok := c.cfg.Services.(ServicePortNamer)
		if !ok {
			return nil, fmt.Errorf("a BackendTLSPolicy targets a port of Service %s by name, and the ServiceResolver does not implement ServicePortNamer: %w", svc, ErrUnsupported)
		}
		name, err := portName(namer, ref)
		if err != nil {
			return nil, err
		}
		if p := bt.byTarget[policyTarget{ref.Namespace, ref.Name, name}]; p != nil && name != "" {
			return p, nil
		}
	}
	return bt.byTarget[policyTarget{ref.Namespace, ref.Name, ""}], nil
}

// portName asks the host's ServicePortNamer, turning a panic into an
// error: it is host code and must not crash a compile.
func portName(namer ServicePortNamer, ref BackendRef) (name string, err error) {
	defer func() {
		if p := recover(); p != nil {
			name, err = "", fmt.Errorf("the ServicePortNamer panicked: %v: %w", p, ErrNotFound)
		}
	}()
	return namer.ServicePortName(ref.Namespace, ref.Name, ref.Port)
}

// withBackendTLS returns the Backend of Service port ref, resolved to b:
// b itself when no BackendTLSPolicy covers the port, else b's endpoints
// over TLS. The result is kept across compiles (in the XBackend cache,
// keyed by Service port) while its inputs are unchanged, so that routes
// and pooled connections are reused.
func (c *compiler) withBackendTLS(ref BackendRef, b Backend) (Backend, error) {
	p, err := c.tls.policyFor(c, ref)
	if err != nil || p == nil {
		return b, err
	}
	up, ok := b.(*Upstream)
	if !ok {
		return nil, fmt.Errorf("BackendTLSPolicy %s/%s covers Service %s/%s port %d, whose Backend (%T) is not an *Upstream and cannot be dialed over TLS: %w",
			p.obj.Namespace, p.obj.Name, ref.Namespace, ref.Name, ref.Port, b, ErrUnsupported)
	}
	h := sha256.New()
	h.Write(p.fingerprint[:])
	h.Write(c.tls.clientFingerprint[:])
	fmt.Fprintf(h, "%s/%s\x00%p", p.obj.Namespace, p.obj.Name, up)
	var fp [sha256.Size]byte
	h.Sum(fp[:0])
	key := types.NamespacedName{Namespace: ref.Namespace, Name: fmt.Sprintf("Service:%s:%d", ref.Name, ref.Port)}
	if prev := c.xcache.get(key); prev != nil && prev.fingerprint == fp {
		c.xnext[key] = prev
		return prev.tls, nil
	}
	s := &tlsService{up: up}
	if p.cfg == nil {
		s.err = fmt.Errorf("%w: BackendTLSPolicy %s/%s cannot be applied: %s", ErrInvalidRule, p.obj.Namespace, p.obj.Name, p.err.msg)
	} else {
		s.base = tlsTransport(up.transport, p.cfg, true, true)
		for gw, cert := range c.tls.clientCerts {
			if s.byGateway == nil {
				s.byGateway = map[types.NamespacedName]http.RoundTripper{}
			}
			cfg := p.cfg.Clone()
			cfg.Certificates = []tls.Certificate{*cert}
			s.byGateway[gw] = tlsTransport(up.transport, cfg, true, true)
		}
	}
	c.xnext[key] = &xbackendEntry{fingerprint: fp, tls: s}
	return s, nil
}

// tlsTransport returns the transport of every TLS connection to backends
// (BackendTLSPolicy and XBackend): it dials TLS with cfg and speaks HTTP/1.1
// when h1, HTTP/2 when h2, as ALPN decides when both (HTTP/1.1 for
// upgrades). It is a clone of base when that is an *http.Transport (its
// dialer, timeouts and limits), else NewTransport's.
func tlsTransport(base http.RoundTripper, cfg *tls.Config, h1, h2 bool) *http.Transport {
	var t *http.Transport
	if bt, ok := base.(*http.Transport); ok {
		t = bt.Clone()
	} else {
		t = NewTransport(false)
	}
	t.TLSClientConfig = cfg
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP1(h1)
	t.Protocols.SetHTTP2(h2)
	return t
}

// tlsService is a Service port a BackendTLSPolicy covers: the endpoints of
// its Upstream, dialed over TLS, with the client certificate of the
// Gateway the request arrived through when it has one.
type tlsService struct {
	up        *Upstream
	base      http.RoundTripper
	byGateway map[types.NamespacedName]http.RoundTripper
	// err, when set, is the answer to every request: the policy is invalid.
	err error
}

func (s *tlsService) RoundTrip(r *http.Request) (*http.Response, error) {
	if s.err != nil {
		return nil, s.err
	}
	t := s.base
	if len(s.byGateway) > 0 {
		if st := stateFrom(r.Context()); st != nil && st.cand != nil && st.cand.info != nil {
			if gt, ok := s.byGateway[st.cand.info.Gateway]; ok {
				t = gt
			}
		}
	}
	return s.up.roundTrip(r, t, "https")
}

// CloseIdleConnections closes the idle connections of the TLS transports.
func (s *tlsService) CloseIdleConnections() {
	for _, t := range s.byGateway {
		closeIdle(t)
	}
	closeIdle(s.base)
}

// backendTLSPolicyStatus computes the status of every BackendTLSPolicy: an
// ancestor per Gateway whose routes reference a Service port the policy
// targets (the port named by targetRefs[].sectionName when it has one, any
// port of the Service otherwise), with its Accepted and ResolvedRefs
// conditions. A port whose name is unknown (no ServicePortNamer, or it
// fails) is no policy's by sectionName; the route reports the error.
func (c *compiler) backendTLSPolicyStatus(routes []*cachedRoute) map[types.NamespacedName]gatewayv1.PolicyStatus {
	out := make(map[types.NamespacedName]gatewayv1.PolicyStatus, len(c.cfg.BackendTLSPolicies))
	if c.tls == nil || len(c.tls.policies) == 0 {
		return out
	}
	type sectionPolicy struct {
		tp      *tlsPolicy
		section string // "" for the whole Service
	}
	byService := map[types.NamespacedName][]sectionPolicy{}
	for _, tp := range c.tls.policies {
		for _, ref := range tp.obj.Spec.TargetRefs {
			if ref.Group != "" || ref.Kind != "Service" {
				continue
			}
			sp := sectionPolicy{tp: tp}
			if ref.SectionName != nil {
				sp.section = string(*ref.SectionName)
			}
			svc := types.NamespacedName{Namespace: tp.obj.Namespace, Name: string(ref.Name)}
			if !slices.Contains(byService[svc], sp) {
				byService[svc] = append(byService[svc], sp)
			}
		}
	}
	// names memoizes the names of the Service ports routes reference, ""
	// when unknown.
	names := map[serviceKey]string{}
	nameOf := func(ref BackendRef) string {
		k := serviceKey{ref.Namespace, ref.Name, ref.Port}
		name, ok := names[k]
		if !ok {
			if namer, isNamer := c.cfg.Services.(ServicePortNamer); isNamer {
				name, _ = portName(namer, ref)
			}
			names[k] = name
		}
		return name
	}
	ancestors := map[*tlsPolicy][]gatewayv1.ParentReference{}
	for _, cr := range routes {
		for _, ru := range cr.route.rules {
			for _, b := range ru.backends {
				if b.Ref.Group != "" || b.Ref.Kind != "Service" {
					continue
				}
				for _, sp := range byService[types.NamespacedName{Namespace: b.Ref.Namespace, Name: b.Ref.Name}] {
					if sp.section != "" && sp.section != nameOf(b.Ref) {
						continue
					}
					for _, ps := range cr.parents {
						if ps.ParentRef.Name == "" {
							continue // the implicit listener has no Gateway to name
						}
						ref := gatewayv1.ParentReference{Group: ps.ParentRef.Group, Kind: ps.ParentRef.Kind, Namespace: ps.ParentRef.Namespace, Name: ps.ParentRef.Name}
						if ref.Namespace == nil {
							ref.Namespace = ptr(gatewayv1.Namespace(cr.obj.Namespace))
						}
						if !slices.ContainsFunc(ancestors[sp.tp], func(a gatewayv1.ParentReference) bool {
							return a.Name == ref.Name && *a.Namespace == *ref.Namespace
						}) {
							ancestors[sp.tp] = append(ancestors[sp.tp], ref)
						}
					}
				}
			}
		}
	}
	for _, tp := range c.tls.policies {
		st := gatewayv1.PolicyStatus{Ancestors: []gatewayv1.PolicyAncestorStatus{}}
		conds := tp.conditions(c)
		for _, ref := range ancestors[tp] {
			st.Ancestors = append(st.Ancestors, gatewayv1.PolicyAncestorStatus{
				AncestorRef:    ref,
				ControllerName: c.controller,
				Conditions:     slices.Clone(conds),
			})
		}
		out[types.NamespacedName{Namespace: tp.obj.Namespace, Name: tp.obj.Name}] = st
	}
	return out
}

// conditions returns the policy's Accepted and ResolvedRefs conditions.
func (tp *tlsPolicy) conditions(c *compiler) []metav1.Condition {
	gen := tp.obj.Generation
	accepted, aReason, aMsg := true, string(gatewayv1.PolicyReasonAccepted), ""
	resolved, rReason, rMsg := true, string(gatewayv1.BackendTLSPolicyReasonResolvedRefs), ""
	if e := tp.err; e != nil {
		switch e.reason {
		case string(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef), string(gatewayv1.BackendTLSPolicyReasonInvalidKind):
			resolved, rReason, rMsg = false, e.reason, e.msg
			if tp.cfg == nil {
				accepted, aReason, aMsg = false, string(gatewayv1.BackendTLSPolicyReasonNoValidCACertificate), e.msg
			}
		default:
			accepted, aReason, aMsg = false, e.reason, e.msg
		}
	}
	if tp.conflicted && accepted {
		accepted, aReason, aMsg = false, string(gatewayv1.PolicyReasonConflicted), "an older BackendTLSPolicy targets the same Service port"
	}
	return []metav1.Condition{
		condition(string(gatewayv1.PolicyConditionAccepted), accepted, aReason, aMsg, gen, c.now),
		condition(string(gatewayv1.BackendTLSPolicyConditionResolvedRefs), resolved, rReason, rMsg, gen, c.now),
	}
}

// gatewayErr returns the problem with a Gateway's backend client
// certificate, if any.
func (bt *backendTLS) gatewayErr(gw *gatewayv1.Gateway) (gatewayRefProblem, bool) {
	if bt == nil {
		return gatewayRefProblem{}, false
	}
	p, ok := bt.gatewayErrs[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}]
	return p, ok
}
