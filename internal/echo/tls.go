package echo

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// EchoHTTPSPort is the port echo-basic serves HTTPS on unless its
// HTTPS_PORT variable says otherwise.
const EchoHTTPSPort = 8443

// ServerTLSConfig returns the TLS configuration of echo-basic's HTTPS
// port (TLS_SERVER_CERT and TLS_SERVER_PRIVKEY): certPEM and keyPEM are
// the server's key pair; clientCAs (TLS_CLIENT_CACERTS), when not empty,
// makes it verify a client certificate that is presented against those
// CAs while still accepting clients without one. The echo then reports
// the SNI and the client's certificates in its "tls" field.
func ServerTLSConfig(certPEM, keyPEM, clientCAs []byte) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("echo: server key pair: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if len(clientCAs) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(clientCAs) {
			return nil, errors.New("echo: client CA certificates: no PEM certificate")
		}
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		cfg.ClientCAs = pool
	}
	return cfg, nil
}
