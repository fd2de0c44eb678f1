// Package grpcecho is, for the kube module's tests, the gRPC mode of the
// conformance suite's echo-basic: the GrpcEcho service, whose Echo and
// EchoTwo answer with the full method called, the request's metadata
// (pseudo-headers included) and authority, and the Pod that answered;
// EchoThree is left unimplemented, as upstream leaves it.
package grpcecho

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "sigs.k8s.io/gateway-api-conformance-images/echo-basic/grpcechoserver"

	"github.com/httproute/httproute/internal/echo"
	"github.com/httproute/httproute/internal/podnet"
)

// Service is the full name of the GrpcEcho service.
const Service = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"

// server answers for one Pod.
type server struct {
	pb.UnimplementedGrpcEchoServer
	info echo.Info
}

func (s *server) Echo(ctx context.Context, req *pb.EchoRequest) (*pb.EchoResponse, error) {
	return s.echo(ctx, "Echo", req)
}

func (s *server) EchoTwo(ctx context.Context, req *pb.EchoRequest) (*pb.EchoResponse, error) {
	return s.echo(ctx, "EchoTwo", req)
}

// echo builds the answer of method; the request is logged as echo-basic
// logs it, one line in the Pod's log.
func (s *server) echo(ctx context.Context, method string, req *pb.EchoRequest) (*pb.EchoResponse, error) {
	if s.info.Log != nil {
		fmt.Fprintf(s.info.Log, "Received over plaintext: %v\n", req)
	}
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "grpcecho: the request carries no metadata")
	}
	out := &pb.Assertions{
		FullyQualifiedMethod: "/" + Service + "/" + method,
		Context: &pb.Context{
			Namespace: s.info.Namespace, Ingress: s.info.Ingress, ServiceName: s.info.Service, Pod: s.info.Pod,
		},
	}
	if a := md.Get(":authority"); len(a) > 0 {
		out.Authority = a[len(a)-1]
	}
	// Keys in order, so that two answers to one request are equal.
	for _, k := range slices.Sorted(maps.Keys(md)) {
		for _, v := range md[k] {
			out.Headers = append(out.Headers, &pb.Header{Key: k, Value: v})
		}
	}
	return &pb.EchoResponse{Assertions: out}, nil
}

// Start serves the echo of the Pod info describes over plaintext HTTP/2
// on an ephemeral port of 127.0.0.1, as echo-basic's gRPC mode serves it;
// it fits podnet.Pods.GRPCEcho. Close the Server to stop it.
func Start(info echo.Info) (*podnet.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("grpcecho: %w", err)
	}
	srv := grpc.NewServer()
	pb.RegisterGrpcEchoServer(srv, &server{info: info})
	go func() { _ = srv.Serve(ln) }()
	return podnet.NewServer(ln.Addr().String(), func() error { srv.Stop(); return nil }), nil
}
