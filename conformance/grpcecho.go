package conformance

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	pb "sigs.k8s.io/gateway-api-conformance-images/echo-basic/grpcechoserver"

	"github.com/httproute/httproute/internal/echo"
	"github.com/httproute/httproute/internal/podnet"
)

// grpcEchoService is the full name of echo-basic's gRPC service, which
// its answers name in their fully qualified method.
const grpcEchoService = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"

// grpcEcho answers as echo-basic's gRPC mode does: Echo and EchoTwo
// return the method, the request's metadata (pseudo-headers included),
// its authority and the Pod's context; EchoThree is unimplemented.
type grpcEcho struct {
	pb.UnimplementedGrpcEchoServer
	pod *pb.Context
	tls bool
	log func(format string, args ...any)
}

func (s *grpcEcho) Echo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return s.answer(ctx, "Echo", in)
}

func (s *grpcEcho) EchoTwo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return s.answer(ctx, "EchoTwo", in)
}

func (s *grpcEcho) answer(ctx context.Context, method string, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	conn := "plaintext"
	if s.tls {
		conn = "TLS"
	}
	s.log("Received over %s: %v\n", conn, in)
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, errors.New("failed to retrieve metadata from incoming request")
	}
	a := &pb.Assertions{FullyQualifiedMethod: "/" + grpcEchoService + "/" + method, Context: s.pod}
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
	for k, vs := range md {
		for _, v := range vs {
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

// startGRPCEcho runs a Pod's gRPC echo on a native gRPC server over an
// ephemeral loopback port, as echo-basic serves it: plaintext HTTP/2, or
// TLS with tlsConfig when it is not nil. It is the podnet.Pods.GRPCEcho of
// the cluster.
func startGRPCEcho(info echo.Info, tlsConfig *tls.Config) (*podnet.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var opts []grpc.ServerOption
	if tlsConfig != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig)))
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterGrpcEchoServer(srv, &grpcEcho{
		tls: tlsConfig != nil,
		pod: &pb.Context{Namespace: info.Namespace, Ingress: info.Ingress, ServiceName: info.Service, Pod: info.Pod},
		log: func(format string, args ...any) {
			if info.Log != nil {
				fmt.Fprintf(info.Log, format, args...)
			}
		},
	})
	go func() { _ = srv.Serve(ln) }()
	return podnet.NewServer(ln.Addr().String(), func() error { srv.Stop(); return nil }), nil
}
