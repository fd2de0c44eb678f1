package conformance

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	pb "sigs.k8s.io/gateway-api-conformance-images/echo-basic/grpcechoserver"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/podnet"
)

// TestGRPCInProcess routes grpc-go calls through the Router, served over
// h2c, to a grpc-go server served in process (its ServeHTTP through
// httproute.InProcess): the in-process path must hand the handler an
// HTTP/2 request and a writer that flushes and carries trailers. EchoThree
// is unimplemented by the server; another service has no route.
func TestGRPCInProcess(t *testing.T) {
	srv := grpc.NewServer()
	pb.RegisterGrpcEchoServer(srv, &grpcEcho{pod: &pb.Context{Pod: "in-process"}, log: func(string, ...any) {}})
	port := gatewayv1.PortNumber(80)
	rt, err := httproute.New(httproute.Config{
		GRPCRoutes: []*gatewayv1.GRPCRoute{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo"},
			Spec: gatewayv1.GRPCRouteSpec{Rules: []gatewayv1.GRPCRouteRule{{
				Matches: []gatewayv1.GRPCRouteMatch{{Method: &gatewayv1.GRPCMethodMatch{Service: new(grpcEchoService)}}},
				BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{Name: "echo", Port: &port}}}},
			}}},
		}},
		Services: httproute.Services{{Namespace: "default", Name: "echo", Port: 80}: httproute.InProcess(srv)},
	})
	if err != nil {
		t.Fatal(err)
	}
	front, err := podnet.StartServer(rt, true, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer front.Close()
	conn, err := grpc.NewClient("passthrough:///"+front.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	res, err := pb.NewGrpcEchoClient(conn).EchoTwo(ctx, &pb.EchoRequest{})
	if err != nil {
		t.Fatalf("EchoTwo: %v", err)
	}
	if got, want := res.GetAssertions().GetFullyQualifiedMethod(), "/"+grpcEchoService+"/EchoTwo"; got != want {
		t.Errorf("method %q, want %q", got, want)
	}
	if got := res.GetAssertions().GetContext().GetPod(); got != "in-process" {
		t.Errorf("pod %q, want the in-process server", got)
	}
	_, err = pb.NewGrpcEchoClient(conn).EchoThree(ctx, &pb.EchoRequest{})
	if code := status.Code(err); code != codes.Unimplemented {
		t.Errorf("EchoThree: %v, want the server's Unimplemented", err)
	}
	err = conn.Invoke(ctx, "/other.Service/Call", &pb.EchoRequest{}, &pb.EchoResponse{})
	if st, _ := status.FromError(err); st.Code() != codes.Unimplemented || st.Message() != http.StatusText(http.StatusNotFound) {
		t.Errorf("a call without a route: %v, want the Router's Unimplemented", err)
	}
}
