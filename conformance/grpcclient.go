package conformance

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "sigs.k8s.io/gateway-api-conformance-images/echo-basic/grpcechoserver"
	grpcutil "sigs.k8s.io/gateway-api/conformance/utils/grpc"
)

// grpcClient is the suite's gRPC client: each RPC goes over a new
// connection to the Gateway's loopback server (network.DialContext), with
// the request's authority, so that concurrent tests with different
// Gateways and authorities never share one. It is safe for concurrent use.
type grpcClient struct {
	net *network
}

var _ grpcutil.Client = (*grpcClient)(nil)

func (c *grpcClient) SendRPC(t *testing.T, address string, expected grpcutil.ExpectedResponse, timeout time.Duration) (*grpcutil.Response, error) {
	t.Helper()
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return c.net.DialContext(ctx, "tcp", addr)
		}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if md := expected.RequestMetadata; md != nil {
		if md.Authority != "" {
			opts = append(opts, grpc.WithAuthority(md.Authority))
		}
		if len(md.Metadata) > 0 {
			ctx = metadata.NewOutgoingContext(ctx, metadata.New(md.Metadata))
		}
	}
	conn, err := grpc.NewClient("passthrough:///"+address, opts...)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stub := pb.NewGrpcEchoClient(conn)
	res := &grpcutil.Response{Headers: &metadata.MD{}, Trailers: &metadata.MD{}}
	call := []grpc.CallOption{grpc.Header(res.Headers), grpc.Trailer(res.Trailers)}
	switch {
	case expected.EchoRequest != nil:
		res.Response, err = stub.Echo(ctx, expected.EchoRequest, call...)
	case expected.EchoTwoRequest != nil:
		res.Response, err = stub.EchoTwo(ctx, expected.EchoTwoRequest, call...)
	case expected.EchoThreeRequest != nil:
		res.Response, err = stub.EchoThree(ctx, expected.EchoThreeRequest, call...)
	default:
		return nil, errors.New("no request to send")
	}
	res.Code = codes.OK
	if err != nil {
		res.Code = status.Code(err)
		t.Logf("RPC to %s finished with %v", address, err)
	}
	return res, nil
}

// Close does nothing: connections live for one RPC.
func (c *grpcClient) Close() {}
