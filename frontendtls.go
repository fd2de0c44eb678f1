package httproute

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Client certificates on HTTPS listeners (Gateway spec.tls.frontend).
//
// A Gateway's frontend validation applies to its HTTPS listeners (and
// those its ListenerSets contribute) by port: the perPort entry of the
// listener's port, else the default. Its caCertificateRefs name
// ConfigMaps or Secrets (key ca.crt) in the Gateway's namespace, or in
// another one that a ReferenceGrant opens to Gateways. With mode
// AllowValidOnly (the default) a client must present a certificate that
// chains to one of them, or the handshake fails; with
// AllowInsecureFallback a certificate is requested but neither required
// nor verified, and the Gateway reports InsecureFrontendValidationMode.
//
// A listener none of whose CA references is usable is not served
// (Accepted False, NoValidCACertificate; ResolvedRefs False with
// InvalidCACertificateRef, InvalidCACertificateKind or RefNotPermitted):
// it never accepts clients it was told to verify. HTTP listeners are not
// concerned.

// frontendValidation is the compiled client verification of one Gateway
// port.
type frontendValidation struct {
	pool     *x509.CertPool // nil: no usable CA certificate
	insecure bool           // AllowInsecureFallback
	// problem is the first reference that did not resolve.
	problem *gatewayRefProblem
}

// frontendKey names one port of one Gateway.
type frontendKey struct {
	gateway types.NamespacedName
	port    int32
}

// frontendValidationFor returns the client verification of the Gateway's
// listeners on port, nil when there is none; it is compiled once per
// Gateway and port.
func (c *compiler) frontendValidationFor(gw *gatewayv1.Gateway, port gatewayv1.PortNumber) *frontendValidation {
	if gw.Spec.TLS == nil || gw.Spec.TLS.Frontend == nil {
		return nil
	}
	k := frontendKey{types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}, int32(port)}
	if fv, ok := c.frontend[k]; ok {
		return fv
	}
	fe := gw.Spec.TLS.Frontend
	v := fe.Default.Validation
	for _, pp := range fe.PerPort {
		if pp.Port == port {
			v = pp.TLS.Validation
			break
		}
	}
	var fv *frontendValidation
	if v != nil {
		fv = c.compileFrontendValidation(gw, v)
	}
	if c.frontend == nil {
		c.frontend = map[frontendKey]*frontendValidation{}
	}
	c.frontend[k] = fv
	return fv
}

func (c *compiler) compileFrontendValidation(gw *gatewayv1.Gateway, v *gatewayv1.FrontendTLSValidation) *frontendValidation {
	fv := &frontendValidation{insecure: v.Mode == gatewayv1.AllowInsecureFallback}
	fail := func(reason, msg string) {
		if fv.problem == nil {
			fv.problem = &gatewayRefProblem{reason, msg}
		}
	}
	switch v.Mode {
	case "", gatewayv1.AllowValidOnly, gatewayv1.AllowInsecureFallback:
	default:
		fail(string(gatewayv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("validation.mode: unsupported value %q", v.Mode))
		return fv
	}
	pool := x509.NewCertPool()
	valid := 0
	for i, ref := range v.CACertificateRefs {
		ns := gw.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		if ref.Group != "" || (ref.Kind != "ConfigMap" && ref.Kind != "Secret") {
			fail(string(gatewayv1.ListenerReasonInvalidCACertificateKind),
				fmt.Sprintf("caCertificateRefs[%d]: unsupported kind %s (group %q): use a ConfigMap or Secret", i, ref.Kind, ref.Group))
			continue
		}
		if !c.grants.allows(gatewayv1.GroupName, "Gateway", gw.Namespace, "", string(ref.Kind), ns, string(ref.Name)) {
			fail(string(gatewayv1.ListenerReasonRefNotPermitted),
				fmt.Sprintf("caCertificateRefs[%d]: %s %s/%s is in another namespace and no ReferenceGrant allows it", i, ref.Kind, ns, ref.Name))
			continue
		}
		pem, err := c.caBundle(ns, gatewayv1.LocalObjectReference{Kind: ref.Kind, Name: ref.Name})
		switch {
		case err != nil:
			fail(string(gatewayv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("caCertificateRefs[%d]: %v", i, err))
		case !appendPEMCerts(pool, pem):
			fail(string(gatewayv1.ListenerReasonInvalidCACertificateRef),
				fmt.Sprintf("caCertificateRefs[%d]: %s %s/%s: key %s holds no PEM certificate", i, ref.Kind, ns, ref.Name, CACertKey))
		default:
			valid++
		}
	}
	if valid > 0 {
		fv.pool = pool
	} else if fv.problem == nil {
		fail(string(gatewayv1.ListenerReasonInvalidCACertificateRef), "caCertificateRefs: no CA certificate given")
	}
	return fv
}

// serverConfig returns the configuration of an HTTPS listener's
// handshakes with verification fv: the listener's certificate, and the
// client certificate requirement.
func (fv *frontendValidation) serverConfig(cert *tls.Certificate) *tls.Config {
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
		Certificates: []tls.Certificate{*cert},
		ClientCAs:    fv.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	if fv.insecure {
		cfg.ClientAuth = tls.RequestClientCert
	}
	return cfg
}

// insecureFrontend reports whether a Gateway's frontend validation, by
// default or on a port, is AllowInsecureFallback.
func insecureFrontend(gw *gatewayv1.Gateway) bool {
	if gw.Spec.TLS == nil || gw.Spec.TLS.Frontend == nil {
		return false
	}
	fe := gw.Spec.TLS.Frontend
	if v := fe.Default.Validation; v != nil && v.Mode == gatewayv1.AllowInsecureFallback {
		return true
	}
	for _, pp := range fe.PerPort {
		if v := pp.TLS.Validation; v != nil && v.Mode == gatewayv1.AllowInsecureFallback {
			return true
		}
	}
	return false
}
