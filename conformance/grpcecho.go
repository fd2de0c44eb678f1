package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
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
	log func(format string, args ...any)
}

func (s *grpcEcho) Echo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return s.answer(ctx, "Echo", in)
}

func (s *grpcEcho) EchoTwo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return s.answer(ctx, "EchoTwo", in)
}

func (s *grpcEcho) answer(ctx context.Context, method string, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	s.log("Received over plaintext: %v\n", in)
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, errors.New("failed to retrieve metadata from incoming request")
	}
	a := &pb.Assertions{FullyQualifiedMethod: "/" + grpcEchoService + "/" + method, Context: s.pod}
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

// startGRPCEcho runs a Pod's gRPC echo on a native gRPC server over an
// ephemeral loopback port, as echo-basic serves it (plaintext HTTP/2).
// It is the podnet.Pods.GRPCEcho of the cluster.
func startGRPCEcho(info echo.Info) (*podnet.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	pb.RegisterGrpcEchoServer(srv, &grpcEcho{
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
