package httproute

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// CACertKey is the key of a ConfigMap or Secret that holds a PEM bundle of
// CA certificates for verifying backends (BackendTLSPolicy, XBackend).
const CACertKey = "ca.crt"

// tlsRefError is a problem with the TLS configuration of a backend: the
// Gateway API condition reason and a message naming the reference.
type tlsRefError struct {
	reason string
	msg    string
}

func (e *tlsRefError) Error() string { return e.msg }

// backendTLSConfig builds the client TLS configuration for connecting to a
// backend whose object lives in namespace ns, from a
// BackendTLSPolicyValidation (shared by BackendTLSPolicy and XBackend):
// the hostname is the SNI and, unless subjectAltNames are given, the name
// the certificate must carry; CA certificates come from ConfigMaps or
// Secrets of the same namespace (key ca.crt), or from the system pool
// with wellKnownCACertificates: System. clientCert, when set, is the key
// pair presented for mutual TLS.
//
// When some caCertificateRefs are invalid but others are not, it returns
// the configuration with the valid ones and the first problem: the
// policy is applied, and its ResolvedRefs condition is False.
func (c *compiler) backendTLSConfig(ns string, v *gatewayv1.BackendTLSPolicyValidation, clientCert *tls.Certificate) (*tls.Config, *tlsRefError) {
	if v == nil {
		return nil, &tlsRefError{string(gatewayv1.PolicyReasonInvalid), "validation is required for TLS to a backend"}
	}
	cfg := &tls.Config{ServerName: string(v.Hostname), MinVersion: tls.VersionTLS12}
	if clientCert != nil {
		cfg.Certificates = []tls.Certificate{*clientCert}
	}
	var partial *tlsRefError // a caCertificateRef that is invalid while others are valid
	switch {
	case len(v.CACertificateRefs) > 0 && v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != "":
		return nil, &tlsRefError{string(gatewayv1.PolicyReasonInvalid), "only one of caCertificateRefs or wellKnownCACertificates may be specified"}
	case len(v.CACertificateRefs) > 0:
		var pool *x509.CertPool
		if pool, partial = c.caPool(ns, v.CACertificateRefs); pool == nil {
			return nil, partial
		}
		cfg.RootCAs = pool
	case v.WellKnownCACertificates != nil && *v.WellKnownCACertificates == gatewayv1.WellKnownCACertificatesSystem:
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, &tlsRefError{string(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef), "the system CA certificates cannot be read: " + err.Error()}
		}
		cfg.RootCAs = pool
	case v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != "":
		return nil, &tlsRefError{string(gatewayv1.PolicyReasonInvalid), fmt.Sprintf("wellKnownCACertificates %q is not supported: use System", *v.WellKnownCACertificates)}
	default:
		return nil, &tlsRefError{string(gatewayv1.PolicyReasonInvalid), "one of caCertificateRefs or wellKnownCACertificates must be specified"}
	}
	if len(v.SubjectAltNames) > 0 {
		sans, err := compileSANs(v.SubjectAltNames)
		if err != nil {
			return nil, &tlsRefError{string(gatewayv1.PolicyReasonInvalid), err.Error()}
		}
		// With subjectAltNames the hostname selects the certificate (SNI)
		// but does not authenticate it: the chain is verified here, and one
		// of the names must be in the certificate.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifySANs(cs, roots, sans) }
	}
	return cfg, partial
}

// caPool returns the pool of the CA certificates refs name in namespace
// ns, nil when none is valid, and the first problem with a reference.
func (c *compiler) caPool(ns string, refs []gatewayv1.LocalObjectReference) (*x509.CertPool, *tlsRefError) {
	pool := x509.NewCertPool()
	valid := 0
	var first *tlsRefError
	fail := func(te *tlsRefError) {
		if first == nil {
			first = te
		}
	}
	for i, ref := range refs {
		pem, err := c.caBundle(ns, ref)
		var te *tlsRefError
		switch {
		case errors.As(err, &te):
			fail(&tlsRefError{te.reason, fmt.Sprintf("caCertificateRefs[%d]: %s", i, te.msg)})
		case err != nil:
			fail(&tlsRefError{string(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef), fmt.Sprintf("caCertificateRefs[%d]: %v", i, err)})
		case !appendPEMCerts(pool, pem):
			fail(&tlsRefError{string(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef),
				fmt.Sprintf("caCertificateRefs[%d]: %s %s/%s: key %s holds no PEM certificate", i, ref.Kind, ns, ref.Name, CACertKey)})
		default:
			valid++
		}
	}
	if valid == 0 {
		return nil, first
	}
	return pool, first
}

// caBundle returns the PEM bundle a caCertificateRef names.
func (c *compiler) caBundle(ns string, ref gatewayv1.LocalObjectReference) ([]byte, error) {
	nn := types.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	switch {
	case ref.Group == "" && ref.Kind == "ConfigMap":
		cm := c.configMaps[nn]
		if cm == nil {
			return nil, fmt.Errorf("ConfigMap %s not found", nn)
		}
		if s, ok := cm.Data[CACertKey]; ok {
			return []byte(s), nil
		}
		if b, ok := cm.BinaryData[CACertKey]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("ConfigMap %s has no key %s", nn, CACertKey)
	case ref.Group == "" && ref.Kind == "Secret":
		s := c.secrets[nn]
		if s == nil {
			return nil, fmt.Errorf("Secret %s not found", nn)
		}
		if b, ok := s.Data[CACertKey]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("Secret %s has no key %s", nn, CACertKey)
	default:
		return nil, &tlsRefError{string(gatewayv1.BackendTLSPolicyReasonInvalidKind),
			fmt.Sprintf("unsupported kind %s (group %q): use a ConfigMap or Secret", ref.Kind, ref.Group)}
	}
}

// appendPEMCerts adds the certificates of a PEM bundle to pool and
// reports whether there was at least one and all parsed.
func appendPEMCerts(pool *x509.CertPool, data []byte) bool {
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return n > 0
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return false
		}
		pool.AddCert(cert)
		n++
	}
}

// clientKeyPair loads the key pair of a kubernetes.io/tls Secret.
func clientKeyPair(s *corev1.Secret) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return &cert, nil
}

// sanMatcher is one compiled subjectAltName.
type sanMatcher struct {
	hostname string // lower case, for type Hostname
	uri      string // for type URI
}

func compileSANs(list []gatewayv1.SubjectAltName) ([]sanMatcher, error) {
	out := make([]sanMatcher, 0, len(list))
	for i, s := range list {
		switch s.Type {
		case gatewayv1.HostnameSubjectAltNameType:
			if s.Hostname == "" {
				return nil, fmt.Errorf("subjectAltNames[%d]: hostname is required for type Hostname", i)
			}
			out = append(out, sanMatcher{hostname: strings.ToLower(string(s.Hostname))})
		case gatewayv1.URISubjectAltNameType:
			if s.URI == "" {
				return nil, fmt.Errorf("subjectAltNames[%d]: uri is required for type URI", i)
			}
			out = append(out, sanMatcher{uri: string(s.URI)})
		default:
			return nil, fmt.Errorf("subjectAltNames[%d].type: unsupported value %q", i, s.Type)
		}
	}
	return out, nil
}

// verifySANs verifies the backend's chain against roots (nil: the system
// pool) and requires one of the subjectAltNames in its leaf certificate.
func verifySANs(cs tls.ConnectionState, roots *x509.CertPool, sans []sanMatcher) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("backend presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return err
	}
	for _, s := range sans {
		switch {
		case s.hostname != "":
			if leaf.VerifyHostname(s.hostname) == nil {
				return nil
			}
		default:
			for _, u := range leaf.URIs {
				if u.String() == s.uri {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("backend certificate has none of the subjectAltNames required")
}
