// Package grpcecho is the gRPC echo of upstream's echo-basic, as the
// conformance tests expect it of their Pods, for both conformance
// harnesses (in process and through the cluster mode): Echo and EchoTwo
// answer with the method, the request's metadata (pseudo-headers
// included, keys in order), its authority, the Pod's context and, over
// TLS, the connection's TLS facts; EchoThree is unimplemented.
package grpcecho

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	pb "sigs.k8s.io/gateway-api-conformance-images/echo-basic/grpcechoserver"

	"github.com/httproute/httproute/internal/echo"
	"github.com/httproute/httproute/internal/podnet"
)

// Service is the full name of echo-basic's gRPC service, which its
// answers name in their fully qualified method.
const Service = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"

// server answers for one Pod.
type server struct {
	pb.UnimplementedGrpcEchoServer
	pod *pb.Context
	tls bool
	log func(format string, args ...any)
}

// New returns the echo of the Pod info describes; tls says whether it is
// served over TLS (its answers then describe the connection).
func New(info echo.Info, tls bool) pb.GrpcEchoServer {
	return &server{
		tls: tls,
		pod: &pb.Context{Namespace: info.Namespace, Ingress: info.Ingress, ServiceName: info.Service, Pod: info.Pod},
		log: func(format string, args ...any) {
			if info.Log != nil {
				fmt.Fprintf(info.Log, format, args...)
			}
		},
	}
}

func (s *server) Echo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return s.answer(ctx, "Echo", in)
}

func (s *server) EchoTwo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return s.answer(ctx, "EchoTwo", in)
}

func (s *server) answer(ctx context.Context, method string, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	conn := "plaintext"
	if s.tls {
		conn = "TLS"
	}
	s.log("Received over %s: %v\n", conn, in)
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, errors.New("failed to retrieve metadata from incoming request")
	}
	a := &pb.Assertions{FullyQualifiedMethod: "/" + Service + "/" + method, Context: s.pod}
	if s.tls {
		p, ok := peer.FromContext(ctx)
		if !ok {
			return nil, errors.New("failed to retrieve TLS info from request")
		}
		info, ok := p.AuthInfo.(credentials.TLSInfo)
		if !ok {
			return nil, errors.New("failed to retrieve TLS info from request")
		}
		a.TlsAssertions = tlsAssertions(&info.State)
	}
	// Keys in order, so that two answers to one request are equal.
	for _, k := range slices.Sorted(maps.Keys(md)) {
		for _, v := range md[k] {
			if k == ":authority" {
				a.Authority = v
			}
			a.Headers = append(a.Headers, &pb.Header{Key: k, Value: v})
		}
	}
	return &pb.EchoResponse{Assertions: a}, nil
}

// tlsAssertions describes a TLS connection as echo-basic's gRPC mode does.
func tlsAssertions(cs *tls.ConnectionState) *pb.TLSAssertions {
	versions := map[uint16]string{tls.VersionTLS13: "TLSv1.3", tls.VersionTLS12: "TLSv1.2", tls.VersionTLS11: "TLSv1.1", tls.VersionTLS10: "TLSv1.0"}
	t := &pb.TLSAssertions{
		Version:            versions[cs.Version],
		NegotiatedProtocol: cs.NegotiatedProtocol,
		ServerName:         cs.ServerName,
		CipherSuite:        tls.CipherSuiteName(cs.CipherSuite),
	}
	for _, c := range cs.PeerCertificates {
		t.PeerCertificates = append(t.PeerCertificates, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	return t
}

// Start runs a Pod's gRPC echo on a native gRPC server over an ephemeral
// port of 127.0.0.1, as echo-basic serves it: plaintext HTTP/2, or TLS
// with tlsConfig when it is not nil. It fits podnet.Pods.GRPCEcho; close
// the Server to stop it.
func Start(info echo.Info, tlsConfig *tls.Config) (*podnet.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("grpcecho: %w", err)
	}
	var opts []grpc.ServerOption
	if tlsConfig != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig)))
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterGrpcEchoServer(srv, New(info, tlsConfig != nil))
	go func() { _ = srv.Serve(ln) }()
	return podnet.NewServer(ln.Addr().String(), func() error { srv.Stop(); return nil }), nil
}
